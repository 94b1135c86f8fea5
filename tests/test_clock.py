"""The injectable clock: every rule can be driven by hand or run faster."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from edge.clock import ManualClock, ScaledClock, SystemClock
from edge.ids import UuidV7Factory, uuid7_time_ms
from edge.timefmt import device_local_to_utc, from_utc_text, to_local_text, to_utc_text
from zoneinfo import ZoneInfo

T0 = datetime(2026, 12, 4, 0, 0, tzinfo=timezone.utc)
WITA = ZoneInfo("Asia/Makassar")


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(T0)
    assert clock.now() == T0
    clock.advance(90)
    assert clock.now() == T0 + timedelta(seconds=90) and clock.monotonic() == 1090
    clock.set_wall(T0 - timedelta(days=1))  # an NTP step back leaves monotonic time alone
    assert clock.now() == T0 - timedelta(days=1) and clock.monotonic() == 1090
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        ManualClock(datetime(2026, 1, 1))


def test_manual_wait_returns_when_time_is_advanced_past_the_deadline() -> None:
    clock = ManualClock(T0)
    stop = threading.Event()
    done = threading.Event()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: (result.append(clock.wait(stop, 60)), done.set()))
    waiter.start()
    clock.advance(59)
    assert not done.wait(0.2)
    clock.advance(1)
    assert done.wait(5) and result == [False]


def test_manual_wait_returns_true_when_stopped() -> None:
    clock = ManualClock(T0)
    stop = threading.Event()
    threading.Timer(0.05, stop.set).start()
    assert clock.wait(stop, 3600) is True


def test_scaled_clock_runs_faster_and_waits_shorter() -> None:
    clock = ScaledClock(3600, start=T0)
    before = time.monotonic()
    clock.wait(threading.Event(), 360)  # six simulated minutes
    assert time.monotonic() - before < 5
    assert clock.now() - T0 >= timedelta(minutes=6)
    with pytest.raises(ValueError):
        ScaledClock(0)


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


def test_times_as_text_round_trip_and_local_display() -> None:
    at = datetime(2026, 12, 4, 1, 2, 3, 456, tzinfo=timezone.utc)
    assert to_utc_text(at) == "2026-12-04T01:02:03.000456Z"
    assert from_utc_text(to_utc_text(at)) == at
    assert to_local_text(at, WITA) == "2026-12-04T09:02:03+08:00"
    with pytest.raises(ValueError):
        to_utc_text(datetime(2026, 1, 1))


def test_device_local_time_is_read_in_the_site_zone() -> None:
    assert device_local_to_utc(datetime(2026, 12, 4, 7, 58), WITA) == \
        datetime(2026, 12, 3, 23, 58, tzinfo=timezone.utc)


def test_uuid7_carries_time_and_stays_ordered_inside_one_millisecond() -> None:
    ids = UuidV7Factory()
    batch = [ids.new(T0) for _ in range(10_000)]  # overflows the 12-bit counter
    assert batch == sorted(batch) and len(set(batch)) == len(batch)
    assert all(b[14] == "7" for b in batch)  # the version nibble
    assert uuid7_time_ms(batch[0]) == int(T0.timestamp() * 1000)
