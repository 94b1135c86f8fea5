"""Plain values the driver hands out. Times are naive device-local datetimes."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class User:
    """A user enrolled on the machine. The PIN is left out on purpose: nothing upstream
    needs it, and plain values end up in logs."""

    uid: int  # the machine's internal slot number
    user_id: str  # the badge/employee number people know
    name: str
    privilege: int = 0
    card: int = 0
    group_id: str = ""


@dataclass(frozen=True)
class Punch:
    uid: int
    user_id: str
    timestamp: datetime  # naive, device-local
    status: int  # verify method (1 fingerprint, 15 face, ...)
    punch: int  # 0 check-in, 1 check-out, ... as set on the keypad
    index: int | None = None  # position in the raw log; None for live events


@dataclass(frozen=True)
class MalformedRecord:
    index: int
    reason: str


@dataclass(frozen=True)
class AttendanceLog:
    punches: list[Punch]
    malformed: list[MalformedRecord]
    record_size: int = 0  # bytes per record on this machine (8, 16 or 40); 0 if the log is empty

    @property
    def malformed_count(self) -> int:
        return len(self.malformed)


@dataclass(frozen=True)
class DeviceInfo:
    serial_number: str
    device_name: str
    platform: str
    firmware: str


@dataclass
class LiveStats:
    """Counters of one live capture run; reasons are counted, not listed, to stay bounded."""

    events: int = 0
    skipped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.reasons[reason] += 1
