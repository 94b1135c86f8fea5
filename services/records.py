"""The guard post's books in the store (SOP steps 5-6, 8-10) and the ``records`` daemon.

``Records`` is used by the CLI (a guard at the post), by the ``records`` daemon and by the demo:
each entry is an event recorded in the same transaction as the table rows it changes, so the
guest book, the equipment's condition and a handover are never out of step with the log.

The daemon (``RecordsService``) does what needs no person:

* a guest badge scanned on any serial reader signs the guest out: the patrol service owns the
  readers and records every scan as ``patrol.tap``; the daemon reads new events by ``seq``
  (the cursor is kept in ``record_marks``, in the same transaction as the sign-out);
* the incoming guard's fingerprint punch (``attendance.punch``) confirms a pending handover;
* overdue extinguisher inspections and shifts that ended without an equipment checklist become
  ``equipment.alert``;
* guests' personal data is purged after ``[guests] retention_days``.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Sequence

from edge.config import EquipmentItemConfig
from edge.events import Event, NewEvent
from edge.records import (KIND_NAMES, GuestEntry, Problem, RecordError, ShiftSpan, alert_names,
                          clean, duty_log, inspection_problems, is_badge, new_badge,
                          next_inspection, normalize_code, open_alerts, person, shift_at,
                          shifts_between)
from edge.records_text import say
from edge.roster import parse_shifts
from edge.store import EventBatch
from edge.timefmt import from_utc_text, to_utc_text
from services.runtime import Runtime

log = logging.getLogger(__name__)

GUESTS_STATE, EQUIPMENT_STATE, HANDOVER_STATE = "guests", "equipment", "handover"
SCAN_MARK, CHECKLIST_MARK = "scan_seq", "checklist_through"
_SCAN_BATCH = 500
_REVIEW_EVERY_S = 60.0
_PURGE_EVERY_S = 3600.0
_GUEST_COLUMNS = ("id, badge, name, organisation, purpose, host, id_number, signed_in_at, "
                  "signed_in_by, signed_out_at, signed_out_by, signed_out_via, purged_at")


@dataclass(frozen=True)
class Guest:
    id: int
    badge: str
    name: str | None
    organisation: str | None
    purpose: str | None
    host: str
    id_number: str | None
    signed_in_at: datetime
    signed_in_by: str | None
    signed_out_at: datetime | None
    signed_out_by: str | None
    signed_out_via: str | None
    purged_at: datetime | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> "Guest":
        values = list(row)
        for i in (7, 9, 12):
            values[i] = from_utc_text(values[i]) if values[i] else None
        return cls(*values)

    def ref(self) -> dict[str, Any]:
        """How events name a guest: number and badge, never personal data."""
        return {"guest": self.id, "badge": self.badge}

    def inside_at(self, at: datetime) -> bool:
        return self.signed_in_at <= at and (self.signed_out_at is None
                                            or self.signed_out_at > at)


@dataclass(frozen=True)
class ItemStatus:
    item: EquipmentItemConfig
    condition: str
    note: str | None
    checked_at: datetime | None
    checked_by: str | None
    inspected_at: datetime | None
    inspection_ok: bool | None
    next_inspection: date | None
    alerts: list[str]

    def public(self) -> dict[str, Any]:
        return {"id": self.item.id, "kind": self.item.kind, "name": self.item.name,
                "location": self.item.location or None, "type": self.item.type or None,
                "condition": self.condition, "note": self.note,
                "checked_at": _utc(self.checked_at), "checked_by": self.checked_by,
                "inspected_at": _utc(self.inspected_at), "inspection_ok": self.inspection_ok,
                "next_inspection": self.next_inspection.isoformat() if self.next_inspection
                else None, "alerts": self.alerts}


@dataclass(frozen=True)
class Handover:
    id: int
    status: str
    shift: str
    outgoing: str
    incoming: str
    incoming_user_id: str | None
    note: str | None
    started_at: datetime
    confirmed_at: datetime | None
    confirmed_via: str | None

    def public(self) -> dict[str, Any]:
        return {"handover": self.id, "status": self.status, "shift": self.shift,
                "outgoing": self.outgoing, "incoming": self.incoming, "note": self.note,
                "started_at": to_utc_text(self.started_at),
                "confirmed_at": _utc(self.confirmed_at), "via": self.confirmed_via}


def _utc(at: datetime | None) -> str | None:
    return to_utc_text(at) if at else None


class Records:
    """The guest book, the equipment, the duty log and handovers of one site."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.config = rt.config
        self.zone = rt.config.site.zone
        self.language = rt.config.site.language
        self.items = {item.id: item for item in rt.config.equipment.items}
        self.shifts = parse_shifts(rt.config.roster.shifts)

    # --- guests ----------------------------------------------------------------------------

    def sign_in(self, entry: GuestEntry, by: str | None = None) -> Guest:
        by = clean(by, "the guard's name (--by)", 64, required=False)
        now = self.rt.clock.now()
        prefix = self.config.guests.badge_prefix
        with self.rt.events.writing() as batch:
            cur = batch.cursor
            badge = self._unused_badge(cur, prefix)
            cur.execute("INSERT INTO guests (badge, name, organisation, purpose, host, "
                        "id_number, signed_in_at, signed_in_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (badge, entry.name, entry.organisation, entry.purpose, entry.host,
                         entry.id_number, to_utc_text(now), by))
            guest = self._guest(cur, "id = ?", (cur.lastrowid,))
            assert guest is not None
            batch.record_many([NewEvent("guest.signed_in", "guestbook", {
                **guest.ref(), "host": entry.host, "by": by,
                "id_number_given": entry.id_number is not None}, now)])
        self._publish_guests()
        return guest

    def _unused_badge(self, cur: sqlite3.Cursor, prefix: str) -> str:
        while True:  # 32^6 codes: a clash is rare, but a badge must mean one visit
            badge = new_badge(prefix)
            if cur.execute("SELECT 1 FROM guests WHERE badge = ?", (badge,)).fetchone() is None:
                return badge

    def sign_out(self, code: str, by: str | None = None, via: str = "cli",
                 reader: str | None = None, at: datetime | None = None,
                 cursor_seq: int | None = None) -> Guest:
        """Sign a guest out by badge code or number; ``cursor_seq`` moves the scan cursor in
        the same transaction (a scan is handled once even across a crash)."""
        by = clean(by, "the guard's name (--by)", 64, required=False)
        when = at or self.rt.clock.now()
        with self.rt.events.writing() as batch:
            cur = batch.cursor
            guest = self._find(cur, code)
            if guest.signed_out_at is not None:
                raise RecordError(f"guest {guest.badge} already signed out at "
                                  f"{_local(guest.signed_out_at, self.zone)}")
            cur.execute("UPDATE guests SET signed_out_at = ?, signed_out_by = ?, "
                        "signed_out_via = ? WHERE id = ?", (to_utc_text(when), by, via, guest.id))
            minutes = round((when - guest.signed_in_at).total_seconds() / 60)
            batch.record_many([NewEvent("guest.signed_out", f"tags:{reader}" if reader
                                        else "guestbook", {
                **guest.ref(), "host": guest.host, "by": by, "via": via, "reader": reader,
                "minutes": minutes}, when)])
            if cursor_seq is not None:
                self._set_mark(cur, SCAN_MARK, str(cursor_seq))
            guest = self._guest(cur, "id = ?", (guest.id,)) or guest
        self._publish_guests()
        return guest

    def find_guest(self, code: str) -> Guest:
        with self.rt.db.raw_read() as cur:
            return self._find(cur, code)

    def _find(self, cur: sqlite3.Cursor, code: str) -> Guest:
        text = code.strip().lstrip("#")
        if text.isdigit():
            guest = self._guest(cur, "id = ?", (int(text),))
        else:
            guest = self._guest(cur, "badge = ?", (normalize_code(text),))
        if guest is None:
            raise RecordError(f"no guest has the badge or number {code.strip()!r}")
        return guest

    def _guest(self, cur: sqlite3.Cursor, where: str, args: tuple[Any, ...]) -> Guest | None:
        row = cur.execute(f"SELECT {_GUEST_COLUMNS} FROM guests WHERE {where}", args).fetchone()
        return Guest.from_row(row) if row else None

    def inside(self) -> list[Guest]:
        return self._guests("signed_out_at IS NULL", ())

    def visits(self, start: datetime, end: datetime) -> list[Guest]:
        """Every visit overlapping [start, end), in order of arrival."""
        return self._guests("signed_in_at < ? AND (signed_out_at IS NULL OR signed_out_at >= ?)",
                            (to_utc_text(end), to_utc_text(start)))

    def _guests(self, where: str, args: tuple[Any, ...]) -> list[Guest]:
        with self.rt.db.raw_read() as cur:
            rows = cur.execute(f"SELECT {_GUEST_COLUMNS} FROM guests WHERE {where} "
                               "ORDER BY signed_in_at, id", args).fetchall()
        return [Guest.from_row(r) for r in rows]

    def purge(self) -> int:
        """Forget the personal fields of visits older than the retention time."""
        now = self.rt.clock.now()
        before = now - timedelta(days=self.config.guests.retention_days)
        cutoff = to_utc_text(before)
        with self.rt.events.writing() as batch:
            cur = batch.cursor
            cur.execute("UPDATE guests SET name = NULL, organisation = NULL, purpose = NULL, "
                        "id_number = NULL, purged_at = ? WHERE purged_at IS NULL AND "
                        "COALESCE(signed_out_at, signed_in_at) < ?", (to_utc_text(now), cutoff))
            count = cur.rowcount
            # Sent uploads are emptied at once; failed ones keep their body only this long.
            cur.execute("UPDATE report_uploads SET body = '' WHERE status != 'pending' AND "
                        "created_at < ?", (cutoff,))
            if count:
                batch.record_many([NewEvent("guest.purged", "guestbook", {
                    "count": count, "before": cutoff})])
        files = self._purge_report_files(before)
        if count or files:
            log.info("purged the personal data of %d visits and %d report files older than "
                     "%s", count, files, cutoff)
        return count

    def _purge_report_files(self, before: datetime) -> int:
        # Report files name the guests of their day: they go as soon as the first visits of
        # that day may be purged (rebuilt, a report shows only the names still kept).
        folder = Path(self.config.report.output_dir)
        if not folder.is_dir():
            return 0
        removed = 0
        for path in folder.glob("laporan-*"):
            day = _file_day(path.name)
            if day is not None and day <= before.astimezone(self.zone).date():
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def _publish_guests(self) -> None:
        inside = self.inside()
        self.rt.states.set(GUESTS_STATE, {"inside": len(inside),
                                          "badges": [g.badge for g in inside]})

    # --- equipment -------------------------------------------------------------------------

    def inventory(self) -> list[ItemStatus]:
        with self.rt.db.raw_read() as cur:
            rows = {r[0]: r for r in cur.execute(
                "SELECT item, condition, note, checked_at, checked_by, inspected_at, "
                "inspection_ok, next_inspection, alerts FROM equipment_status")}
        return [self._status(item, rows.get(item.id)) for item in self.items.values()]

    def _status(self, item: EquipmentItemConfig, row: Sequence[Any] | None) -> ItemStatus:
        if row is None:
            row = (item.id, "unchecked", None, None, None, None, None, None, "[]")
        _, condition, note, checked, by, inspected, ok, nxt, alerts = row
        return ItemStatus(item, condition, note, from_utc_text(checked) if checked else None, by,
                          from_utc_text(inspected) if inspected else None,
                          None if ok is None else bool(ok),
                          next_inspection(item.next_inspection, nxt), json.loads(alerts))

    def check(self, by: str, problems: Iterable[Problem], note: str | None = None) -> Event:
        """One checklist: every item not named in ``problems`` was found in order."""
        by = person(by)
        note = clean(note, "the note", 200, required=False)
        if not self.items:
            raise RecordError("the inventory is empty; list the items in [[equipment.items]] "
                              "of the configuration")
        bad = {p.item: p for p in problems}
        now = self.rt.clock.now()
        shift = shift_at(self.shifts, self.zone, now)
        lines = [{"id": i, "state": bad[i].condition if i in bad else "ok",
                  "note": bad[i].note if i in bad else None} for i in self.items]
        counts = {c: sum(1 for x in lines if x["state"] == c) for c in ("ok", "broken", "missing")}
        with self.rt.events.writing() as batch:
            for line in lines:
                self._upsert(batch.cursor, line["id"], condition=line["state"],
                             note=line["note"], checked_at=to_utc_text(now), checked_by=by)
            event = batch.record_many([NewEvent("equipment.check", "equipment", {
                "by": by, "shift": shift.label, "items": lines, "counts": counts,
                "note": note}, now)])[0]
            self._settle(batch, now)
        self._publish_equipment()
        return event

    def inspect(self, item_id: str, by: str, pressure: str, seal: str, expires: date,
                next_due: date | None = None, note: str | None = None) -> Event:
        """An extinguisher inspection: pressure gauge, seal, expiry."""
        by = person(by)
        note = clean(note, "the note", 200, required=False)
        item = self._item(item_id)
        if item.kind != "extinguisher":
            raise RecordError(f"{item.id} is a {item.kind}, not a fire extinguisher; only "
                              "extinguishers are inspected")
        now = self.rt.clock.now()
        today = now.astimezone(self.zone).date()
        problems = inspection_problems(pressure, seal, expires, today)
        due = next_due or today + timedelta(days=self.config.equipment.inspection_every_days)
        if due <= today:
            raise RecordError(f"the next inspection ({due}) must be after today ({today})")
        with self.rt.events.writing() as batch:
            self._upsert(batch.cursor, item.id, inspected_at=to_utc_text(now),
                         inspection_ok=not problems, next_inspection=due.isoformat())
            event = batch.record_many([NewEvent("equipment.inspection", "equipment", {
                "item": item.id, "name": item.name, "location": item.location, "by": by,
                "pressure": pressure, "seal": seal, "expires": expires.isoformat(),
                "ok": not problems, "problems": problems, "next_inspection": due.isoformat(),
                "note": note}, now)])[0]
            self._settle(batch, now, {item.id: problems})
        self._publish_equipment()
        return event

    def _item(self, item_id: str) -> EquipmentItemConfig:
        found = next((i for k, i in self.items.items() if k.upper() == item_id.strip().upper()),
                     None)
        if found is None:
            raise RecordError(f"{item_id.strip()!r} is not an item of the inventory; known: "
                              f"{', '.join(self.items) or 'none'}")
        return found

    def _upsert(self, cur: sqlite3.Cursor, item: str, **values: Any) -> None:
        cur.execute("INSERT OR IGNORE INTO equipment_status (item, condition, alerts) "
                    "VALUES (?, 'unchecked', '[]')", (item,))
        sets = ", ".join(f"{k} = ?" for k in values)
        cur.execute(f"UPDATE equipment_status SET {sets} WHERE item = ?", (*values.values(), item))

    def review_equipment(self) -> list[Event]:
        """Raise or clear what the calendar changed (an inspection falling overdue)."""
        with self.rt.events.writing() as batch:
            events = self._settle(batch, self.rt.clock.now())
        if events:
            self._publish_equipment()
        return events

    def _settle(self, batch: EventBatch, now: datetime,
                found: dict[str, list[str]] | None = None) -> list[Event]:
        """Bring each item's open alerts in line with its condition, within ``batch``;
        ``found`` is what an inspection in this transaction found wrong, by item."""
        today = now.astimezone(self.zone).date()
        cur = batch.cursor
        rows = {r[0]: r for r in cur.execute(
            "SELECT item, condition, note, checked_at, checked_by, inspected_at, "
            "inspection_ok, next_inspection, alerts FROM equipment_status")}
        out: list[NewEvent] = []
        for item in self.items.values():
            status = self._status(item, rows.get(item.id))
            wanted = open_alerts(status.condition, status.inspection_ok, status.next_inspection,
                                 today)
            raise_, clear = alert_names(wanted, status.alerts)
            if not raise_ and not clear:
                continue
            out += [self._alert(status, name, now, (found or {}).get(item.id, []))
                    for name in raise_]
            out += [NewEvent("equipment.alert_cleared", "equipment",
                             {"alert": name, "item": item.id, "name": item.name}, now)
                    for name in clear]
            self._upsert(cur, item.id, alerts=json.dumps(sorted(wanted)))
        return batch.record_many(out)

    def _alert(self, status: ItemStatus, name: str, now: datetime,
               problems: list[str]) -> NewEvent:
        item = status.item
        message = say(f"alert_{name}", self.language, name=item.name, item=item.id,
                      location=item.location or "-",
                      note=f" ({status.note})" if status.note else "",
                      problems=", ".join(say(p, self.language) for p in problems) or "-",
                      due=status.next_inspection.isoformat() if status.next_inspection else "-")
        severity = "critical" if name == "inspection_failed" else "warning"
        return NewEvent("equipment.alert", "equipment", {
            "alert": name, "severity": severity, "item": item.id, "name": item.name,
            "kind": item.kind, "location": item.location or None, "note": status.note,
            "problems": problems,
            "next_inspection": status.next_inspection.isoformat() if status.next_inspection
            else None, "message": message}, now)

    def review_checklists(self) -> list[Event]:
        """An alert for each shift that ended ``checklist_grace_min`` ago without a checklist;
        shifts that ended before this was first run are not judged."""
        if not self.items:
            return []
        now = self.rt.clock.now()
        grace = timedelta(minutes=self.config.equipment.checklist_grace_min)
        mark = self.mark(CHECKLIST_MARK)
        if mark is None:
            self.set_mark(CHECKLIST_MARK, to_utc_text(now - grace))
            return []
        since = from_utc_text(mark)
        ended = [s for s in shifts_between(self.shifts, self.zone, since - timedelta(days=1),
                                           now - grace) if since < s.end <= now - grace]
        if not ended:
            return []
        checks = list(self.rt.events.query(since=ended[0].start - timedelta(days=1),
                                           kind="equipment.check"))
        out = [self._missing_checklist(s, grace) for s in ended
               if not any(s.start <= e.occurred_at < s.end for e in checks)]
        with self.rt.events.writing() as batch:
            events = batch.record_many(out)
            self._set_mark(batch.cursor, CHECKLIST_MARK, to_utc_text(ended[-1].end))
        return events

    def _missing_checklist(self, shift: ShiftSpan, grace: timedelta) -> NewEvent:
        return NewEvent("equipment.alert", "equipment", {
            "alert": "checklist_missing", "severity": "warning", "item": None,
            "shift": shift.label, "shift_start": to_utc_text(shift.start),
            "shift_end": to_utc_text(shift.end),
            "message": say("alert_checklist_missing", self.language, shift=shift.label)},
            shift.end + grace)

    def _publish_equipment(self) -> None:
        items = [s.public() for s in self.inventory()]
        self.rt.states.set(EQUIPMENT_STATE, {
            "items": items, "alerts": sum(len(i["alerts"]) for i in items)})

    # --- duty log --------------------------------------------------------------------------

    def add_entry(self, text: str, by: str) -> Event:
        body = clean(text, "the entry", 1000)
        return self.rt.events.record("dutylog.entry", "dutylog", {"text": body, "by": person(by)})

    def log(self, start: datetime, end: datetime, language: str | None = None
            ) -> list[dict[str, Any]]:
        """The Buku Mutasi of [start, end): the guards' entries and the system's."""
        return duty_log(events_between(self.rt, start, end), language or self.language,
                        self.guest_names(), self.zone)

    def guest_names(self) -> dict[int, str]:
        with self.rt.db.raw_read() as cur:
            return {gid: name for gid, name in cur.execute(
                "SELECT id, name FROM guests WHERE name IS NOT NULL")}

    # --- handover --------------------------------------------------------------------------

    def start_handover(self, outgoing: str, incoming: str, note: str | None = None) -> Handover:
        outgoing, incoming = person(outgoing, "the outgoing guard (--from)"), \
            person(incoming, "the incoming guard (--to)")
        if outgoing.casefold() == incoming.casefold():
            raise RecordError("the outgoing and the incoming guard must be two people")
        note = clean(note, "the note", 500, required=False)
        now = self.rt.clock.now()
        shift = _nearest_start(self.shifts, self.zone, now)
        with self.rt.events.writing() as batch:
            cur = batch.cursor
            if (pending := self._pending(cur)) is not None:
                raise RecordError(f"the handover from {pending.outgoing} to {pending.incoming} "
                                  "is still waiting; confirm it with 'posjaga handover confirm' "
                                  "or cancel it with 'posjaga handover cancel'")
            cur.execute("INSERT INTO handovers (status, shift, outgoing, incoming, "
                        "incoming_user_id, note, started_at) VALUES ('pending', ?, ?, ?, ?, ?, ?)",
                        (shift.label, outgoing, incoming, _user_id(cur, incoming), note,
                         to_utc_text(now)))
            handover = self._handover(cur, "id = ?", (cur.lastrowid,))
            assert handover is not None
            batch.record_many([NewEvent("handover.started", "handover", {
                "handover": handover.id, "shift": shift.label, "outgoing": outgoing,
                "incoming": incoming, "note": note}, now)])
        self._publish_handover(handover)
        return handover

    def confirm_handover(self, by: str, via: str = "cli", at: datetime | None = None,
                         cursor_seq: int | None = None) -> Event:
        """The incoming guard takes over: the snapshot of the post goes into the event."""
        by = person(by)
        now = at or self.rt.clock.now()
        snapshot = self.snapshot(now)
        with self.rt.events.writing() as batch:
            cur = batch.cursor
            pending = self._pending(cur)
            if pending is None:
                raise RecordError("no handover is waiting; the outgoing guard starts one with "
                                  "'posjaga handover start --from NAME --to NAME'")
            if by.casefold() != pending.incoming.casefold():
                raise RecordError(f"the handover is to {pending.incoming}; only they can "
                                  f"confirm it, not {by}")
            cur.execute("UPDATE handovers SET status = 'confirmed', confirmed_at = ?, "
                        "confirmed_via = ? WHERE id = ?", (to_utc_text(now), via, pending.id))
            event = batch.record_many([NewEvent("handover.confirmed", "handover", {
                "handover": pending.id, "shift": pending.shift, "outgoing": pending.outgoing,
                "incoming": pending.incoming, "via": via, "note": pending.note,
                "started_at": to_utc_text(pending.started_at), **snapshot}, now)])[0]
            if cursor_seq is not None:
                self._set_mark(cur, SCAN_MARK, str(cursor_seq))
            done = self._handover(cur, "id = ?", (pending.id,))
        self._publish_handover(done)
        return event

    def cancel_handover(self, by: str) -> Handover:
        by = person(by)
        now = self.rt.clock.now()
        with self.rt.events.writing() as batch:
            cur = batch.cursor
            pending = self._pending(cur)
            if pending is None:
                raise RecordError("no handover is waiting, so there is nothing to cancel")
            cur.execute("UPDATE handovers SET status = 'cancelled' WHERE id = ?", (pending.id,))
            batch.record_many([NewEvent("handover.cancelled", "handover", {
                "handover": pending.id, "by": by}, now)])
            done = self._handover(cur, "id = ?", (pending.id,))
        self._publish_handover(done)
        assert done is not None
        return done

    def pending_handover(self) -> Handover | None:
        with self.rt.db.raw_read() as cur:
            return self._pending(cur)

    def _pending(self, cur: sqlite3.Cursor) -> Handover | None:
        return self._handover(cur, "status = 'pending'", ())

    def _handover(self, cur: sqlite3.Cursor, where: str, args: tuple[Any, ...]
                  ) -> Handover | None:
        row = cur.execute("SELECT id, status, shift, outgoing, incoming, incoming_user_id, "
                          f"note, started_at, confirmed_at, confirmed_via FROM handovers WHERE "
                          f"{where} ORDER BY id DESC LIMIT 1", args).fetchone()
        if row is None:
            return None
        values = list(row)
        values[7] = from_utc_text(values[7])
        values[8] = from_utc_text(values[8]) if values[8] else None
        return Handover(*values)

    def snapshot(self, now: datetime) -> dict[str, Any]:
        """Equipment state, open findings and guests inside, as a handover records them."""
        items = self.inventory()
        findings: list[dict[str, Any]] = [
            {"kind": "equipment", "item": s.item.id, "name": s.item.name, "alert": a}
            for s in items for a in s.alerts]
        for event in self._findings_since_last_handover(now):
            p = event.payload
            findings.append({"kind": "patrol", "checkpoint": p["checkpoint"]["id"],
                             "name": p["checkpoint"].get("name"), "state": p.get("state"),
                             "note": p.get("note"), "at": to_utc_text(event.occurred_at)})
        return {"equipment": [{"id": s.item.id, "condition": s.condition,
                               "next_inspection": s.next_inspection.isoformat()
                               if s.next_inspection else None} for s in items],
                "open_findings": findings,
                "guests_inside": [g.ref() for g in self.inside()]}

    def _findings_since_last_handover(self, now: datetime) -> list[Event]:
        with self.rt.db.raw_read() as cur:
            row = cur.execute("SELECT MAX(confirmed_at) FROM handovers WHERE status = "
                              "'confirmed'").fetchone()
        since = from_utc_text(row[0]) if row and row[0] else now - timedelta(hours=24)
        return [e for e in self.rt.events.query(since=since - timedelta(hours=1),
                                                kind="patrol.finding")
                if since <= e.occurred_at <= now]

    def _publish_handover(self, handover: Handover | None) -> None:
        if handover is None:
            return
        pending = handover if handover.status == "pending" else None
        self.rt.states.set(HANDOVER_STATE, {"pending": pending.public() if pending else None,
                                            "last": handover.public()})

    # --- bookmarks ---------------------------------------------------------------------------

    def mark(self, name: str) -> str | None:
        with self.rt.db.raw_read() as cur:
            row = cur.execute("SELECT value FROM record_marks WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_mark(self, name: str, value: str) -> None:
        with self.rt.db.raw_write() as cur:
            self._set_mark(cur, name, value)

    def _set_mark(self, cur: sqlite3.Cursor, name: str, value: str) -> None:
        cur.execute("INSERT INTO record_marks (name, value, updated_at) VALUES (?, ?, ?) ON "
                    "CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = "
                    "excluded.updated_at", (name, value, to_utc_text(self.rt.clock.now())))

    def publish_states(self) -> None:
        self._publish_guests()
        self._publish_equipment()


# --- shared helpers ------------------------------------------------------------------------

def events_between(rt: Runtime, start: datetime, end: datetime,
                   kind: str | None = None, slack: timedelta = timedelta(days=2)) -> list[Event]:
    """Events that happened in [start, end), by ``occurred_at``. The store indexes recording
    time, so a window ``slack`` wider is read: a daily figure recorded at midnight or punches
    pulled after a link cut still belong to their day."""
    found = rt.events.query(since=start - slack, until=end + slack, kind=kind)
    return sorted((e for e in found if start <= e.occurred_at < end),
                  key=lambda e: (e.occurred_at, e.seq or 0))


def _nearest_start(shifts: Any, zone: Any, now: datetime) -> ShiftSpan:
    """The shift whose start is nearest ``now``: the one being handed over to."""
    spans = shifts_between(shifts, zone, now - timedelta(hours=14), now + timedelta(hours=14))
    return min(spans, key=lambda s: abs((s.start - now).total_seconds()))


def _user_id(cur: sqlite3.Cursor, name: str) -> str | None:
    """The incoming guard's fingerprint user id, when the roster has linked them."""
    try:
        row = cur.execute("SELECT user_id FROM guards WHERE name = ? COLLATE NOCASE",
                          (name,)).fetchone()
    except sqlite3.OperationalError:  # no roster tables in this store
        return None
    return row[0] if row else None


def _local(at: datetime, zone: Any) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _file_day(name: str) -> date | None:
    """The day of a report file such as 'laporan-2026-12-04-id.pdf'."""
    try:
        return date.fromisoformat(name[len("laporan-"):len("laporan-") + 10])
    except ValueError:
        return None


# --- the daemon ----------------------------------------------------------------------------

class RecordsService:
    """Badge scans, fingerprint confirmations, equipment reviews and the guests' purge."""

    name = "records"

    def __init__(self, rt: Runtime, poll_s: float = 1.0) -> None:
        self.rt = rt
        self.records = Records(rt)
        self.poll_s = poll_s
        self._review_due = 0.0
        self._purge_due = 0.0
        self.heartbeat = time.monotonic()

    def run(self, stop: threading.Event) -> None:
        self.open()
        while not stop.is_set():
            self.step()
            self.heartbeat = time.monotonic()  # services/health.py: the loop turns
            self.rt.clock.wait(stop, self.poll_s)

    def open(self) -> None:
        if self.records.mark(SCAN_MARK) is None:
            # Scans made before the first start are history, not sign-outs.
            newest = max((e.seq or 0 for e in self.rt.events.query(
                since=self.rt.clock.now() - timedelta(minutes=1))), default=0)
            self.records.set_mark(SCAN_MARK, str(newest))
        self.records.publish_states()

    def step(self) -> None:
        self.scan()
        mono = self.rt.clock.monotonic()
        if mono >= self._review_due:
            self.records.review_equipment()
            self.records.review_checklists()
            self._review_due = mono + _REVIEW_EVERY_S
        if mono >= self._purge_due:
            self.records.purge()
            self._purge_due = mono + _PURGE_EVERY_S

    def scan(self) -> int:
        """Handle new badge scans and punches; returns how many events were looked at."""
        after = int(self.records.mark(SCAN_MARK) or 0)
        events = list(self.rt.events.query(after_seq=after, limit=_SCAN_BATCH))
        for event in events:
            self._handle(event)
        if events:
            self.records.set_mark(SCAN_MARK, str(events[-1].seq))
        return len(events)

    def _handle(self, event: Event) -> None:
        try:
            if event.kind == "patrol.tap":
                self._tap(event)
            elif event.kind == "attendance.punch":
                self._punch(event)
        except RecordError as exc:
            log.warning("event %s not applied: %s", event.id, exc)

    def _tap(self, event: Event) -> None:
        cfg = self.rt.config.guests
        code, reader = str(event.payload.get("code", "")), event.payload.get("reader")
        if not cfg.scan_sign_out or not is_badge(code, cfg.badge_prefix):
            return
        if cfg.scanners and reader not in cfg.scanners:
            log.info("badge %s scanned on reader %s, which does not sign guests out", code,
                     reader)
            return
        guest = self.records.sign_out(code, via="scan", reader=reader, at=event.occurred_at,
                                      cursor_seq=event.seq)
        log.info("guest %s signed out by a scan on %s", guest.badge, reader)

    def _punch(self, event: Event) -> None:
        pending = self.records.pending_handover()
        if pending is None or event.occurred_at < pending.started_at:
            return
        p = event.payload
        same_id = pending.incoming_user_id and p.get("user_id") == pending.incoming_user_id
        same_name = str(p.get("guard") or "").casefold() == pending.incoming.casefold()
        if same_id or same_name:
            self.records.confirm_handover(pending.incoming, via="fingerprint",
                                          at=event.occurred_at, cursor_seq=event.seq)
            log.info("handover %d confirmed by %s's fingerprint", pending.id, pending.incoming)


__all__ = ["Guest", "GuestEntry", "Handover", "ItemStatus", "Records", "RecordsService",
           "KIND_NAMES", "duty_log", "events_between"]
