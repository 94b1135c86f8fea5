"""A small background loop that calls ``poll()`` on line monitors at a fixed pace.

The pace is wall-clock (``threading.Event.wait``); debounce decisions still use each monitor's
own injected clock, so a test can run this loop and move a manual clock by hand.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Protocol

log = logging.getLogger(__name__)


class Pollable(Protocol):
    def poll(self) -> object: ...


class PollLoop:
    """Call ``poll()`` on every monitor each ``interval_s`` seconds in a daemon thread."""

    def __init__(
        self, monitors: Iterable[Pollable], interval_s: float = 0.01, *, name: str = "gpio-poll"
    ) -> None:
        if interval_s <= 0:
            raise ValueError("the poll interval must be a positive number of seconds.")
        self._monitors = tuple(monitors)
        self._interval_s = interval_s
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def poll_once(self) -> None:
        for monitor in self._monitors:
            try:
                monitor.poll()
            except Exception:
                # One broken monitor (e.g. closed under us) must not stop the others.
                log.exception("polling %r failed", monitor)

    def __enter__(self) -> PollLoop:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.poll_once()
