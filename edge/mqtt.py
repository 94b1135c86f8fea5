"""Building a paho-mqtt 2.x client from the configuration (TLS, credentials, backoff, will)."""
from __future__ import annotations

from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import ConfigError, MqttConfig, MqttUrl, parse_mqtt_url


def broker_url(cfg: MqttConfig) -> MqttUrl:
    if not cfg.url:
        raise ConfigError("no broker configured: set [mqtt] url in the configuration file or "
                          "POSJAGA_MQTT_URL")
    return parse_mqtt_url(cfg.url)


def make_client(cfg: MqttConfig, client_id: str, *, will_topic: str | None = None,
                inflight: int | None = None) -> tuple[mqtt.Client, MqttUrl]:
    """A configured client, not yet connected. Raises ConfigError for unusable settings."""
    url = broker_url(cfg)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True,
                         protocol=mqtt.MQTTv311)
    password = url.password
    if cfg.password_file:
        password = _read_secret(cfg.password_file)
    if url.username:
        client.username_pw_set(url.username, password)
    if url.tls:
        _set_tls(client, cfg)
    if will_topic:
        client.will_set(will_topic, "offline", qos=1, retain=True)
    # Our own outbox bounds what is in flight; paho's queue must never drop or refuse.
    client.max_inflight_messages_set(inflight or cfg.window)
    client.max_queued_messages_set(0)
    return client, url


def _read_secret(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{path}: the broker password file cannot be read "
                          f"({exc.strerror})") from None


def _set_tls(client: mqtt.Client, cfg: MqttConfig) -> None:
    for name in ("ca_file", "cert_file", "key_file"):
        path = getattr(cfg, name)
        if path and not Path(path).is_file():
            raise ConfigError(f"{path}: 'mqtt.{name}' names a file that does not exist")
    try:
        client.tls_set(ca_certs=cfg.ca_file, certfile=cfg.cert_file, keyfile=cfg.key_file)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"the TLS settings of [mqtt] cannot be used ({exc})") from None
