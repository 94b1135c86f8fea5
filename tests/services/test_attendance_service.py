"""The attendance daemon in a thread, real time: real pyzk through our driver against
ZKSimulator over TCP, a real SQLite store, and for the MQTT path a real Mosquitto."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest

from drivers.zkteco.simulator import ZKSimulator
from edge.clock import SystemClock
from edge.config import ConfigError, config_from_mapping
from edge.roster import CsvRow
from services.attendance import DEVICE_STATE, AttendanceService
from services.attendance_demo import device_time_source, enrol
from services.roster import RosterStore
from services.runtime import Runtime, open_runtime
from tests.support.running import ThreadedUplink, wait_until

ZONE = ZoneInfo("Asia/Makassar")
GUARDS = [("101", "Ani"), ("102", "Budi")]
ROOT = "posjaga/kpu-palu"
WAIT = 15.0


def local_now() -> datetime:
    return datetime.now(ZONE)


@pytest.fixture
def sim() -> Iterator[ZKSimulator]:
    clock = SystemClock()
    machine = ZKSimulator(clock=device_time_source(lambda: clock, ZONE), seed=2)
    enrol(machine, GUARDS)
    machine.start()
    yield machine
    machine.close()


class Running:
    """The service in a thread; ``close`` checks it stops when told and only then."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.service = AttendanceService(rt)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.service.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def wait_live(self, sim: ZKSimulator) -> None:
        assert sim.wait_live_clients(1, WAIT), "the service never reached live capture"

    def close(self) -> None:
        self.stop.set()
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the attendance service did not stop"


def make_rt(tmp_path: Path, sim: ZKSimulator, mqtt_url: str | None = None,
            **attendance: Any) -> Runtime:
    start = local_now().replace(second=0, microsecond=0) - timedelta(minutes=5)
    end = start + timedelta(hours=8)
    data: dict[str, Any] = {
        "site": {"id": "kpu-palu"}, "store": {"url": f"sqlite:///{tmp_path}/p.db"},
        "mqtt": {"reconnect_min_s": 0.1, "reconnect_max_s": 0.5, "poll_s": 0.05},
        "roster": {"shifts": [f"jaga {start:%H:%M}-{end:%H:%M}"]},
        "attendance": {"host": "127.0.0.1", "port": sim.port, "timeout_s": 1.0,
                       "keepalive_s": 0.5, "reconnect_min_s": 0.05, "reconnect_max_s": 0.3,
                       "check_s": 0.2, **attendance}}
    if mqtt_url:
        data["mqtt"]["url"] = mqtt_url
    rt = open_runtime(config_from_mapping(data, "<test>", env={}), SystemClock())
    roster = RosterStore.from_runtime(rt)
    roster.import_csv([CsvRow(0, start.date(), "jaga", name, user_id)
                       for user_id, name in GUARDS], "test")
    roster.approve("Kasubag")
    return rt


def stored(rt: Runtime) -> list[tuple[str, str, str]]:
    with rt.db.raw_read() as cur:
        return cur.execute("SELECT user_id, device_time, via FROM attendance_punches "
                           "ORDER BY device_time, user_id").fetchall()


def device_events(rt: Runtime) -> list[str]:
    return [e.payload["link"] for e in rt.events.query(kind="attendance.device")]


def test_live_punches_reach_mqtt_with_shift_outcome_and_duty_state(tmp_path, sim, broker,
                                                                   recorder) -> None:
    rt = make_rt(tmp_path, sim, broker.url)
    uplink = ThreadedUplink(rt)
    running = Running(rt)
    try:
        running.wait_live(sim)
        sim.punch("101")
        got = recorder.wait_for(lambda m: any(x.topic == f"{ROOT}/event/attendance/shift"
                                              for x in m), WAIT)
        punch = [m.json() for m in got if m.topic == f"{ROOT}/event/attendance/punch"]
        assert [(p["payload"]["user_id"], p["payload"]["via"]) for p in punch] == [
            ("101", "live")]
        assert punch[0]["source"] == "zk:SIM0000000001" and punch[0]["payload"]["guard"] == "Ani"
        shift = [m.json()["payload"] for m in got
                 if m.topic == f"{ROOT}/event/attendance/shift"]
        assert [(s["guard"], s["outcome"]) for s in shift] == [("Ani", "on_time")]
        recorder.wait_for(lambda m: any(
            x.topic == f"{ROOT}/state/duty" and [g["name"] for g in x.json()["guards"]] == ["Ani"]
            for x in m), WAIT)
        device = recorder.on_topic(f"{ROOT}/state/{DEVICE_STATE}")[-1].json()
        assert (device["link"], device["clock"]) == ("up", "ok")
    finally:
        running.close()
        uplink.close()
        rt.close()


def test_a_link_cut_during_a_shift_loses_no_punch(tmp_path, sim) -> None:
    rt = make_rt(tmp_path, sim)
    running = Running(rt)
    try:
        running.wait_live(sim)
        sim.punch("101")
        wait_until(lambda: len(stored(rt)) == 1, WAIT, "the live punch was not stored")
        sim.stop()  # the network goes down; the machine keeps logging
        wait_until(lambda: device_events(rt) == ["up", "down"], WAIT, "no link-down event")
        assert "is not connected (the link to" in running.service.health()
        sim.punch("102")
        sim.punch("101", punch=1)
        sim.start()
        wait_until(lambda: len(stored(rt)) == 3, WAIT, "punches of the outage not recovered")
        running.wait_live(sim)
        assert [via for _, _, via in stored(rt)] == ["live", "pull", "pull"]
        assert running.service.health() is None
        assert device_events(rt) == ["up", "down", "up"]
        up = list(rt.events.query(kind="attendance.device"))[-1].payload
        assert up["down_s"] >= 0  # how long the link was down, rounded to 0.1 s
        # A silent link (the machine stops answering) is noticed by the keepalive too.
        sim.blackhole = True
        wait_until(lambda: device_events(rt)[-1] == "down", WAIT, "silent link not noticed")
        sim.punch("102", punch=1)
        sim.blackhole = False
        sim.cut_links()
        wait_until(lambda: len(stored(rt)) == 4, WAIT, "punch of the silence not recovered")
        events = [e.payload["user_id"] for e in rt.events.query(kind="attendance.punch")]
        assert sorted(events) == ["101", "101", "102", "102"]  # each punch published once
    finally:
        running.close()
        rt.close()


def test_scheduled_pulls_repeat_nothing_seen_live(tmp_path, sim) -> None:
    rt = make_rt(tmp_path, sim, poll_s=0.3)
    running = Running(rt)
    try:
        running.wait_live(sim)
        sim.punch("101")
        sim.punch("102")
        wait_until(lambda: len(stored(rt)) == 2, WAIT, "live punches not stored")
        count, pulls = rt.events.count(), running.service.pulls
        wait_until(lambda: running.service.pulls >= pulls + 3, WAIT, "no scheduled pulls")
        assert len(stored(rt)) == 2 and rt.events.count() == count
    finally:
        running.close()
        rt.close()


def test_a_refused_password_is_reported_once_and_the_service_keeps_trying(tmp_path) -> None:
    refused: list[str] = []
    with ZKSimulator(password=4321, on_note=lambda line: refused.append(line)
                     if "failed authentication" in line else None) as locked:
        rt = make_rt(tmp_path, locked, password=1)
        running = Running(rt)
        try:
            wait_until(lambda: len(refused) >= 4, WAIT, "the service stopped trying")
            assert running.thread.is_alive()
            alerts = [e.payload for e in rt.events.query(kind="attendance.alert")]
            assert [a["alert"] for a in alerts] == ["device_auth"]  # once, not per attempt
            assert "kata sandi" in alerts[0]["text"]
            assert device_events(rt) == ["down"]
            assert rt.states.get(DEVICE_STATE).payload["link"] == "down"
        finally:
            running.close()
            rt.close()


def test_the_service_needs_a_machine_address(tmp_path) -> None:
    config = config_from_mapping({"site": {"id": "kpu-palu"},
                                  "store": {"url": f"sqlite:///{tmp_path}/p.db"}}, "x.toml",
                                 env={})
    rt = open_runtime(config, SystemClock())
    try:
        with pytest.raises(ConfigError, match="^x.toml: 'attendance.host' must be set"):
            AttendanceService(rt)
    finally:
        rt.close()
