"""Shared fixtures: a real Mosquitto per test, a store in tmp_path, configs built from them."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from edge.clock import ManualClock
from edge.config import Config, config_from_mapping
from services.broker import Mosquitto
from tests.support.mqtt import Recorder


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(workdir=tmp_path / "mosquitto") as b:
        yield b


@pytest.fixture
def recorder(broker: Mosquitto) -> Iterator[Recorder]:
    rec = Recorder(broker.port)
    yield rec
    rec.close()


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock(datetime(2026, 12, 4, 0, 0, tzinfo=timezone.utc))


def make_config(tmp_path: Path, mqtt_url: str | None = None, **sections: Any) -> Config:
    data: dict[str, Any] = {"site": {"id": "kpu-palu"},
                            "store": {"url": f"sqlite:///{tmp_path}/posjaga.db"},
                            "mqtt": {"reconnect_min_s": 0.1, "reconnect_max_s": 0.5,
                                     "poll_s": 0.05, "keepalive_s": 5}}
    if mqtt_url:
        data["mqtt"]["url"] = mqtt_url
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return config_from_mapping(data, "<test>", env={})


@pytest.fixture
def config_for(tmp_path: Path) -> Callable[..., Config]:
    return lambda mqtt_url=None, **sections: make_config(tmp_path, mqtt_url, **sections)
