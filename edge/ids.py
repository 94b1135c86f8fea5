"""Time-ordered unique event ids (UUIDv7, RFC 9562).

Ids sort by creation time, so a subscriber or an export can order events without a database,
and they stay unique across daemons writing at once (74 random bits per id). Within one
generator ids are strictly increasing even when the wall clock steps back: the timestamp part
never goes backwards and a counter in ``rand_a`` breaks ties inside a millisecond.
"""
from __future__ import annotations

import os
import threading
import uuid
from datetime import datetime


class UuidV7Factory:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._counter = 0

    def new(self, at: datetime) -> str:
        ms = int(at.timestamp() * 1000)
        with self._lock:
            if ms <= self._last_ms:
                ms = self._last_ms
                self._counter += 1
                if self._counter > 0xFFF:
                    # Counter exhausted inside one millisecond: borrow the next one.
                    ms += 1
                    self._counter = 0
            else:
                self._counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
            self._last_ms = ms
            counter = self._counter
        rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
        value = (ms & ((1 << 48) - 1)) << 80
        value |= 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
        return str(uuid.UUID(int=value))


def uuid7_time_ms(event_id: str) -> int:
    """The millisecond timestamp carried by a UUIDv7."""
    return uuid.UUID(event_id).int >> 80
