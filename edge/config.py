"""The configuration file: one TOML file, validated once at start.

Every section is a dataclass; each field carries a one-line description of what it expects, so a
mistake is reported as one sentence naming the file, the key and what was expected. Nothing
downstream re-validates: a ``Config`` that exists is a good one.
"""
from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_PATH = Path("/etc/posjaga/posjaga.toml")
ENV_CONFIG = "POSJAGA_CONFIG"
ENV_MQTT_URL = "POSJAGA_MQTT_URL"
ENV_DB = "POSJAGA_DB"

_SITE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class ConfigError(Exception):
    """A configuration problem, phrased for a person: file, key, what is expected."""


def _opt(default: Any = dataclasses.MISSING, *, help: str, check: Any = None,
         factory: Any = dataclasses.MISSING) -> Any:
    meta = {"help": help, "check": check}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _check_site_id(value: str) -> str | None:
    if _SITE_ID.match(value):
        return None
    return "a short id of lower-case letters, digits and dashes such as 'kpu-palu'"


def _check_zone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return "an IANA time zone such as 'Asia/Makassar'"
    return None


def _check_positive(value: float) -> str | None:
    return None if value > 0 else "a number greater than 0"


def _check_topic_base(value: str) -> str | None:
    if value and not any(c in value for c in "#+") and not value.startswith("/") \
            and not value.endswith("/"):
        return None
    return "a topic prefix without wildcards or leading/trailing '/', such as 'posjaga'"


def _check_mqtt_url(value: str) -> str | None:
    try:
        parse_mqtt_url(value)
    except ValueError as exc:
        return str(exc)
    return None


def _check_db_url(value: str) -> str | None:
    if value.startswith(("sqlite:///", "sqlite+pysqlite:///")) or value in ("sqlite://",):
        return None
    return "an SQLAlchemy SQLite URL such as 'sqlite:////var/lib/posjaga/posjaga.db'"


@dataclass(frozen=True)
class SiteConfig:
    id: str = _opt(help="a short id of the site such as 'kpu-palu'", check=_check_site_id)
    name: str = _opt("", help="text: the site's name as printed on reports")
    timezone: str = _opt("Asia/Makassar", help="an IANA time zone such as 'Asia/Makassar'", check=_check_zone)
    language: Literal["id", "en"] = _opt("id", help="language of reports and alerts: 'id' or 'en'")
    latitude: float = _opt(-0.90, help="latitude in degrees (south negative)")
    longitude: float = _opt(119.87, help="longitude in degrees (west negative)")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class StoreConfig:
    url: str = _opt("sqlite:////var/lib/posjaga/posjaga.db",
                    help="an SQLAlchemy URL such as 'sqlite:////var/lib/posjaga/posjaga.db'", check=_check_db_url)
    retention_days: float = _opt(90.0, help="a number of days to keep published events", check=_check_positive)
    busy_timeout_s: float = _opt(10.0, help="a number of seconds a writer waits for another",
                                 check=_check_positive)


@dataclass(frozen=True)
class MqttConfig:
    url: str | None = _opt(None, help="a broker URL such as 'mqtt://user:pass@host:1883' or "
                           "'mqtts://host:8883'", check=_check_mqtt_url)
    base_topic: str = _opt("posjaga", help="a topic prefix such as 'posjaga'", check=_check_topic_base)
    client_id: str = _opt("", help="text: the MQTT client id (default posjaga-<site>-<services>)")
    password_file: str | None = _opt(None, help="the path of a file holding the broker password")
    ca_file: str | None = _opt(None, help="a PEM file of CA certificates for mqtts://")
    cert_file: str | None = _opt(None, help="a PEM client certificate for mqtts://")
    key_file: str | None = _opt(None, help="the PEM key of the client certificate")
    keepalive_s: int = _opt(30, help="a whole number of seconds (MQTT keepalive)", check=_check_positive)
    window: int = _opt(100, help="a whole number of events in flight awaiting the broker's acknowledgement",
                       check=_check_positive)
    reconnect_min_s: float = _opt(1.0, help="a number of seconds (first reconnect delay)",
                                  check=_check_positive)
    reconnect_max_s: float = _opt(60.0, help="a number of seconds (longest reconnect delay)",
                                  check=_check_positive)
    poll_s: float = _opt(0.25, help="a number of seconds (how often the uplink looks for "
                         "events written by other processes)", check=_check_positive)


@dataclass(frozen=True)
class ServicesConfig:
    enabled: list[str] = _opt(help="a list of service names such as [\"uplink\"]",
                              factory=lambda: ["uplink"])


@dataclass(frozen=True)
class LogConfig:
    level: Literal["debug", "info", "warning", "error"] = _opt(
        "info", help="one of 'debug', 'info', 'warning', 'error'")


# --- GPIO: parking lamp and radio (docs/lamp-radio.md; pin numbers are BCM, defaults as in
# drivers.gpio.DEFAULT_PINOUT, which edge/ may not import; a test keeps the two in step) --------

def _check_bcm_pin(value: int) -> str | None:
    return None if 0 <= value <= 27 else "a BCM GPIO number from 0 to 27 such as 17"


def _check_not_negative(value: float) -> str | None:
    return None if value >= 0 else "a number of 0 or more"


def _check_windows(value: list[str]) -> str | None:
    from edge.sun import check_window  # imported here: only lamp users need astral loaded
    return next((problem for text in value if (problem := check_window(text))), None)


def _check_regex(value: str) -> str | None:
    try:
        pattern = re.compile(value)
    except re.error:
        return "a regular expression such as '(?P<id>[0-9]{3,8})'"
    if pattern.groups < 1:
        return "a regular expression with a group that captures the id, such as '(?P<id>[0-9]+)'"
    return None


@dataclass(frozen=True)
class GpioConfig:
    pin_factory: Literal["lgpio", "mock", "rpigpio", "native"] = _opt(
        "lgpio", help="a gpiozero pin factory: 'lgpio' (Pi OS, the only one on a Pi 5), "
        "'mock' (simulation and tests), 'rpigpio' or 'native'")


@dataclass(frozen=True)
class LampConfig:
    relay_pin: int = _opt(17, help="a BCM GPIO number for the lamp relay such as 17",
                          check=_check_bcm_pin)
    relay_active: Literal["high", "low"] = _opt(
        "high", help="'high' (relay on when the pin is high) or 'low' (common opto modules)")
    feedback: bool = _opt(False, help="true when a lamp feedback sensor is wired, else false")
    feedback_pin: int = _opt(27, help="a BCM GPIO number for the lamp feedback such as 27",
                             check=_check_bcm_pin)
    feedback_active: Literal["high", "low"] = _opt(
        "high", help="'high' (lit reads high) or 'low' (lit reads low)")
    feedback_internal_pull: bool = _opt(
        True, help="true to pull the feedback input to its not-lit level inside the Pi, "
        "false when only an external resistor holds it")
    feedback_delay_s: float = _opt(3.0, help="a number of seconds the feedback may disagree "
                                   "with the relay before it is an alert", check=_check_positive)
    default_mode: Literal["auto", "on", "off"] = _opt(
        "auto", help="'auto', 'on' or 'off': the mode before any command was ever given")
    after_hours: list[str] = _opt(help="a list of local time windows such as "
                                  "[\"18:00-22:00\"] in which auto mode lights the lamp even "
                                  "in daylight", check=_check_windows, factory=list)
    check_s: float = _opt(1.0, help="a number of seconds between checks of schedule and "
                          "feedback", check=_check_positive)


@dataclass(frozen=True)
class RadioConfig:
    cos: bool = _opt(True, help="true to log received traffic from the COS line, else false")
    cos_pin: int = _opt(22, help="a BCM GPIO number for the radio COS line such as 22",
                        check=_check_bcm_pin)
    cos_active: Literal["high", "low"] = _opt(
        "low", help="'low' (squelch open pulls the pin low) or 'high'")
    cos_internal_pull: bool = _opt(True, help="true to pull the COS input to its idle level "
                                   "inside the Pi, false when only an external resistor does")
    ptt: bool = _opt(True, help="true to log our own transmissions from the PTT line, else false")
    ptt_pin: int = _opt(23, help="a BCM GPIO number for the PTT sense line such as 23",
                        check=_check_bcm_pin)
    ptt_active: Literal["high", "low"] = _opt(
        "low", help="'low' (keying pulls the pin low) or 'high'")
    ptt_internal_pull: bool = _opt(True, help="true to pull the PTT input to its idle level "
                                   "inside the Pi, false when only an external resistor does")
    debounce_s: float = _opt(0.05, help="a number of seconds a level must hold to count",
                             check=_check_not_negative)
    hang_s: float = _opt(1.0, help="a number of seconds: shorter gaps join one transmission",
                         check=_check_not_negative)
    min_transmission_s: float = _opt(0.5, help="a number of seconds: shorter transmissions are "
                                     "chatter, counted but not logged one by one",
                                     check=_check_not_negative)
    cos_stuck_s: float = _opt(300.0, help="a number of seconds the squelch may stay open before "
                              "it is an alert", check=_check_positive)
    ptt_stuck_s: float = _opt(120.0, help="a number of seconds PTT may stay keyed before it is "
                              "an alert", check=_check_positive)
    poll_s: float = _opt(0.1, help="a number of seconds between samples of the radio lines",
                         check=_check_positive)
    ani_port: str = _opt("", help="a serial port of an ANI/PTT-ID decoder such as "
                         "'/dev/ttyUSB0', or '' for none")
    ani_baud: int = _opt(9600, help="a whole number: the decoder's baud rate such as 9600",
                         check=_check_positive)
    ani_pattern: str = _opt(r"(?P<id>[0-9]{3,8})", help="a regular expression whose first "
                            "group captures the caller id in a decoder line", check=_check_regex)
    ani_window_s: float = _opt(2.0, help="a number of seconds before key-up and after release "
                               "in which a decoded id belongs to a transmission",
                               check=_check_not_negative)


@dataclass(frozen=True)
class Config:
    site: SiteConfig = _opt(help="the [site] section")
    store: StoreConfig = _opt(help="the [store] section", factory=StoreConfig)
    mqtt: MqttConfig = _opt(help="the [mqtt] section", factory=MqttConfig)
    services: ServicesConfig = _opt(help="the [services] section", factory=ServicesConfig)
    log: LogConfig = _opt(help="the [log] section", factory=LogConfig)
    gpio: GpioConfig = _opt(help="the [gpio] section", factory=GpioConfig)
    lamp: LampConfig = _opt(help="the [lamp] section", factory=LampConfig)
    radio: RadioConfig = _opt(help="the [radio] section", factory=RadioConfig)
    source: str = field(default="<built-in>", metadata={"help": "", "internal": True})


@dataclass(frozen=True)
class MqttUrl:
    tls: bool
    host: str
    port: int
    username: str | None
    password: str | None

    def redacted(self) -> str:
        auth = f"{self.username}{':***' if self.password else ''}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{auth}{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> MqttUrl:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError("a URL starting with mqtt:// or mqtts://")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("a URL with a numeric port such as 'mqtt://host:1883'") from None
    if not parts.hostname:
        raise ValueError("a URL with a host such as 'mqtt://localhost:1883'")
    if parts.path not in ("", "/"):
        raise ValueError("a URL without a path such as 'mqtt://host:1883'")
    tls = parts.scheme == "mqtts"
    return MqttUrl(tls=tls, host=parts.hostname, port=port or (8883 if tls else 1883),
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None)


# --- loading -------------------------------------------------------------------------------

def load_config(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, validate and apply the environment overrides; raise ConfigError on any problem."""
    env = os.environ if env is None else env
    file = Path(path or env.get(ENV_CONFIG) or DEFAULT_PATH)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: the configuration file does not exist; pass --config FILE "
                          f"or set {ENV_CONFIG}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read ({exc.__class__.__name__}: {exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: is not valid TOML ({exc})") from None
    return config_from_mapping(data, str(file), env)


def config_from_mapping(data: Mapping[str, Any], source: str,
                        env: Mapping[str, str] | None = None) -> Config:
    config = _build(Config, dict(data), "", source)
    config = dataclasses.replace(config, source=source)
    return _apply_env(config, env or {})


def _apply_env(config: Config, env: Mapping[str, str]) -> Config:
    mqtt, store = config.mqtt, config.store
    if (url := env.get(ENV_MQTT_URL)):
        if (problem := _check_mqtt_url(url)):
            raise ConfigError(f"environment: {ENV_MQTT_URL} must be {problem}")
        mqtt = dataclasses.replace(mqtt, url=url)
    if (db := env.get(ENV_DB)):
        if (problem := _check_db_url(db)):
            raise ConfigError(f"environment: {ENV_DB} must be {problem}")
        store = dataclasses.replace(store, url=db)
    return dataclasses.replace(config, mqtt=mqtt, store=store)


def _build(cls: type, data: dict[str, Any], prefix: str, source: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        name = _printable(f"{prefix}{unknown[0]}")
        where = f"'{name}'" if prefix else f"section or key '{name}'"
        raise ConfigError(f"{source}: unknown {where}; expected one of: "
                          f"{', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, f in fields.items():
        key = f"{prefix}{name}"
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{source}: '{key}' is missing; expected {f.metadata['help']}")
            continue
        values[name] = _coerce(hints[name], data[name], key, f.metadata, source)
    return cls(**values)


def _coerce(hint: Any, value: Any, key: str, meta: Mapping[str, Any], source: str) -> Any:
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{key}' must be a table ([{key}]), got {_kind(value)}")
        return _build(hint, value, f"{key}.", source)
    ok = _matches(hint, value)
    if not ok:
        raise ConfigError(f"{source}: '{key}' must be {meta['help']}, got {_kind(value)}")
    if isinstance(value, int) and not isinstance(value, bool) and _is_float(hint):
        value = float(value)
    check = meta.get("check")
    if check is not None and value is not None and (problem := check(value)):
        raise ConfigError(f"{source}: '{key}' must be {problem}, got {value!r}")
    return value


def _printable(text: str) -> str:
    """A key as typed, with control characters escaped so the message stays one line."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _is_float(hint: Any) -> bool:
    return hint is float or float in typing.get_args(hint)


def _matches(hint: Any, value: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(arg, value) for arg in typing.get_args(hint))
    if origin is Literal:
        return value in typing.get_args(hint)
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_matches(item, v) for v in value)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, hint)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__
