"""Waking the uplink across processes.

Daemons that run as separate processes (one systemd unit each) write events into the same
store; the uplink would only notice them at its next poll. After each commit a writer sends a
one-byte datagram to the uplink's abstract Unix socket, named after the store, so the event
leaves within a millisecond rather than a poll interval. The datagram only wakes: losing one
costs latency, never an event (the poll remains).

Binding the socket doubles as a guard: only one uplink may forward a given store.
"""
from __future__ import annotations

import hashlib
import socket
from pathlib import Path

EVENTS = b"e"
STATES = b"s"


class UplinkAlreadyRunning(Exception):
    pass


def wake_address(store_url: str) -> str:
    digest = hashlib.sha256(_canonical(store_url).encode()).hexdigest()[:20]
    return f"\0posjaga-uplink-{digest}"


def _canonical(store_url: str) -> str:
    prefix, _, path = store_url.partition(":///")
    if path and not path.startswith(":memory:"):
        return f"{prefix}:///{Path(path).resolve()}"
    return store_url


class WakeListener:
    def __init__(self, store_url: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self.sock.bind(wake_address(store_url))
        except OSError:
            self.sock.close()
            raise UplinkAlreadyRunning(
                f"{store_url}: another uplink already forwards this store; run one uplink "
                "per store") from None
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def drain(self) -> bytes:
        """Read every pending wake-up; the union of their kinds."""
        kinds = set()
        try:
            while True:
                kinds.update(self.sock.recv(64))
        except (BlockingIOError, OSError):
            pass
        return bytes(sorted(kinds))

    def close(self) -> None:
        self.sock.close()


class WakeSender:
    def __init__(self, store_url: str) -> None:
        self.address = wake_address(store_url)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setblocking(False)

    def send(self, kind: bytes = EVENTS) -> None:
        try:
            self.sock.sendto(kind, self.address)
        except OSError:
            pass  # no uplink listening, or its queue is full: it will poll

    def close(self) -> None:
        self.sock.close()
