"""RDM6300 125 kHz (EM4100) reader frames.

A frame is 14 bytes: 0x02, 10 ASCII hex chars (version byte + 4 tag bytes), 2 ASCII hex
chars of the XOR of those 5 bytes, 0x03. The module repeats the frame while a card is held.
"""

from __future__ import annotations

import time
from functools import reduce
from operator import xor

from .counters import FrameCounters
from .folding import Clock, RepeatFolder
from .model import FramingStats, RejectReason, TagRead

STX = 0x02
ETX = 0x03
FRAME_LEN = 14
_CODE_CHARS = 10
_LAST_HEX = 12  # index of the last of the 12 hex chars
_HEX = frozenset(b"0123456789ABCDEFabcdef")


def rdm6300_checksum(data: bytes) -> int:
    """XOR of the data bytes, as the module computes it."""
    return reduce(xor, data, 0)


def card_number(code: str) -> int:
    """The number usually printed on the card: the decimal of the last 4 bytes."""
    return int(code[2:], 16)


def encode_rdm6300_frame(code: str, checksum: int | None = None) -> bytes:
    """The 14 bytes an RDM6300 sends for a 10-hex-char tag code.

    ``checksum`` overrides the correct one so tests and the simulator can send bad frames.
    """
    if len(code) != _CODE_CHARS or not _HEX.issuperset(code.encode("ascii", "replace")):
        raise ValueError(f"An RDM6300 code is 10 hex chars, got {code!r}.")
    data = bytes.fromhex(code)
    value = rdm6300_checksum(data) if checksum is None else checksum
    body = f"{code.upper()}{value:02X}".encode("ascii")
    return bytes([STX]) + body + bytes([ETX])


class RDM6300Framing:
    """Parses RDM6300 frames, resynchronising on the next STX after noise.

    Repeats of the same tag within ``hold_s`` of the previous sighting are folded into one
    tap. Never raises on any input; at most 13 bytes are kept between calls.
    """

    def __init__(self, *, hold_s: float = 1.0, clock: Clock = time.monotonic) -> None:
        self._folder = RepeatFolder(hold_s, clock)
        self._counters = FrameCounters()
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[TagRead]:
        self._counters.received(len(data))
        self._buf += data
        reads: list[TagRead] = []
        progressed = True
        while progressed:
            progressed, read = self._step()
            if read is not None:
                reads.append(read)
        return reads

    def reset(self) -> None:
        """Forget a partial frame, e.g. after the port was lost mid-frame."""
        if self._buf:
            self._counters.reject(RejectReason.LENGTH, len(self._buf))
        self._buf.clear()

    def stats(self) -> FramingStats:
        return self._counters.snapshot(len(self._buf))

    def _drop(self, reason: RejectReason, nbytes: int) -> None:
        self._counters.reject(reason, nbytes)
        del self._buf[:nbytes]

    def _step(self) -> tuple[bool, TagRead | None]:
        """Consume what can be decided now; False once more bytes are needed."""
        buf = self._buf
        start = buf.find(STX)
        if start != 0:
            if buf:
                self._drop(RejectReason.NOISE, start if start > 0 else len(buf))
            return start > 0, None
        end = 1
        while end < len(buf) and end <= _LAST_HEX and buf[end] in _HEX:
            end += 1
        if end == len(buf):
            return False, None
        return True, self._judge(end)

    def _judge(self, end: int) -> TagRead | None:
        """``end`` is the index of the first byte after the run of hex chars."""
        stop = self._buf[end]
        if end == _LAST_HEX + 1 and stop == ETX:
            return self._frame(bytes(self._buf[:FRAME_LEN]))
        if end == _LAST_HEX + 1 or stop == STX:
            # Too long, or cut short by the next frame: keep that STX for the next step.
            self._drop(RejectReason.LENGTH, end)
        elif stop == ETX:
            self._drop(RejectReason.LENGTH, end + 1)
        else:
            self._drop(RejectReason.NOISE, end + 1)
        return None

    def _frame(self, raw: bytes) -> TagRead | None:
        code = raw[1 : 1 + _CODE_CHARS].decode("ascii").upper()
        sent = int(raw[1 + _CODE_CHARS : 1 + _LAST_HEX], 16)
        if rdm6300_checksum(bytes.fromhex(code)) != sent:
            self._drop(RejectReason.CHECKSUM, FRAME_LEN)
            return None
        del self._buf[:FRAME_LEN]
        self._counters.accept(FRAME_LEN)
        if not self._folder.is_new_tap(code):
            self._counters.fold()
            return None
        return TagRead(code=code, raw=raw, card_number=card_number(code))
