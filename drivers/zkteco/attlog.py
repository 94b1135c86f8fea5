"""Linear parsing of bulk-read buffers (attendance log and user table).

pyzk 0.9 re-slices the remaining buffer after every record (quadratic in the log size) and
searches the user list once per record; here records are read in place and users are looked
up in dicts, so a 100,000-record log parses in well under a second.
"""
from __future__ import annotations

from typing import Iterable, Mapping

from . import protocol
from .models import AttendanceLog, MalformedRecord, Punch, User
from .protocol import AttendanceRecord, ProtocolError


def record_size(announced: int, count: int, allowed: Iterable[int]) -> int | None:
    """Bytes per record as pyzk derives it (announced size / record count), or None if that
    is not a whole, known record size."""
    if count <= 0 or announced % count:
        return None
    size = announced // count
    return size if size in allowed else None


def parse_users(buffer: bytes, count: int, encoding: str) -> list[User]:
    """Users from a USERTEMP_RRQ buffer; ``count`` comes from GET_FREE_SIZES."""
    announced, body = protocol.split_buffer(buffer)
    size = record_size(announced, count, protocol.USER_SIZES)
    if size is None:
        raise ProtocolError(f"user buffer of {announced} bytes does not hold {count} records "
                            f"of 28 or 72 bytes")
    if len(body) < announced:
        raise ProtocolError(f"user buffer announces {announced} bytes but carries {len(body)}")
    return [_user(rec) for rec in protocol.iter_users(body[:announced], size, encoding)]


def _user(rec: protocol.UserRecord) -> User:
    return User(rec.uid, rec.user_id, rec.name, rec.privilege, rec.card, rec.group_id)


def parse_attendance(body: bytes, size: int, users: Iterable[User],
                     encoding: str) -> AttendanceLog:
    """Punches from the record bytes of an ATTLOG_RRQ buffer (size prefix already removed).

    Records that do not decode are counted with a reason instead of failing the whole pull.
    ``users`` fills in what the 8- and 16-byte forms lack, matching pyzk's get_attendance.
    """
    by_uid = {u.uid: u for u in users}
    by_user_id = {u.user_id: u for u in users}
    punches: list[Punch] = []
    malformed: list[MalformedRecord] = []
    for index, item in enumerate(protocol.iter_attendance(body, size, encoding)):
        if isinstance(item, ProtocolError):
            malformed.append(MalformedRecord(index, str(item)))
        elif size == 40 and not item.user_id:
            malformed.append(MalformedRecord(index, "record has an empty user id"))
        else:
            punches.append(_punch(item, size, index, by_uid, by_user_id))
    tail = len(body) % size
    if tail:
        malformed.append(MalformedRecord(len(body) // size,
                                         f"trailing {tail} bytes are not a whole record"))
    return AttendanceLog(punches, malformed, size)


def _punch(rec: AttendanceRecord, size: int, index: int, by_uid: Mapping[int, User],
           by_user_id: Mapping[str, User]) -> Punch:
    uid, user_id = rec.uid, rec.user_id
    if size == 8:  # only the slot number is stored
        user = by_uid.get(uid)
        user_id = user.user_id if user else str(uid)
    elif size == 16:  # only the (numeric) user id is stored; pyzk falls back to its value
        user = by_user_id.get(user_id)
        uid = user.uid if user else int(user_id)
    return Punch(uid, user_id, rec.timestamp, rec.status, rec.punch, index)
