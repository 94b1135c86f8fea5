"""Commands for daemons that run in a process of their own (one systemd unit each).

The uplink receives commands on its connection and hands them to ``rt.router`` in-process, so
with one process per daemon it only reaches the handlers of its own process (``system``). A
process without the uplink whose services registered command targets (the lamp daemon:
``lamp``) therefore opens a small MQTT connection of its own: it subscribes to
``<root>/<target>/set`` for exactly those targets and answers on ``<root>/<target>/response``.
It publishes nothing else: events and states still leave through the uplink, from the store.

Each daemon connects with its own broker account, so the broker's ACL can let the lamp account
read only ``lamp/set`` and the uplink account only ``system/set`` (the uplink subscribes to
``+/set``, and Mosquitto delivers to it only what its account may read): no command is ever
answered twice. Under systemd the account comes from the unit (``POSJAGA_MQTT_USER``) and the
password from a systemd credential (``LoadCredential=mqtt-password:...``), see
``config_for_account``.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote

from edge.config import Config, parse_mqtt_url
from services.runtime import Runtime

log = logging.getLogger(__name__)

ENV_USER = "POSJAGA_MQTT_USER"
CREDENTIAL = "mqtt-password"

# Which command targets each daemon registers: the broker ACL is generated from this table
# (scripts/posjaga_broker.py) and a test holds it to what the daemons really register.
COMMAND_TARGETS: dict[str, tuple[str, ...]] = {
    "uplink": ("system",), "lamp": ("lamp",), "report": ("report",)}


def config_for_account(config: Config, environ: Mapping[str, str] | None = None) -> Config:
    """The configuration with this daemon's own broker account, when its unit names one."""
    env = os.environ if environ is None else environ
    user = env.get(ENV_USER, "").strip()
    secret = Path(env["CREDENTIALS_DIRECTORY"]) / CREDENTIAL \
        if env.get("CREDENTIALS_DIRECTORY") else None
    mqtt = config.mqtt
    if user and mqtt.url:
        mqtt = dataclasses.replace(mqtt, url=_with_user(mqtt.url, user))
    if secret is not None and secret.is_file():
        mqtt = dataclasses.replace(mqtt, password_file=str(secret))
    return config if mqtt is config.mqtt else dataclasses.replace(config, mqtt=mqtt)


def _with_user(url: str, user: str) -> str:
    parsed = parse_mqtt_url(url)
    scheme = "mqtts" if parsed.tls else "mqtt"
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{scheme}://{quote(user, safe='')}@{host}:{parsed.port}"


class CommandLink:
    """A runner service: keeps the subscription and answers each command on paho's thread."""

    def __init__(self, rt: Runtime, names: list[str]) -> None:
        from edge.mqtt import make_client

        self.rt = rt
        self.targets = rt.router.targets
        self.name = "commands-" + "-".join(names)
        client_id = f"posjaga-{rt.config.site.id}-{'-'.join(names)}-{uuid.uuid4().hex[:6]}"
        self.client, self.url = make_client(rt.config.mqtt, client_id)
        self.client.reconnect_delay_set(int(max(1, rt.config.mqtt.reconnect_min_s)),
                                        int(max(1, rt.config.mqtt.reconnect_max_s)))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.connected = False
        self.error: str | None = None

    def run(self, stop: threading.Event) -> None:
        self.client.connect_async(self.url.host, self.url.port,
                                  keepalive=self.rt.config.mqtt.keepalive_s)
        self.client.loop_start()
        try:
            stop.wait()
        finally:
            self.client.disconnect()
            self.client.loop_stop()

    def health(self) -> str | None:
        if self.connected:
            return None
        return self.error or f"commands for {', '.join(self.targets)} cannot be received yet"

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:
            self.error = f"the broker refused the command link: {reason}"
            log.error("%s", self.error)
            return
        self.connected, self.error = True, None
        for target in self.targets:
            client.subscribe(self.rt.topics.command(target), qos=1)
        log.info("receiving commands for %s on %s", ", ".join(self.targets),
                 self.url.redacted())

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        if self.connected:
            log.warning("the command link lost the broker (%s)", reason)
        self.connected = False

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        target = self.rt.topics.command_target(msg.topic)
        if target not in self.targets:
            return
        response = self.rt.router.handle(target, msg.payload)
        client.publish(self.rt.topics.response(target),
                       json.dumps(response.body, ensure_ascii=False), qos=1)


def needs_link(rt: Runtime, names: list[str]) -> bool:
    """A process answers commands itself when it has handlers but no uplink to receive them."""
    return "uplink" not in names and bool(rt.router.targets) and bool(rt.config.mqtt.url)


__all__ = ["COMMAND_TARGETS", "CommandLink", "config_for_account", "needs_link"]
