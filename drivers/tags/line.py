"""Line-terminated text codes: barcode/QR scanners and Wiegand-to-serial converters."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from .counters import FrameCounters
from .folding import Clock, RepeatFolder
from .model import FramingStats, RejectReason, TagRead

STX = 0x02
ETX = 0x03
_TERMINATOR = re.compile(rb"[\r\n]")
# Room around a maximal code for an STX/ETX pair and stray padding before a line counts as
# overflowing; past that the bytes are not kept, so the buffer stays bounded.
_RAW_SLACK = 8
_PRINTABLE = frozenset(range(0x20, 0x7F))


@dataclass(frozen=True, slots=True)
class LineOptions:
    """How to cut and check codes from a line-oriented reader."""

    max_len: int = 64
    min_len: int = 1
    strip_stx: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.min_len <= self.max_len <= 4096:
            raise ValueError(
                f"Line lengths need 1 <= min_len <= max_len <= 4096, "
                f"got min_len={self.min_len} and max_len={self.max_len}."
            )


def encode_line(code: str, terminator: bytes = b"\r\n", stx: bool = False) -> bytes:
    """The bytes a line-mode scanner sends for ``code``."""
    prefix = bytes([STX]) if stx else b""
    return prefix + code.encode("ascii") + terminator


class LineFraming:
    """Cuts a byte stream into codes at CR, LF or CRLF.

    Empty lines are skipped silently because a CRLF ends one line at the CR and leaves an
    empty one at the LF. Never raises on any input.
    """

    def __init__(
        self,
        options: LineOptions | None = None,
        *,
        hold_s: float = 0.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._options = options or LineOptions()
        self._limit = self._options.max_len + _RAW_SLACK
        self._folder = RepeatFolder(hold_s, clock)
        self._counters = FrameCounters()
        self._buf = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[TagRead]:
        self._counters.received(len(data))
        reads: list[TagRead] = []
        pos = 0
        for match in _TERMINATOR.finditer(data):
            self._append(data[pos : match.start()])
            pos = match.end()
            read = self._end_line()
            if read is not None:
                reads.append(read)
        self._append(data[pos:])
        return reads

    def reset(self) -> None:
        """Forget a partial line, e.g. after the port was lost mid-line."""
        if self._buf:
            self._counters.reject(RejectReason.LENGTH, len(self._buf))
        self._buf.clear()
        self._discarding = False

    def stats(self) -> FramingStats:
        return self._counters.snapshot(len(self._buf))

    def _append(self, chunk: bytes) -> None:
        if self._discarding:
            self._counters.skip(len(chunk))
        elif len(self._buf) + len(chunk) > self._limit:
            # Count the overflow at once and drop the rest of the line as it arrives.
            self._counters.reject(RejectReason.OVERFLOW, len(self._buf) + len(chunk))
            self._buf.clear()
            self._discarding = True
        else:
            self._buf += chunk

    def _end_line(self) -> TagRead | None:
        raw = bytes(self._buf)
        self._buf.clear()
        if self._discarding or not raw:
            self._discarding = False
            self._counters.skip(1)
            return None
        return self._judge(raw, nbytes=len(raw) + 1)

    def _judge(self, raw: bytes, nbytes: int) -> TagRead | None:
        content = self._strip(raw)
        reason = self._check(content)
        if reason is not None:
            self._counters.reject(reason, nbytes)
            return None
        self._counters.accept(nbytes)
        code = content.decode("ascii")
        if not self._folder.is_new_tap(code):
            self._counters.fold()
            return None
        return TagRead(code=code, raw=raw)

    def _strip(self, raw: bytes) -> bytes:
        content = raw
        if self._options.strip_stx and content[:1] == bytes([STX]):
            content = content[1:]
            # Scanners that send STX usually close with ETX before the terminator.
            if content[-1:] == bytes([ETX]):
                content = content[:-1]
        return content.strip(b" ")

    def _check(self, content: bytes) -> RejectReason | None:
        if not content:
            return RejectReason.LENGTH
        if not _PRINTABLE.issuperset(content):
            return RejectReason.NON_PRINTABLE
        if not self._options.min_len <= len(content) <= self._options.max_len:
            return RejectReason.LENGTH
        return None
