"""Credentials and TLS from the configuration, against a Mosquitto that demands both."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from edge.clock import SystemClock
from edge.config import ConfigError
from services.broker import Mosquitto, free_port
from services.runtime import open_runtime
from services.uplink import UplinkService
from tests.support.mqtt import Recorder
from tests.support.running import ThreadedUplink, wait_until


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    d = tmp_path / "pki"
    d.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=posjaga test CA", "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"))
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.pem"),
             "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
             "-extfile", str(d / "ext.cnf"), "-out", str(d / "server.pem"))
    return d


@pytest.fixture
def secured(tmp_path: Path, pki: Path):
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "uplink", "s3cret word"],
                   check=True, capture_output=True)
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), "supervisor", "pw"], check=True,
                   capture_output=True)
    passwd.chmod(0o600)
    tls_port = free_port()
    extra = (f"per_listener_settings false\npassword_file {passwd}\n"
             f"listener {tls_port} 127.0.0.1\ncafile {pki / 'ca.pem'}\n"
             f"certfile {pki / 'server.pem'}\nkeyfile {pki / 'server.key'}\n")
    with Mosquitto(workdir=tmp_path / "b", anonymous=False, extra_config=extra) as broker:
        yield broker, tls_port


def test_tls_and_password_file_from_config(tmp_path, pki, secured, config_for) -> None:
    broker, tls_port = secured
    secret = tmp_path / "mqtt-password"
    secret.write_text("s3cret word\n")
    config = config_for(f"mqtts://uplink@127.0.0.1:{tls_port}",
                        mqtt={"password_file": str(secret), "ca_file": str(pki / "ca.pem")})
    rec = Recorder(broker.port, "posjaga/#", username="supervisor", password="pw")
    rt = open_runtime(config, SystemClock())
    up = ThreadedUplink(rt)
    try:
        up.wait_connected()
        event = rt.events.record("patrol.tap", "reader-1", {"code": "CP-01"})
        rec.wait_for(lambda m: event.id in rec.event_ids())
    finally:
        up.close()
        rec.close()
        rt.close()


def test_wrong_password_is_reported_and_nothing_is_lost(tmp_path, pki, secured,
                                                        config_for) -> None:
    broker, tls_port = secured
    config = config_for(f"mqtts://uplink:wrong@127.0.0.1:{tls_port}",
                        mqtt={"ca_file": str(pki / "ca.pem")})
    rt = open_runtime(config, SystemClock())
    rt.events.record("patrol.tap", "reader-1", {"code": "CP-01"})
    up = ThreadedUplink(rt)
    try:
        wait_until(lambda: up.stats.last_error and "refused" in up.stats.last_error,
                   15, "refusal not reported")
        assert "wrong" not in up.stats.last_error  # no secret in what we say
        assert not up.stats.connected and rt.events.backlog() == 1
    finally:
        up.close()
        rt.close()


def test_untrusted_certificate_is_refused(tmp_path, secured, config_for) -> None:
    broker, tls_port = secured  # no ca_file: the system CAs do not know our test CA
    rt = open_runtime(config_for(f"mqtts://uplink:x@127.0.0.1:{tls_port}"), SystemClock())
    up = ThreadedUplink(rt)
    try:
        wait_until(lambda: up.stats.last_error and "certificate" in up.stats.last_error.lower(),
                   15, "certificate problem not reported")
        assert not up.stats.connected
    finally:
        up.close()
        rt.close()


def test_missing_tls_files_and_password_file_are_config_errors(tmp_path, config_for) -> None:
    rt = open_runtime(config_for("mqtts://u@127.0.0.1:8883",
                                 mqtt={"ca_file": str(tmp_path / "nope.pem")}), SystemClock())
    with pytest.raises(ConfigError, match="'mqtt.ca_file' names a file that does not exist"):
        UplinkService(rt)
    rt.close()
    rt = open_runtime(config_for("mqtt://u@127.0.0.1:1883",
                                 mqtt={"password_file": str(tmp_path / "none")}), SystemClock())
    with pytest.raises(ConfigError, match="password file cannot be read"):
        UplinkService(rt)
    rt.close()
