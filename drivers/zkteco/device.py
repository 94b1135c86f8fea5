"""The real driver: a ZKTeco fingerprint machine reached through pyzk 0.9.

pyzk does the session work (connect, comm-key auth, buffered reads). Where it is slow or
fragile we go around it, each time for a stated reason (see also docs/zkteco.md):

* attendance: pyzk's get_attendance re-slices the whole buffer once per record (quadratic)
  and scans the user list once per record. We fetch the raw buffer with pyzk's own
  ``read_with_buffer(CMD_ATTLOG_RRQ)`` (which also sends FREE_DATA) and parse it linearly,
  deriving the record size the way pyzk does (buffer size / record count from read_sizes).
* users: parsed the same linear way from ``read_with_buffer(CMD_USERTEMP_RRQ)``.
* live capture: pyzk's live_capture handles only some payload lengths and never notices a
  dead link; ``live_punches`` reads the event stream itself (see live.py).
* sockets: pyzk spins forever when the device closes the connection mid-transfer and reports
  socket failures and garbled replies with the same exception; see pyzk_compat.LinkSocket.
* password: pyzk's comm key overflows for some passwords; pyzk_compat computes it instead.
* counts: pyzk's read_sizes keeps stale counts when the reply is short; ``_read_sizes``
  refuses such a reply rather than report an empty log.

Any failure leaves the object disconnected (the stream may be out of step); call
``connect()`` again. One ZKDevice serves one thread at a time.
"""
from __future__ import annotations

import ipaddress
import re
import struct
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Callable, Iterator

from zk import ZK, const
from zk.exception import ZKError

from . import attlog, protocol, pyzk_compat
from .errors import DeviceAuthError, DeviceError, DeviceLinkError, DeviceProtocolError
from .live import LinkSilent, LiveLink, LiveTiming
from .models import AttendanceLog, DeviceInfo, LiveStats, Punch, User
from .protocol import ProtocolError, RealtimeEvent

Progress = Callable[[int, int], None]

_HOSTNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
# Exceptions pyzk lets escape when a reply is garbled (it unpacks and decodes without checks).
_GARBLED = (ZKError, ProtocolError, struct.error, ValueError, TypeError, IndexError)


@dataclass(frozen=True)
class ZKConfig:
    host: str
    port: int = 4370
    password: int = 0
    timeout: float = 10.0
    ommit_ping: bool = True  # pyzk's spelling; the ping runs the system ``ping`` in a shell
    force_udp: bool = False
    encoding: str = "UTF-8"
    keepalive: float = 30.0  # live capture: probe the device after this much silence

    def __post_init__(self) -> None:
        if not _valid_host(self.host):
            raise ValueError(f"{self.host!r} is not an IP address or host name")
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is outside 1-65535")
        if self.timeout <= 0 or self.keepalive <= 0:
            raise ValueError("timeout and keepalive must be positive")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _valid_host(host: str) -> bool:
    # Checked because pyzk pastes the host into a shell command line when it pings.
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(host))


class ZKDevice:
    def __init__(self, config: ZKConfig) -> None:
        pyzk_compat.check_supported()
        self.config = config
        self._client: ZK | None = None
        self._live = False
        self.live_stats = LiveStats()

    # --- session ------------------------------------------------------------------------

    def connect(self) -> "ZKDevice":
        self.close()
        c = self.config
        client = pyzk_compat.new_client(c.host, c.port, c.timeout, c.password, c.force_udp,
                                        c.ommit_ping, c.encoding)
        self._client = client
        with self._talk("connecting"):
            try:
                client.connect()
            except ZKError:
                if pyzk_compat.last_reply_code(client) == protocol.ACK_UNAUTH:
                    raise DeviceAuthError(c.address, f"{c.address} refused the communication "
                                          "password") from None
                raise
        return self

    def close(self) -> None:
        """Say EXIT if the link is healthy, then drop the socket; never raises."""
        client, self._client = self._client, None
        if client is None:
            return
        if client.is_connect and not self._live:
            try:
                client.disconnect()
            except (ZKError, OSError, struct.error):
                pass
        pyzk_compat.close_quietly(client)

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connect

    def __enter__(self) -> "ZKDevice":
        return self.connect()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- simple requests ----------------------------------------------------------------

    def serial_number(self) -> str:
        with self._talk("reading the serial number") as client:
            return client.get_serialnumber()

    def info(self) -> DeviceInfo:
        with self._talk("reading the device identity") as client:
            return DeviceInfo(client.get_serialnumber(), client.get_device_name(),
                              client.get_platform(), client.get_firmware_version())

    def get_time(self) -> datetime:
        """The machine's clock, naive device-local time."""
        with self._talk("reading the clock") as client:
            return client.get_time()

    def set_time(self, when: datetime) -> None:
        """Set the machine's clock to a naive device-local time (seconds are kept, not less)."""
        address = self.config.address
        if when.tzinfo is not None:
            raise ValueError(f"the clock of {address} needs a naive device-local time, "
                             "not an aware datetime")
        if not 2000 <= when.year <= 2099:  # pyzk would silently store 2100 as 2000
            raise ValueError(f"the clock of {address} only holds the years 2000-2099, "
                             f"not {when.year}")
        with self._talk("setting the clock") as client:
            client.set_time(when.replace(microsecond=0))

    def enable(self) -> None:
        with self._talk("enabling the keypad") as client:
            client.enable_device()

    def disable(self) -> None:
        """Lock the keypad (the screen shows 'working'); enable() or a restart undoes it."""
        with self._talk("disabling the keypad") as client:
            client.disable_device()

    # --- bulk reads ---------------------------------------------------------------------

    def users(self) -> list[User]:
        with self._talk("reading the user table") as client:
            _read_sizes(client)
            if client.users == 0:
                return []
            buffer, _ = client.read_with_buffer(const.CMD_USERTEMP_RRQ, const.FCT_USER)
            return attlog.parse_users(buffer, client.users, self.config.encoding)

    def attendance(self, progress: Progress | None = None) -> AttendanceLog:
        """The whole attendance log (machines offer no date filter).

        ``progress(bytes_read, bytes_total)`` is called after each chunk of the transfer
        and once at the end. Undecodable records are counted in ``malformed``.
        """
        with self._talk("reading the attendance log") as client:
            _read_sizes(client)
            if client.records == 0:
                _report(progress, 0, 0)
                return AttendanceLog([], [])
            counted = client.records
            with pyzk_compat.chunk_progress(client, progress):
                buffer, size = client.read_with_buffer(const.CMD_ATTLOG_RRQ)
            _report(progress, size, size)
            announced, body = protocol.split_buffer(buffer)
            record_size = self._attendance_record_size(client, announced, counted)
            if len(body) < announced:
                raise ProtocolError(f"log announces {announced} bytes, carries {len(body)}")
            users = self.users() if record_size in (8, 16) else []
            return attlog.parse_attendance(body[:announced], record_size, users,
                                           self.config.encoding)

    @staticmethod
    def _attendance_record_size(client: ZK, announced: int, counted: int) -> int:
        size = attlog.record_size(announced, counted, protocol.ATTENDANCE_SIZES)
        if size is None:
            # A punch between GET_FREE_SIZES and the read changes the count; ask again.
            _read_sizes(client)
            counted = client.records
            size = attlog.record_size(announced, counted, protocol.ATTENDANCE_SIZES)
        if size is None:
            raise ProtocolError(f"a log of {announced} bytes cannot hold {counted} records "
                                "of 8, 16 or 40 bytes")
        return size

    # --- live capture -------------------------------------------------------------------

    def live_punches(self, stop: threading.Event, poll_s: float = 1.0) -> Iterator[Punch]:
        """Punches as people make them, until ``stop`` is set.

        Checks ``stop`` every ``poll_s`` seconds. Payloads of unknown layout are skipped and
        counted in ``live_stats``. A dropped or silent link raises DeviceLinkError; the
        device's log stays the source of truth, so pull attendance() after reconnecting.
        Leaving the loop early (break) drops the connection.
        """
        users = self.users()
        by_id = {u.user_id: u for u in users}
        with self._talk("waiting for live punches") as client:
            sock = pyzk_compat.link_socket(client)
            if sock is None or client.force_udp:
                raise DeviceError(self.config.address, "live capture needs a TCP connection to "
                                  f"{self.config.address}")
            client.enable_device()
            self.live_stats = LiveStats()
            link = LiveLink(sock, pyzk_compat.session_id(client),
                            LiveTiming(self.config.timeout, self.config.keepalive),
                            self.config.encoding, self.live_stats)
            self._live = True
            clean = False
            try:
                yield from self._live_loop(link, stop, poll_s, by_id)
                clean = True
            finally:
                self._live = False
                if not clean:  # events may still be in flight: the stream is out of step
                    self._drop()

    def _live_loop(self, link: LiveLink, stop: threading.Event, poll_s: float,
                   by_id: dict[str, User]) -> Iterator[Punch]:
        for event in link.register(protocol.EF_ATTLOG):
            yield _live_punch(event, by_id)
        while not stop.is_set():
            for event in link.poll(poll_s):
                yield _live_punch(event, by_id)
        for event in link.register(0):  # events already on the wire still count
            yield _live_punch(event, by_id)

    # --- plumbing -----------------------------------------------------------------------

    @contextmanager
    def _talk(self, action: str) -> Iterator[ZK]:
        """Run pyzk calls, turning whatever they raise into one of our DeviceErrors."""
        address = self.config.address
        client = self._client
        if client is None:
            raise DeviceLinkError(address, f"not connected to {address} (call connect() first)")
        if self._live:
            raise DeviceError(address, f"the connection to {address} is busy with live capture")
        try:
            yield client
        except DeviceError:
            self._drop()
            raise
        except LinkSilent:
            self._drop()
            raise DeviceLinkError(address, f"{address} stopped answering while {action}") from None
        except BaseException as exc:
            self._drop()  # whatever happened, the stream may be out of step now
            failure = self._link_failure(client, exc)
            if failure is None and not isinstance(exc, _GARBLED):
                raise  # our own bug, KeyboardInterrupt, GeneratorExit: not a device problem
            if failure is not None:
                raise DeviceLinkError(address, _link_message(address, action, failure)) from exc
            detail = f" ({exc})" if isinstance(exc, ProtocolError) else ""
            raise DeviceProtocolError(address, f"{address} sent a reply that makes no sense "
                                      f"while {action}{detail}") from exc

    @staticmethod
    def _link_failure(client: ZK, exc: BaseException) -> OSError | None:
        sock = pyzk_compat.link_socket(client)
        if sock is not None and sock.failure is not None:
            return sock.failure
        return exc if isinstance(exc, OSError) else None

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            pyzk_compat.close_quietly(client)


def _read_sizes(client: ZK) -> None:
    """pyzk's read_sizes, refusing what it silently accepts: a reply too short to hold the
    counts leaves its previous numbers (0 on a fresh client), which reads as an empty log."""
    client.users = client.records = -1
    client.read_sizes()
    if client.users < 0 or client.records < 0:
        raise ProtocolError("the free-sizes reply is too short or holds negative counts")


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def _link_message(address: str, action: str, failure: OSError) -> str:
    if isinstance(failure, TimeoutError):
        return f"{address} did not answer in time while {action}"
    if isinstance(failure, ConnectionRefusedError):
        return f"{address} refused the connection while {action}"
    if isinstance(failure, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return f"the link to {address} dropped while {action}"
    return f"cannot reach {address} while {action} ({failure.strerror or failure})"


def _live_punch(event: RealtimeEvent, by_id: dict[str, User]) -> Punch:
    user = by_id.get(event.user_id)
    uid = user.uid if user else (int(event.user_id) if event.user_id.isdigit() else 0)
    return Punch(uid, event.user_id, event.timestamp, event.status, event.punch)
