"""``posjaga bench pipeline``: the event pipeline against bare paho-mqtt on the same broker.

Everything runs in one process against one private Mosquitto started for the run. The baseline
gets its best chance: the very payloads the pipeline sends, and the same in-flight window.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.clock import SystemClock
from edge.config import config_from_mapping
from edge.events import NewEvent
from services.bench_producer import payload as _payload
from services.broker import Mosquitto


def add_parser(sub: Any) -> None:
    b = sub.add_parser("bench", help="measure the project against its baseline")
    bs = b.add_subparsers(title="benchmarks", metavar="BENCH")
    p = bs.add_parser("pipeline", help="durable commit + publish + ack vs bare paho QoS 1")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--events", type=int, default=20_000, help="events for throughput")
    p.add_argument("--samples", type=int, default=500, help="events for latency")
    p.add_argument("--backlog", type=int, default=100_000, help="events in the outage backlog")
    p.add_argument("--window", type=int, default=100, help="in-flight window (both sides)")
    p.add_argument("--batch", type=int, default=100, help="events per durable commit")
    p.set_defaults(func=cmd_bench_pipeline)
    from services import bench_patrol  # 'bench patrol' lives in a module of its own
    bench_patrol.add_parser(bs)
    from services import bench_footprint  # 'bench footprint' too (docs/operations.md)
    bench_footprint.add_parser(bs)
    from services import bench_attendance  # 'bench attendance' likewise
    bench_attendance.add_parser(bs)


def cmd_bench_pipeline(args: argparse.Namespace) -> int:
    for name in ("events", "samples", "backlog", "window", "batch"):
        if getattr(args, name) <= 0:
            print(f"posjaga: --{name} must be a positive whole number", file=sys.stderr)
            return 2
    result = run_pipeline_bench(args.events, args.samples, args.backlog, args.window,
                                args.batch, progress=progress(args.json))
    return show(result, args.json)


def progress(as_json: bool) -> Callable[[str], None]:
    """Where a benchmark says what it is doing: stderr, and nothing under --json."""
    if as_json:
        return lambda text: None
    return lambda text: print(f"# {text}", file=sys.stderr, flush=True)


def show(result: dict[str, Any], as_json: bool) -> int:
    """Print a benchmark's figures: one JSON object, or one per line for a person."""
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}  {value}")
    return 0




class Subscriber:
    """services.bench_subscriber in its own process: the supervisor's side."""

    def __init__(self, port: int) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "services.bench_subscriber",
                                      str(port)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        if self._read() != "ready":
            raise RuntimeError("the benchmark subscriber could not subscribe")

    def _read(self) -> str:
        assert self.proc.stdout
        return self.proc.stdout.readline().strip()

    def _ask(self, line: str) -> str:
        assert self.proc.stdin
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._read()

    def wait_for(self, key: str) -> float:
        answer = self._ask(f"wait {key}")
        if answer == "timeout":
            raise RuntimeError(f"message {key} never reached the subscriber")
        return float(answer)

    def ids(self) -> set[str]:
        return set(self._ask("ids").split())

    def close(self) -> None:
        try:
            self._ask("quit")
        except (BrokenPipeError, OSError):
            pass
        self.proc.wait(10)


def _key(payload: bytes) -> str:
    # Raw messages and envelopes both start with a JSON object holding "id".
    return json.loads(payload)["id"]


def _raw_throughput(port: int, bodies: list[str], window: int) -> float:
    done = threading.Event()
    count = [0]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw")
    client.max_inflight_messages_set(window)
    client.max_queued_messages_set(0)

    def on_publish(*a: Any) -> None:
        count[0] += 1
        if count[0] == len(bodies):
            done.set()
    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    started = time.perf_counter()
    for body in bodies:
        client.publish("bench/raw", body, qos=1)
    if not done.wait(120):
        raise RuntimeError("raw publishing did not finish")
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return len(bodies) / elapsed


def _raw_latency(port: int, sub: Subscriber, bodies: list[str]) -> list[float]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw-lat")
    client.connect("127.0.0.1", port)
    client.loop_start()
    samples = []
    for body in bodies:
        t0 = time.perf_counter()
        client.publish("bench/lat", body, qos=1)
        samples.append((sub.wait_for(_key(body.encode())) - t0) * 1000)
    client.disconnect()
    client.loop_stop()
    return samples


def _floor_latency(port: int, sub: Subscriber, bodies: list[str], db_path: Path
                   ) -> list[float]:
    """The least any durable pipeline can take on this machine: each message committed as
    one row of a one-table SQLite WAL database with ``synchronous=FULL`` (one fsync), then
    published by bare paho from the same thread. No ids, no validation, no indexes, no hop
    to an uplink: what is left above it is posjaga's own work."""
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS floor (seq INTEGER PRIMARY KEY, body TEXT)")
    # Its best chance: a WAL already as long as the run needs and no checkpoint inside a
    # commit (posjaga's uplink checkpoints off the daemons' path too).
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("PRAGMA synchronous=OFF")
    for body in bodies:
        db.execute("INSERT INTO floor (body) VALUES (?)", (body,))
    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    db.execute("PRAGMA synchronous=FULL")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-floor")
    client.connect("127.0.0.1", port)
    client.loop_start()
    samples = []
    for body in bodies:
        t0 = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO floor (body) VALUES (?)", (body,))
        db.execute("COMMIT")
        client.publish("bench/floor", body, qos=1)
        samples.append((sub.wait_for(_key(body.encode())) - t0) * 1000)
    client.disconnect()
    client.loop_stop()
    db.close()
    return samples


@dataclass
class _Pipeline:
    rt: Any
    service: Any
    stop: threading.Event
    thread: threading.Thread

    def wait_drained(self, expected: int | None = None, timeout: float = 600) -> None:
        """Until every event is acknowledged and marked sent. Watches the uplink's counter
        (free) rather than counting unsent rows (a query that would steal the CPU it
        measures), then confirms once in the store."""
        stats = self.service.uplink.stats
        deadline = time.monotonic() + timeout
        target = self._acked_before + (expected or 0)
        while (expected and stats.acked < target) or (not expected and
                                                     self.rt.events.backlog()):
            if time.monotonic() > deadline:
                raise RuntimeError("the pipeline did not drain")
            time.sleep(0.002 if expected else 0.02)
        if self.rt.events.backlog():
            raise RuntimeError("the uplink counted more acknowledgements than it stored")
        self._acked_before = stats.acked

    _acked_before: int = 0

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)
        self.rt.close()


def _start_pipeline(db_url: str, broker_url: str, window: int) -> _Pipeline:
    from services.runtime import open_runtime
    from services.uplink import UplinkService

    config = config_from_mapping({"site": {"id": "bench"},
                                  "store": {"url": db_url},
                                  "mqtt": {"url": broker_url, "window": window,
                                           "poll_s": 0.05}}, "<bench>")
    rt = open_runtime(config, SystemClock())
    service = UplinkService(rt, client_id=f"bench-uplink-{time.monotonic_ns()}")
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not service.uplink.stats.connected:
        if time.monotonic() > deadline:
            raise RuntimeError("the pipeline did not connect")
        time.sleep(0.005)
    return _Pipeline(rt, service, stop, thread)


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_pipeline_bench(events: int, samples: int, backlog: int, window: int, batch: int,
                       progress: Any = None) -> dict[str, Any]:
    say = progress or (lambda text: None)
    tmp = Path(tempfile.mkdtemp(prefix="posjaga-bench-"))
    try:
        with Mosquitto(workdir=tmp / "broker") as broker:
            sub = Subscriber(broker.port)
            try:
                return _measure(broker, sub, tmp, events, samples, backlog, window, batch, say)
            finally:
                sub.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _Producer:
    """services.bench_producer in its own process: a daemon writing into the store."""

    def __init__(self, store_url: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "services.bench_producer",
                                      store_url], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self._expect("ready")

    def _ask(self, line: str) -> str:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def _expect(self, word: str) -> None:
        assert self.proc.stdout
        got = self.proc.stdout.readline().strip()
        if got != word:
            raise RuntimeError(f"the benchmark producer said {got!r}, not {word!r}")

    def burst(self, count: int, batch: int) -> None:
        if self._ask(f"burst {count} {batch}") != "done":
            raise RuntimeError("the benchmark producer failed")

    def one(self) -> tuple[str, float, float]:
        event_id, t0, t1 = self._ask("one").split()
        return event_id, float(t0), float(t1)

    def close(self) -> None:
        try:
            self._ask("quit")
        except (BrokenPipeError, OSError):
            pass
        self.proc.wait(10)


def _measure(broker: Mosquitto, sub: Subscriber, tmp: Path, events: int, samples: int,
             backlog: int, window: int, batch: int, say: Any) -> dict[str, Any]:
    say("baseline: bare paho QoS 1 (best of a run before and after the pipeline)")
    bodies = _sample_bodies(events)
    raw_runs = [_raw_throughput(broker.port, _with_fresh_ids(bodies, "raw0"), window)]
    raw_lat = _raw_latency(broker.port, sub, _with_fresh_ids(bodies[:samples], "lat0"))
    floor_lat = _floor_latency(broker.port, sub, _with_fresh_ids(bodies[:samples], "flo0"),
                               tmp / "floor.db")

    pipe = _start_pipeline(f"sqlite:///{tmp}/pipe.db", broker.url, window)
    producer = _Producer(f"sqlite:///{tmp}/pipe.db")
    try:
        say(f"pipeline: {events} events from a separate daemon process, commits of {batch}")
        started = time.perf_counter()
        producer.burst(events, batch)
        pipe.wait_drained(events)
        pipeline_per_s = events / (time.perf_counter() - started)
        say(f"pipeline latency: {samples} single events, each its own durable commit")
        lat, commit, forward = [], [], []
        for _ in range(samples):
            event_id, t0, t1 = producer.one()
            arrived = sub.wait_for(event_id)
            lat.append((arrived - t0) * 1000)
            commit.append((t1 - t0) * 1000)
            forward.append((arrived - t1) * 1000)
        say("the same, all services in one process ('posjaga run' with everything)")
        inproc_per_s, inproc_lat = _inprocess(pipe, sub, events, samples, batch)
        pipe.wait_drained()
        seen = sub.ids()
        lost = sum(1 for e in pipe.rt.events.query() if e.id not in seen)
    finally:
        producer.close()
        pipe.close()

    raw_runs.append(_raw_throughput(broker.port, _with_fresh_ids(bodies, "raw1"), window))
    raw_lat += _raw_latency(broker.port, sub, _with_fresh_ids(bodies[:samples], "lat1"))
    floor_lat += _floor_latency(broker.port, sub, _with_fresh_ids(bodies[:samples], "flo1"),
                                tmp / "floor.db")
    say(f"drain: {backlog} events recorded while the broker is down")
    drain_per_s = _drain(broker, tmp, backlog, window)
    raw_per_s = max(raw_runs)
    p99, raw_p99 = _percentile(lat, 0.99), _percentile(raw_lat, 0.99)
    inproc_p99 = _percentile(inproc_lat, 0.99)
    return {
        "raw_per_s": round(raw_per_s), "pipeline_per_s": round(pipeline_per_s),
        "ratio": round(pipeline_per_s / raw_per_s, 3),
        "raw_p50_ms": round(statistics.median(raw_lat), 3), "raw_p99_ms": round(raw_p99, 3),
        "p50_ms": round(statistics.median(lat), 3), "p99_ms": round(p99, 3),
        "p99_over_raw_p99": round(p99 / raw_p99, 2),
        "floor_p50_ms": round(statistics.median(floor_lat), 3),
        "floor_p99_ms": round(_percentile(floor_lat, 0.99), 3),
        "floor_p99_over_raw_p99": round(_percentile(floor_lat, 0.99) / raw_p99, 2),
        "commit_p50_ms": round(statistics.median(commit), 3),
        "commit_p99_ms": round(_percentile(commit, 0.99), 3),
        "forward_p50_ms": round(statistics.median(forward), 3),
        "forward_p99_ms": round(_percentile(forward, 0.99), 3),
        "drain_per_s": round(drain_per_s),
        "drain_over_pipeline": round(drain_per_s / pipeline_per_s, 3),
        "inproc_per_s": round(inproc_per_s), "inproc_ratio": round(inproc_per_s / raw_per_s, 3),
        "inproc_p50_ms": round(statistics.median(inproc_lat), 3),
        "inproc_p99_ms": round(inproc_p99, 3),
        "lost": lost, "events": events, "samples": samples, "backlog": backlog,
        "window": window, "batch": batch, "machine": _machine(),
    }


def _inprocess(pipe: _Pipeline, sub: Subscriber, events: int, samples: int, batch: int
               ) -> tuple[float, list[float]]:
    pipe.wait_drained()
    started = time.perf_counter()
    for i in range(0, events, batch):
        pipe.rt.events.record_many([NewEvent("attendance.punch", "bench", _payload(j))
                                    for j in range(i, min(events, i + batch))])
    pipe.wait_drained(events)
    per_s = events / (time.perf_counter() - started)
    lat = []
    for i in range(samples):
        t0 = time.perf_counter()
        e = pipe.rt.events.record("attendance.punch", "bench", _payload(i))
        lat.append((sub.wait_for(e.id) - t0) * 1000)
    return per_s, lat


def _sample_bodies(n: int) -> list[str]:
    """Envelopes exactly as the pipeline sends them, from a scratch store."""
    from edge.db import Database
    from edge.store import EventLog

    tmp = Path(tempfile.mkdtemp(prefix="posjaga-bench-bodies-"))
    try:
        db = Database(f"sqlite:///{tmp}/b.db")
        db.migrate()
        log = EventLog(db, "bench", "Asia/Makassar", SystemClock())
        for i in range(0, n, 1000):
            log.record_many([NewEvent("attendance.punch", "bench", _payload(j))
                             for j in range(i, min(n, i + 1000))])
        bodies = [o.body for o in log.pending(0, n)]
        db.close()
        return bodies
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _with_fresh_ids(bodies: list[str], tag: str) -> list[str]:
    # Same bytes and length as the pipeline's envelopes; only the id differs.
    out = []
    for i, body in enumerate(bodies):
        env = json.loads(body)
        env["id"] = f"{tag}-{i:08d}"[: len(env["id"])].ljust(len(env["id"]), "0")
        out.append(json.dumps(env, ensure_ascii=False, separators=(",", ":")))
    return out


def _drain(broker: Mosquitto, tmp: Path, backlog: int, window: int) -> float:
    from services.runtime import open_runtime

    broker.stop()
    config = config_from_mapping({"site": {"id": "bench"},
                                  "store": {"url": f"sqlite:///{tmp}/drain.db"}}, "<bench>")
    rt = open_runtime(config, SystemClock())
    for i in range(0, backlog, 1000):
        rt.events.record_many([NewEvent("attendance.punch", "bench", _payload(j))
                               for j in range(i, min(backlog, i + 1000))])
    rt.close()
    broker.start()
    started = time.perf_counter()
    pipe = _start_pipeline(f"sqlite:///{tmp}/drain.db", broker.url, window)
    try:
        pipe.wait_drained(backlog)
        return backlog / (time.perf_counter() - started)
    finally:
        pipe.close()


def _machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "paho": mqtt.__version__ if hasattr(
                mqtt, "__version__") else "2.x", "system": platform.platform()}
