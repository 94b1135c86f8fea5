"""PN532 frame encoding and decoding (normal information frames, ACK, NACK, error frame).

Frame: 00 00 FF LEN LCS TFI data... DCS 00 with (LEN + LCS) & 0xFF == 0 and
(TFI + sum(data) + DCS) & 0xFF == 0. TFI is D4 from the host and D5 from the chip.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from .counters import FrameCounters
from .model import FramingStats, RejectReason

TFI_HOST = 0xD4
TFI_CHIP = 0xD5
ERROR_TFI = 0x7F
START_CODE = b"\x00\xff"
ACK_FRAME = bytes.fromhex("0000ff00ff00")
NACK_FRAME = bytes.fromhex("0000ffff0000")
ERROR_FRAME = bytes.fromhex("0000ff01ff7f8100")
MAX_BODY = 255  # LEN counts TFI and data; extended frames are not used by this driver
_HEADER = 4  # start code, LEN, LCS


class FrameType(StrEnum):
    ACK = "ack"
    NACK = "nack"
    ERROR = "error"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Pn532Frame:
    """A decoded frame; ``data`` excludes the TFI and holds the command code first."""

    type: FrameType
    tfi: int | None = None
    data: bytes = b""
    raw: bytes = b""


def checksum(values: bytes) -> int:
    """The byte that makes the sum of ``values`` plus itself zero modulo 256."""
    return -sum(values) & 0xFF


def encode_frame(tfi: int, data: bytes) -> bytes:
    body = bytes([tfi]) + data
    if len(body) > MAX_BODY:
        raise ValueError(f"A normal PN532 frame carries at most {MAX_BODY} bytes, got {len(body)}.")
    length = len(body)
    header = b"\x00" + START_CODE + bytes([length, -length & 0xFF])
    return header + body + bytes([checksum(body), 0])


def encode_command(command: int, params: bytes = b"") -> bytes:
    """A host-to-chip command frame."""
    return encode_frame(TFI_HOST, bytes([command]) + params)


def encode_response(command: int, payload: bytes = b"") -> bytes:
    """A chip-to-host response frame to ``command`` (its code is command + 1)."""
    return encode_frame(TFI_CHIP, bytes([command + 1]) + payload)


class Pn532FrameDecoder:
    """Turns a byte stream from either side of the link into frames; never raises.

    Zero bytes between frames (preamble, postamble, the wake-up fill) are skipped without
    counting as noise; at most one maximal frame is kept between calls.
    """

    def __init__(self) -> None:
        self._counters = FrameCounters()
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Pn532Frame]:
        self._counters.received(len(data))
        self._buf += data
        return list(self._frames())

    def reset(self) -> None:
        if self._buf:
            self._counters.reject(RejectReason.LENGTH, len(self._buf))
        self._buf.clear()

    def stats(self) -> FramingStats:
        return self._counters.snapshot(len(self._buf))

    def _frames(self) -> Iterator[Pn532Frame]:
        while self._seek_start() and len(self._buf) >= _HEADER:
            frame, complete = self._decode_at_start()
            if frame is not None:
                yield frame
            if not complete:
                return

    def _seek_start(self) -> bool:
        """Drop bytes before the next start code; False when there is none yet."""
        start = self._buf.find(START_CODE)
        if start < 0:
            # A trailing zero may be the first half of a start code split across reads.
            keep = 1 if self._buf[-1:] == b"\x00" else 0
            self._discard_prefix(len(self._buf) - keep)
            return False
        self._discard_prefix(start)
        return True

    def _discard_prefix(self, nbytes: int) -> None:
        if nbytes <= 0:
            return
        prefix = self._buf[:nbytes]
        del self._buf[:nbytes]
        if prefix.count(0) == nbytes:
            self._counters.skip(nbytes)
        else:
            self._counters.reject(RejectReason.NOISE, nbytes)

    def _decode_at_start(self) -> tuple[Pn532Frame | None, bool]:
        """Decode the frame at buf[0]; the flag is False when more bytes are needed."""
        length, lcs = self._buf[2], self._buf[3]
        if (length, lcs) == (0x00, 0xFF):
            return self._take(FrameType.ACK, _HEADER), True
        if (length, lcs) == (0xFF, 0x00):
            return self._take(FrameType.NACK, _HEADER), True
        reason = self._header_problem(length, lcs)
        if reason is not None:
            # The length cannot be trusted: resync right after this start code.
            self._reject(reason, len(START_CODE))
            return None, True
        total = _HEADER + length + 1
        if len(self._buf) < total:
            return None, False
        return self._information(total), True

    @staticmethod
    def _header_problem(length: int, lcs: int) -> RejectReason | None:
        if (length, lcs) == (0xFF, 0xFF) or length == 0:
            return RejectReason.LENGTH  # extended frames are not used by this driver
        if (length + lcs) & 0xFF:
            return RejectReason.CHECKSUM
        return None

    def _information(self, total: int) -> Pn532Frame | None:
        body = bytes(self._buf[_HEADER : total - 1])
        if (sum(body) + self._buf[total - 1]) & 0xFF:
            self._reject(RejectReason.CHECKSUM, total)
            return None
        if body == bytes([ERROR_TFI]):
            return self._take(FrameType.ERROR, total)
        return self._take(FrameType.INFO, total, tfi=body[0], data=body[1:])

    def _take(
        self, kind: FrameType, total: int, tfi: int | None = None, data: bytes = b""
    ) -> Pn532Frame:
        raw = bytes(self._buf[:total])
        del self._buf[:total]
        self._counters.accept(total)
        return Pn532Frame(type=kind, tfi=tfi, data=data, raw=raw)

    def _reject(self, reason: RejectReason, nbytes: int) -> None:
        self._counters.reject(reason, nbytes)
        del self._buf[:nbytes]
