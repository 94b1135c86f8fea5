"""Fixtures for the ZKTeco driver tests (all named zk_*): a live simulator on 127.0.0.1,
a hand-moved time source, and factories for the real pyzk client and our driver."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Callable, Iterator

import pytest
from zk import ZK

from drivers.zkteco.device import ZKConfig, ZKDevice
from drivers.zkteco.simulator import ZKSimulator

ZK_USERS = [(1, "101", "Ani"), (2, "102", "Budi"), (3, "103", "Citra"), (4, "7", "Dewi")]


class ManualTime:
    """A naive device-local time source that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta


@pytest.fixture
def zk_users() -> list[tuple[int, str, str]]:
    """(uid, user_id, name) of the users every zk_make_sim simulator starts with."""
    return list(ZK_USERS)


@pytest.fixture
def zk_time() -> ManualTime:
    return ManualTime(datetime(2024, 5, 1, 7, 30, 0))


@pytest.fixture
def zk_make_sim() -> Iterator[Callable[..., ZKSimulator]]:
    """Start simulators with the standard users; all are closed after the test."""
    sims: list[ZKSimulator] = []

    def make(**kwargs: object) -> ZKSimulator:
        sim = ZKSimulator(seed=len(sims), **kwargs)  # type: ignore[arg-type]
        for uid, user_id, name in ZK_USERS:
            sim.add_user(uid, user_id, name)
        sims.append(sim.start())
        return sim

    yield make
    for sim in sims:
        sim.close()


@pytest.fixture
def zk_sim(zk_make_sim: Callable[..., ZKSimulator]) -> ZKSimulator:
    return zk_make_sim()


@pytest.fixture
def zk_pyzk() -> Iterator[Callable[..., ZK]]:
    """Connect the unmodified pyzk client to a simulator; disconnected after the test."""
    clients: list[ZK] = []

    def connect(sim: ZKSimulator, password: int = 0, timeout: float = 5) -> ZK:
        client = ZK("127.0.0.1", port=sim.port, timeout=timeout, password=password,
                    ommit_ping=True)
        client.connect()
        clients.append(client)
        return client

    yield connect
    for client in clients:
        if client.is_connect:
            try:
                client.disconnect()
            except Exception:  # the test may have broken the link on purpose
                pass


@pytest.fixture
def zk_device() -> Iterator[Callable[..., ZKDevice]]:
    """Our driver, connected to a simulator; closed after the test."""
    devices: list[ZKDevice] = []

    def connect(sim: ZKSimulator, **config: object) -> ZKDevice:
        settings = {"timeout": 5.0, **config}
        device = ZKDevice(ZKConfig("127.0.0.1", sim.port, **settings))  # type: ignore[arg-type]
        devices.append(device)
        return device.connect()

    yield connect
    for device in devices:
        device.close()
