"""Shift attendance and the retained "who is on duty now" state.

``DutyKeeper.update`` runs the pure rules (edge/attendance.py) over the approved roster and the
stored punches of the last ``history_days``, and publishes only what moved: each fact
(on time, late, absent, left early, no clock-out, unscheduled, double) is remembered in
``attendance_outcomes`` with the signature it was published with. A fact that changes - an
absence revised to "late" when the punch turns up after a link cut - is published again with
``revises``. The ``duty`` state lists the guards on duty in the shape the patrol service
reads (``{"guards": [{"id": "<fingerprint user id>", "name": ...}]}``).
"""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from typing import Any

from edge.attendance import DutyEntry, Evaluation, Outcome, PunchFact, Rules, evaluate
from edge.events import Event, NewEvent
from edge.roster import DutyBlock, duty_blocks, parse_shifts
from edge.timefmt import from_utc_text, to_local_text, to_utc_text
from services.attendance_texts import text
from services.roster import RosterStore
from services.runtime import Runtime

DUTY_STATE = "duty"
SOURCE = "attendance"

_UPSERT = ("INSERT INTO attendance_outcomes (user_id, anchor, slot, signature, event_id, "
           "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, anchor, slot) DO UPDATE "
           "SET signature = excluded.signature, event_id = excluded.event_id, "
           "updated_at = excluded.updated_at")


def rules_of(rt: Runtime) -> Rules:
    cfg = rt.config.attendance
    return Rules.from_minutes(early_in=cfg.early_in_min, late_grace=cfg.late_grace_min,
                              absent_after=cfg.absent_after_min,
                              early_leave_grace=cfg.early_leave_grace_min,
                              late_out=cfg.late_out_min, double_punch=cfg.double_punch_min)


class DutyKeeper:
    def __init__(self, rt: Runtime, roster: RosterStore | None = None) -> None:
        self.rt = rt
        self.roster = roster or RosterStore.from_runtime(rt)
        self.rules = rules_of(rt)
        self.shifts = parse_shifts(rt.config.roster.shifts)
        self.zone = rt.config.site.zone
        self.language = rt.config.site.language
        self.horizon = timedelta(days=rt.config.attendance.history_days)
        self._lock = threading.Lock()
        self._last_duty: dict[str, Any] | None = None

    def update(self, known_until: datetime) -> list[Event]:
        """Evaluate now; record what changed; set the duty state. Returns the new events."""
        with self._lock:
            now = self.rt.clock.now()
            evaluation, covered = self._evaluate(now, known_until)
            events = self._publish(evaluation.outcomes, now)
            self._set_duty(evaluation.duty, now.astimezone(self.zone).date() in covered)
            return events

    def _evaluate(self, now: datetime, known_until: datetime) -> tuple[Evaluation, set[date]]:
        since = now - self.horizon
        reach = self.rules.early_in + self.rules.late_out + timedelta(days=2)
        first = (since - reach).astimezone(self.zone).date()
        last = (now + self.rules.early_in).astimezone(self.zone).date()
        assignments, covered = self.roster.effective(first, last)
        blocks = [b for b in duty_blocks(assignments, self.shifts, self.zone)
                  if self.rules.window(b)[1] > since and self.rules.window(b)[0] <= now]
        guards = {g.user_id: g.name for g in self.roster.guards()}
        start = min([self.rules.window(b)[0] for b in blocks] + [since])
        punches = self._punches(list(guards), start, now)
        # Unscheduled punches older than the horizon are history, not news.
        recent = {day for day in covered if day >= since.astimezone(self.zone).date()}
        return evaluate(blocks, punches, guards, recent, now, known_until, self.rules,
                        self.zone), set(covered)

    def _punches(self, user_ids: list[str], start: datetime, end: datetime
                 ) -> dict[str, list[PunchFact]]:
        if not user_ids:
            return {}
        marks = ",".join("?" * len(user_ids))
        with self.rt.db.raw_read() as cur:
            rows = cur.execute(
                "SELECT user_id, occurred_at, punch FROM attendance_punches WHERE user_id IN "
                f"({marks}) AND occurred_at >= ? AND occurred_at <= ? AND trusted = 1",
                (*user_ids, to_utc_text(start), to_utc_text(end))).fetchall()
        facts: dict[str, list[PunchFact]] = {}
        for user_id, occurred, punch in rows:
            facts.setdefault(user_id, []).append(PunchFact(from_utc_text(occurred), user_id,
                                                           punch))
        return facts

    def _publish(self, outcomes: list[Outcome], now: datetime) -> list[Event]:
        if not outcomes:
            return []
        lowest = to_utc_text(min(o.anchor for o in outcomes))
        with self.rt.db.raw_read() as cur:
            stored = {(u, a, s): sig for u, a, s, sig in cur.execute(
                "SELECT user_id, anchor, slot, signature FROM attendance_outcomes "
                "WHERE anchor >= ?", (lowest,))}
        changed = [(o, stored.get(_key(o))) for o in outcomes
                   if stored.get(_key(o)) != o.signature]
        if not changed:
            return []
        with self.rt.events.writing() as batch:
            events = batch.record_many(
                NewEvent("attendance.shift", SOURCE, self._payload(o, before), o.at)
                for o, before in changed)
            stamp = to_utc_text(now)
            batch.cursor.executemany(_UPSERT, [(*_key(o), o.signature, e.id, stamp)
                                               for (o, _), e in zip(changed, events)])
        return events

    def _payload(self, o: Outcome, before: str | None) -> dict[str, Any]:
        local = self._local
        block = o.block
        payload: dict[str, Any] = {
            "outcome": o.kind, "guard": o.guard, "user_id": o.user_id,
            "shift": block.label if block else None,
            "day": (block.day if block else o.at.astimezone(self.zone).date()).isoformat(),
            "start": local(block.start) if block else None,
            "end": local(block.end) if block else None,
            "minutes": o.minutes, "punch_at": local(o.punch_at) if o.punch_at else None,
            "revises": before.split("|", 1)[0] if before else None}
        payload["text"] = text(o.kind, self.language, guard=o.guard,
                               shift=payload["shift"], day=payload["day"], minutes=o.minutes,
                               punch=self._clock_time(o.punch_at),
                               deadline=self._clock_time(o.at))
        return payload

    def _set_duty(self, duty: list[DutyEntry], covered_today: bool) -> None:
        payload = {
            "roster": "approved" if covered_today else "none",
            "guards": [{"id": d.block.user_id, "name": d.block.guard, "shift": d.block.label,
                        "since": self._local(d.since) if d.since else None}
                       for d in duty if d.status == "on_duty"],
            "scheduled": [self._scheduled(d) for d in duty]}
        if payload == self._last_duty:
            return
        if self._last_duty is None:
            old = self.rt.states.get(DUTY_STATE)
            self._last_duty = dict(old.payload) if old else None
            if payload == self._last_duty:
                return
        self.rt.states.set(DUTY_STATE, payload)
        self._last_duty = payload

    def _scheduled(self, d: DutyEntry) -> dict[str, Any]:
        b: DutyBlock = d.block
        return {"id": b.user_id, "name": b.guard, "shift": b.label, "day": b.day.isoformat(),
                "start": self._local(b.start), "end": self._local(b.end), "status": d.status,
                "since": self._local(d.since) if d.since else None}

    def _local(self, at: datetime) -> str:
        return to_local_text(at, self.zone)

    def _clock_time(self, at: datetime | None) -> str:
        return at.astimezone(self.zone).strftime("%H:%M") if at else ""


def _key(o: Outcome) -> tuple[str, str, str]:
    return o.user_id, to_utc_text(o.anchor), o.slot
