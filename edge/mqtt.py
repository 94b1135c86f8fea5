"""Building a paho-mqtt 2.x client from the configuration (TLS, credentials, backoff, will)."""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.config import ConfigError, MqttConfig, MqttUrl, parse_mqtt_url


def broker_url(cfg: MqttConfig) -> MqttUrl:
    if not cfg.url:
        raise ConfigError("no broker configured: set [mqtt] url in the configuration file or "
                          "POSJAGA_MQTT_URL")
    return parse_mqtt_url(cfg.url)


def make_client(cfg: MqttConfig, client_id: str, *, will_topic: str | None = None,
                inflight: int | None = None, batching: bool = False
                ) -> tuple[mqtt.Client, MqttUrl]:
    """A configured client, not yet connected. Raises ConfigError for unusable settings."""
    url = broker_url(cfg)
    cls = BatchingClient if batching else mqtt.Client
    client = cls(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True,
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


_PUBACK_OK = ReasonCode(PacketTypes.PUBACK)  # shared: our on_publish reads neither
_NO_PROPERTIES = Properties(PacketTypes.PUBACK)


class BatchingClient(mqtt.Client):
    """The uplink's paho client, with two savings on paho's cost per message.

    paho writes each packet with its own ``send()``; for the uplink's bursts (a window of
    events at a time) that system call is a third of the cost of a message. Between
    ``cork()`` and ``uncork()`` the bytes paho hands to the socket are kept in order in a
    buffer and written at ``uncork()``; whatever the kernel does not take yet stays queued and
    is written when the socket is writable (``want_write``/``loop_write``). And an MQTT 3.1.1
    PUBACK is read without building paho's per-packet ReasonCode and Properties objects.

    It relies on paho 2.x's ``_sock_send``, ``_loop_rc_handle``, ``_handle_pubackcomp`` and
    ``_do_on_publish``; the version pin (<3) and the uplink's fault tests guard them.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._corked = False
        self._pending = bytearray()

    def cork(self) -> None:
        self._corked = True

    def uncork(self) -> None:
        self._corked = False
        self._flush()

    def _sock_send(self, buf: bytes | bytearray) -> int:
        if self._corked or self._pending:  # never let a packet overtake queued bytes
            if self._sock is None:
                raise ConnectionError("self._sock is None")
            self._pending += buf
            return len(buf)
        return super()._sock_send(buf)

    def _flush(self) -> mqtt.MQTTErrorCode:
        while self._pending:
            try:
                sent = super()._sock_send(self._pending)
            except BlockingIOError:
                return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS  # the rest when writable
            except (ConnectionError, OSError):
                self._pending.clear()
                return self._loop_rc_handle(mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST)
            del self._pending[:sent]
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def want_write(self) -> bool:
        return bool(self._pending) or super().want_write()

    def loop_write(self) -> mqtt.MQTTErrorCode:
        # paho calls this after every publish(); while corked its bytes only gather.
        if not self._corked:
            rc = self._flush()
            if rc != mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS or self._pending:
                return rc
        return super().loop_write()

    def _handle_pubackcomp(self, cmd: Any) -> mqtt.MQTTErrorCode:
        # An MQTT 3.1.1 PUBACK is a bare message id, yet paho builds a ReasonCode and a
        # Properties object for each one: a fifth of the uplink's cost per event. Anything
        # else (MQTT 5, PUBCOMP, a malformed packet) takes paho's own path.
        packet = self._in_packet["packet"]
        if cmd != "PUBACK" or self._protocol != mqtt.MQTTv311 or len(packet) != 2:
            return super()._handle_pubackcomp(cmd)
        (mid,) = struct.unpack("!H", packet)
        with self._out_message_mutex:
            if mid in self._out_messages:
                return self._do_on_publish(mid, _PUBACK_OK, _NO_PROPERTIES)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def reconnect(self) -> mqtt.MQTTErrorCode:
        # Bytes for the old connection are void: paho resends unacknowledged messages itself.
        self._pending.clear()
        self._corked = False
        return super().reconnect()
