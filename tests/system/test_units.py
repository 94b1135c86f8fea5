"""What every daemon unit must hold, the broker table against the daemons, and the footprint
benchmark's report."""
from __future__ import annotations

import configparser
import json
from pathlib import Path

import pytest

from edge.clock import SystemClock
from edge.config import ConfigError
from services.command_link import COMMAND_TARGETS
from services.runner import SERVICES
from services.runtime import open_runtime
from tests.conftest import make_config
from tests.support.running import REPO, posjaga

SYSTEMD = REPO / "systemd"


def _unit(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment]
    parser.read(path)
    return parser


def test_the_template_holds_the_hardening_and_the_notify_contract() -> None:
    unit = _unit(SYSTEMD / "posjaga@.service")
    s = dict(unit["Service"])
    assert s["Type"] == "notify" and s["WatchdogSec"] and s["Restart"] == "on-failure"
    assert s["User"] == "posjaga" and s["StateDirectory"] == "posjaga"
    assert s["ProtectSystem"] == "strict" and s["NoNewPrivileges"] == "yes"
    assert s["DevicePolicy"] == "closed" and s["RestartPreventExitStatus"] == "2"
    assert s["RestrictAddressFamilies"].split() == ["AF_UNIX", "AF_INET", "AF_INET6"]
    assert "PrivateNetwork" not in s  # the uplink's wake-up socket is an abstract one
    assert "LG_WD=%t/posjaga-%i" in s["Environment"] and s["RuntimeDirectory"]
    after = unit["Unit"]["After"].split()
    assert "time-set.target" in after and "time-sync.target" not in after
    assert unit["Unit"]["StartLimitBurst"] and unit["Install"]["WantedBy"] == "posjaga.target"


def test_devices_are_allowed_by_group_and_only_where_used() -> None:
    def allowed(daemon: str) -> set[str]:
        text = "".join(p.read_text() for p in (SYSTEMD / f"posjaga@{daemon}.service.d")
                       .glob("*.conf")) if (SYSTEMD / f"posjaga@{daemon}.service.d").exists() \
            else ""
        return {line.split("=", 1)[1].split()[0] for line in text.splitlines()
                if line.startswith("DeviceAllow=")}
    assert allowed("lamp") == {"char-gpiochip"}
    assert allowed("radio") == {"char-gpiochip", "char-ttyUSB", "char-ttyACM"}
    assert allowed("patrol") == {"char-ttyUSB", "char-ttyACM"}
    assert allowed("uplink") == allowed("records") == set()


def test_the_broker_table_names_every_command_target_a_daemon_registers(tmp_path: Path) -> None:
    config = make_config(tmp_path, gpio={"pin_factory": "mock"},
                         report={"output_dir": str(tmp_path / "reports")})
    for name, factory in SERVICES.items():
        rt = open_runtime(config, SystemClock())
        try:
            try:
                factory(rt)
            except ConfigError:
                continue  # needs a device configured (patrol, attendance): no commands
            assert tuple(rt.router.targets) == COMMAND_TARGETS.get(name, ()), name
            drop_in = SYSTEMD / f"posjaga@{name}.service.d" / "20-broker.conf"
            assert drop_in.exists() == (name in COMMAND_TARGETS), name
        finally:
            rt.close()


@pytest.mark.parametrize("daemon", sorted(COMMAND_TARGETS))
def test_daemons_with_commands_get_their_own_account(daemon: str) -> None:
    text = (SYSTEMD / f"posjaga@{daemon}.service.d" / "20-broker.conf").read_text()
    assert f"POSJAGA_MQTT_USER=posjaga-{daemon}" in text
    assert f"LoadCredential=mqtt-password:/etc/posjaga/secrets/posjaga-{daemon}.password" in text


def test_bench_footprint_reports_every_figure() -> None:
    result = posjaga("bench", "footprint", "--json", "--events", "600", "--checkpoint", "200",
                     "--alone-s", "0.3", "--rate", "400")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    for key in ("rss_all_mb", "ready_s", "import_floor_s", "ready_ratio", "rss_growth_pct"):
        assert report[key] > 0 or key == "rss_growth_pct", key
    assert set(report["rss_per_service_mb"]) == set(SERVICES)
    assert abs(report["ready_ratio"] - report["ready_s"] / report["import_floor_s"]) < 0.05
