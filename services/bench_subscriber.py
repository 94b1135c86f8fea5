"""The supervisor's side of ``posjaga bench pipeline``, in a process of its own (as a real
supervisor is on another machine), so its work does not share the measured process's CPU.

Subscribes to everything and notes when each message id first arrives (``perf_counter``,
which is CLOCK_MONOTONIC and so comparable across processes). Driven over stdin/stdout:
``wait ID`` -> the arrival time, or ``timeout``; ``ids`` -> every id seen, on one line.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


class Arrivals:
    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.cond = threading.Condition()

    def on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        now = time.perf_counter()
        try:
            key = json.loads(msg.payload)["id"]
        except (ValueError, KeyError, TypeError):
            return  # status and state messages
        with self.cond:
            self.first.setdefault(key, now)
            self.cond.notify_all()

    def wait(self, key: str, timeout: float = 10.0) -> float | None:
        with self.cond:
            if self.cond.wait_for(lambda: key in self.first, timeout):
                return self.first[key]
            return None


def main(port: int) -> None:
    arrivals = Arrivals()
    ready = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{os.getpid()}")
    client.on_message = arrivals.on_message
    client.on_connect = lambda c, *a: c.subscribe("#", qos=1)
    client.on_subscribe = lambda *a: ready.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not ready.wait(10):
        print("failed", flush=True)
        return
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["wait"]:
            at = arrivals.wait(words[1])
            print("timeout" if at is None else repr(at), flush=True)
        elif words[:1] == ["ids"]:
            with arrivals.cond:
                print(" ".join(arrivals.first), flush=True)
        elif words[:1] == ["quit"]:
            break
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main(int(sys.argv[1]))
