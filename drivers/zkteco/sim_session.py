"""One client connection to the simulated machine: its socket, its thread, its events.

pyzk reads every reply with a single ``recv`` sized for that reply, so each answer goes out
in one ``sendall`` and nothing extra may trail it. Realtime events are sent one at a time,
each only after the client acknowledged the previous one, so no two share a TCP segment.
"""
from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections import deque
from typing import Protocol

from . import protocol
from .protocol import FrameBuffer, Packet, ProtocolError
from .sim_commands import CommandHandler, SessionHost

log = logging.getLogger(__name__)

_ACK_WAIT = 2.0  # seconds to wait for a client's event ACK before sending the next event
_READ_SIZE = 65536


class ConnectionHost(SessionHost, Protocol):
    def session_closed(self, session: "SimSession") -> None: ...


class SimSession:
    def __init__(self, host: ConnectionHost, sock: socket.socket, peer: str) -> None:
        self.host = host
        self.peer = peer
        self._sock = sock
        self._commands = CommandHandler(host, peer)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self._frames = FrameBuffer()
        self._closing = False
        self._requests = 0
        self._events: deque[bytes] = deque()
        self._awaiting_ack_since: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"zk-sim {peer}", daemon=True)

    @property
    def live(self) -> bool:
        return self._commands.live

    # --- called from other threads ------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def push_event(self, payload: bytes) -> None:
        if self.live:
            self._events.append(payload)
            self._wake()

    def kill(self) -> None:
        """Cut the connection (the client sees the stream end)."""
        self._closing = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._wake()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\x00")
        except OSError:
            pass  # buffer full or closed: the loop is awake or gone anyway

    # --- the connection's own thread ----------------------------------------------------

    def _run(self) -> None:
        try:
            self._serve()
        except OSError as exc:
            log.debug("session %s ended: %s", self.peer, exc)
        finally:
            self._closing = True
            for s in (self._sock, self._wake_r, self._wake_w):
                s.close()
            self.host.session_closed(self)

    def _serve(self) -> None:
        while not self._closing:
            wait = 0.1 if self._awaiting_ack_since is not None else 1.0
            readable, _, _ = select.select([self._sock, self._wake_r], [], [], wait)
            if self._wake_r in readable:
                self._wake_r.recv(4096)
            if self._sock in readable and not self._receive():
                return
            self._flush_events()

    def _receive(self) -> bool:
        data = self._sock.recv(_READ_SIZE)
        if not data:
            if not self._requests:
                log.debug("probe connection from %s", self.peer)
            return False
        self._frames.feed(data)
        while not self._closing:
            try:
                packet = self._frames.next_frame()
            except ProtocolError as exc:
                self.host.note(f"client {self.peer} sent bytes that are not a frame ({exc}); "
                               "closing")
                return False
            if packet is None:
                break
            self._dispatch(packet)
        return True

    def _dispatch(self, packet: Packet) -> None:
        if packet.command == protocol.ACK_OK:  # the client acknowledging an event
            self._awaiting_ack_since = None
            return
        self._requests += 1
        if self.host.faults.blackhole:
            return
        garbage = self.host.faults.take_garbage(packet.command)
        if garbage is not None:
            self._sock.sendall(garbage)
            return
        reply = self._commands.answer(packet)
        self._sock.sendall(reply.data)
        if not self.live:
            self._events.clear()
        if reply.close_after:
            self.kill()

    def _flush_events(self) -> None:
        waiting = self._awaiting_ack_since
        if waiting is not None and time.monotonic() - waiting < _ACK_WAIT:
            return
        if not self.live or not self._events or self.host.faults.blackhole:
            return
        payload = self._events.popleft()
        self._sock.sendall(protocol.encode_frame(protocol.CMD_REG_EVENT, protocol.EF_ATTLOG, 0,
                                                 payload))
        self._awaiting_ack_since = time.monotonic()
