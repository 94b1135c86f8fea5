"""A scripted day at the post, on the real services and simulators, ends in a daily report
whose figures match the events it came from; the PDF opens and shows its sections.

Real parts: the lamp and radio daemons on gpiozero mock pins (GpioSimulator), the patrol rules
(PatrolBook, fed taps as the patrol daemon feeds them), the approved roster and the attendance
rules (RosterStore, DutyKeeper) over punches in the store, the records daemon, the report daemon,
a real SQLite store, a ManualClock; the PDF is rendered by pdftoppm. No wall-clock durations.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest

from drivers.gpio import COS, PTT, GpioSimulator
from edge.clock import ManualClock
from edge.config import config_from_mapping
from edge.events import NewEvent
from edge.patrol import PatrolBook, TapIn, guards_on_duty
from edge.records import Problem, guest_entry
from edge.roster import CsvRow
from edge.timefmt import from_utc_text, to_utc_text
from services.attendance_duty import DutyKeeper
from services.lamp import LampService
from services.radio import RadioService
from services.records import Records, RecordsService
from services.report import STATE, ReportService
from services.roster import RosterStore
from services.runtime import Runtime, open_runtime

ZONE = ZoneInfo("Asia/Makassar")
DAY = date(2026, 12, 4)
CHECKPOINTS = [{"id": "CP-01", "name": "Lobi", "tags": ["KPU-CP-01"]},
               {"id": "CP-02", "name": "Ruang Ketua", "room": "Lantai 2", "tags": ["KPU-CP-02"]},
               {"id": "CP-03", "name": "Gudang Logistik", "tags": ["KPU-CP-03"]}]
OUTCOMES = [{"code": "KPU-AMAN", "state": "secure"},
            {"code": "KPU-M-JENDELA", "state": "problem", "note": "Jendela tidak bisa dikunci"}]
ITEMS = [{"id": "HT-1", "kind": "ht", "name": "HT Motorola 1", "location": "Pos jaga"},
         {"id": "HT-2", "kind": "ht", "name": "HT Motorola 2", "location": "Pos jaga"},
         {"id": "SENTER-1", "kind": "flashlight", "name": "Senter"},
         {"id": "APAR-01", "kind": "extinguisher", "name": "APAR Lobi", "location": "Lobi",
          "type": "powder 3 kg", "next_inspection": "2026-12-03"},
         {"id": "APAR-02", "kind": "extinguisher", "name": "APAR Gudang", "location": "Gudang",
          "type": "CO2 5 kg", "next_inspection": "2027-02-01"}]
GUARDS = [("101", "Ani"), ("102", "Budi"), ("103", "Citra"), ("104", "Dedi"), ("105", "Eko")]
STEP_S = 600.0  # the daemons look every 10 simulated minutes between scripted moments
RADIO_STEP = 0.125


def at(hh: int, mm: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=ZONE).astimezone(timezone.utc)


def config(tmp_path: Path, **extra: Any) -> Any:
    data: dict[str, Any] = {
        "site": {"id": "kpu-palu", "name": "Sekretariat KPU Kota Palu"},
        "store": {"url": f"sqlite:///{tmp_path}/posjaga.db"},
        "gpio": {"pin_factory": "mock"},
        "patrol": {"checkpoints": CHECKPOINTS, "outcomes": OUTCOMES},
        "equipment": {"items": ITEMS},
        "report": {"output_dir": str(tmp_path / "reports"), "signers": ["", "", "Dra. Siti"]}}
    data.update(extra)
    return config_from_mapping(data, "test.toml", env={})


class Post:
    """The guard post through one day: every daemon steps as the clock moves."""

    def __init__(self, tmp_path: Path, start: datetime) -> None:
        self.clock = ManualClock(start)
        self.rt: Runtime = open_runtime(config(tmp_path), self.clock)
        self.rt.events.record("system.started", "posjaga@pi", {"services": [
            "uplink", "lamp", "radio", "patrol", "attendance", "records", "report"], "pid": 1})
        self.sim = GpioSimulator(sleep=self.clock.advance)
        self.lamp = LampService(self.rt, pin_factory=self.sim.factory)
        self.radio = RadioService(self.rt, pin_factory=self.sim.factory)
        self.lamp.open()
        self.radio.open()
        self.book = PatrolBook(self.rt.config.patrol, ZONE, "id")
        self.rt.events.record_many(self.book.start(None, start))
        self._approve_roster()
        self.duty = DutyKeeper(self.rt)
        self.records_daemon = RecordsService(self.rt)
        self.records_daemon.open()
        self.records: Records = self.records_daemon.records
        self.report = ReportService(self.rt)
        self.report.open()

    def _approve_roster(self) -> None:
        store = RosterStore.from_runtime(self.rt)
        ids = dict((name, uid) for uid, name in GUARDS)
        plan = [(DAY - timedelta(days=1), "night", "Eko"), (DAY, "day", "Ani"),
                (DAY, "day", "Budi"), (DAY, "night", "Citra"), (DAY, "night", "Dedi")]
        store.import_csv([CsvRow(i, d, s, g, ids[g]) for i, (d, s, g) in enumerate(plan, 2)],
                         "piket.csv", by="Danru")
        store.approve("Kasubag Umum")

    # --- time --------------------------------------------------------------------------------

    def until(self, when: datetime) -> None:
        while self.clock.now() < when:
            self.clock.advance(min(STEP_S, (when - self.clock.now()).total_seconds()))
            self.step()

    def step(self) -> None:
        now = self.clock.now()
        self.lamp.step()
        self.radio.step()
        self.rt.events.record_many(self.book.tick(now))
        self.duty.update(now)
        self.records_daemon.step()
        self.report.step()

    # --- what happens at the post ------------------------------------------------------------

    def tap(self, code: str) -> None:
        now = self.clock.now()
        duty = self.rt.states.get("duty")
        on_duty = guards_on_duty(duty.payload if duty else None, self.book.catalog.guards)
        tap = TapIn(reader="meja", code=code, tag_kind="barcode", at=now,
                    mono=self.clock.monotonic())
        self.rt.events.record_many(self.book.tap(tap, lambda: on_duty))
        self.clock.advance(60)  # a minute's walk to the next sticker

    def round(self, *codes: str) -> None:
        for code in codes:
            self.tap(code)

    def punch(self, user_id: str, punch: int = 0) -> None:
        """A fingerprint punch as the attendance daemon stores it, with its event."""
        now = self.clock.now()
        device_time = now.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M:%S")
        guard = dict(GUARDS)[user_id]
        with self.rt.events.writing() as batch:
            event = batch.record_many([NewEvent("attendance.punch", "zk:CKJ321", {
                "device": "CKJ321", "user_id": user_id, "guard": guard, "punch": punch,
                "status": 1, "device_time": device_time, "via": "live", "trusted": True},
                now)])[0]
            batch.cursor.execute(
                "INSERT INTO attendance_punches (device, user_id, device_time, punch, status, "
                "occurred_at, recorded_at, kind, via, trusted, historical, event_id) VALUES "
                "('CKJ321', ?, ?, ?, 1, ?, ?, 'guard', 'live', 1, 0, ?)",
                (user_id, device_time, punch, to_utc_text(now), to_utc_text(now), event.id))
        self.step()

    def transmit(self, line: str, seconds: float) -> None:
        self.sim.set_line(line, True)
        self._radio_for(seconds)
        self.sim.set_line(line, False)
        self._radio_for(2.0)  # past the hang time: the transmission is final

    def _radio_for(self, seconds: float) -> None:
        end = self.clock.monotonic() + seconds
        while self.clock.monotonic() < end:
            self.clock.advance(RADIO_STEP)
            self.radio.step()

    def of(self, kind: str) -> list[Any]:
        return list(self.rt.events.query(kind=kind))

    def close(self) -> None:
        self.lamp.close()
        self.radio.close()
        self.rt.close()
        self.sim.factory.close()


def script(post: Post) -> dict[str, str]:
    """The day of 4 December 2026 at the post; returns the guests' badges by name."""
    badges: dict[str, str] = {}
    r = post.records
    post.until(at(1, 5))
    post.round("KPU-CP-01", "KPU-CP-02", "KPU-CP-03")            # 01:00 complete
    post.until(at(2, 30))
    r.add_entry("Listrik padam 10 menit, genset menyala", "Eko")
    post.until(at(6, 50))                                         # 04:00 round missed
    post.punch("101")                                             # Ani on time
    post.until(at(6, 58))
    r.start_handover("Eko", "Ani", "Gerbang samping macet")
    post.until(at(7, 2))
    r.confirm_handover("Ani")
    post.until(at(7, 5))
    post.round("KPU-CP-01", "KPU-CP-02", "KPU-CP-03")            # 07:00 complete
    r.check("Ani", [Problem("HT-2", "broken", "antena patah")])
    post.until(at(7, 25))
    post.punch("102")                                             # Budi 25 min late
    post.until(at(8, 0))
    post.transmit(COS, 4.0)
    post.until(at(8, 30))
    post.transmit(PTT, 2.0)
    post.until(at(9, 0))
    badges["Rahmat"] = r.sign_in(guest_entry("Rahmat Hidayat", "Bawaslu Kota Palu",
                                             "Rapat koordinasi", "Kasubag Umum",
                                             "7271012345678901"), "Ani").badge
    post.until(at(10, 5))
    post.round("KPU-CP-01", "KPU-CP-02")                          # 10:00 incomplete
    post.until(at(10, 30))
    r.sign_out(badges["Rahmat"], "Ani")
    post.until(at(11, 0))
    r.inspect("APAR-02", "Budi", "low", "ok", date(2028, 1, 1))
    post.until(at(13, 2))
    post.round("KPU-CP-01", "KPU-CP-02", "KPU-M-JENDELA", "KPU-CP-03")  # 13:00, a finding
    post.until(at(13, 10))
    post.transmit(COS, 6.0)
    post.until(at(14, 0))
    badges["Maria"] = r.sign_in(guest_entry("Maria Lamba", None, "Antar surat",
                                            "Bagian Umum", None), "Budi").badge
    post.until(at(15, 0))
    post.tap(badges["Maria"].lower())                             # scanned on the way out
    post.until(at(15, 30))
    r.add_entry("Truk logistik datang, dibongkar di gudang", "Ani")
    post.until(at(16, 40))
    post.round("KPU-CP-01", "KPU-CP-02", "KPU-CP-03")            # 16:00 late
    post.until(at(18, 20))
    post.punch("102", 1)                                          # Budi leaves 40 min early
    post.until(at(18, 30))
    badges["Yusuf"] = r.sign_in(guest_entry("Yusuf Tandi", "PLN", "Perbaikan listrik",
                                            "Kasubag Umum", None), "Ani").badge
    post.until(at(18, 58))
    r.start_handover("Ani", "Citra")
    post.until(at(19, 1))
    post.punch("103")                                             # Citra: confirms too
    post.until(at(19, 5))
    post.punch("101", 1)                                          # Ani clocks out
    post.round("KPU-CP-01", "KPU-CP-02", "KPU-CP-03")            # 19:00 complete
    post.until(at(19, 20))
    r.check("Citra", [])                                          # HT-2 repaired
    post.until(at(22, 5))
    post.round("KPU-CP-03", "KPU-CP-02", "KPU-CP-01")            # 22:00 complete
    post.until(at(22, 10))
    post.transmit(COS, 3.0)
    post.until(at(7, 35, DAY + timedelta(days=1)))               # past the report time
    return badges


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Post, dict[str, str]]]:
    post = Post(tmp_path_factory.mktemp("day"), at(23, 0, DAY - timedelta(days=1)))
    badges = script(post)
    yield post, badges
    post.close()


def in_day(post: Post, kind: str) -> list[Any]:
    start, end = at(0), at(0, day=DAY + timedelta(days=1))
    return [e for e in post.of(kind) if start <= e.occurred_at < end]


def report_of(post: Post) -> dict[str, Any]:
    events = [e for e in post.of("report.daily") if e.payload["date"] == DAY.isoformat()]
    assert len(events) == 1, "the daemon built the day's report once, at the report time"
    assert events[0].occurred_at >= at(7, 30, DAY + timedelta(days=1))
    return json.loads(Path(events[0].payload["pdf"]).with_suffix(".json").read_text())


# --- the figures match the events --------------------------------------------------------------

def test_the_report_is_built_at_the_report_time_and_published(day: Any) -> None:
    post, _ = day
    report = report_of(post)
    state = post.rt.states.get(STATE)
    assert state is not None and state.payload["date"] == DAY.isoformat()
    assert state.payload["summary"] == report["summary"]
    assert report["complete"] is True, report["coverage"]
    assert report["period"] == {"start": to_utc_text(at(0)),
                                "end": to_utc_text(at(0, day=DAY + timedelta(days=1))),
                                "tz": "Asia/Makassar", "day_starts": "00:00"}
    event = next(e for e in post.of("report.daily") if e.payload["date"] == DAY.isoformat())
    names = json.dumps(event.payload)
    assert "Rahmat" not in names and "7271012345678901" not in names  # no PII in the event


def test_attendance_figures_match_the_shift_outcomes(day: Any) -> None:
    post, _ = day
    att = report_of(post)["attendance"]
    assert att["available"] and att["roster"] == "approved"
    assert [(s["shift"], s["guards"]) for s in att["shifts"]] == [
        ("day", ["Ani", "Budi"]), ("night", ["Citra", "Dedi"])]
    facts = {(o["guard"], o["outcome"], o["minutes"]) for o in att["outcomes"]}
    assert {("Budi", "late", 25), ("Budi", "left_early", 40), ("Dedi", "absent", None),
            ("Ani", "on_time", None), ("Citra", "on_time", None)} <= facts
    outcomes = [e.payload["outcome"] for e in in_day(post, "attendance.shift")]
    assert att["counts"]["late"] == outcomes.count("late") == 1
    assert att["counts"]["absent"] == outcomes.count("absent") == 1
    assert att["counts"]["left_early"] == outcomes.count("left_early") == 1


def test_every_round_with_its_missed_checkpoints_and_the_room_finding(day: Any) -> None:
    post, _ = day
    patrol = report_of(post)["patrol"]
    rounds = [e.payload for e in post.of("patrol.round")
              if at(0) <= from_utc_text(e.payload["due_at"]) < at(0, day=DAY + timedelta(days=1))]
    assert [r["round"] for r in patrol["rounds"]] == [r["round"] for r in rounds]
    got = [(from_utc_text(r["due_at"]).astimezone(ZONE).hour, r["outcome"], r["late"],
            r["missing"]) for r in patrol["rounds"]]
    assert got == [(1, "complete", False, []),
                   (4, "missed", True, ["Lobi", "Ruang Ketua", "Gudang Logistik"]),
                   (7, "complete", False, []), (10, "incomplete", True, ["Gudang Logistik"]),
                   (13, "complete", False, []), (16, "complete", True, []),
                   (19, "complete", False, []), (22, "complete", False, [])]
    assert patrol["counts"] == {"rounds": 8, "complete": 6, "late": 1, "incomplete": 1,
                                "missed": 1, "checkpoints_missed": 4, "findings": 1}
    (finding,) = patrol["findings"]
    (event,) = in_day(post, "patrol.finding")
    assert (finding["name"], finding["room"], finding["note"], finding["at"]) == (
        "Ruang Ketua", "Lantai 2", "Jendela tidak bisa dikunci", to_utc_text(event.occurred_at))


def test_guests_signed_out_by_hand_and_by_scan_and_one_still_inside(day: Any) -> None:
    post, badges = day
    guests = report_of(post)["guests"]
    visits = {v["name"]: v for v in guests["visits"]}
    assert set(visits) == {"Rahmat Hidayat", "Maria Lamba", "Yusuf Tandi"}
    assert visits["Maria Lamba"]["via"] == "scan"
    assert visits["Rahmat Hidayat"]["via"] == "cli"
    assert visits["Yusuf Tandi"]["signed_out_at"] is None and visits["Yusuf Tandi"][
        "inside_at_end"] is True
    signed_in = in_day(post, "guest.signed_in")
    assert guests["counts"]["arrived"] == len(signed_in) == 3
    assert guests["counts"]["left"] == len(in_day(post, "guest.signed_out")) == 2
    day_end = next(x for x in guests["inside_at_shift_end"] if x["shift"] == f"day {DAY}")
    assert day_end["guests"] == [visits["Yusuf Tandi"]["guest"]]
    for e in signed_in:  # the guest book's events carry no personal data
        assert set(e.payload) == {"guest", "badge", "host", "by", "id_number_given"}


def test_equipment_checks_inspection_and_alerts(day: Any) -> None:
    post, _ = day
    eq = report_of(post)["equipment"]
    alerts = sorted((a["alert"], a["item"]) for a in eq["alerts"])
    assert alerts == sorted((e.payload["alert"], e.payload["item"])
                            for e in in_day(post, "equipment.alert"))
    assert alerts == [("broken", "HT-2"), ("checklist_missing", None),
                      ("inspection_failed", "APAR-02"), ("inspection_overdue", "APAR-01")]
    assert [(c["by"], [p["id"] for p in c["problems"]]) for c in eq["checks"]] == [
        ("Ani", ["HT-2"]), ("Citra", [])]
    assert eq["counts"] == {"checks": 2, "inspections": 1, "alerts": 4, "problems": 1}
    (inspection,) = eq["inspections"]
    assert (inspection["item"], inspection["ok"], inspection["problems"]) == (
        "APAR-02", False, ["pressure_low"])
    inventory = {i["id"]: i for i in eq["inventory"]}
    assert inventory["APAR-01"]["alerts"] == ["inspection_overdue"]
    assert inventory["HT-2"]["condition"] == "ok" and inventory["HT-2"]["alerts"] == []
    assert eq["shifts_without_check"] == []


def test_lamp_hours_and_radio_activity_match_their_events(day: Any) -> None:
    post, _ = day
    report = report_of(post)
    (daily,) = [e for e in post.of("lamp.daily") if e.payload["date"] == DAY.isoformat()]
    lamp = report["lamp"]
    assert (lamp["on_hours"], lamp["source"]) == (daily.payload["on_hours"], "lamp.daily")
    lit = sum((from_utc_text(b) - from_utc_text(a)).total_seconds() for a, b in lamp["on"])
    assert abs(lit - daily.payload["on_s"]) < 60  # the switches tell the same story
    assert 11 < lamp["on_hours"] < 13  # Palu: dark about 12 h
    txs = in_day(post, "radio.transmission")
    radio = report["radio"]
    assert radio["rx"]["count"] == sum(1 for e in txs if e.payload["direction"] == "rx") == 3
    assert radio["tx"]["count"] == sum(1 for e in txs if e.payload["direction"] == "tx") == 1
    assert radio["rx"]["seconds"] == round(sum(e.payload["duration_s"] for e in txs
                                               if e.payload["direction"] == "rx"), 1)
    assert sum(radio["hourly"]) == 4 and radio["hourly"][8] == 2 and radio["hourly"][13] == 1


def test_handovers_duty_log_and_no_gaps(day: Any) -> None:
    post, _ = day
    report = report_of(post)
    handovers = report["handovers"]["confirmed"]
    assert [(h["outgoing"], h["incoming"], h["via"]) for h in handovers] == [
        ("Eko", "Ani", "cli"), ("Ani", "Citra", "fingerprint")]
    evening = handovers[1]
    assert [g["name"] for g in evening["guests_inside"]] == ["Yusuf Tandi"]
    # HT-2 is repaired only at 19:20, after the handover: it is still an open finding then.
    assert {f["item"] for f in evening["open_findings"] if f["kind"] == "equipment"} == {
        "APAR-01", "APAR-02", "HT-2"}
    assert any(f["kind"] == "patrol" for f in evening["open_findings"])
    manual = [x for x in report["duty_log"] if not x["auto"]]
    assert [(x["by"], x["text"][:15]) for x in manual] == [
        ("Eko", "Listrik padam 1"), ("Ani", "Truk logistik d")]
    assert len(report["duty_log"]) > len(manual)  # the system's entries are there too
    assert report["coverage"] == {"known": True, "in_progress": False, "gaps": [], "down_s": 0}
    assert report["summary"]["alerts"] == len([e for e in post.rt.events.query(
        since=at(0) - timedelta(days=1)) if e.kind.endswith(".alert")
        and at(0) <= e.occurred_at < at(0, day=DAY + timedelta(days=1))])


# --- the PDF -----------------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils is not installed")
def test_the_pdf_opens_and_shows_its_sections(day: Any, tmp_path: Path) -> None:
    post, _ = day
    event = next(e for e in post.of("report.daily") if e.payload["date"] == DAY.isoformat())
    pdf = Path(event.payload["pdf"])
    assert pdf.name == "laporan-2026-12-04-id.pdf" and pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(tmp_path / "page")],
                   check=True, timeout=60)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2
    from PIL import Image
    with Image.open(pages[0]) as image:
        assert image.size[0] < image.size[1]  # A4 portrait
        grey = image.convert("L")
        dark = sum(grey.histogram()[:128]) / (grey.size[0] * grey.size[1])
        assert 0.02 < dark < 0.5  # printed, neither blank nor black
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True, timeout=60).stdout
    for heading in ("LAPORAN KEAMANAN HARIAN", "SEKRETARIAT KPU KOTA PALU",
                    "Jumat, 4 Desember 2026", "1. Ringkasan", "2. Linimasa", "3. Jadwal Piket",
                    "4. Patroli", "5. Buku Tamu", "6. Peralatan Keamanan", "7. Lampu Parkir",
                    "8. Serah Terima Jaga", "9. Buku Mutasi", "10. Peringatan",
                    "11. Gangguan Perangkat", "Danru", "Penanggung Jawab",
                    "Kasubag Umum dan Logistik", "Dra. Siti", "Yusuf Tandi", "Gudang Logistik"):
        assert heading in text, heading
    assert "Data tidak lengkap" not in text
