"""A test-side MQTT subscriber that records everything it receives."""
from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)


class Recorder:
    def __init__(self, port: int, topic: str = "#", client_id: str | None = None,
                 clean_session: bool = True, username: str | None = None,
                 password: str | None = None) -> None:
        self.messages: list[Received] = []
        self.cond = threading.Condition()
        self._subscribed = threading.Event()
        self.topic = topic
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"rec-{uuid.uuid4().hex[:8]}",
                                  clean_session=clean_session)
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 0.5)
        if username:
            self.client.username_pw_set(username, password)
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        assert self._subscribed.wait(10), "recorder could not subscribe"

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self.cond:
            self.messages.append(Received(msg.topic, msg.payload, bool(msg.retain)))
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 20.0
                 ) -> list[Received]:
        with self.cond:
            ok = self.cond.wait_for(lambda: predicate(self.messages), timeout)
            snapshot = list(self.messages)
        assert ok, f"condition not met within {timeout} s; got {len(snapshot)} messages: " \
                   f"{[m.topic for m in snapshot[-5:]]}"
        return snapshot

    def event_ids(self) -> list[str]:
        with self.cond:
            return [json.loads(m.payload)["id"] for m in self.messages if "/event/" in m.topic]

    def on_topic(self, topic: str) -> list[Received]:
        with self.cond:
            return [m for m in self.messages if m.topic == topic]

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False
                ) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
