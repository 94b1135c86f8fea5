"""scripts/install into a throw-away root: twice, then an upgrade, then uninstall; the units it
installs pass `systemd-analyze verify`; the Mosquitto it configures refuses what the ACL says.

One installation serves the whole module (pip runs once); the tests run in file order and the
uninstall comes last.
"""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any, Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

from services.broker import find_mosquitto, free_port
from services.runner import SERVICES
from tests.support.running import REPO, spawn, wait_until

ROOT = "posjaga/kpu-palu"
DAEMONS = sorted(SERVICES)


def install(prefix: Path, *args: str, source: Path = REPO, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(source / "scripts" / "install"), "--prefix", str(prefix),
                             *args], capture_output=True, text=True, timeout=300, input=stdin)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def events_in(prefix: Path) -> list[str]:
    with sqlite3.connect(prefix / "var/lib/posjaga/posjaga.db") as conn:
        return [r[0] for r in conn.execute("SELECT id FROM events ORDER BY seq")]


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("root")
    # A post that ran an older posjaga: its store is at schema 0003 with events in it.
    db = root / "var/lib/posjaga/posjaga.db"
    db.parent.mkdir(parents=True)
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from edge.db import Database
    old = Database(f"sqlite:///{db}")
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(REPO / "edge/migrations"))
    with old.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        for i in range(50):
            conn.exec_driver_sql(
                "INSERT INTO events (id, site, kind, source, occurred_at, recorded_at, payload)"
                f" VALUES ('old-{i:04d}', 'kpu-palu', 'patrol.tap', 'r', "
                "'2026-12-01T00:00:00.000000Z', '2026-12-01T00:00:00.000000Z', '{}')")
    old.close()
    install(root, "--services", "uplink,lamp,patrol")
    return root


def test_install_lays_out_a_post_and_migrates_keeping_every_event(prefix: Path) -> None:
    assert (prefix / "opt/posjaga/bin/posjaga").stat().st_mode & 0o111
    assert (prefix / "opt/posjaga/lib/current/services/cli.py").is_file()
    assert "posjaga:x:" in (prefix / "etc/passwd").read_text()
    groups = (prefix / "etc/group").read_text()
    assert any(line.startswith("gpio:") and "posjaga" in line for line in groups.splitlines())
    assert any(line.startswith("dialout:") and "posjaga" in line for line in groups.splitlines())
    config = (prefix / "etc/posjaga/posjaga.toml").read_text()
    assert 'enabled = ["uplink", "lamp", "patrol"]' in config
    assert "/etc/posjaga/secrets/posjaga-uplink.password" in config
    wants = prefix / "etc/systemd/system/posjaga.target.wants"
    assert sorted(p.name for p in wants.iterdir()) == [
        "posjaga@lamp.service", "posjaga@patrol.service", "posjaga@uplink.service"]
    assert (prefix / "etc/systemd/system/multi-user.target.wants/posjaga.target").is_symlink()
    assert events_in(prefix) == [f"old-{i:04d}" for i in range(50)]
    with sqlite3.connect(prefix / "var/lib/posjaga/posjaga.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0004"
    for account in ("posjaga-uplink", "posjaga-lamp", "posjaga-report"):
        secret = prefix / f"etc/posjaga/secrets/{account}.password"
        assert len(secret.read_text()) >= 24 and oct(secret.stat().st_mode)[-3:] == "640"


def test_running_it_again_changes_nothing_that_matters(prefix: Path) -> None:
    config = prefix / "etc/posjaga/posjaga.toml"
    config.write_text(config.read_text() + "\n# edited by the maintainer\n")
    kept = {p: p.read_bytes() for p in [config, *sorted((prefix / "etc/posjaga/secrets")
                                                         .iterdir()),
                                        prefix / "etc/mosquitto/posjaga/ca.pem",
                                        prefix / "etc/mosquitto/posjaga/server.key"]}
    release = (prefix / "opt/posjaga/lib/current").resolve()
    again = install(prefix)
    assert "installing the Python dependencies" not in again.stderr  # the venv is current
    assert {p: p.read_bytes() for p in kept} == kept
    assert (prefix / "opt/posjaga/lib/current").resolve() == release
    assert len(events_in(prefix)) == 50


def test_units_pass_systemd_analyze_verify(prefix: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.fail("systemd-analyze is missing: scripts/setup installs Debian's systemd")
    # verify --root needs the system's own units (sysinit.target ...) under the root too.
    system = prefix / "usr/lib/systemd/system"
    if not system.exists():
        shutil.copytree("/usr/lib/systemd/system", system, symlinks=True)
    units = ["posjaga.target"] + [f"posjaga@{d}.service" for d in DAEMONS]
    result = subprocess.run([tool, "verify", f"--root={prefix}", *units],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    for daemon in DAEMONS:
        score = subprocess.run([tool, "security", "--offline=true", f"--root={prefix}",
                                f"posjaga@{daemon}.service"], capture_output=True, text=True,
                               timeout=60)
        exposure = float(score.stdout.rsplit(":", 1)[1].split()[0])
        assert exposure <= 2.5, f"{daemon}: {score.stdout.splitlines()[-1]}"


# --- the broker as configured ------------------------------------------------------------------

class Broker:
    """Mosquitto on the installed configuration, on free ports, files under the prefix."""

    def __init__(self, prefix: Path, workdir: Path) -> None:
        self.port, self.tls_port = free_port(), free_port()
        self.ca = prefix / "etc/mosquitto/posjaga/ca.pem"
        conf = (prefix / "etc/mosquitto/conf.d/posjaga.conf").read_text()
        conf = conf.replace("/etc/mosquitto/posjaga", str(prefix / "etc/mosquitto/posjaga"))
        conf = conf.replace("listener 1883 127.0.0.1", f"listener {self.port} 127.0.0.1")
        conf = conf.replace("listener 8883", f"listener {self.tls_port} 127.0.0.1")
        # As Debian's main file has it, plus: stay root (the files are the test's).
        workdir.mkdir()
        (workdir / "mosquitto.conf").write_text(
            f"user root\npersistence_location {workdir}/\nlog_dest stderr\n{conf}")
        self.proc = subprocess.Popen([find_mosquitto(), "-c", str(workdir / "mosquitto.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._listening, 10, "the configured mosquitto did not listen")

    def _listening(self) -> bool:
        import socket
        try:
            socket.create_connection(("127.0.0.1", self.tls_port), 0.2).close()
            return True
        except OSError:
            return False

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class Client:
    """An MQTT 5 client: Mosquitto answers a refused publish with reason code 0x87."""

    def __init__(self, broker: Broker, user: str | None, password: str | None,
                 tls: bool = False) -> None:
        self.got: list[tuple[str, bytes]] = []
        self.cond = threading.Condition()
        self.connack = threading.Event()
        self.reason: Any = None
        self.acks: dict[int, Any] = {}
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}",
                        protocol=mqtt.MQTTv5)
        if user:
            c.username_pw_set(user, password)
        if tls:
            c.tls_set(ca_certs=str(broker.ca))
        c.on_connect = self._on_connect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        c.connect("127.0.0.1", broker.tls_port if tls else broker.port)
        c.loop_start()
        self.c = c
        assert self.connack.wait(10), "no CONNACK"

    def _on_connect(self, c: Any, u: Any, f: Any, reason: Any, p: Any) -> None:
        self.reason = reason
        self.connack.set()

    def _on_publish(self, c: Any, u: Any, mid: int, reason: Any, p: Any) -> None:
        with self.cond:
            self.acks[mid] = reason
            self.cond.notify_all()

    def _on_message(self, c: Any, u: Any, msg: Any) -> None:
        with self.cond:
            self.got.append((msg.topic, msg.payload))
            self.cond.notify_all()

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.c.on_subscribe = lambda *a: done.set()
        self.c.subscribe(topic, qos=1)
        assert done.wait(10)

    def publish(self, topic: str, body: str = "{}") -> Any:
        """The broker's PUBACK reason code."""
        info = self.c.publish(topic, body, qos=1, properties=Properties(PacketTypes.PUBLISH))
        with self.cond:
            assert self.cond.wait_for(lambda: info.mid in self.acks, 10), "no PUBACK"
            return self.acks[info.mid]

    def wait_topic(self, topic: str) -> list[str]:
        with self.cond:
            assert self.cond.wait_for(lambda: any(t == topic for t, _ in self.got), 15), \
                f"{topic} never arrived; got {[t for t, _ in self.got]}"
            return [t for t, _ in self.got]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def broker(prefix: Path, tmp_path: Path) -> Iterator[Broker]:
    install(prefix, "--account", "supervisor", "danru", stdin="pw-danru\n")
    install(prefix, "--account", "guard", "guard1", stdin="pw-guard1\n")
    install(prefix, "--account", "maintainer", "admin", stdin="pw-admin\n")
    b = Broker(prefix, tmp_path / "mosquitto")
    yield b
    b.close()


def secret(prefix: Path, daemon: str) -> str:
    return (prefix / f"etc/posjaga/secrets/posjaga-{daemon}.password").read_text()


def test_the_broker_refuses_what_the_acl_does_not_allow(prefix: Path, broker: Broker) -> None:
    anonymous = Client(broker, None, None)
    assert anonymous.reason.is_failure  # no anonymous access
    anonymous.close()
    supervisor = Client(broker, "danru", "pw-danru", tls=True)  # over TLS, our own CA
    guard = Client(broker, "guard1", "pw-guard1")
    lamp = Client(broker, "posjaga-lamp", secret(prefix, "lamp"))
    uplink = Client(broker, "posjaga-uplink", secret(prefix, "uplink"))
    maintainer = Client(broker, "admin", "pw-admin")
    try:
        assert not supervisor.reason.is_failure and not guard.reason.is_failure
        lamp.subscribe(f"{ROOT}/lamp/set")
        uplink.subscribe(f"{ROOT}/+/set")  # as the uplink does
        guard.subscribe(f"{ROOT}/lamp/set")  # granted by Mosquitto, never delivered
        guard.subscribe(f"{ROOT}/status")
        # Refused publishes: a guard's command, a supervisor's system command, the lamp
        # daemon writing outside its branch.
        for client, topic in ((guard, f"{ROOT}/lamp/set"), (supervisor, f"{ROOT}/system/set"),
                              (lamp, f"{ROOT}/event/lamp/switched"), (lamp, f"{ROOT}/status")):
            assert client.publish(topic).value == 0x87, topic  # Not authorized
        assert supervisor.publish(f"{ROOT}/lamp/set", '{"mode": "on"}').value == 0
        assert uplink.publish(f"{ROOT}/status", "online").value == 0
        # The status went out after the lamp command was accepted: the guard has it, and
        # would have had the command before it, were it allowed to read it.
        assert guard.wait_topic(f"{ROOT}/status") == [f"{ROOT}/status"]
        assert lamp.wait_topic(f"{ROOT}/lamp/set") == [f"{ROOT}/lamp/set"]
        # The uplink subscribes to every command, but only system/set reaches it: a
        # maintainer's ping arrives, the lamp command sent before it never does.
        assert maintainer.publish(f"{ROOT}/system/set", '{"action": "ping"}').value == 0
        assert uplink.wait_topic(f"{ROOT}/system/set") == [f"{ROOT}/system/set"]
    finally:
        for c in (supervisor, guard, lamp, uplink, maintainer):
            c.close()


def test_each_daemon_answers_its_commands_on_its_own_account(prefix: Path, broker: Broker,
                                                             tmp_path: Path) -> None:
    config = tmp_path / "posjaga.toml"
    config.write_text(f"""
[site]
id = "kpu-palu"
[store]
url = "sqlite:///{tmp_path}/posjaga.db"
[mqtt]
url = "mqtt://nobody@127.0.0.1:{broker.port}"
reconnect_min_s = 0.1
poll_s = 0.05
[gpio]
pin_factory = "mock"
""")
    procs = []
    for daemon in ("uplink", "lamp"):  # as two units: own process, own account, credential
        creds = tmp_path / f"creds-{daemon}"
        creds.mkdir()
        (creds / "mqtt-password").write_text(secret(prefix, daemon))
        procs.append(spawn("-m", "services.cli", "-c", str(config), "run", daemon,
                           env={"POSJAGA_MQTT_USER": f"posjaga-{daemon}",
                                "CREDENTIALS_DIRECTORY": str(creds)}))
    supervisor = Client(broker, "danru", "pw-danru")
    try:
        supervisor.subscribe(f"{ROOT}/+/response")
        supervisor.subscribe(f"{ROOT}/state/lamp")

        def answered() -> bool:
            supervisor.publish(f"{ROOT}/lamp/set", '{"mode": "on", "by": "Danru"}')
            with supervisor.cond:
                return supervisor.cond.wait_for(
                    lambda: any(t.endswith("/lamp/response") for t, _ in supervisor.got), 1)
        wait_until(answered, 30, "the lamp daemon never answered")
        responses = [b for t, b in supervisor.got if t.endswith("/lamp/response")]
        assert b'"status": "ok"' in responses[0]
        # The uplink (another process) forwards the lamp's state: published under its account.
        supervisor.wait_topic(f"{ROOT}/state/lamp")
    finally:
        supervisor.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            assert proc.wait(20) == 0


# --- upgrade and uninstall (last: they change the installation) ------------------------------

def test_an_upgrade_adds_a_release_and_keeps_every_event(prefix: Path, tmp_path: Path) -> None:
    new = tmp_path / "src"
    for name in ("edge", "drivers", "services", "docs", "systemd", "scripts"):
        shutil.copytree(REPO / name, new / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "posjaga.example.toml"):
        shutil.copy(REPO / name, new / name)
    (new / "services/cli.py").write_text((new / "services/cli.py").read_text()
                                         + "\n# a newer version\n")
    before = (prefix / "opt/posjaga/lib/current").resolve()
    count = len(events_in(prefix))
    result = install(prefix, source=new)
    after = (prefix / "opt/posjaga/lib/current").resolve()
    assert after != before and before.exists()  # the previous release stays, a way back
    assert "adding release" in result.stderr
    assert "a newer version" in (after / "services/cli.py").read_text()
    assert len(events_in(prefix)) == count


def test_uninstall_keeps_the_data_unless_told(prefix: Path) -> None:
    install(prefix, "--uninstall")
    assert not (prefix / "opt/posjaga").exists()
    assert not (prefix / "etc/systemd/system/posjaga@.service").exists()
    assert not (prefix / "etc/mosquitto/conf.d/posjaga.conf").exists()
    assert (prefix / "etc/posjaga/posjaga.toml").exists() and len(events_in(prefix)) >= 50
    install(prefix, "--uninstall", "--purge")
    assert not (prefix / "etc/posjaga").exists()
    assert not (prefix / "var/lib/posjaga").exists()
