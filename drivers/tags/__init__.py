"""Checkpoint tag readers on serial ports: barcode/QR and Wiegand line readers, RDM6300
(125 kHz EM4100) and PN532 (13.56 MHz ISO 14443A) over HSU.

``TagReader`` opens a reader by pyserial URL and delivers ``Tap`` values from its own
thread; the framings and the PN532 driver can also be used on their own. Nothing here knows
about the service that consumes the taps.
"""

from .config import DEFAULT_BAUDRATE, DEFAULT_HOLD_S, TagReaderConfig
from .errors import LinkLost, ReaderError, explain
from .folding import RepeatFolder
from .line import LineFraming, LineOptions, encode_line
from .model import (
    FramingKind,
    FramingStats,
    LinkEvent,
    ReaderStats,
    RejectReason,
    TagKind,
    TagRead,
    Tap,
)
from .pn532 import (
    PN532,
    FirmwareVersion,
    Pn532Error,
    Pn532ErrorFrame,
    Pn532ProtocolError,
    Pn532Timeout,
    Target,
    parse_passive_target,
)
from .pn532_frame import (
    Pn532Frame,
    Pn532FrameDecoder,
    encode_command,
    encode_frame,
    encode_response,
)
from .rdm6300 import RDM6300Framing, card_number, encode_rdm6300_frame, rdm6300_checksum
from .reader import TagReader

__all__ = [
    "DEFAULT_BAUDRATE",
    "DEFAULT_HOLD_S",
    "PN532",
    "FirmwareVersion",
    "FramingKind",
    "FramingStats",
    "LineFraming",
    "LineOptions",
    "LinkEvent",
    "LinkLost",
    "Pn532Error",
    "Pn532ErrorFrame",
    "Pn532Frame",
    "Pn532FrameDecoder",
    "Pn532ProtocolError",
    "Pn532Timeout",
    "RDM6300Framing",
    "ReaderError",
    "ReaderStats",
    "RejectReason",
    "RepeatFolder",
    "TagKind",
    "TagRead",
    "TagReader",
    "TagReaderConfig",
    "Tap",
    "Target",
    "card_number",
    "encode_command",
    "encode_frame",
    "encode_line",
    "encode_rdm6300_frame",
    "encode_response",
    "explain",
    "parse_passive_target",
    "rdm6300_checksum",
]
