"""``posjaga bench pipeline``: the event pipeline against bare paho-mqtt on the same broker.

Everything runs in one process against one private Mosquitto started for the run. The baseline
gets its best chance: the very payloads the pipeline sends, and the same in-flight window.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.clock import SystemClock
from edge.config import config_from_mapping
from edge.events import NewEvent
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


def cmd_bench_pipeline(args: argparse.Namespace) -> int:
    for name in ("events", "samples", "backlog", "window", "batch"):
        if getattr(args, name) <= 0:
            print(f"posjaga: --{name} must be a positive whole number", file=sys.stderr)
            return 2
    result = run_pipeline_bench(args.events, args.samples, args.backlog, args.window,
                                args.batch, progress=None if args.json else _say)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}  {value}")
    return 0


def _say(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


def _payload(i: int) -> dict[str, Any]:
    # The shape of a real punch, so both sides send realistic sizes.
    return {"user_id": str(i % 50 + 1), "punch": i % 2, "status": 1, "device": "CKJ3210012345",
            "device_time": "2026-12-04T07:58:00"}


class Subscriber:
    """Records when each event id (or raw sequence number) first arrives."""

    def __init__(self, port: int, topic: str) -> None:
        self.arrived: dict[str, float] = {}
        self.cond = threading.Condition()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{os.getpid()}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self.ready.wait(10):
            raise RuntimeError("the benchmark subscriber could not subscribe")

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        now = time.perf_counter()
        try:
            key = _key(msg.payload)
        except (ValueError, KeyError, TypeError):
            return  # status and state messages
        with self.cond:
            self.arrived.setdefault(key, now)
            self.cond.notify_all()

    def wait_for(self, key: str, timeout: float = 10.0) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: key in self.arrived, timeout):
                raise RuntimeError(f"message {key} never reached the subscriber")
            return self.arrived[key]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


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


@dataclass
class _Pipeline:
    rt: Any
    service: Any
    stop: threading.Event
    thread: threading.Thread

    def wait_drained(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while self.rt.events.backlog():
            if time.monotonic() > deadline:
                raise RuntimeError("the pipeline did not drain")
            time.sleep(0.005)

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
    with Mosquitto(workdir=tmp / "broker") as broker:
        sub = Subscriber(broker.port, "#")
        try:
            return _measure(broker, sub, tmp, events, samples, backlog, window, batch, say)
        finally:
            sub.close()


def _measure(broker: Mosquitto, sub: Subscriber, tmp: Path, events: int, samples: int,
             backlog: int, window: int, batch: int, say: Any) -> dict[str, Any]:
    # Sample envelopes from the real store give the baseline the same payload bytes.
    pipe = _start_pipeline(f"sqlite:///{tmp}/pipe.db", broker.url, window)
    try:
        say(f"pipeline throughput: {events} events in commits of {batch}")
        captured: list[Any] = []
        pipe.rt.events.subscribe(captured.extend)
        started = time.perf_counter()
        for i in range(0, events, batch):
            pipe.rt.events.record_many([NewEvent("attendance.punch", "bench", _payload(j))
                                        for j in range(i, min(events, i + batch))])
        pipe.wait_drained()
        pipeline_per_s = events / (time.perf_counter() - started)
        bodies = [o.body for o in captured[:events]]

        say(f"pipeline latency: {samples} single events, each its own durable commit")
        lat = []
        for i in range(samples):
            t0 = time.perf_counter()
            e = pipe.rt.events.record("attendance.punch", "bench", _payload(i))
            lat.append((sub.wait_for(e.id) - t0) * 1000)
        lost = sum(1 for e in pipe.rt.events.query(kind="attendance") if e.id not in sub.arrived)
    finally:
        pipe.close()

    say(f"baseline: bare paho QoS 1, {events} messages, window {window}")
    raw_per_s = _raw_throughput(broker.port, _with_fresh_ids(bodies, "raw"), window)
    raw_lat = _raw_latency(broker.port, sub, _with_fresh_ids(bodies[:samples], "lat"))

    say(f"drain: {backlog} events recorded while the broker is down")
    drain_per_s = _drain(broker, tmp, backlog, window, batch)
    p99, raw_p99 = _percentile(lat, 0.99), _percentile(raw_lat, 0.99)
    return {
        "raw_per_s": round(raw_per_s), "pipeline_per_s": round(pipeline_per_s),
        "ratio": round(pipeline_per_s / raw_per_s, 3),
        "raw_p50_ms": round(statistics.median(raw_lat), 3), "raw_p99_ms": round(raw_p99, 3),
        "p50_ms": round(statistics.median(lat), 3), "p99_ms": round(p99, 3),
        "p99_over_raw_p99": round(p99 / raw_p99, 2),
        "drain_per_s": round(drain_per_s),
        "drain_over_pipeline": round(drain_per_s / pipeline_per_s, 3),
        "lost": lost, "events": events, "samples": samples, "backlog": backlog,
        "window": window, "batch": batch, "machine": _machine(),
    }


def _with_fresh_ids(bodies: list[str], tag: str) -> list[str]:
    # Same bytes and length as the pipeline's envelopes; only the id differs.
    out = []
    for i, body in enumerate(bodies):
        env = json.loads(body)
        env["id"] = f"{tag}-{i:08d}"[: len(env["id"])].ljust(len(env["id"]), "0")
        out.append(json.dumps(env, ensure_ascii=False, separators=(",", ":")))
    return out


def _drain(broker: Mosquitto, tmp: Path, backlog: int, window: int, batch: int) -> float:
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
        pipe.wait_drained()
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
