"""Frame and byte counters shared by every framing."""

from __future__ import annotations

from .model import FramingStats, RejectReason


class FrameCounters:
    """Mutable counters owned by one framing; ``snapshot()`` hands out a frozen copy."""

    def __init__(self) -> None:
        self._accepted = 0
        self._folded = 0
        self._rejected = {reason: 0 for reason in RejectReason}
        self._bytes_in = 0
        self._bytes_accepted = 0
        self._bytes_dropped = 0

    def received(self, nbytes: int) -> None:
        self._bytes_in += nbytes

    def accept(self, nbytes: int) -> None:
        self._accepted += 1
        self._bytes_accepted += nbytes

    def fold(self) -> None:
        # A folded repeat was accepted as a frame first, so only this counter moves.
        self._folded += 1

    def reject(self, reason: RejectReason, nbytes: int) -> None:
        self._rejected[reason] += 1
        self._bytes_dropped += nbytes

    def skip(self, nbytes: int) -> None:
        """Bytes dropped without being a bad frame: idle fill, the LF of a CRLF."""
        self._bytes_dropped += nbytes

    def snapshot(self, pending: int) -> FramingStats:
        return FramingStats(
            accepted=self._accepted,
            folded=self._folded,
            rejected={reason.value: n for reason, n in self._rejected.items()},
            bytes_in=self._bytes_in,
            bytes_accepted=self._bytes_accepted,
            bytes_dropped=self._bytes_dropped,
            pending=pending,
        )
