#!/usr/bin/env python3
"""Where an event's latency goes, step by step, in one process (docs/benchmarks.md).

Starts a private Mosquitto and the benchmark's subscriber process, then times, interleaved and
to the same subscriber: bare paho publish; pwrite+fdatasync then publish; a one-table SQLite
FULL commit then publish; posjaga's events table (all its indexes) through bare sqlite3 then
publish; and posjaga's EventLog.record() then publish from the same thread (no uplink).
Run with the project's venv: .venv/bin/python scripts/latency_steps.py [SAMPLES]
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from edge.clock import SystemClock  # noqa: E402
from edge.config import config_from_mapping  # noqa: E402
from services.bench import Subscriber, _percentile  # noqa: E402
from services.bench_producer import payload  # noqa: E402
from services.broker import Mosquitto  # noqa: E402
from services.runtime import open_runtime  # noqa: E402


def main(samples: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="posjaga-steps-"))
    try:
        with Mosquitto(workdir=tmp / "broker") as broker:
            sub = Subscriber(broker.port)
            try:
                _measure(broker.port, sub, tmp, samples)
            finally:
                sub.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _measure(port: int, sub: Subscriber, tmp: Path, samples: int) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="steps")
    client.connect("127.0.0.1", port)
    client.loop_start()
    rt = open_runtime(config_from_mapping({"site": {"id": "bench"},
                                           "store": {"url": f"sqlite:///{tmp}/posjaga.db"}},
                                          "<steps>", env={}), SystemClock())
    journal = os.open(tmp / "journal.bin", os.O_RDWR | os.O_CREAT)
    os.ftruncate(journal, 4096 * 2000)
    os.fsync(journal)
    floor = _sqlite(tmp / "floor.db", "CREATE TABLE floor (seq INTEGER PRIMARY KEY, body TEXT)")
    schema = _sqlite(tmp / "schema.db")
    with sqlite3.connect(tmp / "posjaga.db") as source:
        for (sql,) in source.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
                                     "AND name NOT LIKE 'sqlite_%'"):
            schema.execute(sql)
    row = ("bench", "attendance.punch", "bench", "2026-12-04T00:00:00.000000Z",
           "2026-12-04T00:00:00.000000Z")

    def fdatasync(i: int, key: str, body: str) -> str:
        os.pwrite(journal, body.encode().ljust(4096), (i % 2000) * 4096)
        os.fdatasync(journal)
        return key

    def one_table(i: int, key: str, body: str) -> str:
        _commit(floor, "INSERT INTO floor (body) VALUES (?)", (body,))
        return key

    def our_table(i: int, key: str, body: str) -> str:
        _commit(schema, "INSERT INTO events (id, site, kind, source, occurred_at, recorded_at, "
                "payload, clock_synced) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
                (key, *row, json.dumps(payload(i))))
        return key

    def record(i: int, key: str, body: str) -> str:
        return rt.events.record("attendance.punch", "bench", payload(i)).id

    steps: dict[str, Callable[[int, str, str], str] | None] = {
        "bare paho publish (the baseline)": None,
        "pwrite + fdatasync of 4 KiB, then publish": fdatasync,
        "one-table SQLite FULL commit, then publish": one_table,
        "posjaga's events table, bare sqlite3, then publish": our_table,
        "EventLog.record(), then publish (no uplink)": record}
    template = json.dumps({"id": "x" * 36, "payload": payload(0), "pad": "y" * 250})
    times: dict[str, list[float]] = {name: [] for name in steps}
    for i in range(samples):
        if i % 100 == 0:  # as the uplink does: keep the WALs from growing
            rt.db.checkpoint()
            schema.execute("PRAGMA wal_checkpoint(PASSIVE)")
            floor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        for n, (name, step) in enumerate(steps.items()):
            key = f"{n}-{i:08d}".ljust(36, "0")
            t0 = time.perf_counter()
            if step is not None:
                key = step(i, key, template.replace("x" * 36, key))
            client.publish("steps/x", template.replace("x" * 36, key), qos=1)
            times[name].append((sub.wait_for(key) - t0) * 1000)
    client.loop_stop()
    rt.close()
    raw_p99 = _percentile(times["bare paho publish (the baseline)"], 0.99)
    for name, values in times.items():
        p99 = _percentile(values, 0.99)
        print(f"{name:<52} p50 {statistics.median(values):6.3f} ms  p99 {p99:6.3f} ms  "
              f"p99/raw_p99 {p99 / raw_p99:5.2f}")


def _sqlite(path: Path, create: str | None = None) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA wal_autocheckpoint=10000")
    if create:
        db.execute(create)
    return db


def _commit(db: sqlite3.Connection, sql: str, args: tuple) -> None:
    db.execute("BEGIN IMMEDIATE")
    db.execute(sql, args)
    db.execute("COMMIT")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
