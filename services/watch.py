"""Live view for a supervisor: every event, state and status change as it reaches the broker."""
from __future__ import annotations

import json
import sys
import threading
import uuid
from collections import OrderedDict
from typing import Any, Callable, TextIO
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt

from edge.config import Config
from edge.mqtt import make_client
from edge.timefmt import from_utc_text
from edge.topics import Topics


_STATE_WIDTH = 160


class SeenIds:
    """Drops QoS 1 redeliveries: an event id seen recently is not shown twice."""

    def __init__(self, size: int = 10_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def first_time(self, event_id: str) -> bool:
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True


def format_event(env: dict[str, Any], zone: ZoneInfo) -> str:
    when = from_utc_text(env["occurred_at"]).astimezone(zone)
    payload = json.dumps(env.get("payload", {}), ensure_ascii=False, separators=(", ", ": "))
    return f"{when:%Y-%m-%d %H:%M:%S}  {env['kind']:<24} {env['source']:<20} {payload}"


class Watcher:
    def __init__(self, config: Config, out: TextIO = sys.stdout, as_json: bool = False,
                 kind: str | None = None, all_sites: bool = False,
                 on_ready: Callable[[], None] | None = None) -> None:
        self.config = config
        self.topics = Topics(config.mqtt.base_topic, config.site.id)
        self.zone = config.site.zone
        self.out, self.as_json, self.kind = out, as_json, kind
        self.filter = f"{config.mqtt.base_topic}/+/#" if all_sites else f"{self.topics.root}/#"
        self.seen = SeenIds()
        self.on_ready = on_ready
        self.client, self.url = make_client(config.mqtt, f"posjaga-watch-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def run(self, stop: threading.Event) -> None:
        self.client.connect_async(self.url.host, self.url.port, keepalive=30)
        self.client.loop_start()
        try:
            stop.wait()
        finally:
            self.client.disconnect()
            self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:
            self._say(f"# the broker at {self.url.redacted()} refused us: {reason}")
            return
        client.subscribe(self.filter, qos=1)

    def _on_subscribe(self, *args: Any) -> None:
        if self.on_ready is not None:
            self.on_ready()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        line = self._render(msg.topic, msg.payload, msg.retain)
        if line is not None:
            self._say(line)

    def _render(self, topic: str, payload: bytes, retained: bool) -> str | None:
        text = payload.decode("utf-8", errors="replace")
        if "/event/" in topic:
            try:
                env = json.loads(text)
                event_id, kind = env["id"], env["kind"]
            except (ValueError, KeyError, TypeError):
                return None if self.as_json else f"# unreadable event on {topic}"
            if not self.seen.first_time(event_id):
                return None
            if self.kind and not (kind == self.kind or kind.startswith(self.kind + ".")):
                return None
            return text if self.as_json else format_event(env, self.zone)
        if self.kind or self.as_json:
            return None
        rel = topic.removeprefix(self.topics.root + "/")
        mark = " (retained)" if retained else ""
        if len(text) > _STATE_WIDTH:  # a state can be a page long; mosquitto_sub shows it whole
            text = text[:_STATE_WIDTH - 1] + "…"
        return f"{'':19}  [{rel}]{mark} {text}"

    def _say(self, line: str) -> None:
        print(line, file=self.out, flush=True)
