"""The daily security report (Laporan Keamanan Harian, SOP steps 10-11) as a pure function.

``build_report`` takes the day's events and what the tables say (roster, guests, inventory)
and returns the report as plain JSON-able data; edge/report_pdf.py prints it. Nothing here
reads a store or a clock, so a report can be rebuilt for any past day and a test can check each
figure against the events it came from.

A section whose source left no trace that day is ``"available": false`` and its figures are
``null``: a day the radio daemon did not run shows "no data", never "0 transmissions". Gaps in
posjaga's own running (``system.started`` / ``system.stopped``; a start without a stop before
it is a crash, its gap beginning at the last event before it) are listed and drawn, and make
the report ``complete: false``. docs/report.md has the sections and their sources.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from edge.events import Event
from edge.records import ShiftSpan, duty_log, shifts_between
from edge.roster import Assignment, ShiftDef
from edge.timefmt import from_utc_text, to_utc_text

REPORT_VERSION = 1
LATE_DELIVERY_S = 60.0  # an event acknowledged later than this after recording waited on a link
_IN = ("on_time", "late", "absent")
_OUT = ("left_early", "no_clock_out")
Data = dict[str, Any]


@dataclass(frozen=True)
class ReportInputs:
    site_id: str
    site_name: str
    day: date
    start: datetime
    end: datetime
    zone: ZoneInfo
    day_starts: str
    language: str
    generated_at: datetime
    events: Sequence[Event]  # occurred in [start - 2 days, end + 2 days), in time order
    shifts: Mapping[str, ShiftDef]
    assignments: Sequence[Assignment] = ()
    roster_days: frozenset[date] = frozenset()
    guests: Sequence[Mapping[str, Any]] = ()  # visits overlapping the day (see guest_view)
    inventory: Sequence[Mapping[str, Any]] = ()
    guest_names: Mapping[int, str] = field(default_factory=dict)
    signers: Sequence[str] = ()


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime  # the day's end, or now for a day still running

    def has(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def clip(self, a: datetime, b: datetime) -> tuple[datetime, datetime] | None:
        lo, hi = max(a, self.start), min(b, self.end)
        return (lo, hi) if lo < hi else None


def build_report(inp: ReportInputs) -> Data:
    w = Window(inp.start, min(inp.end, inp.generated_at))
    inside = [e for e in inp.events if w.has(e.occurred_at)]
    before = [e for e in inp.events if e.occurred_at < w.start]
    spans = [s for s in shifts_between(inp.shifts, inp.zone, w.start, inp.end)
             if inp.start <= s.start < inp.end]
    coverage = _coverage(before, inside, w, inp.end)
    sections: Data = {
        "attendance": _attendance(inp, spans, w),
        "patrol": _patrol(inp.events, inside, w, inp),
        "guests": _guests(inp, spans, w),
        "equipment": _equipment(inp, inside, spans),
        "lamp": _lamp(inp, before, inside, w),
        "radio": _radio(inp, inside, w),
        "handovers": _handovers(inside, inp.guest_names),
        "duty_log": duty_log(inside, inp.language, dict(inp.guest_names), inp.zone),
        "alerts": _alerts(inside),
        "devices": _devices(before, inside, w, coverage),
    }
    complete = (not coverage["in_progress"] and coverage["known"] and not coverage["gaps"]
                and all(s.get("available", True) for s in sections.values()
                        if isinstance(s, dict)))
    return {
        "v": REPORT_VERSION, "site": inp.site_id, "site_name": inp.site_name,
        "date": inp.day.isoformat(), "language": inp.language,
        "period": {"start": to_utc_text(inp.start), "end": to_utc_text(inp.end),
                   "tz": inp.zone.key, "day_starts": inp.day_starts},
        "generated_at": to_utc_text(inp.generated_at), "complete": complete,
        "coverage": coverage, "summary": _summary(sections), **sections,
        "timeline": _timeline(sections, spans, coverage, inp, w),
        "signers": list(inp.signers)}


def day_window(day: date, day_starts: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The 24 h of report day ``day``: from ``day_starts`` local on that day to the next."""
    hh, mm = (int(x) for x in day_starts.split(":"))
    start = datetime(day.year, day.month, day.day, hh, mm, tzinfo=zone)
    nxt = day + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, hh, mm, tzinfo=zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def report_day_of(at: datetime, day_starts: str, zone: ZoneInfo) -> date:
    """The report day an instant belongs to."""
    hh, mm = (int(x) for x in day_starts.split(":"))
    local = at.astimezone(zone)
    day = local.date()
    return day - timedelta(days=1) if (local.hour, local.minute) < (hh, mm) else day


# --- coverage: was posjaga running? -----------------------------------------------------------

def _coverage(before: Sequence[Event], inside: Sequence[Event], w: Window,
              end: datetime) -> Data:
    """When posjaga was not running. Each process records its own start and stop with the
    services it runs; under one systemd unit per daemon, one daemon's restart is a gap of
    that daemon (its gaps name their ``services``), not of the whole post."""
    lines = _lifelines([*before, *inside])
    gaps: list[Data] = []
    for line in lines or [None]:
        gaps += _line_gaps(before, inside, w, line, tag=len(lines) > 1)
    gaps = sorted((g for g in gaps if g["seconds"] > 0), key=lambda g: g["start"])
    return {"known": bool(lines) or _has_life(inside) or _has_life(before),
            "in_progress": w.end < end, "gaps": gaps, "down_s": _union_s(gaps)}


_LIFE = ("system.started", "system.stopped")


def _has_life(events: Sequence[Event]) -> bool:
    return any(e.kind in _LIFE for e in events)


def _line_of(e: Event) -> tuple[str, ...] | None:
    services = e.payload.get("services")
    return tuple(sorted(services)) if isinstance(services, list) else None


def _lifelines(events: Sequence[Event]) -> list[tuple[str, ...]]:
    """The processes' service sets; none (one line) when any record predates the field."""
    lines = [_line_of(e) for e in events if e.kind in _LIFE]
    if not lines or None in lines:
        return []
    return sorted(set(lines))  # type: ignore[arg-type]


def _line_gaps(before: Sequence[Event], inside: Sequence[Event], w: Window,
               line: tuple[str, ...] | None, tag: bool) -> list[Data]:
    """A start without a stop before it is a crash, its gap beginning at the last event
    before it (of any daemon: we cannot tell when that one died)."""
    def mine(e: Event) -> bool:
        return e.kind in _LIFE and (line is None or _line_of(e) == line)
    prior = [e for e in before if mine(e)]
    known = bool(prior) or any(mine(e) for e in inside)
    running: bool | None = prior[-1].kind == "system.started" if prior else None
    down_since = None if running else w.start
    reason = "stopped" if running is False else "no_record"
    last_seen = max((e.occurred_at for e in before), default=None)
    gaps: list[Data] = []
    for e in inside:
        if mine(e) and e.kind == "system.started":
            if running and last_seen is not None:
                gaps.append(_gap(max(last_seen, w.start), e.occurred_at, "crash"))
            elif down_since is not None and known:
                gaps.append(_gap(down_since, e.occurred_at, reason))
            running, down_since = True, None
        elif mine(e):
            running, down_since, reason = False, e.occurred_at, "stopped"
        last_seen = e.occurred_at
    if down_since is not None and known and running is not None:
        gaps.append(_gap(down_since, w.end, reason))
    if tag:
        for g in gaps:
            g["services"] = list(line or ())
    return gaps


def _union_s(gaps: list[Data]) -> float:
    """Seconds in which anything was down, overlaps counted once."""
    total, reach = 0.0, None
    for g in gaps:  # sorted by start; UTC text sorts as time
        a, b = from_utc_text(g["start"]), from_utc_text(g["end"])
        if reach is not None and a < reach:
            a = reach
        if b > a:
            total += (b - a).total_seconds()
        reach = b if reach is None or b > reach else reach
    return round(total, 1)


def _gap(a: datetime, b: datetime, reason: str) -> Data:
    return {"start": to_utc_text(a), "end": to_utc_text(b), "reason": reason,
            "seconds": round((b - a).total_seconds(), 1)}


# --- attendance and roster --------------------------------------------------------------------

def _attendance(inp: ReportInputs, spans: Sequence[ShiftSpan], w: Window) -> Data:
    latest: dict[tuple[str, str, str], Event] = {}
    for e in inp.events:
        if e.kind != "attendance.shift" or not e.payload.get("start"):
            continue
        start = datetime.fromisoformat(e.payload["start"])
        if not (inp.start <= start < inp.end):
            continue
        outcome = e.payload.get("outcome")
        slot = "in" if outcome in _IN else "out" if outcome in _OUT else e.id
        latest[(str(e.payload.get("user_id")), e.payload["start"], slot)] = e
    covered = inp.day in inp.roster_days or any(
        s.day in inp.roster_days for s in spans)
    if not covered and not latest:
        return {"available": False, "roster": "none", "shifts": [], "outcomes": [],
                "counts": None}
    rows = sorted((_outcome_row(e) for e in latest.values()), key=lambda r: (r["start"],
                                                                            r["guard"] or ""))
    counts = Counter(r["outcome"] for r in rows)
    return {"available": True, "roster": "approved" if covered else "none",
            "shifts": [_shift_row(s, inp.assignments) for s in spans],
            "outcomes": rows,
            "counts": {k: counts.get(k, 0) for k in ("on_time", "late", "absent",
                                                     "left_early", "no_clock_out",
                                                     "unscheduled")}}


def _shift_row(span: ShiftSpan, assignments: Sequence[Assignment]) -> Data:
    guards = sorted(a.guard for a in assignments if a.day == span.day and a.shift == span.name)
    return {"shift": span.name, "day": span.day.isoformat(), "start": to_utc_text(span.start),
            "end": to_utc_text(span.end), "guards": guards}


def _outcome_row(e: Event) -> Data:
    p = e.payload
    return {"guard": p.get("guard"), "user_id": p.get("user_id"), "shift": p.get("shift"),
            "start": to_utc_text(datetime.fromisoformat(p["start"])),
            "outcome": p.get("outcome"), "minutes": p.get("minutes"),
            "punch_at": to_utc_text(datetime.fromisoformat(p["punch_at"]))
            if p.get("punch_at") else None, "text": p.get("text")}


# --- patrol ---------------------------------------------------------------------------------

def _patrol(around: Sequence[Event], inside: Sequence[Event], w: Window,
            inp: ReportInputs) -> Data:
    rounds: dict[str, Data] = {}
    for e in around:
        if e.kind == "patrol.round" and inp.start <= from_utc_text(e.payload["due_at"]) < inp.end:
            rounds[e.payload["round"]] = _round_row(e.payload)
    findings = [_finding_row(e) for e in inside if e.kind == "patrol.finding"]
    seen = rounds or findings or any(e.kind.startswith("patrol.") for e in inside)
    if not seen:
        return {"available": False, "rounds": [], "findings": [], "counts": None}
    rows = sorted(rounds.values(), key=lambda r: r["due_at"])
    outcomes = Counter(r["outcome"] for r in rows)
    counts = {"rounds": len(rows), "complete": outcomes["complete"],
              "late": sum(1 for r in rows if r["late"] and r["outcome"] == "complete"),
              "incomplete": outcomes["incomplete"], "missed": outcomes["missed"],
              "checkpoints_missed": sum(len(r["missing"]) for r in rows),
              "findings": len(findings)}
    return {"available": True, "rounds": rows, "findings": findings, "counts": counts}


def _round_row(p: Mapping[str, Any]) -> Data:
    guard = p.get("guard") or {}
    return {"round": p["round"], "due_at": p["due_at"], "outcome": p.get("outcome"),
            "late": bool(p.get("late")), "guard": guard.get("name") or guard.get("id"),
            "started_at": p.get("started_at"), "ended_at": p.get("ended_at"),
            "visited": len(p.get("visited", [])),
            "missing": [m.get("name") or m.get("id") for m in p.get("missing", [])],
            "findings": len(p.get("findings", [])),
            "service_down": bool(p.get("service_down"))}


def _finding_row(e: Event) -> Data:
    p = e.payload
    cp = p.get("checkpoint") or {}
    return {"at": to_utc_text(e.occurred_at), "round": p.get("round"),
            "checkpoint": cp.get("id"), "name": cp.get("name"), "room": cp.get("room"),
            "state": p.get("state"), "note": p.get("note"),
            "guard": (p.get("guard") or {}).get("name")}


# --- guests ---------------------------------------------------------------------------------

def _guests(inp: ReportInputs, spans: Sequence[ShiftSpan], w: Window) -> Data:
    visits = [dict(g) for g in inp.guests]
    for v in visits:
        v["inside_at_end"] = _inside(v, w.end)
    ends = [s for s in spans if s.end <= w.end]
    at_shift_end = [{"shift": s.label, "end": to_utc_text(s.end),
                     "guests": [v["guest"] for v in visits if _inside(v, s.end)]} for s in ends]
    arrived = sum(1 for v in visits if w.has(from_utc_text(v["signed_in_at"])))
    return {"available": True, "visits": visits, "inside_at_shift_end": at_shift_end,
            "counts": {"visits": len(visits), "arrived": arrived,
                       "left": sum(1 for v in visits if v["signed_out_at"]
                                   and w.has(from_utc_text(v["signed_out_at"]))),
                       "inside_at_end": sum(1 for v in visits if v["inside_at_end"]),
                       "purged": sum(1 for v in visits if v["purged"])}}


def _inside(visit: Mapping[str, Any], at: datetime) -> bool:
    out = visit.get("signed_out_at")
    return from_utc_text(visit["signed_in_at"]) <= at and (not out or from_utc_text(out) > at)


# --- equipment ------------------------------------------------------------------------------

def _equipment(inp: ReportInputs, inside: Sequence[Event],
               spans: Sequence[ShiftSpan]) -> Data:
    checks = [_check_row(e) for e in inside if e.kind == "equipment.check"]
    inspections = [{"at": to_utc_text(e.occurred_at), **{k: e.payload.get(k) for k in (
        "item", "name", "location", "by", "pressure", "seal", "expires", "ok", "problems",
        "next_inspection")}} for e in inside if e.kind == "equipment.inspection"]
    alerts = [{"at": to_utc_text(e.occurred_at), **{k: e.payload.get(k) for k in (
        "alert", "severity", "item", "name", "shift", "message")}}
              for e in inside if e.kind == "equipment.alert"]
    if not inp.inventory:
        return {"available": False, "inventory": [], "checks": checks,
                "inspections": inspections, "alerts": alerts, "counts": None}
    unchecked = [s.label for s in spans
                 if not any(s.start <= from_utc_text(c["at"]) < s.end for c in checks)]
    return {"available": True, "inventory": [dict(i) for i in inp.inventory],
            "checks": checks, "inspections": inspections, "alerts": alerts,
            "shifts_without_check": unchecked,
            "counts": {"checks": len(checks), "inspections": len(inspections),
                       "alerts": len(alerts),
                       "problems": sum(len(c["problems"]) for c in checks)}}


def _check_row(e: Event) -> Data:
    p = e.payload
    return {"at": to_utc_text(e.occurred_at), "by": p.get("by"), "shift": p.get("shift"),
            "counts": p.get("counts"), "note": p.get("note"),
            "problems": [x for x in p.get("items", []) if x.get("state") != "ok"]}


# --- lamp and radio -------------------------------------------------------------------------

def _lamp(inp: ReportInputs, before: Sequence[Event], inside: Sequence[Event],
          w: Window) -> Data:
    switches = [e for e in inside if e.kind == "lamp.switched"]
    prior = [e for e in before if e.kind == "lamp.switched"]
    daily = next((e for e in inp.events if e.kind == "lamp.daily"
                  and e.payload.get("date") == inp.day.isoformat()), None)
    on = _on_intervals(prior[-1].payload.get("on") if prior else None, switches, w)
    alerts = [e for e in inside if e.kind == "lamp.alert"]
    if not switches and not prior and daily is None and not alerts:
        return {"available": False, "on_hours": None, "switches": None, "on": []}
    measured = round(sum((b - a).total_seconds() for a, b in on) / 3600, 2)
    use_daily = daily is not None and inp.day_starts == "00:00"
    return {"available": True,
            "on_hours": daily.payload.get("on_hours") if use_daily and daily else measured,
            "source": "lamp.daily" if use_daily else "lamp.switched",
            "partial": bool(daily.payload.get("partial")) if use_daily and daily else False,
            "switches": len(switches), "alerts": len(alerts),
            "on": [[to_utc_text(a), to_utc_text(b)] for a, b in on]}


def _on_intervals(initial: bool | None, switches: Sequence[Event],
                  w: Window) -> list[tuple[datetime, datetime]]:
    """Lit spans within the window; before the first switch the lamp was as the last switch
    before the window left it (unknown: the opposite of the first switch)."""
    state = initial if initial is not None else (not switches[0].payload.get("on")
                                                 if switches else False)
    since, spans = w.start, []
    for e in switches:
        if state and (span := w.clip(since, e.occurred_at)):
            spans.append(span)
        state, since = bool(e.payload.get("on")), e.occurred_at
    if state and (span := w.clip(since, w.end)):
        spans.append(span)
    return spans


def _radio(inp: ReportInputs, inside: Sequence[Event], w: Window) -> Data:
    txs = [e for e in inside if e.kind == "radio.transmission"]
    if not any(e.kind.startswith("radio.") for e in inside):
        return {"available": False, "rx": None, "tx": None, "hourly": [], "alerts": None}
    hours = max(1, round((inp.end - inp.start).total_seconds() / 3600))
    hourly = [0] * hours
    totals = {d: {"count": 0, "seconds": 0.0} for d in ("rx", "tx")}
    for e in txs:
        d = e.payload.get("direction", "rx")
        totals[d]["count"] += 1
        totals[d]["seconds"] = round(totals[d]["seconds"] + float(e.payload.get("duration_s", 0)),
                                     1)
        hourly[min(hours - 1, int((e.occurred_at - inp.start).total_seconds() // 3600))] += 1
    daily = next((e for e in inp.events if e.kind == "radio.daily"
                  and e.payload.get("date") == inp.day.isoformat()), None)
    chatter = None
    if daily is not None and inp.day_starts == "00:00":
        chatter = sum(int(daily.payload.get(d, {}).get("chatter", 0)) for d in ("rx", "tx"))
    return {"available": True, "rx": totals["rx"], "tx": totals["tx"], "hourly": hourly,
            "chatter": chatter,
            "alerts": sum(1 for e in inside if e.kind == "radio.alert")}


# --- handovers, alerts, devices -------------------------------------------------------------

def _handovers(inside: Sequence[Event], names: Mapping[int, str]) -> Data:
    rows = []
    for e in inside:
        if e.kind != "handover.confirmed":
            continue
        p = e.payload
        rows.append({"at": to_utc_text(e.occurred_at), "shift": p.get("shift"),
                     "outgoing": p.get("outgoing"), "incoming": p.get("incoming"),
                     "via": p.get("via"), "note": p.get("note"),
                     "equipment_problems": sum(1 for x in p.get("equipment", [])
                                               if x.get("condition") not in ("ok", "unchecked")),
                     "open_findings": list(p.get("open_findings", [])),
                     "guests_inside": [{**g, "name": names.get(int(g["guest"]))}
                                       for g in p.get("guests_inside", [])]})
    started = {e.payload.get("handover") for e in inside if e.kind == "handover.started"}
    closed = {e.payload.get("handover") for e in inside
              if e.kind in ("handover.confirmed", "handover.cancelled")}
    return {"available": True, "confirmed": rows, "unconfirmed": len(started - closed)}


def _alerts(inside: Sequence[Event]) -> list[Data]:
    return [{"at": to_utc_text(e.occurred_at), "kind": e.kind, "alert": e.payload.get("alert"),
             "severity": e.payload.get("severity"),
             "message": e.payload.get("message") or e.payload.get("text")}
            for e in inside if e.kind.endswith(".alert")]


def _devices(before: Sequence[Event], inside: Sequence[Event], w: Window,
             coverage: Data) -> Data:
    outages = _link_outages(before, inside, w)
    late = [(e.sent_at - e.recorded_at).total_seconds() for e in inside if e.sent_at
            and (e.sent_at - e.recorded_at).total_seconds() > LATE_DELIVERY_S]
    return {"available": True, "outages": outages, "service_gaps": coverage["gaps"],
            "delivery": {"events": len(inside),
                         "unsent": sum(1 for e in inside if e.sent_at is None),
                         "late": len(late),
                         "max_delay_s": round(max(late), 1) if late else 0.0}}


def _link_state(e: Event) -> bool | None:
    """True (up) / False (down) for device link events, None for others."""
    if e.kind == "attendance.device":
        return e.payload.get("link") == "up"
    if e.kind == "patrol.reader":
        return bool(e.payload.get("up"))
    return None


def _link_outages(before: Sequence[Event], inside: Sequence[Event], w: Window) -> list[Data]:
    down: dict[str, tuple[datetime, Event]] = {}
    for e in before:
        if (up := _link_state(e)) is not None:
            if up:
                down.pop(e.source, None)
            else:
                down[e.source] = (w.start, e)
    outages = []
    for e in inside:
        up = _link_state(e)
        if up is None:
            continue
        if not up and e.source not in down:
            down[e.source] = (e.occurred_at, e)
        elif up and e.source in down:
            since, first = down.pop(e.source)
            outages.append(_outage(e.source, first, since, e.occurred_at))
    outages += [_outage(src, first, since, None) for src, (since, first) in down.items()]
    return sorted(outages, key=lambda o: o["start"])


def _outage(source: str, first: Event, since: datetime, until: datetime | None) -> Data:
    p = first.payload
    detail = p.get("error") or p.get("detail") or p.get("message")
    return {"device": source, "kind": first.kind, "start": to_utc_text(since),
            "end": to_utc_text(until) if until else None, "detail": detail,
            "seconds": round((until - since).total_seconds(), 1) if until else None}


# --- summary and timeline -------------------------------------------------------------------

def _summary(s: Data) -> Data:
    att, pat, gst = s["attendance"]["counts"], s["patrol"]["counts"], s["guests"]["counts"]
    eqp, lamp, radio = s["equipment"]["counts"], s["lamp"], s["radio"]
    pick = _picker
    return {"late": pick(att, "late"), "absent": pick(att, "absent"),
            "left_early": pick(att, "left_early"), "no_clock_out": pick(att, "no_clock_out"),
            "rounds": pick(pat, "rounds"), "rounds_complete": pick(pat, "complete"),
            "rounds_missed": pick(pat, "missed"), "rounds_incomplete": pick(pat, "incomplete"),
            "checkpoints_missed": pick(pat, "checkpoints_missed"),
            "findings": pick(pat, "findings"), "guests": gst["visits"],
            "guests_inside_at_end": gst["inside_at_end"],
            "equipment_checks": pick(eqp, "checks"), "equipment_alerts": pick(eqp, "alerts"),
            "lamp_on_hours": lamp["on_hours"],
            "radio_rx": radio["rx"]["count"] if radio["rx"] else None,
            "radio_tx": radio["tx"]["count"] if radio["tx"] else None,
            "handovers": len(s["handovers"]["confirmed"]), "duty_log": len(s["duty_log"]),
            "alerts": len(s["alerts"]), "device_outages": len(s["devices"]["outages"]),
            "service_gaps": len(s["devices"]["service_gaps"])}


def _picker(counts: Mapping[str, Any] | None, key: str) -> Any:
    return None if counts is None else counts.get(key)


def _timeline(s: Data, spans: Sequence[ShiftSpan], coverage: Data, inp: ReportInputs,
              w: Window) -> Data:
    overlapping = shifts_between(inp.shifts, inp.zone, inp.start, inp.end)
    shifts = [_shift_row(x, inp.assignments) for x in overlapping]
    return {"start": to_utc_text(inp.start), "end": to_utc_text(inp.end),
            "drawn_until": to_utc_text(w.end), "shifts": shifts,
            "rounds": [{k: r[k] for k in ("round", "due_at", "started_at", "ended_at",
                                          "outcome", "late")} for r in s["patrol"]["rounds"]],
            "radio_hourly": s["radio"]["hourly"], "lamp_on": s["lamp"]["on"],
            "guests": [[v["signed_in_at"], v["signed_out_at"]] for v in s["guests"]["visits"]],
            "alerts": [{"at": a["at"], "kind": a["kind"]} for a in s["alerts"]],
            "gaps": [[g["start"], g["end"]] for g in coverage["gaps"]]}


def guest_view(guest: Any) -> Data:
    """How the report shows a visit (``guest`` is a services.records.Guest)."""
    return {"guest": guest.id, "badge": guest.badge, "name": guest.name,
            "organisation": guest.organisation, "purpose": guest.purpose, "host": guest.host,
            "signed_in_at": to_utc_text(guest.signed_in_at),
            "signed_out_at": to_utc_text(guest.signed_out_at) if guest.signed_out_at else None,
            "via": guest.signed_out_via, "purged": guest.purged_at is not None}


def events_in(events: Iterable[Event], start: datetime, end: datetime) -> list[Event]:
    return [e for e in events if start <= e.occurred_at < end]
