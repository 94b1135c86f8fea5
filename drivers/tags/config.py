"""Configuration of one checkpoint reader."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import get_args

from .line import LineOptions
from .model import FramingKind

DEFAULT_BAUDRATE: Mapping[FramingKind, int] = MappingProxyType(
    {"line": 9600, "rdm6300": 9600, "pn532": 115200}
)
# Scanners may double-read on purpose, so line codes are not folded unless asked to.
DEFAULT_HOLD_S: Mapping[FramingKind, float] = MappingProxyType(
    {"line": 0.0, "rdm6300": 1.0, "pn532": 1.0}
)


@dataclass(frozen=True, slots=True)
class TagReaderConfig:
    """One reader: where it is (a pyserial URL), what it speaks and how to treat repeats.

    ``url`` is anything ``serial.serial_for_url`` opens: ``/dev/ttyUSB0``,
    ``/dev/serial/by-id/...``, ``/dev/rfcomm0``, ``socket://host:port``, ``loop://``.
    """

    url: str
    framing: FramingKind = "line"
    baudrate: int | None = None
    line: LineOptions = field(default_factory=LineOptions)
    hold_s: float | None = None
    location: str | None = None
    name: str | None = None
    read_timeout_s: float = 0.2
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 10.0
    pn532_poll_interval_s: float = 0.15
    pn532_ack_timeout_s: float = 0.2
    pn532_response_timeout_s: float = 1.0
    pn532_max_timeouts: int = 3

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem:
            raise ValueError(f"Reader config for {self.url or '(no url)'} is invalid: {problem}.")

    def _problem(self) -> str | None:
        if not self.url:
            return "the url is empty"
        if self.framing not in get_args(FramingKind):
            kinds = ", ".join(get_args(FramingKind))
            return f"framing must be one of {kinds}, not {self.framing!r}"
        if self.baudrate is not None and self.baudrate <= 0:
            return f"the baudrate must be positive, not {self.baudrate}"
        if self.hold_s is not None and self.hold_s < 0:
            return f"the hold time must not be negative, not {self.hold_s}"
        if not 0 < self.reconnect_min_s <= self.reconnect_max_s:
            return "reconnect delays need 0 < reconnect_min_s <= reconnect_max_s"
        if min(self.read_timeout_s, self.pn532_poll_interval_s) <= 0:
            return "read timeout and poll interval must be positive"
        return None

    @property
    def reader_name(self) -> str:
        return self.name or self.url

    @property
    def effective_baudrate(self) -> int:
        return self.baudrate or DEFAULT_BAUDRATE[self.framing]

    @property
    def effective_hold_s(self) -> float:
        return DEFAULT_HOLD_S[self.framing] if self.hold_s is None else self.hold_s
