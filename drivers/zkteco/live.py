"""Realtime attendance events read straight off the device connection.

pyzk 0.9's live_capture parses only some payload lengths (others raise or get misread),
swallows a dropped link as endless timeouts, and mixes its command replies with events.
Here one reader owns the socket while events are registered: every frame is acknowledged,
unknown payloads are counted and skipped, silence is probed with a harmless GET_TIME, and
a dead link raises ``ConnectionError`` for the driver to turn into DeviceLinkError.
"""
from __future__ import annotations

import select
import time
from dataclasses import dataclass
from typing import Iterator, Protocol

from . import protocol
from .models import LiveStats
from .protocol import FrameBuffer, Packet, ProtocolError, RealtimeEvent

# Live frames are small; a bigger announced length means the stream lost its framing.
_MAX_LIVE_FRAME = 4096
_FIRST_REPLY_ID = 0x8000  # far from pyzk's own counter, only to make our replies easy to spot


class StreamSocket(Protocol):
    def recv(self, size: int) -> bytes: ...
    def sendall(self, data: bytes) -> None: ...
    def fileno(self) -> int: ...


class LinkSilent(ConnectionError):
    """The device did not answer a keepalive in time."""


@dataclass
class LiveTiming:
    timeout: float  # how long to wait for a command reply
    keepalive: float  # silence after which the device is probed


class LiveLink:
    def __init__(self, sock: StreamSocket, session_id: int, timing: LiveTiming,
                 encoding: str, stats: LiveStats) -> None:
        self._sock = sock
        self._session = session_id
        self._timing = timing
        self._encoding = encoding
        self._stats = stats
        self._frames = FrameBuffer(_MAX_LIVE_FRAME)
        self._reply_id = _FIRST_REPLY_ID
        self._last_rx = time.monotonic()
        self._probe: tuple[int, float] | None = None  # (reply id, deadline)
        self._awaited: set[int] = set()  # reply ids of REG_EVENT requests in flight
        self._replies: dict[int, Packet] = {}
        self._events: list[RealtimeEvent] = []

    def register(self, flags: int) -> Iterator[RealtimeEvent]:
        """Send REG_EVENT and wait for its reply, yielding events that arrive meanwhile."""
        reply_id = self._send(protocol.CMD_REG_EVENT, protocol.U32.pack(flags))
        self._awaited.add(reply_id)
        deadline = time.monotonic() + self._timing.timeout
        while reply_id not in self._replies:
            if time.monotonic() > deadline:
                raise LinkSilent(f"no answer to REG_EVENT within {self._timing.timeout:g} s")
            yield from self.poll(min(0.2, self._timing.timeout))
        reply = self._replies.pop(reply_id)
        if reply.command != protocol.ACK_OK:
            raise ProtocolError(f"REG_EVENT answered with code {reply.command}")

    def poll(self, wait: float) -> Iterator[RealtimeEvent]:
        """Events that arrive within ``wait`` seconds; probes the device after long silence."""
        self._keepalive()
        readable, _, _ = select.select([self._sock], [], [], max(0.0, wait))
        if readable:
            self._read()
        events, self._events = self._events, []
        yield from events

    def _read(self) -> None:
        data = self._sock.recv(65536)
        if not data:
            raise ConnectionResetError("the device closed the connection")
        self._last_rx = time.monotonic()
        self._frames.feed(data)
        while (packet := self._next_packet()) is not None:
            self._handle(packet)

    def _next_packet(self) -> Packet | None:
        while True:
            try:
                return self._frames.next_frame()
            except ProtocolError:
                dropped = self._frames.resync()
                self._stats.skip("bytes outside any frame")
                if not dropped:
                    return None

    def _handle(self, packet: Packet) -> None:
        if packet.command != protocol.CMD_REG_EVENT:
            self._on_reply(packet)
            return
        # Acknowledge first: the device holds the next event until it sees this.
        self._sock.sendall(protocol.encode_frame(protocol.ACK_OK, self._session, 0))
        try:
            event = protocol.decode_realtime(packet.payload, self._encoding)
        except ProtocolError:
            self._stats.skip(_skip_reason(packet.payload))
            return
        self._stats.events += 1
        self._events.append(event)

    def _on_reply(self, packet: Packet) -> None:
        if self._probe and packet.reply_id == self._probe[0]:
            self._probe = None
        elif packet.reply_id in self._awaited:
            self._awaited.discard(packet.reply_id)
            self._replies[packet.reply_id] = packet
        else:  # kept out of _replies so a chatty device cannot grow it
            self._stats.skip(f"unexpected frame with command {packet.command}")

    def _keepalive(self) -> None:
        now = time.monotonic()
        if self._probe is not None:
            if now > self._probe[1]:
                raise LinkSilent(f"no answer to a keepalive within {self._timing.timeout:g} s")
        elif now - self._last_rx >= self._timing.keepalive:
            self._probe = (self._send(protocol.CMD_GET_TIME), now + self._timing.timeout)

    def _send(self, command: int, payload: bytes = b"") -> int:
        self._reply_id = self._reply_id % (protocol.USHRT_MAX - 1) + 1
        self._sock.sendall(protocol.encode_frame(command, self._session, self._reply_id, payload))
        return self._reply_id


def _skip_reason(payload: bytes) -> str:
    if len(payload) not in protocol.REALTIME_SIZES:
        return f"unknown {len(payload)}-byte event payload"
    return f"undecodable {len(payload)}-byte event payload"
