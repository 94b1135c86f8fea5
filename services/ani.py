"""Caller ids from an ANI / PTT-ID decoder on a serial line (optional, for the radio daemon).

Decoders (MDC1200, DTMF or 5-tone ANI boxes) print one line per id they decode, in formats
that vary by make; ``pattern`` picks the id out of a line (its ``id`` group, else its first).
Each id is stamped with the injected monotonic clock when its line arrives, so the radio
daemon can attribute it to the transmission that was on the air around that time.
"""
from __future__ import annotations

import logging
import re
import threading
from collections import deque

import serial

from edge.clock import Clock

log = logging.getLogger(__name__)

_KEEP = 256  # recent ids held; a busy channel sees far fewer within one transmission
_RETRY_S = 5.0
_MAX_LINE = 256


class AniReader:
    def __init__(self, port: str, baud: int, pattern: str, clock: Clock) -> None:
        self.port, self.baud = port, baud
        self.pattern = re.compile(pattern)
        self.clock = clock
        self._ids: deque[tuple[float, str]] = deque(maxlen=_KEEP)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="radio-ani", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(5)

    def ids_between(self, start: float, end: float) -> list[str]:
        """Distinct ids decoded between two monotonic times, in the order first heard."""
        with self._lock:
            found = [caller for at, caller in self._ids if start <= at <= end]
        return list(dict.fromkeys(found))

    def heard(self) -> int:
        with self._lock:
            return len(self._ids)

    def parse(self, line: str) -> str | None:
        match = self.pattern.search(line)
        if match is None:
            return None
        caller = (match.groupdict().get("id") or match.group(1) or "").strip()
        return caller or None

    def _run(self) -> None:
        failed_before = False
        while not self._stop.is_set():
            try:
                with serial.serial_for_url(self.port, self.baud, timeout=0.2) as port:
                    log.info("ANI decoder on %s", self.port)
                    failed_before = False
                    self.connected.set()
                    self._read(port)
            except (serial.SerialException, OSError) as exc:
                if not failed_before:  # say it once per outage, not every retry
                    log.warning("ANI decoder on %s is not readable (%s); retrying every %.0f s",
                                self.port, exc, _RETRY_S)
                failed_before = True
            finally:
                self.connected.clear()
            if self.clock.wait(self._stop, _RETRY_S):
                return

    def _read(self, port: serial.Serial) -> None:
        buffer = b""
        while not self._stop.is_set():
            chunk = port.read(64)
            if not chunk:
                continue
            buffer += chunk
            *lines, buffer = re.split(rb"[\r\n]+", buffer)
            buffer = buffer[-_MAX_LINE:]  # a decoder that never ends a line cannot grow this
            for raw in lines:
                self._take(raw.decode("ascii", errors="replace"))

    def _take(self, line: str) -> None:
        caller = self.parse(line)
        if caller is None:
            return
        with self._lock:
            self._ids.append((self.clock.monotonic(), caller))
        log.debug("ANI id %s", caller)
