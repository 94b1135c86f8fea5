"""The lamp and radio demo part, run by the real demo loop against a private Mosquitto: what a
supervisor subscribed to the broker sees must include the scripted lamp and radio story."""
from __future__ import annotations

import io
import threading
from pathlib import Path
from time import monotonic, sleep
from typing import Any, Iterator

import pytest

from edge.clock import ScaledClock
from edge.config import config_from_mapping
from services.broker import BrokerError, Mosquitto, find_mosquitto
from services.demo import run_demo
from services.demo_gpio import GpioDemo

WAIT = 40.0
SEEN = ("lamp.switched", "lamp.mode_changed", "lamp.alert", "radio.transmission",
        "radio.alert", "radio.alert_cleared")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    try:
        find_mosquitto()
    except BrokerError as exc:
        pytest.skip(str(exc))
    with Mosquitto(workdir=tmp_path / "broker") as running:
        yield running


class Screen(io.StringIO):
    """The demo's output, readable while another thread writes it."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return super().write(text)

    def text(self) -> str:
        with self._lock:
            return self.getvalue()


def test_the_demo_shows_lamp_commands_alerts_and_radio_traffic(
        tmp_path: Path, broker: Mosquitto) -> None:
    part = GpioDemo(tmp_path)
    data: dict[str, Any] = {
        "site": {"id": "kpu-palu"}, "store": {"url": f"sqlite:///{tmp_path}/posjaga.db"},
        "services": {"enabled": ["lamp", "radio", "uplink"]},
        "mqtt": {"url": broker.url, "poll_s": 0.1}}
    part.configure(data)
    assert data["services"]["enabled"] == ["uplink"] and data["gpio"]["pin_factory"] == "mock"
    config = config_from_mapping(data, "<demo>")
    screen, stop = Screen(), threading.Event()
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(
        run_demo(config, ScaledClock(300.0), stop, [part], out=screen)), daemon=True)
    runner.start()
    try:
        deadline = monotonic() + WAIT
        while not all(kind in screen.text() for kind in SEEN):
            assert runner.is_alive(), f"the demo ended early:\n{screen.text()}"
            assert monotonic() < deadline, f"missing {[k for k in SEEN if k not in screen.text()]}"\
                f" in:\n{screen.text()}"
            sleep(0.05)
    finally:
        stop.set()
        runner.join(WAIT)
        part.close()
    assert result == [0]
    text = screen.text()
    assert "Danru Andi (demo)" in text and "gpio demo skipped" not in text
