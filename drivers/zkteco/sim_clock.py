"""The simulated machine's clock: an offset from an injectable time source, with drift."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Callable

TimeSource = Callable[[], datetime]
POWER_LOSS_TIME = datetime(2000, 1, 1)  # what the machine shows after losing its battery
_DAY = 86400.0


class DeviceClock:
    """Device time = time set + elapsed source time * (1 + drift / 86400).

    ``source`` returns naive device-local time (default ``datetime.now``); tests inject a
    clock they can move. Changing the drift keeps the time already accumulated.
    """

    def __init__(self, source: TimeSource = datetime.now, drift_s_per_day: float = 0.0,
                 offset: timedelta = timedelta(0)) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._drift = drift_s_per_day
        self._anchor_source = source()
        self._anchor_device = self._anchor_source + offset

    def now(self) -> datetime:
        with self._lock:
            return self._at(self._source())

    def set(self, when: datetime) -> None:
        with self._lock:
            self._anchor_source = self._source()
            self._anchor_device = when

    def reset(self) -> None:
        """Jump to 2000-01-01 00:00, as after a power loss with a flat clock battery."""
        self.set(POWER_LOSS_TIME)

    @property
    def drift(self) -> float:
        """Seconds the device gains per day of source time (negative: it loses)."""
        return self._drift

    @drift.setter
    def drift(self, seconds_per_day: float) -> None:
        with self._lock:
            now = self._source()
            self._anchor_device = self._at(now)
            self._anchor_source = now
            self._drift = seconds_per_day

    def _at(self, source_now: datetime) -> datetime:
        elapsed = (source_now - self._anchor_source).total_seconds()
        return self._anchor_device + timedelta(seconds=elapsed * (1 + self._drift / _DAY))
