"""Events carry whether the clock was synchronised; stamps made before are corrected once it is."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from edge.clock import ManualClock
from edge.db import Database
from edge.events import NewEvent
from edge.store import EventLog
from edge.timesync import ClockWatch, SyncProbe, boot_id

STALE = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)  # what fake-hwclock restored
TRUE_OFFSET = timedelta(days=3, hours=5)  # how far behind that was


class PiClock(ManualClock):
    """A manual clock that also says whether NTP has synchronised it."""

    synced_now: bool | None = False

    def synced(self) -> bool | None:
        return self.synced_now


def _log(tmp_path: Path, clock: PiClock) -> EventLog:
    db = Database(f"sqlite:///{tmp_path}/p.db")
    db.migrate()
    return EventLog(db, "kpu-palu", "Asia/Makassar", clock)


def test_the_probe_reads_the_timesyncd_flag_then_the_kernel(tmp_path: Path) -> None:
    flag = tmp_path / "synchronized"
    now = [0.0]
    kernel = [False]
    probe = SyncProbe(flag, kernel=lambda: kernel[0], monotonic=lambda: now[0])
    assert probe.synchronized() is False
    flag.touch()
    assert probe.synchronized() is False  # cached for a second: the hot path stays cheap
    now[0] = 1.5
    assert probe.synchronized() is True
    flag.unlink()
    kernel[0] = None
    now[0] = 3.0
    assert probe.synchronized() is None  # cannot tell


def test_unsynchronised_stamps_are_flagged_then_corrected_once(tmp_path: Path) -> None:
    clock = PiClock(STALE)
    log = _log(tmp_path, clock)
    device_time = STALE - timedelta(minutes=1)  # a device's own clock: not ours to correct
    early = log.record_many([NewEvent("patrol.tap", "r", {"n": 1}),
                             NewEvent("attendance.punch", "zk", {}, device_time)])
    clock.advance(600)
    later = log.record("patrol.tap", "r", {"n": 2})
    assert [e.clock_synced for e in early + [later]] == [False, False, False]
    body = json.loads(log.pending(0, 10)[0].body)
    assert body["clock_synced"] is False and "clock_fix_s" not in body
    # NTP arrives: the wall clock steps forward, the monotonic clock does not move.
    clock.advance(60)
    clock.set_wall(clock.now() + TRUE_OFFSET)
    clock.synced_now = True
    watches = [ClockWatch(log, clock), ClockWatch(log, clock)]  # two daemon processes
    assert sum(w.tick() for w in watches) == 3  # corrected once, by one of them
    assert sum(w.tick() for w in watches) == 0
    fixed = {e.id: e for e in log.query()}
    tap, punch, tap2 = (fixed[e.id] for e in early + [later])
    assert tap.recorded_at == STALE + TRUE_OFFSET and tap.occurred_at == tap.recorded_at
    assert tap2.recorded_at == STALE + timedelta(seconds=600) + TRUE_OFFSET
    assert punch.occurred_at == device_time  # the device's clock, kept
    assert tap.clock_synced is False and tap.clock_fix_s == TRUE_OFFSET.total_seconds()
    note = [e for e in log.query(kind="system.clock_synced")]
    assert len(note) == 1 and note[0].payload["corrected"] == 3
    assert note[0].clock_synced is True
    body = json.loads(log.pending(0, 10)[0].body)
    assert body["clock_fix_s"] == TRUE_OFFSET.total_seconds()
    assert body["recorded_at"] == "2026-12-04T08:00:00.000000Z"


def test_stamps_of_an_earlier_boot_stay_flagged(tmp_path: Path) -> None:
    clock = PiClock(STALE)
    log = _log(tmp_path, clock)
    event = log.record("patrol.tap", "r")
    clock.synced_now = True
    clock.set_wall(STALE + TRUE_OFFSET)
    assert ClockWatch(log, clock, boot="another-boot").tick() == 0
    again = next(log.query())
    assert again.recorded_at == event.recorded_at and again.clock_synced is False
    assert again.clock_fix_s is None and boot_id() != "another-boot"


def test_a_clock_that_cannot_tell_leaves_the_flag_unknown(tmp_path: Path) -> None:
    log = _log(tmp_path, ManualClock(STALE))  # no synced(): tests' and the demo's clocks
    event = log.record("patrol.tap", "r")
    assert event.clock_synced is None
    assert json.loads(log.pending(0, 1)[0].body)["clock_synced"] is None
