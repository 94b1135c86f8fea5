"""End to end: a supervisor's lamp command through a private Mosquitto with an ACL, the uplink
service and the lamp daemon on mock pins; a guard without the right is stopped by the broker."""
from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from drivers.gpio import GpioSimulator
from edge.clock import ManualClock
from edge.config import config_from_mapping
from edge.sun import LampSchedule
from services.broker import BrokerError, Mosquitto, find_mosquitto
from services.lamp import LampService
from services.runtime import open_runtime
from services.uplink import UplinkService

WAIT = 15.0
ZONE = ZoneInfo("Asia/Makassar")
ROOT = "posjaga/kpu-palu"
ACL = """\
user posjaga
topic readwrite posjaga/#

user supervisor
topic write posjaga/+/lamp/set
topic read posjaga/#

user guard
topic read posjaga/#
"""


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    try:
        find_mosquitto()
    except BrokerError as exc:
        pytest.skip(str(exc))
    passwd = shutil.which("mosquitto_passwd")
    if passwd is None:
        pytest.skip("mosquitto_passwd is not installed")
    secrets = tmp_path / "passwd"
    for i, user in enumerate(("posjaga", "supervisor", "guard")):
        flags = ["-c"] if i == 0 else []
        subprocess.run([passwd, "-b", *flags, str(secrets), user, f"{user}-pw"], check=True,
                       capture_output=True)
    (tmp_path / "acl").write_text(ACL)
    extra = f"allow_anonymous false\npassword_file {secrets}\nacl_file {tmp_path / 'acl'}\n"
    with Mosquitto(workdir=tmp_path / "broker", extra_config=extra) as running:
        yield running


class Client:
    """A person's MQTT client: publishes with QoS 1 and collects what it subscribed to."""

    def __init__(self, port: int, user: str) -> None:
        self.messages: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311,
                                  client_id=f"{user}-{uuid.uuid4().hex[:6]}")
        self.client.username_pw_set(user, f"{user}-pw")
        connected = threading.Event()
        self.client.on_connect = lambda *a: connected.set()
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, _body(m.payload)))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert connected.wait(WAIT), f"{user} could not connect"

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe(topic, qos=1)
        assert done.wait(WAIT)

    def publish(self, topic: str, body: dict[str, Any]) -> None:
        info = self.client.publish(topic, json.dumps(body), qos=1)
        info.wait_for_publish(WAIT)  # the broker's PUBACK: it has the message (or dropped it)

    def wait_for(self, topic: str, match: Any = lambda body: True) -> dict[str, Any]:
        while True:
            got_topic, body = self.messages.get(timeout=WAIT)
            if got_topic == topic and isinstance(body, dict) and match(body):
                return body

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_a_supervisor_command_goes_through_the_broker_and_a_guard_is_refused(
        tmp_path: Path, broker: Mosquitto) -> None:
    schedule = LampSchedule(-0.90, 119.87, ZONE)
    _, sunset = schedule.sun_times(date(2026, 12, 4))
    assert sunset is not None
    clock = ManualClock(sunset - timedelta(hours=3))  # daylight: auto keeps the lamp off
    config = config_from_mapping({
        "site": {"id": "kpu-palu"}, "store": {"url": f"sqlite:///{tmp_path}/posjaga.db"},
        "mqtt": {"url": f"mqtt://posjaga:posjaga-pw@127.0.0.1:{broker.port}",
                 "reconnect_min_s": 0.1},
        "gpio": {"pin_factory": "mock"}, "lamp": {"feedback": True}}, "test.toml")
    rt = open_runtime(config, clock)
    sim = GpioSimulator()
    lamp, uplink = LampService(rt, pin_factory=sim.factory), UplinkService(rt)
    stop = threading.Event()
    threads = [threading.Thread(target=s.run, args=(stop,), daemon=True) for s in (lamp, uplink)]
    for t in threads:
        t.start()
    supervisor, guard = Client(broker.port, "supervisor"), Client(broker.port, "guard")
    try:
        supervisor.subscribe(f"{ROOT}/#")
        state = supervisor.wait_for(f"{ROOT}/state/lamp")  # retained, from the restore
        assert (state["mode"], state["on"]) == ("auto", False)

        guard.publish(f"{ROOT}/lamp/set", {"mode": "on", "by": "guard"})  # the ACL drops it
        supervisor.publish(f"{ROOT}/lamp/set", {"mode": "on", "by": "Budi", "transaction": "t1"})
        answer = supervisor.wait_for(f"{ROOT}/lamp/response")
        assert answer == {"status": "ok", "data": {"mode": "on", "on": True, "changed": True},
                          "transaction": "t1"}
        assert sim.lamp_output() is True
        state = supervisor.wait_for(f"{ROOT}/state/lamp", lambda b: b["mode"] == "on")
        assert (state["on"], state["mode_by"]) == (True, "Budi")
        event = supervisor.wait_for(f"{ROOT}/event/lamp/switched",
                                    lambda b: b["payload"]["reason"] == "command")
        assert event["payload"]["by"] == "Budi"

        supervisor.publish(f"{ROOT}/lamp/set", {"mode": "bright", "by": "Budi",
                                                 "transaction": "t2"})
        refused = supervisor.wait_for(f"{ROOT}/lamp/response")
        assert refused["status"] == "error" and refused["transaction"] == "t2"
        assert "'mode' must be one of auto, on, off" in refused["error"]
    finally:
        supervisor.close()
        guard.close()
        stop.set()
        for t in threads:
            t.join(WAIT)
        rt.close()
        sim.factory.close()
    again = open_runtime(config, clock)
    try:
        by = [e.payload["by"] for e in again.events.query(kind="lamp.mode_changed")]
        assert by == ["Budi"]  # the guard's command never reached the post
    finally:
        again.close()


def _body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")  # the status topic is plain 'online' / 'offline'
