"""Everything that reaches into pyzk 0.9 internals, in one place, with the reason for each.

pyzk keeps its socket, session and last reply code in name-mangled attributes (``_ZK__*``).
We shadow three private methods per instance (never on the class, so other ZK objects are
untouched) and read three attributes. ``check_supported`` fails loudly if a pyzk upgrade
renames any of them, instead of letting a hook silently stop applying.
"""
from __future__ import annotations

import socket
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import zk as pyzk
from zk import ZK, const

from . import protocol

_REQUIRED = ("_ZK__create_socket", "_ZK__read_chunk", "_ZK__send_command", "read_with_buffer",
             "read_sizes", "free_data", "reg_event")


def check_supported() -> None:
    missing = [name for name in _REQUIRED if not hasattr(ZK, name)]
    if getattr(pyzk, "VERSION", None) != (0, 9) or missing:
        raise RuntimeError(f"drivers.zkteco needs pyzk 0.9, found {getattr(pyzk, 'VERSION', '?')}"
                           f" (missing {', '.join(missing) or 'nothing'})")


class LinkSocket:
    """pyzk's socket with two fixes: end-of-stream raises instead of returning b'' (pyzk's
    raw-data loop spins forever on b'' when the device closes mid-transfer), and every
    socket failure is remembered so a wrapped ``ZKNetworkError`` can be told apart from a
    garbled reply."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._stream = sock.type == socket.SOCK_STREAM
        self.failure: OSError | None = None

    def recv(self, size: int) -> bytes:
        try:
            data = self._sock.recv(size)
        except OSError as exc:
            self.failure = exc
            raise
        if self._stream and size > 0 and not data:
            self.failure = ConnectionResetError("the device closed the connection")
            raise self.failure
        return data

    def send(self, data: bytes) -> int:
        # pyzk ignores short writes; sendall makes every command go out whole.
        self._guard(self._sock.sendall, data)
        return len(data)

    def sendall(self, data: bytes) -> None:
        self._guard(self._sock.sendall, data)

    def sendto(self, data: bytes, address: Any) -> int:
        return self._guard(self._sock.sendto, data, address)

    def _guard(self, call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except OSError as exc:
            self.failure = exc
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def new_client(host: str, port: int, timeout: float, password: int, force_udp: bool,
               ommit_ping: bool, encoding: str) -> ZK:
    """A pyzk client with three fixes.

    * Its socket is opened by us: a refused or unreachable device raises OSError at once
      (pyzk uses connect_ex and only fails later on send), and pyzk's probe connection,
      with its fixed 10 s timeout, is skipped.
    * The AUTH key is computed by us: pyzk's make_commkey packs bit-reversed password +
      session id without the 32-bit wrap the device uses, so passwords such as 262143 fail
      with struct.error for three session ids in four. pyzk is given password 0 (its key is
      thrown away) and the real one only lives here.
    """
    client = ZK(host, port=port, timeout=timeout, password=0, force_udp=force_udp,
                ommit_ping=ommit_ping, verbose=False, encoding=encoding)
    client._ZK__sock.close()  # the UDP socket ZK() opens eagerly and never uses over TCP
    client._ZK__create_socket = lambda: _open_socket(client, host, port, timeout, force_udp)
    client.helper.test_tcp = lambda: 0  # pyzk only uses the probe to guess user_packet_size
    send_command = client._ZK__send_command

    def send_with_our_key(command: int, command_string: bytes = b"",
                          response_size: int = 8) -> dict:
        if command == const.CMD_AUTH:
            command_string = protocol.make_commkey(password, session_id(client))
        return send_command(command, command_string, response_size)

    client._ZK__send_command = send_with_our_key
    return client


def _open_socket(client: ZK, host: str, port: int, timeout: float, udp: bool) -> None:
    if udp:
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        raw.settimeout(timeout)
    else:
        raw = socket.create_connection((host, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client._ZK__sock = LinkSocket(raw)


def link_socket(client: ZK) -> LinkSocket | None:
    sock = client.__dict__.get("_ZK__sock")
    return sock if isinstance(sock, LinkSocket) else None


def session_id(client: ZK) -> int:
    return int(client._ZK__session_id)


def last_reply_code(client: ZK) -> int | None:
    return client.__dict__.get("_ZK__response")


def close_quietly(client: ZK) -> None:
    """Drop the connection without EXIT (used when the link is already broken)."""
    sock = client.__dict__.get("_ZK__sock")
    client.is_connect = False
    if sock is not None:
        try:
            sock.close()
        except OSError:
            pass


@contextmanager
def chunk_progress(client: ZK, progress: Callable[[int, int], None] | None) -> Iterator[None]:
    """Report (bytes read, bytes total) after each READ_BUFFER chunk of ``read_with_buffer``.

    pyzk offers no progress hook, so its private chunk reader is wrapped for the duration.
    The total comes from the u32 size at the start of every bulk buffer.
    """
    if progress is None:
        yield
        return
    original = client._ZK__read_chunk
    total = 0

    def read_chunk(start: int, size: int) -> bytes:
        nonlocal total
        data = original(start, size)
        if start == 0 and len(data) >= protocol.U32.size:
            total = protocol.U32.unpack_from(data)[0] + protocol.U32.size
        done = start + len(data)
        total = max(total, done)
        progress(done, total)
        return data

    client._ZK__read_chunk = read_chunk
    try:
        yield
    finally:
        client.__dict__.pop("_ZK__read_chunk", None)
