"""Injectable monotonic clocks: the real one, and a hand-driven one for tests and scripts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]
"""A callable returning monotonic seconds; only differences between readings mean anything."""

monotonic: Clock = time.monotonic


class ManualClock:
    """A monotonic clock that only moves when told to.

    ``sleep`` advances the clock instead of waiting, so scripted simulator helpers such as
    ``GpioSimulator.key_ptt`` run instantly and deterministically when given ``clock.sleep``.
    """

    def __init__(self, start: float = 1000.0) -> None:
        # Not zero: a real monotonic clock is never near zero either, which catches code
        # that treats 0.0 as "unset".
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` and return the new reading."""
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go backwards.")
        with self._lock:
            self._now += seconds
            return self._now

    def sleep(self, seconds: float) -> None:
        """Stand-in for ``time.sleep`` that advances this clock."""
        self.advance(seconds)
