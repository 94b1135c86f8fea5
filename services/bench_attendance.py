"""``posjaga bench attendance``: reconciling a 100,000-record log against bare pyzk.

The simulated machine runs in a process of its own (``serve_simulator``), holding
``--records`` 40-byte records of ``--users`` users, every one a linked guard. Measured in one
run, on one machine:

* ``pyzk_s``: bare pyzk ``connect()`` + ``get_attendance()`` (the baseline);
* ``sync_s``: the attendance service's own ``reconcile()`` from an empty store (connect, clock
  check, user table, whole-log pull, every punch committed locally with its event or as
  history); publishing then drains through the outbox (``bench pipeline`` measures that);
* ``resync_s`` and ``resync_rows_written``: a second reconciliation with nothing new;
* ``punch_p50_ms``/``punch_p99_ms``: a punch on the machine until a subscriber of a real
  Mosquitto has its ``attendance.punch`` event (live capture, store, uplink, broker).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.clock import SystemClock
from edge.config import Config, config_from_mapping
from services.bench import _machine, _percentile, progress, show
from services.broker import Mosquitto

REPO = Path(__file__).resolve().parents[1]
SITE = "bench"
ZONE = "Asia/Makassar"


def add_parser(bs: Any) -> None:
    p = bs.add_parser("attendance", help="reconciling a big fingerprint log vs bare pyzk")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--records", type=int, default=100_000, help="records in the machine's log")
    p.add_argument("--users", type=int, default=50, help="users (all of them linked guards)")
    p.add_argument("--samples", type=int, default=200, help="live punches for latency")
    p.set_defaults(func=cmd_bench_attendance)


def cmd_bench_attendance(args: argparse.Namespace) -> int:
    for name in ("records", "users", "samples"):
        if getattr(args, name) <= 0:
            print(f"posjaga: --{name} must be a positive whole number", file=sys.stderr)
            return 2
    if args.users > 9999:
        print("posjaga: --users must be at most 9999", file=sys.stderr)
        return 2
    result = run_attendance_bench(args.records, args.users, args.samples,
                                  progress(args.json))
    return show(result, args.json)


# --- the machine, in its own process -------------------------------------------------------

def serve_simulator(argv: list[str]) -> None:
    """Run a simulated machine; commands on stdin: 'live', 'punch USER PUNCH', 'quit'."""
    from drivers.zkteco.simulator import ZKSimulator
    from services.attendance_demo import device_time_source, enrol

    records, users, zone = int(argv[0]), int(argv[1]), ZoneInfo(argv[2])
    sim = ZKSimulator(clock=device_time_source(SystemClock, zone), serial_number="BENCH00000001")
    enrol(sim, [(user_id(n), f"Guard {n}") for n in range(users)])
    sim.fill_log(records)
    sim.start()
    print(f"ready {sim.port}", flush=True)
    try:
        for line in sys.stdin:
            words = line.split()
            if words[:1] == ["live"]:
                print(f"live {sim.live_clients()}", flush=True)
            elif words[:1] == ["punch"]:
                record = sim.punch(words[1], punch=int(words[2]))
                print(f"punched {record.timestamp.isoformat()}", flush=True)
            else:
                break
    finally:
        sim.close()


def user_id(n: int) -> str:
    return str(1001 + n)


class SimProcess:
    def __init__(self, records: int, users: int) -> None:
        code = ("import sys; from services.bench_attendance import serve_simulator; "
                "serve_simulator(sys.argv[1:])")
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(records), str(users),
                                      ZONE], cwd=REPO, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        self.port = int(self._answer("ready"))

    def ask(self, line: str, expect: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._answer(expect)

    def _answer(self, expect: str) -> str:
        assert self.proc.stdout is not None
        words = self.proc.stdout.readline().split()
        if words[:1] != [expect]:
            raise RuntimeError(f"the simulator process answered {words!r}, not {expect!r}")
        return words[1]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)


# --- the measurements ----------------------------------------------------------------------

def run_attendance_bench(records: int, users: int, samples: int,
                         say: Callable[[str], None]) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="posjaga-bench-att-"))
    say(f"simulator process: {records} records of {users} users")
    sim = SimProcess(records, users)
    try:
        say("baseline: bare pyzk connect() + get_attendance()")
        pyzk_s = _pyzk(sim.port, records)
        with Mosquitto(workdir=tmp / "broker") as broker:
            config = _config(tmp, sim.port, broker.url)
            result = _reconcile_twice(config, users, say)
            say(f"live punches: {samples} one at a time, machine to MQTT subscriber")
            latencies = _live_latency(config, sim, users, samples)
    finally:
        sim.close()
    return {
        "pyzk_s": round(pyzk_s, 3), "sync_s": round(result["sync_s"], 3),
        "ratio": round(result["sync_s"] / pyzk_s, 3),
        "resync_s": round(result["resync_s"], 3),
        "resync_rows_written": result["resync_rows_written"],
        "punch_p50_ms": round(_percentile(latencies, 0.5), 2),
        "punch_p99_ms": round(_percentile(latencies, 0.99), 2),
        "stored": result["stored"], "published": result["published"],
        "historical": result["historical"], "records": records, "users": users,
        "samples": samples, "machine": _machine(),
    }


def _pyzk(port: int, records: int) -> float:
    from zk import ZK

    started = time.perf_counter()
    client = ZK("127.0.0.1", port=port, timeout=60, ommit_ping=True)
    client.connect()
    got = client.get_attendance()
    elapsed = time.perf_counter() - started
    client.disconnect()
    if len(got) != records:
        raise RuntimeError(f"pyzk read {len(got)} records, not {records}")
    return elapsed


def _config(tmp: Path, port: int, broker_url: str) -> Config:
    return config_from_mapping({
        "site": {"id": SITE, "timezone": ZONE}, "store": {"url": f"sqlite:///{tmp}/att.db"},
        "mqtt": {"url": broker_url, "poll_s": 0.05},
        "attendance": {"host": "127.0.0.1", "port": port, "timeout_s": 60.0,
                       "reconnect_min_s": 0.2, "reconnect_max_s": 1.0}}, "<bench>", env={})


def _reconcile_twice(config: Config, users: int, say: Callable[[str], None]) -> dict[str, Any]:
    from services.attendance import AttendanceService
    from services.roster import RosterStore
    from services.runtime import open_runtime

    rt = open_runtime(config, SystemClock())
    try:
        roster = RosterStore.from_runtime(rt)
        for n in range(users):
            roster.link_guard(f"Guard {n}", user_id(n))
        service = AttendanceService(rt)
        say("posjaga: full reconciliation from an empty store")
        started = time.perf_counter()
        _connect(service)
        service.reconcile()
        sync_s = time.perf_counter() - started
        stored = _count(rt, "attendance_punches")
        published = _count(rt, "events WHERE kind = 'attendance.punch'")
        historical = _count(rt, "attendance_punches WHERE historical")
        say("posjaga: reconciliation again, nothing new")
        before = _write_marks(rt)
        started = time.perf_counter()
        service.reconcile()
        resync_s = time.perf_counter() - started
        written = _rows_written(before, _write_marks(rt))
        service.device.close()
    finally:
        rt.close()
    return {"sync_s": sync_s, "resync_s": resync_s, "resync_rows_written": written,
            "stored": stored, "published": published, "historical": historical}


def _connect(service: Any) -> None:
    service.device.connect()
    service.serial = service.device.serial_number()


def _count(rt: Any, what: str) -> int:
    with rt.db.raw_read() as cur:
        return cur.execute(f"SELECT COUNT(*) FROM {what}").fetchone()[0]


def _write_marks(rt: Any) -> dict[str, Any]:
    """What any write would move: row counts, upsert stamps, state versions."""
    with rt.db.raw_read() as cur:
        marks = {table: cur.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
                 for table in ("events", "attendance_punches", "guards", "rosters")}
        marks["sync"] = cur.execute("SELECT device, updated_at FROM attendance_sync").fetchall()
        marks["outcomes"] = cur.execute("SELECT user_id, anchor, slot, updated_at FROM "
                                        "attendance_outcomes").fetchall()
        marks["states"] = cur.execute("SELECT name, version FROM states").fetchall()
    return marks


def _rows_written(before: dict[str, Any], after: dict[str, Any]) -> int:
    written = 0
    for key in ("events", "attendance_punches", "guards", "rosters"):  # they only grow
        written += (after[key][0] or 0) - (before[key][0] or 0)
    for key in ("sync", "outcomes", "states"):
        written += len(set(after[key]) - set(before[key]))
    return written


def _live_latency(config: Config, sim: SimProcess, users: int, samples: int) -> list[float]:
    from services.attendance import AttendanceService
    from services.runtime import open_runtime
    from services.uplink import UplinkService

    rt = open_runtime(config, SystemClock())
    sub = _Subscriber(config, rt.topics.event("attendance.punch"))
    stop = threading.Event()
    uplink = UplinkService(rt, client_id=f"bench-att-uplink-{os.getpid()}")
    service = AttendanceService(rt)
    threads = [threading.Thread(target=s.run, args=(stop,), daemon=True)
               for s in (uplink, service)]
    for t in threads:
        t.start()
    try:
        _wait(lambda: rt.events.backlog() == 0 and int(sim.ask("live", "live")) > 0, 300,
              "the service never reached live capture with an empty outbox")
        return _sample(sim, sub, users, samples)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        sub.close()
        rt.close()


def _sample(sim: SimProcess, sub: "_Subscriber", users: int, samples: int) -> list[float]:
    latencies: list[float] = []
    last_used: dict[tuple[str, int], float] = {}
    for i in range(samples):
        key = (user_id(i % users), (i // users) % 6)
        # The same user, second and punch type is one punch (dedup key): never reuse a
        # combination within the same second.
        pause = 1.1 - (time.monotonic() - last_used.get(key, 0.0))
        if pause > 0:
            time.sleep(pause)
        last_used[key] = time.monotonic()
        started = time.perf_counter()
        stamp = sim.ask(f"punch {key[0]} {key[1]}", "punched")
        arrived = sub.wait_for((key[0], stamp, key[1]))
        latencies.append((arrived - started) * 1000)
    return latencies


class _Subscriber:
    def __init__(self, config: Config, topic: str) -> None:
        from edge.config import parse_mqtt_url

        assert config.mqtt.url is not None
        url = parse_mqtt_url(config.mqtt.url)
        self.arrived: dict[tuple[str, str, int], float] = {}
        self.cond = threading.Condition()
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"bench-att-sub-{os.getpid()}")
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._on_message
        self.client.connect(url.host, url.port)
        self.client.loop_start()
        if not ready.wait(10):
            raise RuntimeError("the benchmark subscriber could not subscribe")

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        now = time.perf_counter()
        payload = json.loads(msg.payload)["payload"]
        key = (payload["user_id"], payload["device_time"], payload["punch"])
        with self.cond:
            self.arrived.setdefault(key, now)
            self.cond.notify_all()

    def wait_for(self, key: tuple[str, str, int], timeout: float = 20.0) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: key in self.arrived, timeout):
                raise RuntimeError(f"the punch {key} never reached the subscriber")
            return self.arrived[key]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(what)
        time.sleep(0.05)


__all__ = ["add_parser", "run_attendance_bench", "serve_simulator"]
