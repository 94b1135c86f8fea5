"""The report for days with gaps, in English and with a shifted duty day; its way out: the
``report`` command and the retained state through a real Mosquitto, and the HTTPS upload
through the store-and-forward outbox against a real TLS server on 127.0.0.1 that is down,
then up, then refuses.
"""
from __future__ import annotations

import base64
import http.server
import json
import shutil
import ssl
import subprocess
import threading
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest

from edge.clock import ManualClock
from edge.config import config_from_mapping
from services.broker import Mosquitto
from services.report import STATE, UPLOAD_STATE, ReportMaker, ReportService
from services.runtime import Runtime, open_runtime
from tests.support.mqtt import Recorder
from tests.support.running import ThreadedUplink, wait_until

ZONE = ZoneInfo("Asia/Makassar")
DAY = date(2026, 12, 4)
ROOT = "posjaga/kpu-palu"
NEEDS_POPPLER = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                   reason="poppler-utils is not installed")


def at(hh: int, mm: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=ZONE).astimezone(timezone.utc)


def make_rt(tmp_path: Path, start: datetime, mqtt_url: str | None = None,
            **sections: Any) -> tuple[Runtime, ManualClock]:
    data: dict[str, Any] = {"site": {"id": "kpu-palu", "name": "Sekretariat KPU Kota Palu"},
                            "store": {"url": f"sqlite:///{tmp_path}/posjaga.db"},
                            "mqtt": {"poll_s": 0.05, "reconnect_min_s": 0.1,
                                     "reconnect_max_s": 0.5, "keepalive_s": 5},
                            "report": {"output_dir": str(tmp_path / "reports")}}
    if mqtt_url:
        data["mqtt"]["url"] = mqtt_url
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    clock = ManualClock(start)
    return open_runtime(config_from_mapping(data, "test.toml", env={}), clock), clock


def record(rt: Runtime, clock: ManualClock, when: datetime, kind: str,
           payload: dict[str, Any] | None = None, source: str = "posjaga@pi") -> None:
    clock.advance(max(0.0, (when - clock.now()).total_seconds()))
    rt.events.record(kind, source, payload or {})


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True, timeout=60).stdout


def transmission(start: datetime, seconds: float, direction: str = "rx") -> dict[str, Any]:
    return {"direction": direction, "line": "cos" if direction == "rx" else "ptt",
            "duration_s": seconds, "active_s": seconds, "bursts": 1, "folded": 0,
            "stuck": False}


# --- days with gaps ------------------------------------------------------------------------------

@NEEDS_POPPLER
def test_a_day_with_an_outage_and_a_crash_shows_the_gaps(tmp_path: Path) -> None:
    rt, clock = make_rt(tmp_path, at(23, 0, DAY - timedelta(days=1)))
    record(rt, clock, clock.now(), "system.started", {"services": ["radio"], "pid": 10})
    record(rt, clock, at(8, 0), "radio.transmission", transmission(at(8, 0), 3.0), "radio")
    record(rt, clock, at(10, 0), "system.stopped", {"reason": "stopped"})
    record(rt, clock, at(13, 0), "system.started", {"services": ["radio"], "pid": 11})
    record(rt, clock, at(15, 30), "radio.hourly", {"hour": "x"}, "radio")  # its last sign
    record(rt, clock, at(16, 45), "system.started", {"services": ["radio"], "pid": 12})
    clock.advance((at(8, 0, DAY + timedelta(days=1)) - clock.now()).total_seconds())
    maker = ReportMaker(rt)
    built = maker.build(DAY)
    cov = built.report["coverage"]
    assert built.report["complete"] is False and cov["known"] is True
    assert [(g["reason"], g["start"][11:16], g["end"][11:16]) for g in cov["gaps"]] == [
        ("stopped", "02:00", "05:00"), ("crash", "07:30", "08:45")]  # UTC: 10-13 and 15:30-16:45
    assert built.report["devices"]["service_gaps"] == cov["gaps"]
    assert built.report["radio"]["rx"] == {"count": 1, "seconds": 3.0}
    path = maker.save(built)
    text = pdf_text(path)
    assert "Data tidak lengkap" in text
    assert "posjaga tidak berjalan 04/12 10:00 - 04/12 13:00 (dihentikan)" in text
    assert "(berhenti mendadak)" in text
    rt.close()


def test_one_daemon_restarting_is_its_own_gap_not_the_posts(tmp_path: Path) -> None:
    # One systemd unit per daemon: each process records its own start and stop.
    rt, clock = make_rt(tmp_path, at(23, 0, DAY - timedelta(days=1)))
    record(rt, clock, clock.now(), "system.started", {"services": ["uplink"], "pid": 10})
    record(rt, clock, clock.now(), "system.started", {"services": ["lamp"], "pid": 11})
    record(rt, clock, at(2, 0), "system.stopped", {"reason": "stopped", "services": ["lamp"]})
    record(rt, clock, at(2, 10), "system.started", {"services": ["lamp"], "pid": 12})
    record(rt, clock, at(20, 0), "system.stopped", {"reason": "stopped", "services": ["uplink"]})
    record(rt, clock, at(20, 0), "system.stopped", {"reason": "stopped", "services": ["lamp"]})
    record(rt, clock, at(20, 30), "system.started", {"services": ["lamp"], "pid": 13})
    record(rt, clock, at(21, 0), "system.started", {"services": ["uplink"], "pid": 14})
    clock.advance((at(8, 0, DAY + timedelta(days=1)) - clock.now()).total_seconds())
    maker = ReportMaker(rt)
    built = maker.build(DAY)
    cov = built.report["coverage"]
    assert [(g["services"], g["start"][11:16], g["end"][11:16]) for g in cov["gaps"]] == [
        (["lamp"], "18:00", "18:10"), (["lamp"], "12:00", "12:30"),
        (["uplink"], "12:00", "13:00")]  # UTC: 02:00-02:10 and 20:00-20:30/21:00 WITA
    assert cov["down_s"] == 600 + 3600  # 20:00-21:00 counted once
    if shutil.which("pdftotext"):
        assert "04/12 02:00 - 04/12 02:10 (dihentikan [lamp])" in pdf_text(maker.save(built))
    rt.close()


@NEEDS_POPPLER
def test_a_day_without_data_says_so_rather_than_showing_zeros(tmp_path: Path) -> None:
    rt, clock = make_rt(tmp_path, at(8, 0, DAY + timedelta(days=3)))
    maker = ReportMaker(rt)
    built = maker.build(DAY)
    s = built.report["summary"]
    assert s["late"] is None and s["rounds"] is None and s["radio_rx"] is None
    assert s["lamp_on_hours"] is None and s["equipment_checks"] is None
    assert built.report["coverage"]["known"] is False and built.report["complete"] is False
    text = pdf_text(maker.save(built))
    assert "tidak ada data" in text and "Catatan jalannya posjaga tidak ada" in text
    assert "Tanpa data: Jadwal Piket dan Kehadiran, Patroli, Peralatan Keamanan, Lampu, Radio" \
        in " ".join(text.split())
    rt.close()


@NEEDS_POPPLER
def test_english_and_a_duty_day_that_starts_at_the_shift_change(tmp_path: Path) -> None:
    rt, clock = make_rt(tmp_path, at(6, 0), report={"day_starts": "07:00", "language": "en"})
    record(rt, clock, at(6, 0), "system.started", {"services": ["lamp"], "pid": 1})
    record(rt, clock, at(6, 30), "lamp.switched", {"on": False}, "lamp")
    record(rt, clock, at(18, 0), "lamp.switched", {"on": True}, "lamp")
    record(rt, clock, at(6, 0, DAY + timedelta(days=1)), "lamp.switched", {"on": False}, "lamp")
    record(rt, clock, at(0, 0, DAY + timedelta(days=1)), "lamp.daily",
           {"date": DAY.isoformat(), "on_hours": 99.0}, "lamp")  # a midnight day: not used
    clock.advance((at(9, 0, DAY + timedelta(days=1)) - clock.now()).total_seconds())
    maker = ReportMaker(rt)
    built = maker.build(DAY)
    assert built.report["period"]["start"] == "2026-12-03T23:00:00.000000Z"
    assert built.report["language"] == "en"
    lamp = built.report["lamp"]
    assert (lamp["source"], lamp["on_hours"], lamp["switches"]) == ("lamp.switched", 12.0, 2)
    text = pdf_text(maker.save(built))
    assert "DAILY SECURITY REPORT" in text and "Friday, 4 December 2026" in text
    assert "04/12/2026 07:00 - 05/12/2026 07:00" in text
    rt.close()


# --- the command and the retained state through the broker --------------------------------------

def test_a_supervisor_builds_a_report_over_mqtt_and_it_stays_retained(
        tmp_path: Path, broker: Mosquitto) -> None:
    rt, clock = make_rt(tmp_path, at(9, 0, DAY + timedelta(days=1)), mqtt_url=broker.url)
    rt.events.record("dutylog.entry", "dutylog", {"text": "Aman terkendali", "by": "Ani"},
                     occurred_at=at(12, 0))
    ReportService(rt)  # registers the 'report' command
    uplink = ThreadedUplink(rt)
    uplink.wait_connected()
    supervisor = Recorder(broker.port, f"{ROOT}/report/response")
    try:
        supervisor.publish(f"{ROOT}/report/set", json.dumps(
            {"action": "build", "date": "2026-12-04", "transaction": 7}))
        supervisor.publish(f"{ROOT}/report/set", json.dumps({"action": "build",
                                                             "date": "04-12-2026"}))
        supervisor.publish(f"{ROOT}/report/set", json.dumps({"action": "print"}))
        answers = [m.json() for m in supervisor.wait_for(lambda ms: len(ms) >= 3)]
        ok = answers[0]
        assert ok["status"] == "ok" and ok["transaction"] == 7
        assert ok["data"]["report"]["duty_log"][0]["text"] == "Aman terkendali"
        assert Path(ok["data"]["pdf"]).is_file()
        assert answers[1] == {"status": "error", "data": {}, "error":
                              "'date' must be a date such as \"2026-12-04\", got \"04-12-2026\""}
        assert answers[2]["error"] == "'action' must be one of build, status; got \"print\""
        late = Recorder(broker.port, f"{ROOT}/state/report/daily")  # subscribes afterwards
        (state,) = late.wait_for(lambda ms: len(ms) >= 1)
        late.close()
        assert state.retain and state.json()["date"] == "2026-12-04"
        assert state.json()["report_id"] == ok["data"]["report_id"]
        events = list(rt.events.query(kind="report.daily"))
        assert [e.payload["trigger"] for e in events] == ["command"]
        wait_until(lambda: rt.events.backlog() == 0, 20, "the report.daily event delivered")
        assert events[0].payload["summary"]["duty_log"] == 1
    finally:
        supervisor.close()
        uplink.close()
        rt.close()


# --- the HTTPS upload ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    return cert, key


class Endpoint:
    """The Kasubag's HTTPS endpoint on 127.0.0.1: it records what it receives and answers
    with ``status``; it can be stopped and started on the same port."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.cert, self.key = cert, key
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 201
        self.port = self._free_port()
        self._server: http.server.HTTPServer | None = None

    def _free_port(self) -> int:
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def start(self) -> None:
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.received.append((dict(self.headers), body))
                self.send_response(endpoint.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = http.server.HTTPServer(("127.0.0.1", self.port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/api/laporan"


@pytest.fixture
def endpoint(certificate: tuple[Path, Path]) -> Iterator[Endpoint]:
    made = Endpoint(*certificate)
    yield made
    made.stop()


def test_the_upload_waits_for_the_endpoint_and_goes_out_when_it_is_back(
        tmp_path: Path, endpoint: Endpoint, certificate: tuple[Path, Path]) -> None:
    token = tmp_path / "token"
    token.write_text("rahasia-123\n")
    rt, clock = make_rt(tmp_path, at(6, 0, DAY + timedelta(days=1)), report={
        "url": endpoint.url, "ca_file": str(certificate[0]), "token_file": str(token),
        "retry_min_s": 30, "retry_max_s": 300, "timeout_s": 5})
    service = ReportService(rt)
    service.open()  # first start: no report for the days before it
    clock.advance((at(7, 31, DAY + timedelta(days=1)) - clock.now()).total_seconds())
    assert service.step() == [DAY]  # built at 07:30; the endpoint is down
    upload = rt.states.get(UPLOAD_STATE)
    assert upload is not None and len(upload.payload["pending"]) == 1
    assert "could not be reached" in upload.payload["pending"][0]["error"]
    assert "1 daily report(s) not uploaded yet" in (service.health() or "")  # posjaga status
    endpoint.start()
    clock.advance(10)
    assert service.step() == [] and endpoint.received == []  # not due yet: backoff
    clock.advance(30)
    service.step()
    ((headers, body),) = endpoint.received
    assert headers["Authorization"] == "Bearer rahasia-123"
    sent = json.loads(body)
    assert sent["report"]["date"] == "2026-12-04" and headers["Idempotency-Key"] == \
        sent["report_id"]
    assert base64.b64decode(sent["pdf"]["base64"]).startswith(b"%PDF")
    (done,) = list(rt.events.query(kind="report.uploaded"))
    assert (done.payload["attempts"], done.payload["status"]) == (2, 201)
    with rt.db.raw_read() as cur:  # a sent body is dropped: it names guests
        assert cur.execute("SELECT status, body FROM report_uploads").fetchall() == [("sent", "")]
    assert rt.states.get(UPLOAD_STATE).payload["pending"] == []  # type: ignore[union-attr]
    assert service.health() is None
    # A refusal (4xx) is final: recorded, not retried for ever.
    endpoint.status = 422
    clock.advance(86400)
    assert service.step() == [DAY + timedelta(days=1)]
    (failed,) = list(rt.events.query(kind="report.upload_failed"))
    assert failed.payload["status"] == 422 and "HTTP 422" in failed.payload["error"]
    clock.advance(3600)
    service.step()
    assert len(endpoint.received) == 2
    rt.close()


def test_a_restart_keeps_the_pending_upload(tmp_path: Path, endpoint: Endpoint,
                                            certificate: tuple[Path, Path]) -> None:
    section = {"url": endpoint.url, "ca_file": str(certificate[0]), "retry_min_s": 30,
               "timeout_s": 5, "upload_pdf": False}
    rt, clock = make_rt(tmp_path, at(9, 0, DAY + timedelta(days=1)), report=section)
    maker = ReportMaker(rt)
    maker.make(DAY, None, "cli")
    assert maker.uploader.send_due() == 0  # endpoint down
    rt.close()
    endpoint.start()
    rt, clock2 = make_rt(tmp_path, at(9, 5, DAY + timedelta(days=1)), report=section)
    service = ReportService(rt)
    service.open()
    service.step()
    ((_, body),) = endpoint.received
    assert "pdf" not in json.loads(body)
    assert [e.payload["attempts"] for e in rt.events.query(kind="report.uploaded")] == [2]
    assert rt.states.get(STATE) is not None
    rt.close()


def test_a_wrong_certificate_is_not_trusted(tmp_path: Path, endpoint: Endpoint) -> None:
    endpoint.start()
    rt, clock = make_rt(tmp_path, at(9, 0, DAY + timedelta(days=1)),
                        report={"url": endpoint.url, "timeout_s": 5})
    maker = ReportMaker(rt)
    maker.make(DAY, None, "cli")
    assert maker.uploader.send_due() == 0 and endpoint.received == []
    pending = rt.states.get(UPLOAD_STATE).payload["pending"]  # type: ignore[union-attr]
    assert "CERTIFICATE_VERIFY_FAILED" in pending[0]["error"]
    rt.close()
