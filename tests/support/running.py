"""Running daemons for tests: in a thread of the test process, or as a real subprocess."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from services.runtime import Runtime
from services.uplink import UplinkService

REPO = Path(__file__).resolve().parents[2]


class ThreadedUplink:
    def __init__(self, rt: Runtime) -> None:
        self.service = UplinkService(rt, client_id=f"test-uplink-{uuid.uuid4().hex[:6]}")
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.service.run, args=(self.stop,), daemon=True)
        self.thread.start()

    @property
    def stats(self) -> Any:
        return self.service.uplink.stats

    def wait_connected(self, timeout: float = 10) -> None:
        wait_until(lambda: self.stats.connected, timeout, "uplink never connected")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(15)
        assert not self.thread.is_alive(), "uplink thread did not stop"


def wait_until(predicate: Any, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} (waited {timeout} s)")
        time.sleep(0.02)


def write_config(path: Path, db: Path, mqtt_url: str, **mqtt: Any) -> Path:
    extra = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in mqtt.items())
    path.write_text(f"""
[site]
id = "kpu-palu"
[store]
url = "sqlite:///{db}"
[mqtt]
url = "{mqtt_url}"
reconnect_min_s = 0.1
reconnect_max_s = 0.5
poll_s = 0.05
{extra}
""")
    return path


def posjaga(*args: str, env: dict[str, str] | None = None, **kwargs: Any
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, **kwargs)


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})


def kill9(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
