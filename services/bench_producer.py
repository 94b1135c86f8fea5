"""The event source of ``posjaga bench pipeline``, in a process of its own.

Under systemd each daemon is its own process and the uplink forwards what they commit, so the
benchmark writes from a separate process too. Driven over stdin/stdout:
``burst N BATCH`` records N events in commits of BATCH and answers ``done``;
``one`` records a single event and answers ``<id> <t before record()> <t after>``.
"""
from __future__ import annotations

import sys
import time
from typing import Any

from edge.clock import SystemClock
from edge.config import config_from_mapping
from edge.events import NewEvent
from services.runtime import open_runtime


def payload(i: int) -> dict[str, Any]:
    # The shape of a real punch, so both sides of the benchmark send realistic sizes.
    return {"user_id": str(i % 50 + 1), "punch": i % 2, "status": 1, "device": "CKJ3210012345",
            "device_time": "2026-12-04T07:58:00"}


def main(store_url: str) -> None:
    config = config_from_mapping({"site": {"id": "bench"}, "store": {"url": store_url}},
                                 "<bench>", env={})
    rt = open_runtime(config, SystemClock(), migrate=False)
    print("ready", flush=True)
    n = 0
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["burst"]:
            count, batch = int(words[1]), int(words[2])
            for i in range(0, count, batch):
                rt.events.record_many([NewEvent("attendance.punch", "bench", payload(j))
                                       for j in range(i, min(count, i + batch))])
            print("done", flush=True)
        elif words[:1] == ["one"]:
            t0 = time.perf_counter()
            event = rt.events.record("attendance.punch", "bench", payload(n))
            t1 = time.perf_counter()
            n += 1
            print(f"{event.id} {t0!r} {t1!r}", flush=True)
        elif words[:1] == ["quit"]:
            break
    rt.close()


if __name__ == "__main__":
    main(sys.argv[1])
