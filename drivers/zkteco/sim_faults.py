"""Faults the simulated machine can be told to show, switchable while clients are connected."""
from __future__ import annotations

import threading

# No top-header magic, so pyzk rejects it as an invalid TCP packet.
DEFAULT_GARBAGE = bytes.fromhex("deadbeef") * 6


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._garbage_left = 0
        self._garbage = DEFAULT_GARBAGE
        self._garbage_command: int | None = None
        self._drop_at_chunk: int | None = None
        self.refuse_auth = False  # answer every CONNECT/AUTH with ACK_UNAUTH
        self.blackhole = False  # read requests, answer nothing (a link that died silently)

    def garble(self, count: int = 1, data: bytes | None = None,
               command: int | None = None) -> None:
        """Answer the next ``count`` requests (any client; only ``command`` if given) with
        ``data`` instead of a reply."""
        with self._lock:
            self._garbage_left = count
            self._garbage = DEFAULT_GARBAGE if data is None else data
            self._garbage_command = command

    def take_garbage(self, command: int) -> bytes | None:
        with self._lock:
            if self._garbage_left <= 0 or self._garbage_command not in (None, command):
                return None
            self._garbage_left -= 1
            return self._garbage

    def drop_mid_read(self, after_chunks: int = 0) -> None:
        """Once: cut the connection halfway through READ_BUFFER chunk number ``after_chunks``
        (0-based) of a buffered read."""
        with self._lock:
            self._drop_at_chunk = after_chunks

    def take_drop(self, chunk_index: int) -> bool:
        with self._lock:
            if self._drop_at_chunk != chunk_index:
                return False
            self._drop_at_chunk = None
            return True

    def clear(self) -> None:
        with self._lock:
            self._garbage_left = 0
            self._drop_at_chunk = None
            self.refuse_auth = False
            self.blackhole = False
