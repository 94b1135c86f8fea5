"""A whole posjaga process for fault tests: the uplink and a steady event source in one
process, as 'posjaga run' has them. Prints 'ready' once connected; killed by the test."""
from __future__ import annotations

import sys
import threading
import time

from edge.clock import SystemClock
from edge.config import load_config
from services.runtime import open_runtime
from services.uplink import UplinkService


def main(config_path: str, count: int) -> None:
    rt = open_runtime(load_config(config_path, env={}), SystemClock())
    service = UplinkService(rt, client_id="producer-uplink")
    threading.Thread(target=service.run, args=(threading.Event(),), daemon=True).start()
    while not service.uplink.stats.connected:
        time.sleep(0.01)
    print("ready", flush=True)
    for i in range(count):
        rt.events.record("patrol.tap", "reader-1", {"n": i})
        time.sleep(0.001)
    print("done", flush=True)
    time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
