"""``posjaga bench footprint``: memory and start-up time of the daemons (a Pi Zero 2 W has 512 MB
for everything).

Each run is a real ``posjaga run``-like child process (this module's ``--child`` mode: the real
runner, the real services, configured from a file) on simulators: checkpoint taps on a pty,
punches from a simulated fingerprint machine over TCP, lamp commands through a private
Mosquitto, the lamp and radio on gpiozero mock pins. The parent measures:

- ``ready_s``: from spawning the child to its ``READY=1`` on a real ``NOTIFY_SOCKET``;
- ``import_floor_s``: a bare interpreter importing exactly the third-party modules the child
  had loaded when it said READY (it writes their names), spawned the same way, same run;
- ``rss_all_mb``: the peak resident memory of the child running every service under steady
  traffic, and ``rss_growth_pct`` between ``--checkpoint`` and ``--events`` events handled
  (recorded in the store, which the uplink forwards to the broker);
- ``rss_per_service_mb``: each service alone, after a little traffic.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

TARGETS = {"rss_all_mb": 64, "ready_ratio": 2.0, "rss_growth_pct": 5.0}
CHECKPOINTS = 8
READY_TIMEOUT_S = 60.0


def add_parser(bench_sub: Any) -> None:
    p = bench_sub.add_parser("footprint", help="memory (RSS) and start-to-READY time of the "
                             "daemons, together and each alone, on simulators")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--events", type=int, default=100_000,
                   help="events handled by the all-in-one process (default 100000)")
    p.add_argument("--checkpoint", type=int, default=10_000,
                   help="events handled when the first RSS sample is taken (default 10000)")
    p.add_argument("--rate", type=int, default=1000, help="checkpoint taps a second")
    p.add_argument("--alone-s", type=float, default=3.0,
                   help="seconds of traffic for each service alone")
    p.set_defaults(func=cmd_bench_footprint)


def cmd_bench_footprint(args: argparse.Namespace) -> int:
    from services.bench import progress, show  # here: the child process measures imports

    if not 0 < args.checkpoint < args.events or args.rate <= 0 or args.alone_s <= 0:
        print("posjaga: --checkpoint must be positive and below --events; --rate and "
              "--alone-s must be positive", file=sys.stderr)
        return 2
    result = run_footprint(args.events, args.checkpoint, args.rate, args.alone_s,
                           progress(args.json))
    return show(result, args.json)


# --- the parent --------------------------------------------------------------------------------

def run_footprint(events: int, checkpoint: int, rate: int, alone_s: float,
                  say: Callable[[str], None]) -> dict[str, Any]:
    from drivers.tags.simulator import PtyTagReaderSim
    from drivers.zkteco.simulator import ZKSimulator
    from services.bench import _machine
    from services.broker import Mosquitto
    from services.runner import SERVICES

    tmp = Path(tempfile.mkdtemp(prefix="posjaga-fp-"))
    try:
        with Mosquitto(workdir=tmp / "broker") as broker, \
                PtyTagReaderSim("bench", "line") as reader, ZKSimulator() as zk:
            for n in range(1, 4):
                zk.add_user(n, str(100 + n), f"Guard {n}")
            traffic = Traffic(broker, reader, zk)
            names = sorted(SERVICES)
            say(f"all services in one process: {', '.join(names)}; {events} events")
            together = Child(tmp / "all", names, broker.url, reader.url, zk)
            try:
                rss = together.steady(traffic, rate, checkpoint, events, say)
            finally:
                together.close()
            alone = {}
            for name in names:
                say(f"{name} alone")
                child = Child(tmp / name, [name], broker.url, reader.url, zk)
                try:
                    alone[name] = child.briefly(traffic, rate, alone_s)
                finally:
                    child.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _result(together, rss, alone, events, checkpoint, _machine())


def _result(together: "Child", rss: dict[str, float], alone: dict[str, dict[str, float]],
            events: int, checkpoint: int, machine: dict[str, Any]) -> dict[str, Any]:
    growth = (rss["last"] - rss["checkpoint"]) / rss["checkpoint"] * 100
    return {
        "rss_all_mb": round(rss["peak"], 1),
        "rss_per_service_mb": {n: round(a["rss_mb"], 1) for n, a in alone.items()},
        "ready_s": round(together.ready_s, 3),
        "import_floor_s": round(together.floor_s, 3),
        "ready_ratio": round(together.ready_s / together.floor_s, 2),
        "rss_growth_pct": round(growth, 2),
        "rss_at_checkpoint_mb": round(rss["checkpoint"], 1),
        "rss_at_end_mb": round(rss["last"], 1),
        "events": events, "checkpoint": checkpoint,
        "events_per_s": round(rss["events_per_s"]),
        "ready_per_service": {n: {"ready_s": round(a["ready_s"], 3),
                                  "import_floor_s": round(a["floor_s"], 3),
                                  "ready_ratio": round(a["ready_s"] / a["floor_s"], 2)}
                              for n, a in alone.items()},
        "targets": TARGETS, "machine": machine,
    }


class Traffic:
    """Steady work for the daemons: taps (the bulk), punches and lamp commands."""

    def __init__(self, broker: Any, reader: Any, zk: Any) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.reader, self.zk = reader, zk
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-fp-supervisor")
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        self._n = 0

    def tick(self, taps: int, names: list[str]) -> None:
        # Only to a reader someone reads: a pty nobody opened blocks the writer.
        for _ in range(taps):
            self._n += 1
            if "patrol" in names:
                self.reader.tap(f"BENCH-CP-{self._n % CHECKPOINTS:02d}")
        if self._n % 500 < taps:  # now and then: a punch and a lamp command
            self.zk.punch(str(101 + self._n % 3))
            mode = ("on", "off", "auto")[self._n // 500 % 3]
            self.client.publish("posjaga/bench/lamp/set",
                                json.dumps({"mode": mode, "by": "bench"}), qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Child:
    """One child process running some services, from spawn to READY to stop."""

    def __init__(self, folder: Path, names: list[str], broker_url: str, reader_url: str,
                 zk: Any) -> None:
        folder.mkdir(parents=True)
        self.folder = folder
        self.names = names
        self.db = folder / "posjaga.db"
        # Migrated first, as the installer does: a daemon starting on a current schema does not
        # load alembic at all (edge/db.py).
        from edge.db import Database
        database = Database(f"sqlite:///{self.db}")
        database.migrate()
        database.close()
        config = folder / "config.json"
        config.write_text(json.dumps(_config(folder, names, broker_url, reader_url, zk)))
        self.modules = folder / "modules.txt"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(folder / "notify"))
        env = {**os.environ, "NOTIFY_SOCKET": str(folder / "notify")}
        started = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-m", "services.bench_footprint",
                                      "--child", str(config), str(self.modules), *names],
                                     env=env, stdout=subprocess.DEVNULL,
                                     stderr=open(folder / "stderr", "wb"))
        try:
            self.ready_s = _wait_ready(self.sock, self.proc, folder) - started
        except BaseException:
            self.close()
            raise
        self.floor_s = _import_floor(self.modules.read_text().split())

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("the child has no VmRSS")

    def handled(self) -> int:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10) as conn:
            return conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]

    def steady(self, traffic: Traffic, rate: int, checkpoint: int, events: int,
               say: Callable[[str], None]) -> dict[str, float]:
        step_s, peak, at_checkpoint = 0.05, 0.0, None
        started, count = time.perf_counter(), 0
        next_step = started
        while count < events:
            self._alive()
            traffic.tick(max(1, int(rate * step_s)), self.names)
            next_step += step_s
            time.sleep(max(0.0, next_step - time.perf_counter()))
            count = self.handled()
            peak = max(peak, self.rss_mb())
            if at_checkpoint is None and count >= checkpoint:
                at_checkpoint = self.rss_mb()
                say(f"{count} events: {at_checkpoint:.1f} MB")
        elapsed = time.perf_counter() - started
        last = self.rss_mb()
        say(f"{count} events: {last:.1f} MB (peak {peak:.1f} MB)")
        assert at_checkpoint is not None
        return {"peak": peak, "checkpoint": at_checkpoint, "last": last,
                "events_per_s": count / elapsed}

    def briefly(self, traffic: Traffic, rate: int, seconds: float) -> dict[str, float]:
        deadline = time.perf_counter() + seconds
        peak = 0.0
        while time.perf_counter() < deadline:
            self._alive()
            traffic.tick(max(1, rate // 20), self.names)
            time.sleep(0.05)
            peak = max(peak, self.rss_mb())
        return {"rss_mb": peak, "ready_s": self.ready_s, "floor_s": self.floor_s}

    def _alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the benchmark child stopped (exit {self.proc.returncode}): "
                               f"{_tail(self.folder / 'stderr')}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.sock.close()


def _wait_ready(sock: socket.socket, proc: subprocess.Popen[bytes], folder: Path) -> float:
    deadline = time.monotonic() + READY_TIMEOUT_S
    sock.settimeout(0.05)
    while time.monotonic() < deadline:
        try:
            data = sock.recv(4096)
        except socket.timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"the benchmark child exited {proc.returncode} before "
                                   f"READY: {_tail(folder / 'stderr')}") from None
            continue
        if b"READY=1" in data.split(b"\n"):
            return time.perf_counter()
    raise RuntimeError(f"no READY=1 within {READY_TIMEOUT_S} s: {_tail(folder / 'stderr')}")


def _import_floor(modules: list[str]) -> float:
    """A bare interpreter importing the same third-party modules: spawn to exit."""
    code = ("import importlib, sys\nfor m in sys.argv[1:]:\n    try:\n"
            "        importlib.import_module(m)\n    except Exception:\n        pass\n")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *modules], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no output)"
    return lines[-1] if lines else "(no output)"


def _config(folder: Path, names: list[str], broker_url: str, reader_url: str,
            zk: Any) -> dict[str, Any]:
    # A round open now, so taps are judged as in a real round.
    zone = "Asia/Makassar"
    from zoneinfo import ZoneInfo
    started = (datetime.now(timezone.utc) - timedelta(minutes=5)).astimezone(ZoneInfo(zone))
    return {
        "site": {"id": "bench", "timezone": zone},
        "store": {"url": f"sqlite:///{folder}/posjaga.db"},
        "mqtt": {"url": broker_url, "poll_s": 0.05},
        "services": {"enabled": names},
        "gpio": {"pin_factory": "mock"},
        "patrol": {"readers": [{"name": "bench", "url": reader_url}],
                   "checkpoints": [{"id": f"CP-{i:02d}", "name": f"Room {i}",
                                    "tags": [f"BENCH-CP-{i:02d}"]} for i in range(CHECKPOINTS)],
                   "plan": {"shifts": [f"{started:%H:%M}"]}},
        "attendance": {"host": zk.host, "port": zk.port, "keep_non_guards": True,
                       "reconnect_min_s": 0.5},
        "report": {"output_dir": str(folder / "reports")},
    }


# --- the child ---------------------------------------------------------------------------------

def child(config_path: str, modules_path: str, names: list[str]) -> int:
    from edge.clock import SystemClock
    from edge.config import config_from_mapping
    from edge.sdnotify import Notifier
    from services.runner import run_services
    from services.runtime import open_runtime

    class Reporting(Notifier):
        def ready(self, status: str | None = None) -> bool:
            Path(modules_path).write_text("\n".join(_third_party_modules()))
            return super().ready(status)

    config = config_from_mapping(json.loads(Path(config_path).read_text()), config_path)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    rt = open_runtime(config, SystemClock())
    try:
        return run_services(rt, names, stop, notifier=Reporting())
    finally:
        rt.close()


def _third_party_modules() -> list[str]:
    """Loaded modules that come from site-packages (not ours, not the standard library)."""
    found = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if "site-packages" in path and not name.startswith(("edge", "drivers", "services")):
            found.append(name)
    return found  # in import order


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--child":
        sys.exit(child(sys.argv[2], sys.argv[3], sys.argv[4:]))
    print("this module is run by 'posjaga bench footprint'", file=sys.stderr)
    sys.exit(2)
