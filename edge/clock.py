"""One injectable clock for the whole process.

Every rule asks the clock, never ``datetime.now()`` or ``time.monotonic()`` directly, so tests
can pin time and the demo can run a guard's day in minutes (``--speed``). Wall time is always an
aware UTC datetime; monotonic time is for durations and never jumps when NTP steps the wall clock.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current wall time, aware, in UTC."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Sleep ``seconds`` of this clock's time, or until ``stop`` is set; True if stopped."""


class SystemClock:
    """The Pi's own clocks."""

    def __init__(self) -> None:
        self._sync: Any = None

    def synced(self) -> bool | None:
        """Whether NTP has synchronised the wall clock (edge/timesync.py); None if unknown."""
        if self._sync is None:
            from edge.timesync import SyncProbe
            self._sync = SyncProbe()
        return self._sync.synchronized()

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        return stop.wait(max(0.0, seconds))


class ScaledClock:
    """Runs ``speed`` times faster than real time from ``start`` (the demo's fast day)."""

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._start_wall = (start or datetime.now(timezone.utc)).astimezone(timezone.utc)
        self._start_mono = time.monotonic()

    def now(self) -> datetime:
        return self._start_wall + timedelta(seconds=self.monotonic())

    def monotonic(self) -> float:
        return (time.monotonic() - self._start_mono) * self.speed

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        return stop.wait(max(0.0, seconds) / self.speed)


class ManualClock:
    """A clock that only moves when told to; waiters wake when their deadline is passed."""

    def __init__(self, start: datetime, monotonic_start: float = 1000.0) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware start time")
        self._wall = start.astimezone(timezone.utc)
        self._mono = monotonic_start
        self._cond = threading.Condition()

    def now(self) -> datetime:
        with self._cond:
            return self._wall

    def monotonic(self) -> float:
        with self._cond:
            return self._mono

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a manual clock only moves forward; use set_wall() for a step")
        with self._cond:
            self._wall += timedelta(seconds=seconds)
            self._mono += seconds
            self._cond.notify_all()

    def set_wall(self, wall: datetime) -> None:
        """Step the wall clock (as NTP does) without touching monotonic time."""
        with self._cond:
            self._wall = wall.astimezone(timezone.utc)
            self._cond.notify_all()

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        with self._cond:
            deadline = self._mono + max(0.0, seconds)
            while self._mono < deadline:
                if stop.is_set():
                    return True
                # Short real timeout so a stop set from another thread is noticed promptly.
                self._cond.wait(0.05)
            return stop.is_set()
