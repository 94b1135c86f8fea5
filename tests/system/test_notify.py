"""sd_notify from a real 'posjaga run': READY=1 once up, WATCHDOG=1 while alive, heartbeats."""
from __future__ import annotations

import socket
import uuid
from pathlib import Path

from edge.sdnotify import Notifier
from tests.support.running import spawn, wait_until, write_config


def _datagrams(sock: socket.socket, until: str, timeout: float = 30.0) -> list[str]:
    got: list[str] = []
    sock.settimeout(timeout)
    while not any(until in d.split("\n") for d in got):
        got.append(sock.recv(4096).decode())
    return got


def test_run_says_ready_then_pings_the_watchdog_on_an_abstract_socket(tmp_path: Path,
                                                                      broker) -> None:
    name = f"posjaga-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    cfg = write_config(tmp_path / "posjaga.toml", tmp_path / "p.db", broker.url)
    # 2 s watchdog: a ping at least every second, so the test sees several soon.
    proc = spawn("-m", "services.cli", "-c", str(cfg), "run", "uplink",
                 env={"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "2000000"})
    try:
        first = _datagrams(sock, "READY=1")
        assert any(line.startswith("STATUS=") for d in first for line in d.split("\n"))
        pings = sum("WATCHDOG=1" in d.split("\n") for d in _datagrams(sock, "WATCHDOG=1"))
        assert pings >= 1
        proc.terminate()
        assert "STOPPING=1" in "\n".join(_datagrams(sock, "STOPPING=1"))
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()


def test_a_path_socket_and_no_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    try:
        n = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "30000000"})
        assert n.watchdog_s == 15.0
        assert n.ready("up\nand running")
        assert sock.recv(100) == b"READY=1\nSTATUS=up and running"
    finally:
        sock.close()
    quiet = Notifier({})
    assert not quiet.enabled and not quiet.ready() and quiet.watchdog_s is None
    # A watchdog meant for another process (a wrapper that did not exec us) is not ours.
    assert Notifier({"WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}).watchdog_s is None


def test_heartbeats_say_who_runs_and_who_stopped(tmp_path: Path, broker) -> None:
    from edge.clock import SystemClock
    from edge.config import load_config
    from services.runtime import open_existing

    cfg = write_config(tmp_path / "posjaga.toml", tmp_path / "p.db", broker.url)
    proc = spawn("-m", "services.cli", "-c", str(cfg), "run", "uplink")

    def beat() -> dict | None:
        try:
            rt = open_existing(load_config(cfg), SystemClock())
        except Exception:
            return None
        try:
            state = rt.states.get("service/uplink")
            return dict(state.payload) if state else None
        finally:
            rt.close()
    try:
        wait_until(lambda: (beat() or {}).get("running"), 20, "no heartbeat")
        assert beat()["ok"] and beat()["pid"] == proc.pid
    finally:
        proc.terminate()
        assert proc.wait(20) == 0
    assert beat()["running"] is False
