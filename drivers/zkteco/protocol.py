"""Wire format of ZKTeco fingerprint machines over TCP port 4370, as pyzk 0.9 speaks it.

Pure functions and constants only: no sockets, no threads. Decoders raise ``ProtocolError``
(and nothing else) for any input, so callers can count or report bad data instead of crashing.
Encoders raise ``ValueError`` when asked to encode something the format cannot hold.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

# Commands (client -> device).
CMD_USERTEMP_RRQ = 9
CMD_OPTIONS_RRQ = 11
CMD_OPTIONS_WRQ = 12
CMD_ATTLOG_RRQ = 13
CMD_CLEAR_ATTLOG = 15
CMD_GET_FREE_SIZES = 50
CMD_STARTVERIFY = 60
CMD_CANCELCAPTURE = 62
CMD_GET_PINWIDTH = 69
CMD_GET_TIME = 201
CMD_SET_TIME = 202
CMD_REG_EVENT = 500
CMD_CONNECT = 1000
CMD_EXIT = 1001
CMD_ENABLEDEVICE = 1002
CMD_DISABLEDEVICE = 1003
CMD_REFRESHDATA = 1013
CMD_GET_VERSION = 1100
CMD_AUTH = 1102
CMD_PREPARE_DATA = 1500
CMD_DATA = 1501
CMD_FREE_DATA = 1502
CMD_PREPARE_BUFFER = 1503
CMD_READ_BUFFER = 1504

# Replies (device -> client). The client also sends ACK_OK to acknowledge realtime events.
ACK_OK = 2000
ACK_ERROR = 2001
ACK_UNAUTH = 2005
ACK_UNKNOWN = 0xFFFF

EF_ATTLOG = 1  # REG_EVENT flag: realtime attendance events
FCT_USER = 5

TOP_MAGIC = (0x5050, 0x7D82)
TOP_MAGIC_BYTES = struct.pack("<HH", *TOP_MAGIC)
TOP = struct.Struct("<HHI")
HEADER = struct.Struct("<4H")
USHRT_MAX = 0xFFFF
# pyzk reads buffered data over TCP in chunks of at most this many bytes.
MAX_CHUNK = 0xFFC0

USER_SIZES = (28, 72)
ATTENDANCE_SIZES = (8, 16, 40)
REALTIME_SIZES = (10, 12, 14, 32, 36, 37, 52)

USER_28 = struct.Struct("<HB5s8sIxBhI")
USER_72 = struct.Struct("<HB8s24sIx7sx24s")
ATTENDANCE_STRUCTS = {
    8: struct.Struct("<HBIB"),  # uid, status, time, punch
    16: struct.Struct("<IIBB2sI"),  # user id, time, status, punch, reserved, workcode
    40: struct.Struct("<H24sBIB8s"),  # uid, user id text, status, time, punch, spare
}
FREE_SIZES = struct.Struct("<20i")
FREE_SIZES_FACES = struct.Struct("<3i")
BUFFER_REQUEST = struct.Struct("<bhii")
READ_BUFFER_REQUEST = struct.Struct("<ii")
U32 = struct.Struct("<I")

EPOCH_YEAR = 2000
_SECONDS_PER_DAY = 86400


class ProtocolError(ValueError):
    """Bytes that do not form a valid ZKTeco message or record."""


@dataclass(frozen=True)
class Packet:
    command: int
    checksum: int
    session_id: int
    reply_id: int
    payload: bytes


@dataclass(frozen=True)
class UserRecord:
    uid: int
    user_id: str
    name: str
    privilege: int = 0
    password: str = ""
    card: int = 0
    group_id: str = ""


@dataclass(frozen=True)
class AttendanceRecord:
    """One log entry. ``uid`` is 0 in the 16-byte form, ``user_id`` is '' in the 8-byte form."""

    uid: int
    user_id: str
    timestamp: datetime
    status: int
    punch: int
    workcode: int = 0


@dataclass(frozen=True)
class RealtimeEvent:
    user_id: str
    status: int
    punch: int
    timestamp: datetime


# --- checksum, headers, frames ------------------------------------------------------------

def checksum(packet: bytes) -> int:
    """16-bit ones'-complement checksum over little-endian words, as zkemsdk.c computes it.

    pyzk 0.9's own checksum routine returns one less, but it runs over the header with the
    previous reply id (one less again), so the two slips cancel and what pyzk sends is right.
    """
    data = bytes(packet)
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"<{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def encode_packet(command: int, session_id: int, reply_id: int, payload: bytes = b"") -> bytes:
    """Packet header (with checksum) plus payload; what UDP carries as one datagram."""
    unsigned = HEADER.pack(command, 0, session_id, reply_id) + payload
    return HEADER.pack(command, checksum(unsigned), session_id, reply_id) + payload


def encode_frame(command: int, session_id: int, reply_id: int, payload: bytes = b"") -> bytes:
    """A packet with the 8-byte TCP top header in front."""
    packet = encode_packet(command, session_id, reply_id, payload)
    return TOP.pack(*TOP_MAGIC, len(packet)) + packet


def decode_packet(data: bytes) -> Packet:
    if len(data) < HEADER.size:
        raise ProtocolError(f"packet of {len(data)} bytes is shorter than the 8-byte header")
    command, check, session_id, reply_id = HEADER.unpack_from(data)
    return Packet(command, check, session_id, reply_id, bytes(data[HEADER.size:]))


def packet_checksum_ok(packet: Packet) -> bool:
    body = HEADER.pack(packet.command, 0, packet.session_id, packet.reply_id) + packet.payload
    return checksum(body) == packet.checksum


def frame_length(top: bytes) -> int:
    """Length of the packet that follows an 8-byte TCP top header."""
    if len(top) < TOP.size:
        raise ProtocolError(f"TCP top header needs 8 bytes, got {len(top)}")
    magic1, magic2, length = TOP.unpack_from(top)
    if (magic1, magic2) != TOP_MAGIC:
        raise ProtocolError(f"TCP top header starts with {magic1:#06x} {magic2:#06x}, "
                            "not 0x5050 0x7d82")
    if length < HEADER.size:
        raise ProtocolError(f"TCP top header announces {length} bytes, less than a packet header")
    return length


def decode_frame(data: bytes) -> Packet:
    """Exactly one TCP frame (top header + packet), nothing trailing."""
    length = frame_length(data)
    if len(data) != TOP.size + length:
        raise ProtocolError(f"frame announces {length} bytes but carries {len(data) - TOP.size}")
    return decode_packet(data[TOP.size:])


class FrameBuffer:
    """Cuts a TCP byte stream into frames; frames may arrive split or several at once."""

    def __init__(self, max_length: int = 1 << 20) -> None:
        self._data = bytearray()
        self._max_length = max_length

    def __len__(self) -> int:
        return len(self._data)

    def feed(self, data: bytes) -> None:
        self._data += data

    def next_frame(self) -> Packet | None:
        """The next whole frame, or None until more bytes arrive. Bad bytes raise ProtocolError
        and stay in the buffer; call ``resync`` to drop them."""
        if len(self._data) < TOP.size:
            return None
        length = frame_length(bytes(self._data[:TOP.size]))
        if length > self._max_length:
            raise ProtocolError(f"frame announces {length} bytes, more than {self._max_length}")
        end = TOP.size + length
        if len(self._data) < end:
            return None
        packet = decode_packet(bytes(self._data[TOP.size:end]))
        del self._data[:end]
        return packet

    def resync(self) -> int:
        """Drop bytes up to the next top-header magic after the first byte; returns how many."""
        found = self._data.find(TOP_MAGIC_BYTES, 1)
        dropped = len(self._data) if found < 0 else found
        del self._data[:dropped]
        return dropped


# --- comm key -----------------------------------------------------------------------------

def _commkey_base(password: int, session_id: int) -> bytes:
    # Bit-reverse the password (zkemsdk MakeKey), add the session, XOR with "ZKSO", swap halves.
    reversed_bits = int(f"{password & 0xFFFFFFFF:032b}"[::-1], 2)
    k = (reversed_bits + session_id) & 0xFFFFFFFF
    mixed = bytes(a ^ b for a, b in zip(U32.pack(k), b"ZKSO"))
    return mixed[2:4] + mixed[0:2]


def make_commkey(password: int, session_id: int, ticks: int = 50) -> bytes:
    """The 4-byte AUTH payload pyzk's ``make_commkey`` sends for a numeric password."""
    base = _commkey_base(password, session_id)
    tick = ticks & 0xFF
    return bytes((base[0] ^ tick, base[1] ^ tick, tick, base[3] ^ tick))


def commkey_matches(key: bytes, password: int, session_id: int) -> bool:
    """Check an AUTH payload whatever tick value the client used (byte 2 carries it)."""
    if len(key) < 4:
        return False
    tick = key[2]
    base = _commkey_base(password, session_id)
    return (key[0] ^ tick, key[1] ^ tick, key[3] ^ tick) == (base[0], base[1], base[3])


# --- device time --------------------------------------------------------------------------

def encode_time(when: datetime) -> int:
    """Naive device-local time as the device's u32 (years 2000-2099 only)."""
    if not EPOCH_YEAR <= when.year < EPOCH_YEAR + 100:
        raise ValueError(f"device time {when:%Y-%m-%d} is outside the years 2000-2099")
    days = (when.year % 100) * 12 * 31 + (when.month - 1) * 31 + when.day - 1
    return days * _SECONDS_PER_DAY + (when.hour * 60 + when.minute) * 60 + when.second


def decode_time(value: int) -> datetime:
    rest, second = divmod(value, 60)
    rest, minute = divmod(rest, 60)
    rest, hour = divmod(rest, 24)
    rest, day = divmod(rest, 31)
    years, month = divmod(rest, 12)
    try:
        return datetime(EPOCH_YEAR + years, month + 1, day + 1, hour, minute, second)
    except ValueError:
        raise ProtocolError(
            f"device time {value} decodes to the impossible date "
            f"{EPOCH_YEAR + years}-{month + 1:02d}-{day + 1:02d}") from None


def encode_timehex(when: datetime) -> bytes:
    """The 6-byte time of realtime events: year-2000, month, day, hour, minute, second."""
    if not EPOCH_YEAR <= when.year < EPOCH_YEAR + 256:
        raise ValueError(f"realtime event year {when.year} does not fit one byte after 2000")
    return bytes((when.year - EPOCH_YEAR, when.month, when.day,
                  when.hour, when.minute, when.second))


def decode_timehex(data: bytes) -> datetime:
    if len(data) != 6:
        raise ProtocolError(f"realtime time needs 6 bytes, got {len(data)}")
    year, month, day, hour, minute, second = data
    try:
        return datetime(EPOCH_YEAR + year, month, day, hour, minute, second)
    except ValueError:
        raise ProtocolError(f"realtime time bytes {data.hex()} are not a valid date") from None


# --- text fields --------------------------------------------------------------------------

def _text(raw: bytes, encoding: str, field: str) -> str:
    try:
        return raw.split(b"\x00", 1)[0].decode(encoding)
    except UnicodeDecodeError:
        raise ProtocolError(f"{field} bytes {raw.hex()} are not valid {encoding}") from None
    except LookupError:
        raise ProtocolError(f"unknown text encoding {encoding!r}") from None


def _encode_text(value: str, size: int, encoding: str, field: str) -> bytes:
    raw = value.encode(encoding)
    if len(raw) > size:
        raise ValueError(f"{field} {value!r} takes {len(raw)} bytes, the field holds {size}")
    return raw


def _numeric_id(user_id: str, bits: int, form: str) -> int:
    if not user_id.isdigit() or int(user_id) >= 1 << bits:
        raise ValueError(f"the {form} form stores user ids as numbers below 2**{bits}, "
                         f"not {user_id!r}")
    return int(user_id)


# --- users --------------------------------------------------------------------------------

def pack_user(user: UserRecord, size: int, encoding: str = "utf-8") -> bytes:
    if size == 28:
        group = int(user.group_id) if user.group_id else 0
        return USER_28.pack(
            user.uid, user.privilege,
            _encode_text(user.password, 5, encoding, "password"),
            _encode_text(user.name, 8, encoding, "name"),
            user.card, group, 0, _numeric_id(user.user_id, 32, "28-byte user"))
    if size == 72:
        return USER_72.pack(
            user.uid, user.privilege,
            _encode_text(user.password, 8, encoding, "password"),
            _encode_text(user.name, 24, encoding, "name"),
            user.card,
            _encode_text(user.group_id, 7, encoding, "group id"),
            _encode_text(user.user_id, 24, encoding, "user id"))
    raise ValueError(f"user records are 28 or 72 bytes, not {size}")


def unpack_user(raw: bytes, encoding: str = "utf-8") -> UserRecord:
    """One user record; its length (28 or 72) selects the form."""
    if len(raw) == 28:
        uid, privilege, password, name, card, group, _tz, user_id = USER_28.unpack(raw)
        return UserRecord(uid, str(user_id), _text(name, encoding, "user name").strip(),
                          privilege, _text(password, encoding, "password"), card,
                          str(group))
    if len(raw) == 72:
        uid, privilege, password, name, card, group, user_id = USER_72.unpack(raw)
        return UserRecord(uid, _text(user_id, encoding, "user id"),
                          _text(name, encoding, "user name").strip(), privilege,
                          _text(password, encoding, "password"), card,
                          _text(group, encoding, "group id").strip())
    raise ProtocolError(f"user record of {len(raw)} bytes is neither 28 nor 72 bytes")


def iter_users(body: bytes, size: int, encoding: str = "utf-8") -> Iterator[UserRecord]:
    if size not in USER_SIZES:
        raise ProtocolError(f"user records are 28 or 72 bytes, not {size}")
    if len(body) % size:
        raise ProtocolError(f"user data of {len(body)} bytes is not a whole number of "
                            f"{size}-byte records")
    view = memoryview(body)
    for start in range(0, len(body), size):
        yield unpack_user(bytes(view[start:start + size]), encoding)


# --- attendance ---------------------------------------------------------------------------

def pack_attendance(record: AttendanceRecord, size: int, encoding: str = "utf-8") -> bytes:
    when = encode_time(record.timestamp)
    if size == 40:
        return ATTENDANCE_STRUCTS[40].pack(
            record.uid, _encode_text(record.user_id, 24, encoding, "user id"),
            record.status, when, record.punch, b"")
    if size == 16:
        return ATTENDANCE_STRUCTS[16].pack(
            _numeric_id(record.user_id, 32, "16-byte attendance"), when, record.status,
            record.punch, b"", record.workcode)
    if size == 8:
        return ATTENDANCE_STRUCTS[8].pack(record.uid, record.status, when, record.punch)
    raise ValueError(f"attendance records are 8, 16 or 40 bytes, not {size}")


def attendance_from_fields(size: int, fields: tuple, encoding: str) -> AttendanceRecord:
    """Build a record from ``ATTENDANCE_STRUCTS[size]`` fields (shared by the bulk parser)."""
    if size == 40:
        uid, user_id, status, when, punch, _spare = fields
        return AttendanceRecord(uid, _text(user_id, encoding, "user id"), decode_time(when),
                                status, punch)
    if size == 16:
        user_id, when, status, punch, _reserved, workcode = fields
        return AttendanceRecord(0, str(user_id), decode_time(when), status, punch, workcode)
    uid, status, when, punch = fields
    return AttendanceRecord(uid, "", decode_time(when), status, punch)


def unpack_attendance(raw: bytes, encoding: str = "utf-8") -> AttendanceRecord:
    """One attendance record; its length (8, 16 or 40) selects the form."""
    layout = ATTENDANCE_STRUCTS.get(len(raw))
    if layout is None:
        raise ProtocolError(f"attendance record of {len(raw)} bytes is not 8, 16 or 40 bytes")
    return attendance_from_fields(len(raw), layout.unpack(raw), encoding)


def iter_attendance(body: bytes, size: int,
                    encoding: str = "utf-8") -> Iterator[AttendanceRecord | ProtocolError]:
    """Every whole record in ``body``, each either decoded or the error that stopped it.

    Linear: records are read in place, never by re-slicing the remaining buffer.
    """
    layout = ATTENDANCE_STRUCTS.get(size)
    if layout is None:
        raise ProtocolError(f"attendance records are 8, 16 or 40 bytes, not {size}")
    whole = len(body) - len(body) % size
    for fields in layout.iter_unpack(memoryview(body)[:whole]):
        try:
            yield attendance_from_fields(size, fields, encoding)
        except ProtocolError as exc:
            yield exc


# --- realtime events ----------------------------------------------------------------------

def encode_realtime(event: RealtimeEvent, size: int = 36, encoding: str = "utf-8") -> bytes:
    """The payload of a REG_EVENT packet in one of the known lengths (36 for pyzk 0.9)."""
    timehex = encode_timehex(event.timestamp)
    if size in (10, 14):
        head = struct.pack("<HBB", _numeric_id(event.user_id, 16, f"{size}-byte event"),
                           event.status, event.punch)
        return (head + timehex).ljust(size, b"\x00")
    if size == 12:
        head = struct.pack("<IBB", _numeric_id(event.user_id, 32, "12-byte event"),
                           event.status, event.punch)
        return head + timehex
    if size in (32, 36, 37, 52):
        user_id = _encode_text(event.user_id, 24, encoding, "user id").ljust(24, b"\x00")
        return (user_id + bytes((event.status, event.punch)) + timehex).ljust(size, b"\x00")
    raise ValueError(f"realtime events are {REALTIME_SIZES} bytes long, not {size}")


def decode_realtime(payload: bytes, encoding: str = "utf-8") -> RealtimeEvent:
    """One realtime attendance event; unknown lengths raise ProtocolError."""
    size = len(payload)
    if size in (10, 14):
        user_id, status, punch = struct.unpack_from("<HBB", payload)
        return RealtimeEvent(str(user_id), status, punch, decode_timehex(payload[4:10]))
    if size == 12:
        user_id, status, punch = struct.unpack_from("<IBB", payload)
        return RealtimeEvent(str(user_id), status, punch, decode_timehex(payload[6:12]))
    if size in (32, 36, 37, 52):
        user_id = _text(payload[:24], encoding, "user id")
        return RealtimeEvent(user_id, payload[24], payload[25], decode_timehex(payload[26:32]))
    raise ProtocolError(f"realtime event of {size} bytes has no known layout "
                        f"(known: {', '.join(map(str, REALTIME_SIZES))})")


# --- free sizes and buffered reads --------------------------------------------------------

@dataclass(frozen=True)
class FreeSizes:
    users: int
    fingers: int
    records: int
    users_capacity: int = 0
    fingers_capacity: int = 0
    records_capacity: int = 0


def encode_free_sizes(sizes: FreeSizes) -> bytes:
    """80 bytes of 20 ints (pyzk's indexes) plus 12 bytes of face counters."""
    fields = [0] * 20
    fields[4], fields[6], fields[8] = sizes.users, sizes.fingers, sizes.records
    fields[14], fields[15], fields[16] = (sizes.fingers_capacity, sizes.users_capacity,
                                          sizes.records_capacity)
    fields[17] = sizes.fingers_capacity - sizes.fingers
    fields[18] = sizes.users_capacity - sizes.users
    fields[19] = sizes.records_capacity - sizes.records
    return FREE_SIZES.pack(*fields) + FREE_SIZES_FACES.pack(0, 0, 0)


def decode_free_sizes(payload: bytes) -> FreeSizes:
    if len(payload) < FREE_SIZES.size:
        raise ProtocolError(f"free sizes need 80 bytes, got {len(payload)}")
    f = FREE_SIZES.unpack_from(payload)
    return FreeSizes(f[4], f[6], f[8], f[15], f[14], f[16])


def encode_buffer(records: bytes) -> bytes:
    """A bulk-read buffer: u32 size of the records, then the records."""
    return U32.pack(len(records)) + records


def split_buffer(buffer: bytes) -> tuple[int, bytes]:
    """(announced size, record bytes) of a bulk-read buffer."""
    if len(buffer) < U32.size:
        raise ProtocolError(f"bulk buffer of {len(buffer)} bytes lacks its 4-byte size")
    return U32.unpack_from(buffer)[0], bytes(buffer[U32.size:])
