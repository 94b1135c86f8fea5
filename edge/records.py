"""The guard post's books as pure rules (SOP steps 5-6, 8-10): guest badges, equipment checks
and inspections, the shift a moment falls in, and the duty log as people read it.

No store, thread or clock here: services/records.py keeps the books in the store and records
the events; this module says what an entry means and what is wrong with it. Personal data of
guests never goes into an event payload (docs/records.md): events name a guest by number and
badge code only.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from edge.records_text import say
from edge.roster import ShiftDef
from edge.timefmt import from_utc_text, to_utc_text

if TYPE_CHECKING:
    from edge.events import Event

# Code 39 prints upper-case letters, digits and '-'; 0/O and 1/I are left out so a code read
# aloud or typed from the sticker is not mistaken.
BADGE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
BADGE_LENGTH = 6
CONDITIONS = ("ok", "broken", "missing")
PRESSURES = ("ok", "low", "high")
SEALS = ("ok", "broken")
KIND_NAMES = {
    "ht": {"id": "HT (radio)", "en": "HT (radio)"},
    "flashlight": {"id": "Senter", "en": "Flashlight"},
    "baton": {"id": "Tongkat", "en": "Baton"},
    "parking_lamp": {"id": "Lampu parkir", "en": "Parking lamp"},
    "extinguisher": {"id": "APAR", "en": "Fire extinguisher"},
    "other": {"id": "Lainnya", "en": "Other"},
}
_PERSON = 64


class RecordError(ValueError):
    """An entry that cannot be recorded, told in one sentence for the guard."""


# --- text fields ---------------------------------------------------------------------------

def clean(value: str | None, what: str, limit: int, required: bool = True) -> str | None:
    """Collapse blanks; refuse empty (when required), overlong or unprintable text."""
    text = " ".join((value or "").split())
    if not text:
        if required:
            raise RecordError(f"{what} is required")
        return None
    if len(text) > limit or not text.isprintable():
        raise RecordError(f"{what} must be 1 to {limit} printable characters")
    return text


def person(value: str | None, what: str = "the guard's name (--by)") -> str:
    name = clean(value, what, _PERSON)
    assert name is not None
    return name


# --- guest badges --------------------------------------------------------------------------

def new_badge(prefix: str) -> str:
    return prefix + "".join(secrets.choice(BADGE_ALPHABET) for _ in range(BADGE_LENGTH))


def normalize_code(code: str) -> str:
    return code.strip().upper()


def is_badge(code: str, prefix: str) -> bool:
    """A code this guest book issued (scanners report the text of the Code 39 sticker)."""
    norm = normalize_code(code)
    rest = norm[len(prefix):]
    return norm.startswith(prefix) and len(rest) == BADGE_LENGTH \
        and all(c in BADGE_ALPHABET for c in rest)


@dataclass(frozen=True)
class GuestEntry:
    name: str
    organisation: str | None
    purpose: str
    host: str
    id_number: str | None


def guest_entry(name: str | None, organisation: str | None, purpose: str | None,
                host: str | None, id_number: str | None) -> GuestEntry:
    id_text = clean(id_number, "the ID number", 40, required=False)
    if id_text is not None and not re.fullmatch(r"[A-Za-z0-9./ -]+", id_text):
        raise RecordError("the ID number may hold only letters, digits, spaces, '.', '/' and "
                          "'-'")
    return GuestEntry(name=clean(name, "the guest's name", 80) or "",
                      organisation=clean(organisation, "the organisation", 80, required=False),
                      purpose=clean(purpose, "the purpose of the visit", 200) or "",
                      host=clean(host, "whom the guest visits", 80) or "",
                      id_number=id_text)


# --- equipment -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    item: str
    condition: str  # broken or missing
    note: str | None = None


def parse_problem(text: str, condition: str, known: Iterable[str]) -> Problem:
    """``ID`` or ``ID=note`` from the command line, for an item of the inventory."""
    item, _, note = text.partition("=")
    wanted = item.strip().upper()
    match = next((k for k in known if k.upper() == wanted), None)
    if match is None:
        raise RecordError(f"{item.strip()!r} is not an item of the inventory; known: "
                          f"{', '.join(known) or 'none'}")
    return Problem(match, condition, clean(note, "the note", 200, required=False))


def inspection_problems(pressure: str, seal: str, expires: date, today: date) -> list[str]:
    """What a fire extinguisher inspection found wrong (empty: it passed)."""
    if pressure not in PRESSURES:
        raise RecordError(f"the pressure gauge must read one of {', '.join(PRESSURES)}; "
                          f"got {pressure!r}")
    if seal not in SEALS:
        raise RecordError(f"the seal must be one of {', '.join(SEALS)}; got {seal!r}")
    found = []
    if pressure != "ok":
        found.append(f"pressure_{pressure}")
    if seal != "ok":
        found.append("seal_broken")
    if expires < today:
        found.append("expired")
    return found


def next_inspection(configured: str, inspected: str | None) -> date | None:
    """The later of the configured date and the one the last inspection set."""
    dates = [date.fromisoformat(d) for d in (configured, inspected) if d]
    return max(dates) if dates else None


def open_alerts(condition: str, inspection_ok: bool | None, due: date | None,
                today: date) -> set[str]:
    """The alerts an item should have open now."""
    alerts = set()
    if condition in ("broken", "missing"):
        alerts.add(condition)
    if inspection_ok is False:
        alerts.add("inspection_failed")
    if due is not None and due < today:
        alerts.add("inspection_overdue")
    return alerts


# --- shifts --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShiftSpan:
    name: str
    day: date
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        return f"{self.name} {self.day.isoformat()}"


def shifts_between(shifts: Mapping[str, ShiftDef], zone: ZoneInfo, start: datetime,
                   end: datetime) -> list[ShiftSpan]:
    """Every shift instance that overlaps [start, end), in time order."""
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    found = []
    day = first
    while day <= last:
        for shift in shifts.values():
            s, e = shift.span(day, zone)
            if s < end and e > start:
                found.append(ShiftSpan(shift.name, day, s, e))
        day += timedelta(days=1)
    return sorted(found, key=lambda span: span.start)


def shift_at(shifts: Mapping[str, ShiftDef], zone: ZoneInfo, at: datetime) -> ShiftSpan:
    """The shift running at ``at``; the earliest-started one if shifts overlap."""
    running = [s for s in shifts_between(shifts, zone, at, at + timedelta(microseconds=1))]
    if not running:  # a gap between shifts: the next one to start
        later = shifts_between(shifts, zone, at, at + timedelta(days=2))
        return later[0]
    return running[0]


# --- the duty log (Buku Mutasi) as people read it ------------------------------------------

_SYSTEM_KINDS = ("patrol.finding", "patrol.round", "guest.signed_in", "guest.signed_out",
                 "equipment.check", "equipment.inspection", "handover.confirmed",
                 "attendance.shift", "system.started", "system.stopped")


def log_line(kind: str, payload: Mapping[str, Any], language: str,
             guests: Mapping[int, str] | None = None,
             zone: ZoneInfo | None = None) -> str | None:
    """The duty-log sentence for an event, or None for events the log leaves out."""
    if kind == "dutylog.entry":
        return str(payload.get("text", ""))
    if kind.endswith(".alert"):
        return str(payload.get("message") or payload.get("text") or payload.get("alert"))
    if kind not in _SYSTEM_KINDS:
        return None
    return _system_line(kind, payload, language, guests or {}, zone or ZoneInfo("UTC"))


def _system_line(kind: str, p: Mapping[str, Any], language: str,
                 guests: Mapping[int, str], zone: ZoneInfo) -> str | None:
    if kind == "patrol.finding":
        return str(p.get("message") or p.get("note"))
    if kind == "patrol.round":
        return _round_line(p, language, zone)
    if kind in ("guest.signed_in", "guest.signed_out"):
        who = guests.get(int(p.get("guest", 0))) or say("guest_no", language, n=p.get("guest"))
        return say(kind, language, guest=who, badge=p.get("badge"), host=p.get("host"),
                   via=say(f"via_{p.get('via', 'cli')}", language))
    if kind == "equipment.check":
        bad = [f"{x['id']} ({say(x['state'], language)})" for x in p.get("items", [])
               if x.get("state") != "ok"]
        return say("check_bad" if bad else "check_ok", language, by=p.get("by"),
                   count=len(p.get("items", [])), items=", ".join(bad))
    if kind == "equipment.inspection":
        return say("inspection_ok" if p.get("ok") else "inspection_bad", language,
                   item=p.get("item"), by=p.get("by"),
                   problems=", ".join(say(x, language) for x in p.get("problems", [])))
    if kind == "handover.confirmed":
        return say("handover", language, outgoing=p.get("outgoing"), incoming=p.get("incoming"),
                   inside=len(p.get("guests_inside", [])), problems=len(p.get("open_findings", [])))
    if kind == "attendance.shift":
        return None if p.get("outcome") in ("on_time", "double") else str(p.get("text"))
    reason = p.get("reason") or ", ".join(p.get("services", []))
    return say(kind, language, detail=reason)


def _round_line(p: Mapping[str, Any], language: str, zone: ZoneInfo) -> str:
    missing = ", ".join(m.get("name", m.get("id", "?")) for m in p.get("missing", []))
    due = from_utc_text(p["due_at"]).astimezone(zone).strftime("%H:%M") if p.get("due_at") \
        else p.get("round")
    name = (p.get("guard") or {}).get("name")
    by = say("round_by", language, guard=name) if name else ""
    return say(f"round_{p.get('outcome')}", language, due=due, guard=by, missing=missing or "-")


def duty_log(events: Iterable["Event"], language: str, guests: dict[int, str],
             zone: ZoneInfo | None = None) -> list[dict[str, Any]]:
    """The Buku Mutasi: the guards' entries and the system's (alerts, findings, rounds,
    guests, checks, handovers, attendance), in time order."""
    lines = []
    for e in events:
        text = log_line(e.kind, e.payload, language, guests, zone)
        if text is None:
            continue
        by = e.payload.get("by")  # a guard's act recorded by the system names the guard
        lines.append({"at": to_utc_text(e.occurred_at), "kind": e.kind,
                      "by": by if isinstance(by, str) else None,
                      "auto": e.kind != "dutylog.entry", "text": text})
    return lines


def alert_names(open_now: set[str], before: Sequence[str]) -> tuple[list[str], list[str]]:
    """Alerts to raise and alerts to clear, given those open before."""
    old = set(before)
    return sorted(open_now - old), sorted(old - open_now)
