"""A PN532 chip as seen from its HSU port: bytes from the host in, bytes to the host out.

Pure logic without I/O, so the pseudo-terminal simulator and the tests share it. It models
what the driver relies on: the wake-up preamble, SAMConfiguration first, ACK before each
response, NACK for a resend, ACK from the host to abort a pending poll, the error frame, and
MaxRetries deciding whether a poll without a card answers NbTg 0 or waits.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from .pn532_frame import (
    ACK_FRAME,
    ERROR_FRAME,
    TFI_HOST,
    FrameType,
    Pn532Frame,
    Pn532FrameDecoder,
    encode_response,
)
from .pn532 import (
    CMD_GET_FIRMWARE_VERSION,
    CMD_IN_LIST_PASSIVE_TARGET,
    CMD_RF_CONFIGURATION,
    CMD_SAM_CONFIGURATION,
    ONE_TYPE_A_TARGET,
    RF_ITEM_MAX_RETRIES,
    UID_LENGTHS,
)

FIRMWARE = bytes([0x32, 0x01, 0x06, 0x07])  # PN532, firmware 1.6, ISO 14443A/B and 18092
WAIT_FOREVER = 0xFF
# ATQA (SENS_RES) and SAK (SEL_RES) of typical cards by UID length: MIFARE Classic 1K for 4
# bytes, NTAG/Ultralight for 7; the UID-size bits of the ATQA match the length.
_CARD_IDENTITY = {4: (b"\x00\x04", 0x08), 7: (b"\x00\x44", 0x00), 10: (b"\x00\x84", 0x00)}


@dataclass(slots=True)
class _Card:
    uid: bytes
    polls_left: int | None  # None: stays on the reader until removed


def parse_uid(uid_hex: str) -> bytes:
    try:
        uid = bytes.fromhex(uid_hex)
    except ValueError:
        uid = b""
    if len(uid) not in UID_LENGTHS:
        raise ValueError(f"A card UID is 4, 7 or 10 bytes in hex, got {uid_hex!r}.")
    return uid


class Pn532Emulator:
    """Thread-safe: the simulator's I/O thread calls ``receive`` while tests present cards."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decoder = Pn532FrameDecoder()
        self._cards: deque[_Card] = deque()
        self._last_response = b""
        self._previous_byte = 0
        self._awake = False
        self._configured = False
        self._passive_retries = WAIT_FOREVER
        self._poll_pending = False
        self._corrupt_next = 0
        self._error_next = 0
        self.responsive = True
        self.commands: list[int] = []

    def power_cycle(self) -> None:
        """A fresh chip, as after the reader was unplugged and plugged back."""
        with self._lock:
            self._decoder = Pn532FrameDecoder()
            self._awake = self._configured = self._poll_pending = False
            self._passive_retries = WAIT_FOREVER
            self._last_response = b""

    def present(self, uid_hex: str, polls: int | None = 1) -> bytes:
        """Put a card on the reader for ``polls`` polls (None: until ``remove``).

        Returns the bytes to send at once when a poll was already waiting for a card.
        """
        card = _Card(parse_uid(uid_hex), polls)
        with self._lock:
            self._cards.append(card)
            if not self._poll_pending:
                return b""
            self._poll_pending = False
            return self._respond(CMD_IN_LIST_PASSIVE_TARGET, self._poll_answer())

    def remove(self) -> None:
        with self._lock:
            self._cards.clear()

    def corrupt_next_responses(self, count: int = 1) -> None:
        """Send the next responses with a wrong DCS (a resend after NACK is clean)."""
        with self._lock:
            self._corrupt_next = count

    def error_next_responses(self, count: int = 1) -> None:
        with self._lock:
            self._error_next = count

    @property
    def cards_waiting(self) -> int:
        with self._lock:
            return len(self._cards)

    def receive(self, data: bytes) -> bytes:
        """Bytes from the host; returns the bytes the chip sends back."""
        with self._lock:
            self._note_wake_up(data)
            return b"".join(self._handle(frame) for frame in self._decoder.feed(data))

    def _note_wake_up(self, data: bytes) -> None:
        if b"\x55\x55" in bytes([self._previous_byte]) + data:
            self._awake = True
        if data:
            self._previous_byte = data[-1]

    def _handle(self, frame: Pn532Frame) -> bytes:
        if not self.responsive:
            return b""
        if frame.type == FrameType.ACK:
            self._poll_pending = False
            return b""
        if frame.type == FrameType.NACK:
            return self._last_response
        if frame.type != FrameType.INFO or frame.tfi != TFI_HOST or not frame.data:
            return b""
        return self._command(frame.data[0], frame.data[1:])

    def _command(self, command: int, params: bytes) -> bytes:
        # Asleep, the chip ignores everything; before SAMConfiguration it ignores the rest.
        if not self._awake or (not self._configured and command != CMD_SAM_CONFIGURATION):
            return b""
        self.commands.append(command)
        payload = self._payload(command, params)
        if payload is None:
            return ACK_FRAME + self._remember(ERROR_FRAME)
        if command == CMD_IN_LIST_PASSIVE_TARGET and self._poll_pending:
            return ACK_FRAME
        return ACK_FRAME + self._respond(command, payload)

    def _payload(self, command: int, params: bytes) -> bytes | None:
        """The response payload, or None for a command this model rejects."""
        if command == CMD_SAM_CONFIGURATION:
            self._configured = True
            return b""
        if command == CMD_GET_FIRMWARE_VERSION:
            return FIRMWARE
        if command == CMD_RF_CONFIGURATION and params[:1] == bytes([RF_ITEM_MAX_RETRIES]):
            if len(params) >= 4:
                self._passive_retries = params[3]
            return b""
        if command == CMD_IN_LIST_PASSIVE_TARGET and params == ONE_TYPE_A_TARGET:
            return self._poll()
        return None

    def _poll(self) -> bytes:
        if self._cards or self._passive_retries != WAIT_FOREVER:
            return self._poll_answer()
        self._poll_pending = True
        return b""

    def _poll_answer(self) -> bytes:
        if not self._cards:
            return b"\x00"
        card = self._cards[0]
        if card.polls_left is not None:
            card.polls_left -= 1
            if card.polls_left <= 0:
                self._cards.popleft()
        sens_res, sel_res = _CARD_IDENTITY[len(card.uid)]
        return b"\x01\x01" + sens_res + bytes([sel_res, len(card.uid)]) + card.uid

    def _respond(self, command: int, payload: bytes) -> bytes:
        frame = encode_response(command, payload)
        if self._error_next:
            self._error_next -= 1
            return self._remember(ERROR_FRAME)
        self._remember(frame)
        if self._corrupt_next:
            self._corrupt_next -= 1
            # Flip the DCS; the remembered copy stays good for the resend after a NACK.
            return frame[:-2] + bytes([frame[-2] ^ 0xFF]) + frame[-1:]
        return frame

    def _remember(self, frame: bytes) -> bytes:
        self._last_response = frame
        return frame
