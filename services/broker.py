"""A private Mosquitto for the demo, the tests and the benchmarks.

Started on a free loopback port with its own configuration and data folder, so it never
touches a broker the machine already runs. It can be stopped and started again on the same
port to cut the link for real.
"""
from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


class BrokerError(Exception):
    pass


def find_mosquitto() -> str:
    found = shutil.which("mosquitto") or next((p for p in MOSQUITTO_PATHS if Path(p).exists()),
                                              None)
    if not found:
        raise BrokerError("mosquitto is not installed; on Debian run "
                          "'apt-get install mosquitto' (scripts/setup does it)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mosquitto:
    def __init__(self, port: int | None = None, workdir: Path | None = None,
                 persistence: bool = False, extra_config: str = "",
                 anonymous: bool = True) -> None:
        self.port = port or free_port()
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="posjaga-mosquitto-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.persistence = persistence
        self.extra_config = extra_config
        self.anonymous = anonymous
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 10.0) -> "Mosquitto":
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self._config())
        log = open(self.workdir / "mosquitto.log", "ab")
        self._proc = subprocess.Popen([find_mosquitto(), "-c", str(conf)], stdout=log,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self._wait_listening(timeout)
        return self

    def stop(self, kill: bool = False) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.kill() if kill else self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "Mosquitto":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _config(self) -> str:
        # As root, mosquitto would drop to the 'mosquitto' user and lose access to workdir.
        lines = [f"user {getpass.getuser()}", f"listener {self.port} 127.0.0.1",
                 f"allow_anonymous {'true' if self.anonymous else 'false'}",
                 "max_queued_messages 0", "max_inflight_messages 0",
                 f"persistence {'true' if self.persistence else 'false'}",
                 f"persistence_location {self.workdir}/", "log_dest stderr",
                 "log_type error", "log_type warning"]
        return "\n".join(lines) + "\n" + self.extra_config

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise BrokerError(f"mosquitto exited at start; see {self.workdir}/mosquitto.log")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise BrokerError(f"mosquitto did not listen on port {self.port} within {timeout} s")
