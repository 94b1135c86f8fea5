"""What the simulated machine remembers: users and a pre-packed attendance log.

The log is kept as the exact bytes the machine sends, so serving a 100,000-record pull is
one copy and some slicing, not 100,000 encodings.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from . import protocol
from .protocol import AttendanceRecord, FreeSizes, UserRecord


class DeviceStore:
    def __init__(self, user_size: int = 72, record_size: int = 40,
                 encoding: str = "utf-8") -> None:
        if user_size not in protocol.USER_SIZES:
            raise ValueError(f"user records are 28 or 72 bytes, not {user_size}")
        if record_size not in protocol.ATTENDANCE_SIZES:
            raise ValueError(f"attendance records are 8, 16 or 40 bytes, not {record_size}")
        self.user_size = user_size
        self.record_size = record_size
        self.encoding = encoding
        self._lock = threading.Lock()
        self._users: dict[int, UserRecord] = {}
        self._log = bytearray()

    # --- users --------------------------------------------------------------------------

    def add_user(self, user: UserRecord) -> None:
        protocol.pack_user(user, self.user_size, self.encoding)  # fail now, not at read time
        with self._lock:
            self._users[user.uid] = user

    def users(self) -> list[UserRecord]:
        with self._lock:
            return [self._users[uid] for uid in sorted(self._users)]

    def user_by_id(self, user_id: str) -> UserRecord | None:
        with self._lock:
            return next((u for u in self._users.values() if u.user_id == user_id), None)

    def users_buffer(self) -> bytes:
        packed = b"".join(protocol.pack_user(u, self.user_size, self.encoding)
                          for u in self.users())
        return protocol.encode_buffer(packed)

    # --- attendance log -----------------------------------------------------------------

    def append(self, record: AttendanceRecord) -> int:
        """Add one record; returns its index in the log."""
        packed = protocol.pack_attendance(record, self.record_size, self.encoding)
        with self._lock:
            self._log += packed
            return len(self._log) // self.record_size - 1

    def append_raw(self, packed: bytes) -> None:
        """Add bytes as they are, e.g. a deliberately malformed record."""
        with self._lock:
            self._log += packed

    def fill(self, count: int, user_ids: list[str], end: datetime,
             step: timedelta = timedelta(minutes=7)) -> None:
        """Append ``count`` synthetic punches ending at ``end``, cycling through users."""
        if not user_ids:
            raise ValueError("synthetic punches need at least one user id")
        by_id = {u.user_id: u.uid for u in self.users()}
        packed = bytearray()
        start = end - step * (count - 1)
        for i in range(count):
            user_id = user_ids[i % len(user_ids)]
            uid = by_id.get(user_id, int(user_id) if user_id.isdigit() else 0)
            record = AttendanceRecord(uid, user_id, start + step * i, 1, i % 2)
            packed += protocol.pack_attendance(record, self.record_size, self.encoding)
        self.append_raw(bytes(packed))

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    @property
    def record_count(self) -> int:
        with self._lock:
            return len(self._log) // self.record_size

    def log_buffer(self) -> bytes:
        with self._lock:
            return protocol.encode_buffer(bytes(self._log))

    def sizes(self) -> FreeSizes:
        with self._lock:
            return FreeSizes(users=len(self._users), fingers=0,
                             records=len(self._log) // self.record_size,
                             users_capacity=3000, fingers_capacity=3000,
                             records_capacity=max(100000, len(self._log) // self.record_size))
