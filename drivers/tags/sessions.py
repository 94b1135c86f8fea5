"""What the reader thread does on an open port, one kind per framing.

A session outlives connections: framing buffers are reset on a disconnect, but counters
and the repeat-folding state carry over, so a card held through a cable glitch stays one tap.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import Protocol

from serial import SerialBase

from .config import TagReaderConfig
from .errors import LinkLost
from .folding import Clock, RepeatFolder
from .line import LineFraming
from .model import FramingStats, TagKind, TagRead
from .pn532 import PN532, Pn532ErrorFrame, Pn532ProtocolError, Pn532Timeout
from .pn532_frame import Pn532FrameDecoder
from .rdm6300 import RDM6300Framing

# Waits up to the given seconds; True means the reader is stopping.
Wait = Callable[[float], bool]


class Framing(Protocol):
    def feed(self, data: bytes) -> list[TagRead]: ...

    def reset(self) -> None: ...

    def stats(self) -> FramingStats: ...


class Session(Protocol):
    kind: TagKind

    def start(self, port: SerialBase, wait: Wait) -> str:
        """Prepare the device; returns a short note for the link-up message."""
        ...

    def step(self, port: SerialBase, wait: Wait) -> list[TagRead]: ...

    def disconnected(self) -> None: ...

    def stats(self) -> FramingStats: ...

    def driver_counters(self) -> dict[str, int]: ...


class StreamSession:
    """A passive reader that just sends frames; the framing does all the work."""

    def __init__(self, framing: Framing, kind: TagKind) -> None:
        self._framing = framing
        self.kind = kind

    def start(self, port: SerialBase, wait: Wait) -> str:
        return "listening"

    def step(self, port: SerialBase, wait: Wait) -> list[TagRead]:
        data = port.read(port.in_waiting or 1)
        return self._framing.feed(data) if data else []

    def disconnected(self) -> None:
        self._framing.reset()

    def stats(self) -> FramingStats:
        return self._framing.stats()

    def driver_counters(self) -> dict[str, int]:
        return {}


class Pn532Session:
    """Polls a PN532 for ISO 14443A cards and folds a card held on the reader into one tap."""

    kind: TagKind = "nfc-a"

    def __init__(self, config: TagReaderConfig, clock: Clock) -> None:
        self._config = config
        self._folder = RepeatFolder(config.effective_hold_s, clock)
        self._decoder = Pn532FrameDecoder()
        self._counters: Counter[str] = Counter()
        self._driver: PN532 | None = None
        self._timeouts_in_a_row = 0
        self._folded = 0

    def start(self, port: SerialBase, wait: Wait) -> str:
        self._driver = PN532(
            port,
            name=self._config.url,
            ack_timeout_s=self._config.pn532_ack_timeout_s,
            response_timeout_s=self._config.pn532_response_timeout_s,
            decoder=self._decoder,
            counters=self._counters,
        )
        self._timeouts_in_a_row = 0
        return f"{self._driver.begin()} answered"

    def step(self, port: SerialBase, wait: Wait) -> list[TagRead]:
        if wait(self._config.pn532_poll_interval_s) or self._driver is None:
            return []
        try:
            target = self._driver.read_passive_target()
        except Pn532Timeout as exc:
            self._count_timeout(exc)
            return []
        except (Pn532ErrorFrame, Pn532ProtocolError):
            # Already counted by the driver; a bad answer to one poll is not a lost link.
            return []
        self._timeouts_in_a_row = 0
        if target is None:
            return []
        if not self._folder.is_new_tap(target.uid_hex):
            self._folded += 1
            return []
        return [TagRead(code=target.uid_hex, raw=target.raw)]

    def _count_timeout(self, exc: Pn532Timeout) -> None:
        self._timeouts_in_a_row += 1
        if self._timeouts_in_a_row >= self._config.pn532_max_timeouts:
            raise LinkLost(
                f"The PN532 on {self._config.url} stopped answering "
                f"({self._timeouts_in_a_row} polls timed out in a row)."
            ) from exc

    def disconnected(self) -> None:
        self._decoder.reset()
        self._driver = None

    def stats(self) -> FramingStats:
        return dataclasses.replace(self._decoder.stats(), folded=self._folded)

    def driver_counters(self) -> dict[str, int]:
        return dict(self._counters)


def build_session(config: TagReaderConfig, clock: Clock) -> Session:
    hold_s = config.effective_hold_s
    if config.framing == "rdm6300":
        return StreamSession(RDM6300Framing(hold_s=hold_s, clock=clock), "em4100")
    if config.framing == "pn532":
        return Pn532Session(config, clock)
    return StreamSession(LineFraming(config.line, hold_s=hold_s, clock=clock), "line")
