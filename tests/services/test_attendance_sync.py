"""Reconciliation through the real driver and real pyzk, against ZKSimulator over TCP on
127.0.0.1, into a real SQLite store; the machine's clock follows a ManualClock."""
from __future__ import annotations

import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

import pytest

from drivers.zkteco.protocol import AttendanceRecord
from drivers.zkteco.simulator import ZKSimulator
from edge.clock import ManualClock
from edge.config import config_from_mapping
from edge.roster import CsvRow
from services.attendance import DEVICE_STATE, AttendanceService
from services.attendance_demo import device_time_source, enrol
from services.bench_attendance import _rows_written, _write_marks
from services.roster import RosterStore
from services.runtime import Runtime, open_runtime

ZONE = ZoneInfo("Asia/Makassar")
GUARDS = [("101", "Ani"), ("102", "Budi"), ("103", "Citra")]
STAFF = [("201", "Staf Keuangan")]
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=ZONE)

Make = Callable[..., tuple[Runtime, AttendanceService]]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[ZKSimulator]:
    machine = ZKSimulator(clock=device_time_source(lambda: clock, ZONE), seed=1)
    enrol(machine, GUARDS + STAFF)
    machine.start()
    yield machine
    machine.close()


@pytest.fixture
def make(tmp_path: Path, clock: ManualClock, sim: ZKSimulator) -> Iterator[Make]:
    opened: list[tuple[Runtime, AttendanceService]] = []

    def build(**attendance: Any) -> tuple[Runtime, AttendanceService]:
        config = config_from_mapping({
            "site": {"id": "kpu-palu"}, "store": {"url": f"sqlite:///{tmp_path}/p.db"},
            "attendance": {"host": "127.0.0.1", "port": sim.port, "timeout_s": 5.0,
                           **attendance}}, "<test>", env={})
        rt = open_runtime(config, clock)
        roster = RosterStore.from_runtime(rt)
        for user_id, name in GUARDS:
            roster.link_guard(name, user_id)
        service = AttendanceService(rt)
        service.device.connect()
        service.serial = service.device.serial_number()
        opened.append((rt, service))
        return rt, service

    yield build
    for rt, service in opened:
        service.device.close()
        rt.close()


def local(hh: int, mm: int = 0, day: int = 0) -> datetime:
    """A naive device-local time on NOW's day (+ ``day``)."""
    return (NOW + timedelta(days=day)).replace(hour=hh, minute=mm, tzinfo=None)


def punches(rt: Runtime) -> list[tuple[str, str, int, str, bool, bool]]:
    with rt.db.raw_read() as cur:
        return cur.execute("SELECT user_id, device_time, punch, kind, trusted, historical "
                           "FROM attendance_punches ORDER BY device_time, user_id").fetchall()


def events(rt: Runtime, kind: str) -> list[dict[str, Any]]:
    return [dict(e.payload) for e in rt.events.query(kind=kind)]


def test_repulls_add_zero_rows_and_new_punches_once(make: Make, sim: ZKSimulator) -> None:
    rt, service = make()
    sim.fill_log(500, end=local(9))  # 7-minute steps back from 09:00, by the 4 users
    sim.punch("101", local(9, 30))
    service.reconcile()
    assert len(punches(rt)) == 376  # every fourth is the staff member's: not kept
    for _ in range(2):
        before, count = _write_marks(rt), rt.events.count()
        service.reconcile()
        assert _rows_written(before, _write_marks(rt)) == 0 and rt.events.count() == count
    sim.punch("102", local(9, 45), punch=1)
    count = rt.events.count()
    service.reconcile()
    assert len(punches(rt)) == 377
    new = [e for e in rt.events.query(after_seq=0) if e.seq and e.seq > count]
    assert [(e.kind, e.payload.get("user_id")) for e in new] == [("attendance.punch", "102")]
    assert new[0].occurred_at == datetime(2026, 12, 4, 1, 45, tzinfo=timezone.utc)
    assert new[0].payload["device_time"] == "2026-12-04T09:45:00" and \
        new[0].payload["via"] == "pull"


def test_history_is_stored_without_an_event_each(make: Make, sim: ZKSimulator) -> None:
    rt, service = make(history_days=1.0)
    sim.fill_log(1000, end=local(9))  # back to 2026-11-29
    service.reconcile()
    rows = punches(rt)
    recent = [r for r in rows if not r[5]]
    assert len(rows) == 750 and 0 < len(recent) < 750  # the staff member's are not kept
    assert len(events(rt, "attendance.punch")) == len(recent)
    (history,) = events(rt, "attendance.history")
    assert history["count"] == 750 - len(recent) and history["from"] == rows[0][1]


def test_staff_who_are_not_guards_are_not_kept_unless_configured(make: Make,
                                                                 sim: ZKSimulator) -> None:
    sim.punch("201", local(8))
    sim.punch("101", local(8, 1))
    rt, service = make()
    service.reconcile()
    assert [r[0] for r in punches(rt)] == ["101"]
    service.reconcile()  # still nothing of theirs, and nothing written
    assert [r[0] for r in punches(rt)] == ["101"]


def test_staff_punches_kept_when_the_config_says_so(make: Make, sim: ZKSimulator) -> None:
    sim.punch("201", local(8))
    rt, service = make(keep_non_guards=True)
    service.reconcile()
    assert [(r[0], r[3]) for r in punches(rt)] == [("201", "staff")]
    assert events(rt, "attendance.punch")[0]["guard"] is None


def test_unknown_users_and_malformed_records_reported_once(make: Make,
                                                           sim: ZKSimulator) -> None:
    sim.punch("101", local(8))
    sim.punch("555", local(8, 5))  # not enrolled on the machine
    sim.store.append_raw(struct.pack("<H24sB4sB8s", 9, b"", 1, b"\0\0\0\0", 0, b""))
    rt, service = make()
    service.reconcile()
    alerts = events(rt, "attendance.alert")
    by_name = {a["alert"]: a for a in alerts}
    assert sorted(by_name) == ["malformed_records", "unknown_user"]
    assert by_name["unknown_user"]["user_ids"] == ["555"]
    assert by_name["unknown_user"]["text"].startswith("1 absen")
    assert by_name["malformed_records"]["count"] == 1
    assert by_name["malformed_records"]["records"][0]["index"] == 2
    assert [(r[0], r[3]) for r in punches(rt)] == [("101", "guard"), ("555", "unknown")]
    service.reconcile()
    assert len(events(rt, "attendance.alert")) == 2
    assert not [e for e in events(rt, "attendance.punch") if e["user_id"] == "555"]


def test_clock_reset_flags_later_punches_and_alerts(make: Make, sim: ZKSimulator,
                                                    clock: ManualClock) -> None:
    sim.punch("101", local(8))
    rt, service = make()
    service.reconcile()
    sim.reset_clock()  # power loss with a flat clock battery: 2000-01-01 00:00
    sim.punch("102")
    service.reconcile()
    alert_names = [a["alert"] for a in events(rt, "attendance.alert")]
    assert alert_names == ["clock_reset", "untrusted_punches"]
    assert rt.states.get(DEVICE_STATE).payload["clock"] == "reset"
    flagged = [r for r in punches(rt) if r[0] == "102"]
    assert flagged == [("102", "2000-01-01T00:00:00", 0, "guard", False, False)]
    assert events(rt, "attendance.punch")[-1]["trusted"] is False
    # Someone sets the clock right: punches are trusted again, the state says ok.
    clock.advance(600)
    sim.clock.set(local(10, 10))
    sim.punch("103")
    service.reconcile()
    assert [r[4] for r in punches(rt) if r[0] == "103"] == [True]
    assert rt.states.get(DEVICE_STATE).payload["clock"] == "ok"


def test_clock_skew_is_alerted_once(make: Make, sim: ZKSimulator) -> None:
    rt, service = make(skew_alert_s=60.0)
    sim.clock.set(local(10, 3))  # three minutes fast
    service.reconcile()
    service.reconcile()
    (alert,) = events(rt, "attendance.alert")
    assert alert["alert"] == "clock_skew" and alert["skew_s"] == pytest.approx(180, abs=2)
    assert "3 menit lebih cepat" in alert["text"]


def test_a_cleared_log_is_reported_and_its_new_punches_kept(make: Make,
                                                            sim: ZKSimulator) -> None:
    sim.punch("101", local(7))
    sim.punch("102", local(7, 5))
    rt, service = make()
    service.reconcile()
    sim.store.clear_log()
    sim.punch("103", local(9))
    service.reconcile()
    assert [a["alert"] for a in events(rt, "attendance.alert")] == ["log_cleared"]
    assert [r[0] for r in punches(rt)] == ["101", "102", "103"]


def test_shift_outcomes_from_a_pull_and_revision_after_recovery(make: Make, sim: ZKSimulator,
                                                                clock: ManualClock) -> None:
    """Budi is absent by what the Pi knows at 08:05; then a punch of 07:40 it had missed
    (as when its live event is lost) shows up in the next pull: the absence is revised to
    'late' and published saying what it revises; a further pull repeats nothing."""
    rt, service = make()
    roster = RosterStore.from_runtime(rt)
    day = NOW.date()
    roster.import_csv([CsvRow(0, day, "day", "Ani", "101"), CsvRow(0, day, "day", "Budi", "102")],
                      "test")
    roster.approve("Kasubag")
    clock.set_wall(datetime(2026, 12, 4, 8, 5, tzinfo=ZONE))
    sim.punch("101", local(6, 55))
    service.reconcile()
    shift = events(rt, "attendance.shift")
    assert [(s["guard"], s["outcome"]) for s in shift] == [("Ani", "on_time"), ("Budi", "absent")]
    assert rt.states.get("duty").payload["guards"] == [
        {"id": "101", "name": "Ani", "shift": "day", "since": "2026-12-04T06:55:00+08:00"}]
    sim.store.append(AttendanceRecord(2, "102", local(7, 40), 1, 0))  # no live event
    service.reconcile()
    last = events(rt, "attendance.shift")[-1]
    assert (last["guard"], last["outcome"], last["minutes"], last["revises"]) == (
        "Budi", "late", 40, "absent")
    assert "terlambat 40 menit" in last["text"]
    service.reconcile()
    assert len(events(rt, "attendance.shift")) == 3
