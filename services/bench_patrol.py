"""``posjaga bench patrol``: checkpoint taps from a serial port to an MQTT subscriber.

A tap is written to a simulated reader's pty; the real TagReader decodes it, the patrol daemon
judges and commits it, the uplink publishes it, and a subscriber in another process notes its
arrival. The same run measures the bare paho round trip (publish QoS 1 -> that subscriber) with
envelopes of the same size, and the event spine alone (commit -> subscriber), so the figures
say where the time goes. Separately, the reader's sustained decoding rate with garbage mixed in.
"""
from __future__ import annotations

import argparse
import json
import queue
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from zoneinfo import ZoneInfo

from edge.clock import SystemClock
from edge.config import Config, config_from_mapping
from services import bench
from services.broker import Mosquitto

if TYPE_CHECKING:  # the drivers load when the bench runs, not with every posjaga command
    from drivers.tags import Tap
    from drivers.tags.simulator import PtyTagReaderSim

SITE_ZONE = "Asia/Makassar"
CHECKPOINTS = 10


def add_parser(bench_sub: Any) -> None:
    p = bench_sub.add_parser("patrol", help="checkpoint taps from a pty to an MQTT subscriber "
                             "vs bare paho, and the tag reader's decoding rate")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--samples", type=int, default=300, help="taps for latency")
    p.add_argument("--frames", type=int, default=20_000,
                   help="valid frames per framing for the reader's rate")
    p.add_argument("--garbage", type=float, default=0.10,
                   help="share of garbage chunks among the frames (default 0.10)")
    p.set_defaults(func=cmd_bench_patrol)


def cmd_bench_patrol(args: argparse.Namespace) -> int:
    if args.samples <= 0 or args.frames <= 0 or not 0 <= args.garbage < 1:
        print("posjaga: --samples and --frames must be positive and --garbage from 0 to "
              "below 1", file=sys.stderr)
        return 2
    result = run_patrol_bench(args.samples, args.frames, args.garbage,
                              progress=bench.progress(args.json))
    return bench.show(result, args.json)


def run_patrol_bench(samples: int, frames: int, garbage: float,
                     progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    from drivers.tags.simulator import PtyTagReaderSim

    say = progress or (lambda text: None)
    with tempfile.TemporaryDirectory(prefix="posjaga-bench-patrol-") as tmp:
        with Mosquitto(workdir=Path(tmp) / "broker") as broker, \
                PtyTagReaderSim("bench", "line") as sim:
            sub = bench.Subscriber(broker.port)
            try:
                result = _latency(broker, sub, sim, Path(tmp), samples, say)
            finally:
                sub.close()
    say(f"reader: {frames} frames per framing with {garbage:.0%} garbage chunks")
    result["reader"] = {framing: _reader_rate(framing, frames, garbage)
                        for framing in ("line", "rdm6300")}
    result["machine"] = bench._machine()
    return result


# --- taps to the subscriber ----------------------------------------------------------------

def _bench_config(tmp: Path, broker_url: str, reader_url: str) -> Config:
    # A round open right now, so taps are judged as in a real round (the first ones visit
    # checkpoints, later ones are repeats and outside-round taps: every path is exercised).
    started = (datetime.now(timezone.utc) - timedelta(minutes=5)).astimezone(ZoneInfo(SITE_ZONE))
    return config_from_mapping({
        "site": {"id": "bench", "timezone": SITE_ZONE},
        "store": {"url": f"sqlite:///{tmp}/patrol.db"},
        "mqtt": {"url": broker_url, "poll_s": 0.05},
        "patrol": {"readers": [{"name": "bench", "url": reader_url}],
                   "checkpoints": [{"id": f"CP-{i:02d}", "name": f"Room {i}",
                                    "tags": [f"BENCH-CP-{i:02d}"]} for i in range(CHECKPOINTS)],
                   "plan": {"shifts": [f"{started:%H:%M}"]}},
    }, "<bench>")


class _Daemons:
    """The uplink and the patrol daemon on their threads, as 'posjaga run' has them."""

    def __init__(self, config: Config) -> None:
        from services.patrol import PatrolService
        from services.runtime import open_runtime
        from services.uplink import UplinkService

        self.rt = open_runtime(config, SystemClock())
        self.stop = threading.Event()
        self.ids: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.rt.events.subscribe(self._committed)
        self.uplink = UplinkService(self.rt, client_id=f"bench-patrol-{time.monotonic_ns()}")
        self.patrol = PatrolService(self.rt)
        self.threads = [threading.Thread(target=s.run, args=(self.stop,), daemon=True)
                        for s in (self.uplink, self.patrol)]
        for thread in self.threads:
            thread.start()
        _wait(lambda: self.uplink.uplink.stats.connected, "the uplink did not connect")
        _wait(lambda: self.patrol.readers_up().get("bench", False),
              "the patrol daemon did not open the simulated reader")

    def _committed(self, batch: list[Any]) -> None:
        for item in batch:
            if item.kind == "patrol.tap":
                self.ids.put(json.loads(item.body)["id"])

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)
        self.rt.close()


def _latency(broker: Mosquitto, sub: Any, sim: PtyTagReaderSim, tmp: Path, samples: int,
             say: Callable[[str], None]) -> dict[str, Any]:
    daemons = _Daemons(_bench_config(tmp, broker.url, sim.url))
    bodies: list[str] = []
    daemons.rt.events.subscribe(lambda batch: bodies.extend(
        o.body for o in batch if o.kind == "patrol.tap"))
    try:
        say(f"patrol: {samples} taps, each written to the pty after the previous one arrived")
        lat = []
        for i in range(samples):
            t0 = time.perf_counter()
            sim.tap(f"BENCH-CP-{i % CHECKPOINTS:02d}")
            lat.append((sub.wait_for(daemons.ids.get(timeout=10)) - t0) * 1000)
        say(f"spine: {samples} tap-shaped events committed directly (no pty, no reader)")
        spine = []
        for i in range(samples):
            t0 = time.perf_counter()
            event = daemons.rt.events.record("patrol.tap", "tags:bench", _tap_payload(i))
            spine.append((sub.wait_for(event.id) - t0) * 1000)
        _wait(lambda: daemons.rt.events.backlog() == 0, "the uplink did not drain")
        seen = sub.ids()
        lost = sum(1 for e in daemons.rt.events.query(kind="patrol.tap") if e.id not in seen)
    finally:
        daemons.close()
    say(f"baseline: bare paho QoS 1, {samples} envelopes of the same size")
    raw = bench._raw_latency(broker.port, sub, bench._with_fresh_ids(bodies[:samples], "raw"))
    p99, raw_p99 = bench._percentile(lat, 0.99), bench._percentile(raw, 0.99)
    return {
        "p50_ms": round(statistics.median(lat), 3), "p99_ms": round(p99, 3),
        "raw_p50_ms": round(statistics.median(raw), 3), "raw_p99_ms": round(raw_p99, 3),
        "p99_over_raw_p99": round(p99 / raw_p99, 2), "target_p99_over_raw_p99": 3.0,
        "spine_p50_ms": round(statistics.median(spine), 3),
        "spine_p99_ms": round(bench._percentile(spine, 0.99), 3),
        "samples": samples, "lost": lost,
    }


def _tap_payload(i: int) -> dict[str, Any]:
    return {"reader": "bench", "code": f"BENCH-CP-{i % CHECKPOINTS:02d}", "tag_kind": "line",
            "location": None, "resolved": "checkpoint", "round": None, "signals": [],
            "checkpoint": {"id": f"CP-{i % CHECKPOINTS:02d}", "name": "Room", "room": ""}}


def _wait(predicate: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(what)
        time.sleep(0.01)


# --- the reader's decoding rate ------------------------------------------------------------

def _reader_rate(framing: str, frames: int, garbage: float) -> dict[str, Any]:
    """Valid frames decoded per second from a pty, with garbage chunks between them.

    Garbage is bytes 0x80-0xFF (a line reader's chunk ends in CRLF so it is one bad line):
    never a valid frame, so every valid frame must come out exactly once.
    """
    from drivers.tags import TagReader, TagReaderConfig
    from drivers.tags.simulator import PtyTagReaderSim

    rng = random.Random(7)
    codes = [f"{rng.getrandbits(40):010X}" for _ in range(frames)]
    with PtyTagReaderSim("rate", framing) as sim:  # type: ignore[arg-type]
        stream, noise = _stream(sim, codes, garbage, rng)
        got: list[Tap] = []
        done = threading.Event()

        def on_tap(tap: Tap) -> None:
            got.append(tap)
            if len(got) == frames:
                done.set()

        config = TagReaderConfig(url=sim.url, framing=framing, hold_s=0.0)  # type: ignore[arg-type]
        with TagReader(config, on_tap=on_tap) as reader:
            _wait(lambda: reader.link_up, "the reader did not open the pty")
            started = time.perf_counter()
            for chunk in stream:
                sim.write_raw(chunk)
            done.wait(120)
            elapsed = time.perf_counter() - started
            stats = reader.stats()
    return {"frames_per_s": round(len(got) / elapsed), "frames": frames,
            "garbage_chunks": noise,
            "rejected": stats.frames.rejected_total,
            "lost": frames - len(got), "wrong": sum(1 for t, c in zip(got, codes) if t.code != c)}


def _stream(sim: PtyTagReaderSim, codes: list[str], garbage: float,
            rng: random.Random) -> tuple[list[bytes], int]:
    """Frames with garbage chunks mixed in at random places, in writes of 64 chunks; and how
    many garbage chunks there are (``garbage`` of all chunks)."""
    chunks = [sim.encode(code) for code in codes]
    size = len(chunks[0])
    noise_chunks = round(len(codes) * garbage / (1 - garbage))
    for _ in range(noise_chunks):
        noise = bytes(rng.randrange(0x80, 0x100) for _ in range(size))
        if sim.framing == "line":
            noise = noise[:-2] + b"\r\n"
        chunks.insert(rng.randrange(len(chunks) + 1), noise)
    return [b"".join(chunks[i:i + 64]) for i in range(0, len(chunks), 64)], noise_chunks
