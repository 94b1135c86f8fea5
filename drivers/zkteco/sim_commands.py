"""The protocol side of one simulated connection: login, requests, bulk buffers, events.

Every answer is built as one byte string so the connection can send it in one write.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Callable, Protocol

from . import protocol
from .protocol import Packet, ProtocolError
from .sim_clock import DeviceClock
from .sim_faults import Faults
from .sim_store import DeviceStore

# Requests a device accepts before login.
_BEFORE_LOGIN = (protocol.CMD_CONNECT, protocol.CMD_AUTH, protocol.CMD_EXIT)


@dataclass
class SimSettings:
    password: int = 0
    realtime_size: int = 36
    inline_limit: int = 1016  # bulk data up to this size is answered at once with DATA
    firmware: str = "Ver 6.60 Apr 28 2017"
    options: dict[str, str] = field(default_factory=dict)


class SessionHost(Protocol):
    """What a connection needs from the simulator it belongs to."""

    store: DeviceStore
    clock: DeviceClock
    faults: Faults
    settings: SimSettings
    enabled: bool

    def note(self, line: str) -> None: ...
    def new_session_id(self) -> int: ...
    def session_changed(self) -> None: ...


@dataclass(frozen=True)
class Reply:
    data: bytes
    close_after: bool = False


class CommandHandler:
    def __init__(self, host: SessionHost, peer: str) -> None:
        self.host = host
        self.peer = peer
        self.session_id = 0
        self.live = False  # registered for realtime attendance events
        self._authed = False
        self._buffer: bytes | None = None  # the bulk buffer being read in chunks
        self._chunks_served = 0
        self._handlers: dict[int, Callable[[Packet], Reply]] = {
            protocol.CMD_CONNECT: self._connect,
            protocol.CMD_AUTH: self._auth,
            protocol.CMD_EXIT: self._exit,
            protocol.CMD_ENABLEDEVICE: self._enable,
            protocol.CMD_DISABLEDEVICE: self._disable,
            protocol.CMD_GET_FREE_SIZES: self._free_sizes,
            protocol.CMD_OPTIONS_RRQ: self._option,
            protocol.CMD_GET_VERSION: self._version,
            protocol.CMD_GET_PINWIDTH: lambda p: self._ok(p, b"\x09"),
            protocol.CMD_GET_TIME: self._get_time,
            protocol.CMD_SET_TIME: self._set_time,
            protocol.CMD_CLEAR_ATTLOG: self._clear_log,
            protocol.CMD_REG_EVENT: self._reg_event,
            protocol.CMD_PREPARE_BUFFER: self._prepare_buffer,
            protocol.CMD_READ_BUFFER: self._read_buffer,
            protocol.CMD_FREE_DATA: self._free_data,
        }
        for harmless in (protocol.CMD_STARTVERIFY, protocol.CMD_CANCELCAPTURE,
                         protocol.CMD_REFRESHDATA, protocol.CMD_OPTIONS_WRQ):
            self._handlers[harmless] = self._ok

    def answer(self, packet: Packet) -> Reply:
        if not protocol.packet_checksum_ok(packet):
            self.host.note(f"client {self.peer} sent command {packet.command} with a bad "
                           "checksum")
            return self._reply(protocol.ACK_ERROR, packet)
        if not self._authed and packet.command not in _BEFORE_LOGIN:
            return self._reply(protocol.ACK_UNAUTH, packet)
        handler = self._handlers.get(packet.command)
        if handler is None:
            return self._reply(protocol.ACK_UNKNOWN, packet)
        try:
            return handler(packet)
        except (ProtocolError, struct.error, ValueError):  # a payload the device cannot use
            return self._reply(protocol.ACK_ERROR, packet)

    def _reply(self, code: int, request: Packet, payload: bytes = b"",
               close_after: bool = False) -> Reply:
        frame = protocol.encode_frame(code, self.session_id, request.reply_id, payload)
        return Reply(frame, close_after)

    def _ok(self, request: Packet, payload: bytes = b"") -> Reply:
        return self._reply(protocol.ACK_OK, request, payload)

    # --- login --------------------------------------------------------------------------

    def _connect(self, packet: Packet) -> Reply:
        self.session_id = self.host.new_session_id()
        self._authed = not (self.host.faults.refuse_auth or self.host.settings.password)
        self.host.note(f"client {self.peer} connected, session {self.session_id:#06x}"
                       f"{'' if self._authed else ', password required'}")
        return self._reply(protocol.ACK_OK if self._authed else protocol.ACK_UNAUTH, packet)

    def _auth(self, packet: Packet) -> Reply:
        password = self.host.settings.password
        self._authed = (not self.host.faults.refuse_auth
                        and protocol.commkey_matches(packet.payload, password, self.session_id))
        if not self._authed:
            self.host.note(f"client {self.peer} failed authentication")
        return self._reply(protocol.ACK_OK if self._authed else protocol.ACK_UNAUTH, packet)

    def _exit(self, packet: Packet) -> Reply:
        self.live = False
        return self._reply(protocol.ACK_OK, packet, close_after=True)

    # --- simple requests ----------------------------------------------------------------

    def _enable(self, packet: Packet) -> Reply:
        self.host.enabled = True
        return self._ok(packet)

    def _disable(self, packet: Packet) -> Reply:
        self.host.enabled = False
        return self._ok(packet)

    def _free_sizes(self, packet: Packet) -> Reply:
        return self._ok(packet, protocol.encode_free_sizes(self.host.store.sizes()))

    def _option(self, packet: Packet) -> Reply:
        name = packet.payload.split(b"\x00", 1)[0].decode("ascii", "replace")
        value = self.host.settings.options.get(name)
        if value is None:
            return self._reply(protocol.ACK_ERROR, packet)
        return self._ok(packet, f"{name}={value}\x00".encode())

    def _version(self, packet: Packet) -> Reply:
        return self._ok(packet, self.host.settings.firmware.encode() + b"\x00")

    def _get_time(self, packet: Packet) -> Reply:
        now = self.host.clock.now().replace(microsecond=0)
        return self._ok(packet, protocol.U32.pack(protocol.encode_time(now)))

    def _set_time(self, packet: Packet) -> Reply:
        when = protocol.decode_time(protocol.U32.unpack_from(packet.payload)[0])
        self.host.clock.set(when)
        return self._ok(packet)

    def _clear_log(self, packet: Packet) -> Reply:
        self.host.store.clear_log()
        return self._ok(packet)

    def _reg_event(self, packet: Packet) -> Reply:
        flags = protocol.U32.unpack_from(packet.payload)[0]
        self.live = bool(flags & protocol.EF_ATTLOG)
        self.host.session_changed()
        return self._ok(packet)

    # --- bulk reads ---------------------------------------------------------------------

    def _prepare_buffer(self, packet: Packet) -> Reply:
        _one, command, _fct, _ext = protocol.BUFFER_REQUEST.unpack_from(packet.payload)
        if command == protocol.CMD_USERTEMP_RRQ:
            buffer = self.host.store.users_buffer()
        elif command == protocol.CMD_ATTLOG_RRQ:
            buffer = self.host.store.log_buffer()
        else:
            return self._reply(protocol.ACK_ERROR, packet)
        if len(buffer) <= self.host.settings.inline_limit:
            return self._reply(protocol.CMD_DATA, packet, buffer)
        self._buffer, self._chunks_served = buffer, 0
        # pyzk reads the total size from bytes 1..4 of this payload.
        return self._ok(packet, b"\x00" + protocol.U32.pack(len(buffer)) + bytes(4))

    def _read_buffer(self, packet: Packet) -> Reply:
        start, size = protocol.READ_BUFFER_REQUEST.unpack_from(packet.payload)
        buffer = self._buffer
        if buffer is None or start < 0 or size <= 0 or start + size > len(buffer):
            return self._reply(protocol.ACK_ERROR, packet)
        prepare = self._reply(protocol.CMD_PREPARE_DATA, packet,
                              protocol.U32.pack(size) + bytes(4)).data
        data = self._reply(protocol.CMD_DATA, packet, buffer[start:start + size]).data
        index, self._chunks_served = self._chunks_served, self._chunks_served + 1
        if self.host.faults.take_drop(index):
            self.host.note(f"dropping client {self.peer} in the middle of chunk {index}")
            return Reply(prepare + data[:len(data) // 2], close_after=True)
        return Reply(prepare + data + self._ok(packet).data)

    def _free_data(self, packet: Packet) -> Reply:
        self._buffer = None
        return self._ok(packet)
