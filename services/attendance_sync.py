"""Reconciliation: pull the machine's whole log and keep what is new.

Machines offer no date filter, so every pull transfers the whole log; what we can avoid is
the work after it. The log only grows, so a sync mark remembers how many records it held and
the key of the last readable one: if that record is still where it was, only the records after
it are new. If not (the log was cleared or rewritten) every record is looked at again and the
punch table's unique key keeps out what is already stored. A pull that finds nothing new
writes nothing and publishes nothing.

The clock check compares the machine's clock with the Pi's on every reconciliation.
"""
from __future__ import annotations

import bisect
import logging
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, TextIO

from drivers.zkteco import AttendanceLog, MalformedRecord, Punch, ZKDevice
from edge.events import NewEvent
from services.attendance_store import Directory, IngestReport, PunchStore, SyncMark, punch_key
from services.attendance_texts import duration

log = logging.getLogger(__name__)

_LISTED_MALFORMED = 10


@dataclass(frozen=True)
class PullPlan:
    punches: list[Punch]  # the new ones, in log order
    malformed: list[MalformedRecord]  # the new ones
    records: int  # raw records in the log now
    max_time: str  # the running maximum before the new punches
    cleared: bool  # the log no longer starts with what the mark remembers


@dataclass(frozen=True)
class ClockCheck:
    skew_s: float
    device_time: datetime
    state: str  # ok, skewed, reset


def plan_pull(log_: AttendanceLog, mark: SyncMark | None) -> PullPlan:
    punches, malformed = log_.punches, log_.malformed
    records = max([(p.index or 0) + 1 for p in punches[-1:]]
                  + [m.index + 1 for m in malformed[-1:]] + [0])
    if mark is not None and _still_there(punches, mark, records):
        start = mark.records
        return PullPlan(_from_index(punches, start),
                        [m for m in malformed if m.index >= start], records, mark.max_time,
                        cleared=False)
    cleared = mark is not None and mark.records > 0
    return PullPlan(list(punches), list(malformed), records, "", cleared)


def _still_there(punches: list[Punch], mark: SyncMark, records: int) -> bool:
    if records < mark.records:
        return False
    if mark.last_index < 0:
        return True
    at = bisect.bisect_left(punches, mark.last_index, key=lambda p: p.index or 0)
    return at < len(punches) and punches[at].index == mark.last_index \
        and punch_key(punches[at]) == mark.last_key


def _from_index(punches: list[Punch], start: int) -> list[Punch]:
    return punches[bisect.bisect_left(punches, start, key=lambda p: p.index or 0):]


def next_mark(device: str, log_: AttendanceLog, plan: PullPlan) -> SyncMark:
    """The mark after this pull; its max_time is filled in by the ingest."""
    last = log_.punches[-1] if log_.punches else None
    return SyncMark(device, plan.records, last.index if last and last.index is not None else -1,
                    punch_key(last) if last else "", "")


class Reconciler:
    """One pull, and the clock check that goes with it, for the attendance service and the
    benchmark alike."""

    def __init__(self, store: PunchStore, progress: Callable[[int, int], None] | None = None
                 ) -> None:
        self.store = store
        self.rt = store.rt
        self.progress = progress

    def directory(self, device: ZKDevice) -> Directory:
        from services.roster import RosterStore
        guards = RosterStore.from_runtime(self.rt).guards()
        return Directory({g.user_id: g.name for g in guards},
                         frozenset(u.user_id for u in device.users()))

    def pull(self, device: ZKDevice, serial: str, directory: Directory,
             extra: list[NewEvent] | None = None) -> IngestReport:
        read_at = self.rt.clock.now()
        log_ = device.attendance(progress=self.progress)
        mark = self.store.mark(serial)
        plan = plan_pull(log_, mark)
        events = list(extra or [])
        if plan.cleared:
            events.append(self.store.alert("log_cleared", serial, records=plan.records))
        if plan.malformed:
            events.append(self._malformed_alert(serial, plan.malformed))
        report = self.store.ingest(serial, plan.punches, "pull", directory, plan.max_time,
                                   read_at, events, mark=next_mark(serial, log_, plan),
                                   previous=mark, recent=mark is not None and not plan.cleared)
        log.debug("pulled %d records from %s: %d new", plan.records, serial, report.new)
        return report

    def _malformed_alert(self, serial: str, malformed: list[MalformedRecord]) -> NewEvent:
        listed = [{"index": m.index, "reason": m.reason} for m in malformed[:_LISTED_MALFORMED]]
        return self.store.alert("malformed_records", serial, count=len(malformed),
                                records=listed)

    def check_clock(self, device: ZKDevice, max_time: str) -> ClockCheck:
        """The machine's clock against the Pi's; 'reset' when it is behind a punch it logged."""
        before = self.rt.clock.now()
        device_time = device.get_time()
        after = self.rt.clock.now()
        pi = before + (after - before) / 2
        skew = (self.store.times.utc(device_time) - pi).total_seconds()
        tolerance = self.store.cfg.skew_alert_s
        if max_time and (datetime.fromisoformat(max_time) - device_time).total_seconds() \
                > tolerance:
            return ClockCheck(skew, device_time, "reset")
        return ClockCheck(skew, device_time, "skewed" if abs(skew) > tolerance else "ok")

    def clock_alert(self, serial: str, check: ClockCheck) -> NewEvent:
        language = self.store.language
        if check.state == "reset":
            return self.store.alert("clock_reset", serial, skew_s=round(check.skew_s, 1),
                                    device_time=check.device_time.isoformat())
        return self.store.alert("clock_skew", serial, skew_s=round(check.skew_s, 1),
                                threshold_s=self.store.cfg.skew_alert_s,
                                device_time=check.device_time.isoformat(),
                                skew=duration(check.skew_s, language))


class TerminalProgress:
    """A long pull's progress on a terminal: one line rewritten in place (stderr), or nothing
    when stderr is not a terminal (under systemd the log says when a pull starts and ends)."""

    def __init__(self, label: str, stream: TextIO | None = None, min_bytes: int = 256_000) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.min_bytes = min_bytes
        self.enabled = self.stream.isatty()
        self._shown = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < self.min_bytes:
            return
        percent = int(done * 100 / total) if total else 100
        if percent == self._shown:
            return
        self._shown = percent
        end = "\n" if done >= total else ""
        self.stream.write(f"\r# {self.label}: {done / 1e6:.1f} of {total / 1e6:.1f} MB "
                          f"({percent} %){end}")
        self.stream.flush()
        if done >= total:
            self._shown = -1


__all__ = ["ClockCheck", "PullPlan", "Reconciler", "TerminalProgress", "plan_pull"]
