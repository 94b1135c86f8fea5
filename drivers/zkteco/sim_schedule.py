"""Punches that fire when the simulated machine's clock reaches their time."""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
from datetime import datetime
from typing import Callable, Iterable

log = logging.getLogger(__name__)

_TICK = 0.05  # seconds between looks at the device clock

Fire = Callable[[datetime, str, int], None]


class PunchSchedule:
    """A background thread that compares the device clock with the earliest planned punch.

    Punches wait while ``ready()`` is false (the keypad is disabled); punches whose time has
    already passed fire at once, stamped with their planned time.
    """

    def __init__(self, now: Callable[[], datetime], ready: Callable[[], bool],
                 fire: Fire) -> None:
        self._now = now
        self._ready = ready
        self._fire = fire
        self._heap: list[tuple[datetime, int, str, int]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, items: Iterable[tuple[datetime, str, int]]) -> None:
        with self._lock:
            for when, user_id, punch in items:
                heapq.heappush(self._heap, (when, next(self._seq), user_id, punch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="zk-sim schedule",
                                                daemon=True)
                self._thread.start()

    def pending(self) -> int:
        with self._lock:
            return len(self._heap)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(_TICK):
            for when, user_id, punch in self._due():
                try:
                    self._fire(when, user_id, punch)
                except ValueError:  # e.g. a user id the log format cannot store
                    log.exception("scheduled punch for user %s at %s failed", user_id, when)

    def _due(self) -> list[tuple[datetime, str, int]]:
        if not self._ready():
            return []
        now = self._now()
        due = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                when, _seq, user_id, punch = heapq.heappop(self._heap)
                due.append((when, user_id, punch))
        return due
