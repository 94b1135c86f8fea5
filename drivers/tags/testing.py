"""Helpers for tests that drive TagReaders with the simulator (here and in other packages)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .model import LinkEvent, Tap


class ManualClock:
    """A monotonic clock that only moves when told to, for deterministic repeat folding."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


class TapRecorder:
    """Collects taps and link events from a reader's callbacks and lets a test wait for them.

    Waits poll a condition with a generous limit; they never measure how long things took.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.taps: list[Tap] = []
        self.links: list[LinkEvent] = []

    def on_tap(self, tap: Tap) -> None:
        with self._cond:
            self.taps.append(tap)
            self._cond.notify_all()

    def on_link(self, event: LinkEvent) -> None:
        with self._cond:
            self.links.append(event)
            self._cond.notify_all()

    def codes(self) -> list[str]:
        with self._cond:
            return [tap.code for tap in self.taps]

    def wait_for(self, condition: Callable[[], bool], limit_s: float = 10.0) -> bool:
        """True once ``condition()`` holds; False if it still does not after ``limit_s``."""
        deadline = time.monotonic() + limit_s
        with self._cond:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                # Also wake periodically: some conditions look at reader stats, not events.
                self._cond.wait(min(remaining, 0.02))
            return True

    def wait_taps(self, count: int, limit_s: float = 10.0) -> list[Tap]:
        self.wait_for(lambda: len(self.taps) >= count, limit_s)
        with self._cond:
            return list(self.taps)

    def wait_link(self, up: bool, limit_s: float = 10.0) -> LinkEvent | None:
        """The latest link event once it has the wanted state, or None."""
        def latest_matches() -> bool:
            return bool(self.links) and self.links[-1].up == up

        if not self.wait_for(latest_matches, limit_s):
            return None
        with self._cond:
            return self.links[-1]
