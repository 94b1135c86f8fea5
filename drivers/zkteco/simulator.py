"""A ZKTeco fingerprint machine on 127.0.0.1 that the unmodified pyzk 0.9 client talks to.

Scripting: ``add_user``, ``punch``, ``schedule``, ``fill_log``; clock: ``clock`` (set, drift)
and ``reset_clock``; faults: ``drop_mid_read``, ``garble``, ``refuse_auth``, ``blackhole``,
``cut_links``, ``stop``/``start``/``restart`` (the log survives). ``cli`` serves one from the
command line for ``posjaga sim zk``.
"""
from __future__ import annotations

import argparse
import random
import socket
import threading
from datetime import date, datetime, time as dtime
from types import TracebackType
from typing import Callable, Iterable

from . import protocol
from .protocol import AttendanceRecord, RealtimeEvent, UserRecord
from .sim_clock import DeviceClock, TimeSource
from .sim_commands import SimSettings
from .sim_faults import Faults
from .sim_schedule import PunchSchedule
from .sim_session import SimSession
from .sim_store import DeviceStore

Note = Callable[[str], None]


class ZKSimulator:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, password: int = 0,
                 user_size: int = 72, record_size: int = 40, realtime_size: int = 36,
                 inline_limit: int = 1016, clock: TimeSource = datetime.now,
                 drift: float = 0.0, serial_number: str = "SIM0000000001",
                 device_name: str = "posjaga-sim", seed: int | None = None,
                 session_id: int | None = None, on_note: Note | None = None) -> None:
        self.store = DeviceStore(user_size, record_size)
        self.clock = DeviceClock(clock, drift)
        self.faults = Faults()
        self.settings = SimSettings(password, realtime_size, inline_limit, options={
            "~SerialNumber": serial_number, "~DeviceName": device_name,
            "~Platform": "ZMM220_TFT", "~OS": "1", "~ZKFPVersion": "10",
            "~ExtendFmt": "1", "~UserExtFmt": "1", "MAC": "00:17:61:00:00:01",
            "IPAddress": host, "NetMask": "255.255.255.0", "GATEIPAddress": "0.0.0.0"})
        self.enabled = True
        self._host = host
        self._port = port
        self._rng = random.Random(seed)
        self._fixed_session_id = session_id  # None: a random one per connection
        self._on_note = on_note
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._sessions: set[SimSession] = set()
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._schedule = PunchSchedule(self.clock.now, lambda: self.enabled,
                                       lambda when, uid, p: self.punch(uid, when, p))

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> "ZKSimulator":
        """Listen (again) on the same port; the first start picks one if port was 0."""
        if self._listener is not None:
            return self
        listener = socket.create_server((self._host, self._port))
        self._port = listener.getsockname()[1]
        self._listener = listener
        self._accept_thread = threading.Thread(target=self._accept, args=(listener,),
                                               name="zk-sim accept", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        """Network side down, as while the machine reboots; users and log are kept."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        if self._accept_thread is not None:
            self._accept_thread.join(5)
        self.cut_links()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        self._schedule.close()

    def __enter__(self) -> "ZKSimulator":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    # --- scripting ----------------------------------------------------------------------

    def add_user(self, uid: int, user_id: str, name: str, privilege: int = 0, card: int = 0,
                 password: str = "", group_id: str = "") -> None:
        self.store.add_user(UserRecord(uid, user_id, name, privilege, password, card, group_id))

    def punch(self, user_id: str, when: datetime | None = None, punch: int = 0,
              status: int = 1) -> AttendanceRecord:
        """Someone punches: the log grows and every live client gets the event."""
        when = (when or self.clock.now()).replace(microsecond=0)
        user = self.store.user_by_id(user_id)
        uid = user.uid if user else (int(user_id) if user_id.isdigit() else 0)
        record = AttendanceRecord(uid, user_id, when, status, punch)
        self.store.append(record)
        event = RealtimeEvent(user_id, status, punch, when)
        self.push_raw_event(protocol.encode_realtime(event, self.settings.realtime_size))
        self.note(f"punch by user {user_id} at {when:%Y-%m-%d %H:%M:%S} (punch {punch})")
        return record

    def schedule(self, items: Iterable[tuple[datetime, str, int]]) -> None:
        """Punch ``(when, user_id, punch)`` once the device clock reaches ``when``."""
        self._schedule.add(items)

    def pending_punches(self) -> int:
        return self._schedule.pending()

    def fill_log(self, count: int, end: datetime | None = None) -> None:
        """Append ``count`` synthetic punches by the enrolled users, ending at ``end``."""
        user_ids = [u.user_id for u in self.store.users()] or ["1"]
        self.store.fill(count, user_ids, (end or self.clock.now()).replace(microsecond=0))

    def push_raw_event(self, payload: bytes) -> None:
        """Send any REG_EVENT payload to live clients (odd lengths test their parsers)."""
        for session in self._live_sessions():
            session.push_event(payload)

    def reset_clock(self) -> None:
        self.clock.reset()

    @property
    def record_count(self) -> int:
        return self.store.record_count

    # --- faults -------------------------------------------------------------------------

    def drop_mid_read(self, after_chunks: int = 0) -> None:
        self.faults.drop_mid_read(after_chunks)

    def garble(self, count: int = 1, data: bytes | None = None,
               command: int | None = None) -> None:
        self.faults.garble(count, data, command)

    @property
    def refuse_auth(self) -> bool:
        return self.faults.refuse_auth

    @refuse_auth.setter
    def refuse_auth(self, value: bool) -> None:
        self.faults.refuse_auth = value

    @property
    def blackhole(self) -> bool:
        return self.faults.blackhole

    @blackhole.setter
    def blackhole(self, value: bool) -> None:
        self.faults.blackhole = value

    def cut_links(self) -> None:
        """Drop every client connection at once, as when the network cable is pulled."""
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.kill()
        for session in sessions:
            session.join(5)

    # --- observation --------------------------------------------------------------------

    def live_clients(self) -> int:
        return len(self._live_sessions())

    def wait_live_clients(self, count: int, timeout: float) -> bool:
        """Block until ``count`` clients have registered for events (True) or time runs out."""
        with self._changed:
            return self._changed.wait_for(
                lambda: sum(s.live for s in self._sessions) >= count, timeout)

    def _live_sessions(self) -> list[SimSession]:
        with self._lock:
            return [s for s in self._sessions if s.live]

    # --- SessionHost --------------------------------------------------------------------

    def note(self, line: str) -> None:
        if self._on_note is not None:
            self._on_note(line)

    def new_session_id(self) -> int:
        if self._fixed_session_id is not None:
            return self._fixed_session_id
        with self._lock:
            return self._rng.randrange(1, 0xFFFF)

    def session_changed(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def session_closed(self, session: SimSession) -> None:
        with self._changed:
            self._sessions.discard(session)
            self._changed.notify_all()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                sock, (peer_host, peer_port) = listener.accept()
            except OSError:
                return  # stop() shut the listener down
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            session = SimSession(self, sock, f"{peer_host}:{peer_port}")
            with self._lock:
                self._sessions.add(session)
            session.start()


# --- command line ---------------------------------------------------------------------------

def cli(argv: list[str]) -> int:
    """Serve a simulated machine until Ctrl-C, printing one line per connection and punch."""
    args = _parser().parse_args(argv)
    sim = ZKSimulator(host=args.host, port=args.port, password=args.password,
                      user_size=args.user_size, record_size=args.record_size,
                      on_note=lambda line: print(line, flush=True))
    for n in range(1, args.users + 1):
        sim.add_user(n, str(n), f"User {n}")
    if args.records:
        sim.fill_log(args.records)
    today = sim.clock.now().date()
    sim.schedule(_parse_punch(spec, today) for spec in args.punch)
    sim.start()
    try:
        print(f"zk simulator listening on {sim.host}:{sim.port} ({args.users} users, "
              f"{sim.record_count} records, {args.record_size}-byte records); Ctrl-C stops",
              flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        sim.close()
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="posjaga sim zk",
                                description="Simulated ZKTeco fingerprint machine (pyzk wire "
                                            "protocol over TCP)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4370, help="0 picks a free port")
    p.add_argument("--password", type=int, default=0, help="numeric comm key (0: none)")
    p.add_argument("--users", type=int, default=5)
    p.add_argument("--records", type=int, default=0, help="synthetic punches already logged")
    p.add_argument("--record-size", type=int, choices=(40, 16), default=40)
    p.add_argument("--user-size", type=int, choices=(28, 72), default=72)
    p.add_argument("--punch", action="append", default=[], metavar="USER@TIME[/PUNCH]",
                   help="scripted punch, e.g. 3@07:58 (today, device time), "
                        "3@2024-05-01T07:58/1; repeatable")
    return p


def _parse_punch(spec: str, today: date) -> tuple[datetime, str, int]:
    try:
        user_id, rest = spec.split("@", 1)
        when_text, _, punch_text = rest.partition("/")
        punch = int(punch_text) if punch_text else 0
        if "T" in when_text or "-" in when_text:
            when = datetime.fromisoformat(when_text)
        else:
            when = datetime.combine(today, dtime.fromisoformat(when_text))
    except ValueError:
        raise SystemExit(f"--punch {spec!r} is not USER@HH:MM[:SS][/PUNCH] or "
                         "USER@YYYY-MM-DDTHH:MM[/PUNCH]") from None
    if not user_id:
        raise SystemExit(f"--punch {spec!r} lacks a user id before '@'")
    return when, user_id, punch
