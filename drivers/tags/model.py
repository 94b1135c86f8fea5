"""Plain values handed out by the tag readers.

Everything here is a frozen dataclass so callers can pass the values between threads and
store them without worrying that the reader changes them afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

FramingKind = Literal["line", "rdm6300", "pn532"]

# The technology behind a tap, so a service can weigh how much a tap proves.
TagKind = Literal["line", "em4100", "nfc-a"]


class RejectReason(StrEnum):
    """Why a framing threw bytes away instead of turning them into a code."""

    CHECKSUM = "checksum"
    LENGTH = "length"
    NOISE = "noise"
    NON_PRINTABLE = "non_printable"
    OVERFLOW = "overflow"


@dataclass(frozen=True, slots=True)
class TagRead:
    """One accepted code as a framing or the PN532 driver decoded it."""

    code: str
    raw: bytes
    card_number: int | None = None


@dataclass(frozen=True, slots=True)
class Tap:
    """A guard's tap on a checkpoint tag, as delivered to the service."""

    reader: str
    code: str
    kind: TagKind
    location: str | None
    monotonic_ts: float
    raw: bytes
    card_number: int | None = None


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """A reader's link going up or down, with a one-sentence reason a person can read."""

    reader: str
    up: bool
    reason: str
    monotonic_ts: float


def _no_rejects() -> dict[str, int]:
    return {reason.value: 0 for reason in RejectReason}


@dataclass(frozen=True, slots=True)
class FramingStats:
    """Counters of one framing or frame decoder.

    Frames are counted as events; bytes are counted so that
    ``bytes_in == bytes_accepted + bytes_dropped + pending`` always holds.
    """

    accepted: int = 0
    folded: int = 0
    rejected: dict[str, int] = field(default_factory=_no_rejects)
    bytes_in: int = 0
    bytes_accepted: int = 0
    bytes_dropped: int = 0
    pending: int = 0

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


@dataclass(frozen=True, slots=True)
class ReaderStats:
    """A snapshot of one TagReader: link state, taps delivered and framing counters.

    Taken while the reader thread keeps decoding, so ``frames`` may be one frame behind
    the tap counters; each number on its own is exact.
    """

    reader: str
    url: str
    framing: FramingKind
    link_up: bool
    down_reason: str | None
    opens: int
    taps: int
    dropped_taps: int
    callback_errors: int
    frames: FramingStats
    # Driver-level counters that are not frames, e.g. PN532 timeouts and NACKs.
    driver: dict[str, int] = field(default_factory=dict)
