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
from datetime import date
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


# --- patrol: checkpoint tag readers, checkpoints, guards, outcome codes and the round plan
# (docs/patrol.md; SOP step 7). Lists of tables are [[patrol.readers]] and so on; a mistake in
# one names it by position, the first being [1]. ------------------------------------------

_SHORT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


def _check_short_id(value: str) -> str | None:
    if _SHORT_ID.match(value):
        return None
    return "a short id of letters, digits, '.', '_' and '-' such as 'CP-01'"


def _check_text(value: str) -> str | None:
    return None if value.strip() and value.isprintable() else "non-empty printable text"


def _check_codes(value: list[str]) -> str | None:
    if all(code.strip() and code.isprintable() for code in value):
        return None
    return "a list of printable tag codes such as [\"KPU-CP-01\", \"62E3086CED\"]"


def _check_some_codes(value: list[str]) -> str | None:
    return _check_codes(value) if value else "a non-empty list of tag codes such as [\"KPU-CP-01\"]"


def _check_shifts(value: list[str]) -> str | None:
    from edge.patrol_plan import parse_hhmm  # imported here: only patrol users need it
    if value and all(parse_hhmm(text) for text in value):
        return None
    return "a non-empty list of local times such as [\"07:00\", \"19:00\"]"


def _check_plan(plan: "PatrolPlanConfig") -> str | None:
    from edge.patrol_plan import plan_problem
    problem = plan_problem(plan.every_h, plan.shifts, plan.early_min)
    return f"'patrol.plan' must have {problem}" if problem else None


def _check_patrol(patrol: "PatrolConfig") -> str | None:
    from edge.patrol import patrol_problem  # cross-checks between the tables
    return patrol_problem(patrol)


@dataclass(frozen=True)
class PatrolReaderConfig:
    name: str = _opt(help="a short reader name such as 'scanner'", check=_check_short_id)
    url: str = _opt(help="a pyserial URL such as '/dev/serial/by-id/usb-...' or "
                    "'socket://bridge:4001'", check=_check_text)
    framing: Literal["line", "rdm6300", "pn532"] = _opt(
        "line", help="'line' (barcode/QR scanners, Wiegand converters), 'rdm6300' (125 kHz "
        "EM4100) or 'pn532' (NFC)")
    baudrate: int = _opt(0, help="a whole number: the baud rate, or 0 for the framing's "
                         "default", check=_check_not_negative)
    hold_s: float | None = _opt(None, help="a number of seconds in which repeats of one code "
                                "are one tap (default 0 for line, 1 for rdm6300 and pn532)",
                                check=_check_not_negative)
    location: str = _opt("", help="text: where a fixed reader is mounted, or '' for a "
                         "handheld one")
    checkpoint: str = _opt("", help="the id of the checkpoint a fixed reader is mounted at "
                           "(any known badge tapped on it is a visit there), or ''")


@dataclass(frozen=True)
class PatrolCheckpointConfig:
    id: str = _opt(help="a short checkpoint id such as 'CP-01'", check=_check_short_id)
    name: str = _opt(help="text: the checkpoint's name as alerts show it, such as "
                     "'Ruang Ketua'", check=_check_text)
    tags: list[str] = _opt(help="a non-empty list of the codes of this checkpoint's stickers or "
                           "tags such as [\"KPU-CP-01\"]", check=_check_some_codes)
    room: str = _opt("", help="text: the room or area, such as 'Lantai 2'")
    order: int = _opt(0, help="a whole number: its place in an ordered round (1 first), or 0 "
                      "for any time", check=_check_not_negative)
    min_walk_s: float | None = _opt(None, help="a number of seconds: the shortest believable "
                                    "walk to here from the previous checkpoint (default "
                                    "[patrol] min_walk_s)", check=_check_not_negative)


@dataclass(frozen=True)
class PatrolGuardConfig:
    id: str = _opt(help="the guard's id, such as the fingerprint user id '3'",
                   check=_check_short_id)
    name: str = _opt(help="text: the guard's name", check=_check_text)
    badges: list[str] = _opt(help="a list of the codes of the guard's own badges or cards",
                             factory=list, check=_check_codes)


@dataclass(frozen=True)
class PatrolOutcomeConfig:
    code: str = _opt(help="the code printed on the outcome sheet, such as 'KPU-AMAN'",
                     check=_check_text)
    state: Literal["secure", "electronics_off", "door_locked", "problem"] = _opt(
        help="'secure' (electronics off and door locked), 'electronics_off' (found on, "
        "switched off), 'door_locked' (found unlocked, locked now) or 'problem'")
    note: str = _opt("", help="text: what the code means, such as 'Jendela tidak bisa "
                     "dikunci'")


@dataclass(frozen=True)
class PatrolPlanConfig:
    every_h: float = _opt(3.0, help="a number of hours between rounds", check=_check_positive)
    shifts: list[str] = _opt(help="a non-empty list of local shift start times such as "
                             "[\"07:00\", \"19:00\"]; a round is due at each and every "
                             "every_h after it", factory=lambda: ["07:00", "19:00"],
                             check=_check_shifts)
    early_min: float = _opt(15.0, help="a number of minutes before its due time a round may "
                            "start", check=_check_not_negative)
    grace_min: float = _opt(30.0, help="a number of minutes after its due time by which a "
                            "round must be complete, else it is late", check=_check_positive)
    deadline_min: float = _opt(120.0, help="a number of minutes after its due time at which "
                               "an unfinished round ends incomplete or missed",
                               check=_check_positive)
    min_spacing_min: float = _opt(0.0, help="a number of minutes that must pass between the "
                                  "starts of two rounds, or 0", check=_check_not_negative)
    order: Literal["any", "ordered"] = _opt(
        "any", help="'any' (checkpoints in any order) or 'ordered' (by their 'order')")


@dataclass(frozen=True)
class PatrolConfig:
    readers: list[PatrolReaderConfig] = _opt(help="a list of [[patrol.readers]] tables",
                                             factory=list)
    checkpoints: list[PatrolCheckpointConfig] = _opt(
        help="a list of [[patrol.checkpoints]] tables", factory=list)
    guards: list[PatrolGuardConfig] = _opt(help="a list of [[patrol.guards]] tables",
                                           factory=list)
    outcomes: list[PatrolOutcomeConfig] = _opt(help="a list of [[patrol.outcomes]] tables",
                                               factory=list)
    plan: PatrolPlanConfig = _opt(help="the [patrol.plan] table", factory=PatrolPlanConfig,
                                  check=_check_plan)
    min_walk_s: float = _opt(20.0, help="a number of seconds: the shortest believable walk "
                             "between two checkpoints", check=_check_not_negative)
    burst_taps: int = _opt(6, help="a whole number of taps from one reader within "
                           "burst_window_s that count as a burst", check=_check_positive)
    burst_window_s: float = _opt(30.0, help="a number of seconds (see burst_taps)",
                                 check=_check_positive)
    outcome_window_s: float = _opt(300.0, help="a number of seconds after a checkpoint tap in "
                                   "which an outcome code applies to that checkpoint",
                                   check=_check_positive)
    duty_state: str = _opt("duty", help="the name of the retained state that lists the guards "
                           "on duty, such as 'duty'", check=_check_text)


# --- attendance: the fingerprint machine, the shift rules and the duty roster
# (docs/attendance.md; SOP steps 1-3) --------------------------------------------------------

_DEVICE_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


def _check_device_host(value: str) -> str | None:
    if value == "" or _DEVICE_HOST.match(value):
        return None
    return "the machine's IP address or host name such as '192.168.1.201'"


def _check_port(value: int) -> str | None:
    return None if 0 < value < 65536 else "a TCP port from 1 to 65535 such as 4370"


def _check_roster_shifts(value: list[str]) -> str | None:
    from edge.roster import check_shifts  # imported here: only attendance users need it
    return check_shifts(value)


@dataclass(frozen=True)
class AttendanceConfig:
    host: str = _opt("", help="the fingerprint machine's IP address or host name such as "
                     "'192.168.1.201' ('' until one is installed)", check=_check_device_host)
    port: int = _opt(4370, help="a TCP port from 1 to 65535 such as 4370", check=_check_port)
    password: int = _opt(0, help="a whole number: the machine's communication password "
                         "(0 for none)", check=_check_not_negative)
    timeout_s: float = _opt(10.0, help="a number of seconds to wait for each answer of the "
                            "machine", check=_check_positive)
    keepalive_s: float = _opt(30.0, help="a number of seconds of silence after which the live "
                              "link is probed", check=_check_positive)
    reconnect_min_s: float = _opt(2.0, help="a number of seconds (first reconnect delay)",
                                  check=_check_positive)
    reconnect_max_s: float = _opt(300.0, help="a number of seconds (longest reconnect delay)",
                                  check=_check_positive)
    poll_s: float = _opt(900.0, help="a number of seconds between reconciliation pulls of the "
                         "machine's whole log (also done on start and on every reconnect)",
                         check=_check_positive)
    check_s: float = _opt(15.0, help="a number of seconds between checks of the shift rules "
                          "(absence and missing clock-outs are due at set times)",
                          check=_check_positive)
    skew_alert_s: float = _opt(120.0, help="a number of seconds the machine's clock may differ "
                               "from the Pi's before it is an alert", check=_check_positive)
    history_days: float = _opt(2.0, help="a number of days: punches older than this found in "
                               "a pull are stored as history, without an event each",
                               check=_check_positive)
    keep_non_guards: bool = _opt(False, help="true to keep and publish the punches of staff "
                                 "who are not guards, else false")
    early_in_min: float = _opt(120.0, help="a number of minutes before a shift's start from "
                               "which a punch counts as clocking in", check=_check_not_negative)
    late_grace_min: float = _opt(10.0, help="a number of minutes after a shift's start up to "
                                 "which clocking in is on time", check=_check_not_negative)
    absent_after_min: float = _opt(60.0, help="a number of minutes after a shift's start by "
                                   "which a guard who has not clocked in is absent",
                                   check=_check_positive)
    early_leave_grace_min: float = _opt(5.0, help="a number of minutes before a shift's end "
                                        "from which clocking out is not leaving early",
                                        check=_check_not_negative)
    late_out_min: float = _opt(180.0, help="a number of minutes after a shift's end by which "
                               "a guard must have clocked out", check=_check_positive)
    double_punch_min: float = _opt(5.0, help="a number of minutes: a guard's punch this soon "
                                   "after the previous one is a double punch",
                                   check=_check_not_negative)


@dataclass(frozen=True)
class RosterConfig:
    shifts: list[str] = _opt(help="a list of shifts such as [\"day 07:00-19:00\", "
                             "\"night 19:00-07:00\"] (name, local start-end; an end not after "
                             "the start is on the next day)",
                             factory=lambda: ["day 07:00-19:00", "night 19:00-07:00"],
                             check=_check_roster_shifts)


# --- records and the daily security report: guest book, equipment, duty log, handover
# (docs/records.md, docs/report.md; SOP steps 5-6 and 8-11) ----------------------------------

_BADGE_PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,7}-$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _check_badge_prefix(value: str) -> str | None:
    if _BADGE_PREFIX.match(value):
        return None
    return "1 to 8 upper-case letters or digits followed by '-', such as 'TAMU-'"


def _check_day_text(value: str) -> str | None:
    if value == "":
        return None
    try:
        date.fromisoformat(value)
    except ValueError:
        return "a date such as '2027-01-15', or '' for none"
    return None if re.match(r"^\d{4}-\d{2}-\d{2}$", value) else "a date such as '2027-01-15'"


def _check_hhmm(value: str) -> str | None:
    return None if _HHMM.match(value) else "a local time such as '07:30' (HH:MM, 00:00 to 23:59)"


def _check_https_url(value: str) -> str | None:
    if value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return None
    return "an https:// URL such as 'https://laporan.example.go.id/api/posjaga', or '' for none"


def _check_equipment(equipment: "EquipmentConfig") -> str | None:
    seen: set[str] = set()
    for i, item in enumerate(equipment.items, 1):
        if item.id.upper() in seen:
            return f"'equipment.items[{i}].id' must be unique; {item.id!r} is already used"
        seen.add(item.id.upper())
        if item.kind == "extinguisher":
            for key in ("location", "type", "next_inspection"):
                if not getattr(item, key):
                    return (f"'equipment.items[{i}].{key}' must be set for a fire extinguisher "
                            f"({item.id}): its location, type and next inspection date")
    return None


@dataclass(frozen=True)
class GuestsConfig:
    badge_prefix: str = _opt("TAMU-", help="1 to 8 upper-case letters or digits followed by "
                             "'-', such as 'TAMU-': badge codes start with it",
                             check=_check_badge_prefix)
    retention_days: float = _opt(30.0, help="a number of days after a visit that the guest's "
                                 "name, organisation, purpose and ID number are kept",
                                 check=_check_positive)
    scan_sign_out: bool = _opt(True, help="true to sign a guest out when a reader scans their "
                               "badge, else false")
    scanners: list[str] = _opt(help="a list of [[patrol.readers]] names whose badge scans sign "
                               "guests out such as [\"meja\"], or [] for every reader",
                               factory=list)


@dataclass(frozen=True)
class EquipmentItemConfig:
    id: str = _opt(help="a short item id such as 'APAR-01'", check=_check_short_id)
    kind: Literal["ht", "flashlight", "baton", "parking_lamp", "extinguisher", "other"] = _opt(
        help="'ht', 'flashlight', 'baton', 'parking_lamp', 'extinguisher' or 'other'")
    name: str = _opt(help="text: the item's name as the checklist shows it, such as "
                     "'APAR Lobi'", check=_check_text)
    location: str = _opt("", help="text: where the item is kept, such as 'Lobi lantai 1'")
    type: str = _opt("", help="text: the extinguisher's type and size, such as 'powder 3 kg'")
    next_inspection: str = _opt("", help="a date such as '2027-01-15': the next inspection "
                                "due (an extinguisher needs one)", check=_check_day_text)


@dataclass(frozen=True)
class EquipmentConfig:
    items: list[EquipmentItemConfig] = _opt(help="a list of [[equipment.items]] tables",
                                            factory=list)
    inspection_every_days: float = _opt(30.0, help="a number of days from an extinguisher "
                                        "inspection to the next one due", check=_check_positive)
    checklist_grace_min: float = _opt(60.0, help="a number of minutes after a shift ends by "
                                      "which its equipment checklist must be recorded, else "
                                      "it is an alert", check=_check_positive)


@dataclass(frozen=True)
class ReportConfig:
    time: str = _opt("07:30", help="a local time such as '07:30' at which the report of the "
                     "duty day that ended last is built", check=_check_hhmm)
    day_starts: str = _opt("00:00", help="a local time such as '00:00' (midnight) or '07:00' "
                           "(the day-shift change) at which a report's 24 hours begin",
                           check=_check_hhmm)
    language: Literal["", "id", "en"] = _opt("", help="'id', 'en', or '' for [site] language")
    output_dir: str = _opt("/var/lib/posjaga/reports", help="a folder for the PDF and JSON "
                           "files of the reports", check=_check_text)
    signers: list[str] = _opt(help="a list of up to 3 names printed under the signature lines "
                              "of the Danru, the person in charge and the Kasubag, such as "
                              "[\"\", \"\", \"Dra. Siti Aminah\"]", factory=list,
                              check=lambda v: None if len(v) <= 3 else "at most 3 names")
    url: str = _opt("", help="an https:// URL the report is sent to, or '' for none",
                    check=_check_https_url)
    token_file: str = _opt("", help="the path of a file holding the bearer token for 'url', "
                           "or '' for none")
    ca_file: str = _opt("", help="a PEM file of CA certificates for 'url' (default: the "
                        "system's)")
    upload_pdf: bool = _opt(True, help="true to send the PDF with the JSON, else false")
    timeout_s: float = _opt(30.0, help="a number of seconds to wait for the endpoint",
                            check=_check_positive)
    retry_min_s: float = _opt(30.0, help="a number of seconds (first retry delay of an upload)",
                              check=_check_positive)
    retry_max_s: float = _opt(3600.0, help="a number of seconds (longest retry delay of an "
                              "upload)", check=_check_positive)


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
    patrol: PatrolConfig = _opt(help="the [patrol] section", factory=PatrolConfig,
                                check=_check_patrol)
    attendance: AttendanceConfig = _opt(help="the [attendance] section",
                                        factory=AttendanceConfig)
    roster: RosterConfig = _opt(help="the [roster] section", factory=RosterConfig)
    guests: GuestsConfig = _opt(help="the [guests] section", factory=GuestsConfig)
    equipment: EquipmentConfig = _opt(help="the [equipment] section", factory=EquipmentConfig,
                                      check=_check_equipment)
    report: ReportConfig = _opt(help="the [report] section", factory=ReportConfig)
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
        return _checked_table(_build(hint, value, f"{key}.", source), meta, source)
    if (table := _table_of_list(hint)) is not None:
        return _checked_table(_build_tables(table, value, key, meta, source), meta, source)
    ok = _matches(hint, value)
    if not ok:
        raise ConfigError(f"{source}: '{key}' must be {meta['help']}, got {_kind(value)}")
    if isinstance(value, int) and not isinstance(value, bool) and _is_float(hint):
        value = float(value)
    check = meta.get("check")
    if check is not None and value is not None and (problem := check(value)):
        raise ConfigError(f"{source}: '{key}' must be {problem}, got {value!r}")
    return value


def _table_of_list(hint: Any) -> Any:
    """The dataclass of a ``list[SomeDataclass]`` field (a TOML array of tables), else None."""
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        if dataclasses.is_dataclass(item):
            return item
    return None


def _build_tables(item: type, value: Any, key: str, meta: Mapping[str, Any], source: str) -> Any:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{source}: '{key}' must be {meta['help']}, got {_kind(value)}")
    return [_build(item, v, f"{key}[{i}].", source) for i, v in enumerate(value, 1)]


def _checked_table(built: Any, meta: Mapping[str, Any], source: str) -> Any:
    """Run a table's own check, which sees all its keys and names the one at fault."""
    check = meta.get("check")
    if check is not None and (problem := check(built)):
        raise ConfigError(f"{source}: {problem}")
    return built


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
