"""Active PN532 driver over HSU (UART): wake-up, configuration and target polling.

The chip is a command/response device: the host sends a command, the chip answers with an
ACK and then with the response frame. This driver works on any pyserial-like port object.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from .errors import ReaderError
from .pn532_frame import (
    ACK_FRAME,
    NACK_FRAME,
    TFI_CHIP,
    FrameType,
    Pn532Frame,
    Pn532FrameDecoder,
    encode_command,
)

# Long preamble that wakes the chip from its power-down state on HSU.
WAKE_UP = b"\x55\x55" + bytes(14)
CMD_GET_FIRMWARE_VERSION = 0x02
CMD_SAM_CONFIGURATION = 0x14
CMD_RF_CONFIGURATION = 0x32
CMD_IN_LIST_PASSIVE_TARGET = 0x4A
SAM_NORMAL_MODE = b"\x01\x14\x01"  # normal mode, 1 s virtual-card timeout, use IRQ
RF_ITEM_MAX_RETRIES = 0x05
ONE_TYPE_A_TARGET = b"\x01\x00"  # MaxTg 1, 106 kbps ISO 14443A
UID_LENGTHS = (4, 7, 10)
T = TypeVar("T")

# Slice of each port read, so deadlines are honoured without reconfiguring the port.
_READ_SLICE_S = 0.02


class SerialPort(Protocol):
    """The part of a pyserial port the driver uses."""

    timeout: float | None

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...


class Pn532Error(ReaderError):
    """The PN532 did not do what was asked; the message is one sentence naming the port."""


class Pn532Timeout(Pn532Error):
    pass


class Pn532ErrorFrame(Pn532Error):
    pass


class Pn532ProtocolError(Pn532Error):
    pass


@dataclass(frozen=True, slots=True)
class FirmwareVersion:
    ic: int
    version: int
    revision: int
    support: int

    def __str__(self) -> str:
        return f"PN5{self.ic:02X} firmware {self.version}.{self.revision}"


@dataclass(frozen=True, slots=True)
class Target:
    """An ISO 14443A card found by InListPassiveTarget."""

    number: int
    sens_res: bytes
    sel_res: int
    uid: bytes
    raw: bytes = b""

    @property
    def uid_hex(self) -> str:
        return self.uid.hex().upper()


def parse_passive_target(payload: bytes) -> Target | None:
    """Parse an InListPassiveTarget answer (after the D5 4B); None when no card was found.

    Raises ValueError naming what is malformed.
    """
    if not payload:
        raise ValueError("an empty InListPassiveTarget answer")
    if payload[0] == 0:
        return None
    if len(payload) < 6:
        raise ValueError(f"a truncated InListPassiveTarget answer of {len(payload)} bytes")
    uid_len = payload[5]
    uid = payload[6 : 6 + uid_len]
    if uid_len not in UID_LENGTHS or len(uid) != uid_len:
        raise ValueError(f"an NFCID of {len(uid)} bytes where {uid_len} were announced")
    return Target(number=payload[1], sens_res=payload[2:4], sel_res=payload[4], uid=uid)


def parse_firmware_version(payload: bytes) -> FirmwareVersion:
    if len(payload) != 4:
        raise ValueError(f"a firmware version of {len(payload)} bytes instead of 4")
    return FirmwareVersion(*payload)


class PN532:
    """Talks to one PN532 on an open port; one instance per connection.

    ``decoder`` and ``counters`` may be passed in so their totals survive reconnects.
    """

    def __init__(
        self,
        port: SerialPort,
        *,
        name: str | None = None,
        ack_timeout_s: float = 0.2,
        response_timeout_s: float = 1.0,
        retries: int = 1,
        decoder: Pn532FrameDecoder | None = None,
        counters: Counter[str] | None = None,
    ) -> None:
        self._port = port
        self._name = name or str(getattr(port, "port", "the serial port"))
        self._ack_timeout_s = ack_timeout_s
        self._response_timeout_s = response_timeout_s
        self._retries = retries
        self._decoder = decoder or Pn532FrameDecoder()
        self.counters: Counter[str] = counters if counters is not None else Counter()
        self._frames: deque[Pn532Frame] = deque()
        port.timeout = _READ_SLICE_S

    def begin(self, passive_retries: int = 2) -> FirmwareVersion:
        """Wake the chip, configure it and bound how long a poll looks for a card."""
        self.wake()
        self.sam_configuration()
        firmware = self.firmware_version()
        self.set_passive_retries(passive_retries)
        return firmware

    def wake(self) -> None:
        self._port.write(WAKE_UP)

    def sam_configuration(self) -> None:
        self.call(CMD_SAM_CONFIGURATION, SAM_NORMAL_MODE)

    def firmware_version(self) -> FirmwareVersion:
        return self._parsed(parse_firmware_version, self.call(CMD_GET_FIRMWARE_VERSION))

    def set_passive_retries(self, retries: int) -> None:
        """0xFF waits for a card forever; anything lower makes polls return NbTg 0."""
        self.call(CMD_RF_CONFIGURATION, bytes([RF_ITEM_MAX_RETRIES, 0xFF, 0x01, retries]))

    def read_passive_target(self) -> Target | None:
        """One InListPassiveTarget poll for a single ISO 14443A card."""
        frame = self._exchange(CMD_IN_LIST_PASSIVE_TARGET, ONE_TYPE_A_TARGET)
        target = self._parsed(parse_passive_target, frame.data[1:])
        return None if target is None else dataclasses.replace(target, raw=frame.raw)

    def call(self, command: int, params: bytes = b"") -> bytes:
        """Send a command and return the response payload after its response code."""
        return self._exchange(command, params).data[1:]

    def _exchange(self, command: int, params: bytes) -> Pn532Frame:
        self._drop_stale_frames()
        self._send_until_acked(encode_command(command, params), command)
        return self._await_response(command)

    def _drop_stale_frames(self) -> None:
        self.counters["unexpected_frames"] += len(self._frames)
        self._frames.clear()

    def _send_until_acked(self, frame: bytes, command: int) -> None:
        for _ in range(self._retries + 1):
            self._port.write(frame)
            reply = self._next_frame(self._ack_timeout_s, lambda f: f.type != FrameType.INFO)
            if reply is None:
                self.counters["ack_timeouts"] += 1
            elif reply.type == FrameType.ACK:
                return
            elif reply.type == FrameType.NACK:
                self.counters["nacks_received"] += 1
            else:
                self._raise_error_frame(command)
        raise Pn532Timeout(
            f"The PN532 on {self._name} did not acknowledge command 0x{command:02X}."
        )

    def _await_response(self, command: int) -> Pn532Frame:
        for attempt in range(self._retries + 1):
            frame = self._next_frame(self._response_timeout_s, lambda f: self._answers(f, command))
            if frame is not None and frame.type == FrameType.ERROR:
                self._raise_error_frame(command)
            if frame is not None:
                return frame
            self.counters["response_timeouts"] += 1
            if attempt < self._retries:
                # NACK asks the chip to send its last response again, e.g. after a bad DCS.
                self._port.write(NACK_FRAME)
                self.counters["nacks_sent"] += 1
        # An ACK from the host aborts the command so the chip takes the next one.
        self._port.write(ACK_FRAME)
        raise Pn532Timeout(f"The PN532 on {self._name} did not answer command 0x{command:02X}.")

    @staticmethod
    def _answers(frame: Pn532Frame, command: int) -> bool:
        if frame.type == FrameType.ERROR:
            return True
        return (
            frame.type == FrameType.INFO
            and frame.tfi == TFI_CHIP
            and frame.data[:1] == bytes([command + 1])
        )

    def _raise_error_frame(self, command: int) -> None:
        self.counters["error_frames"] += 1
        raise Pn532ErrorFrame(
            f"The PN532 on {self._name} answered command 0x{command:02X} with an error frame."
        )

    def _parsed(self, parse: Callable[[bytes], T], payload: bytes) -> T:
        try:
            return parse(payload)
        except ValueError as exc:
            self.counters["malformed_responses"] += 1
            raise Pn532ProtocolError(f"The PN532 on {self._name} sent {exc}.") from None

    def _next_frame(
        self, timeout_s: float, wanted: Callable[[Pn532Frame], bool]
    ) -> Pn532Frame | None:
        """The first wanted frame within ``timeout_s``; other frames are counted and dropped."""
        deadline = time.monotonic() + timeout_s
        while True:
            while self._frames:
                frame = self._frames.popleft()
                if wanted(frame):
                    return frame
                self.counters["unexpected_frames"] += 1
            if time.monotonic() >= deadline:
                return None
            data = self._port.read(self._port.in_waiting or 1)
            if data:
                self._frames.extend(self._decoder.feed(data))
