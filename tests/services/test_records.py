"""The guest book, equipment, duty log and handover: the rules through ``Records`` on a real
store with a ManualClock, a badge scanned on a simulated serial scanner through the real patrol
daemon, the purge of personal data, and the ``posjaga`` command's answers to bad input.
"""
from __future__ import annotations

import json
import threading
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest

from drivers.tags.simulator import PtyTagReaderSim
from edge.clock import ManualClock
from edge.config import ConfigError, config_from_mapping
from edge.records import Problem, RecordError, guest_entry, is_badge
from services.patrol import PatrolService
from services.records import Records, RecordsService
from services.report import ReportMaker
from services.runtime import Runtime, open_runtime
from tests.support.running import posjaga, wait_until

ZONE = ZoneInfo("Asia/Makassar")
DAY = date(2026, 12, 4)
ITEMS = [{"id": "HT-1", "kind": "ht", "name": "HT 1"},
         {"id": "SENTER-1", "kind": "flashlight", "name": "Senter"},
         {"id": "APAR-01", "kind": "extinguisher", "name": "APAR Lobi", "location": "Lobi",
          "type": "powder 3 kg", "next_inspection": "2026-12-10"}]


def at(hh: int, mm: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=ZONE).astimezone(timezone.utc)


def data(tmp_path: Path, **sections: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"site": {"id": "kpu-palu", "name": "Sekretariat KPU Kota Palu"},
                            "store": {"url": f"sqlite:///{tmp_path}/posjaga.db"},
                            "equipment": {"items": ITEMS},
                            "report": {"output_dir": str(tmp_path / "reports")}}
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return base


class Desk:
    def __init__(self, tmp_path: Path, start: datetime = at(8, 0), **sections: Any) -> None:
        self.clock = ManualClock(start)
        self.rt: Runtime = open_runtime(config_from_mapping(data(tmp_path, **sections), "t.toml",
                                                            env={}), self.clock)
        self.records = Records(self.rt)

    def kinds(self, branch: str) -> list[str]:
        return [e.kind for e in self.rt.events.query(kind=branch)]

    def payloads(self, kind: str) -> list[dict[str, Any]]:
        return [dict(e.payload) for e in self.rt.events.query(kind=kind)]

    def go(self, when: datetime) -> None:
        self.clock.advance((when - self.clock.now()).total_seconds())


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    made = Desk(tmp_path)
    yield made
    made.rt.close()


# --- guests ----------------------------------------------------------------------------------

def test_a_guest_signs_in_and_out_and_events_carry_no_personal_data(desk: Desk) -> None:
    entry = guest_entry("  Rahmat   Hidayat ", "Bawaslu", "Rapat", "Kasubag Umum", "7271-0001")
    guest = desk.records.sign_in(entry, "Ani")
    assert guest.name == "Rahmat Hidayat" and is_badge(guest.badge, "TAMU-")
    assert [g.id for g in desk.records.inside()] == [guest.id]
    assert desk.rt.states.get("guests").payload == {  # type: ignore[union-attr]
        "inside": 1, "badges": [guest.badge]}
    desk.go(at(9, 30))
    out = desk.records.sign_out(f"  {guest.badge.lower()} ", "Ani")
    assert out.signed_out_at == at(9, 30) and out.signed_out_via == "cli"
    with pytest.raises(RecordError, match="already signed out at 2026-12-04 09:30"):
        desk.records.sign_out(str(guest.id))
    with pytest.raises(RecordError, match="no guest has the badge or number 'TAMU-XXXXXX'"):
        desk.records.sign_out("TAMU-XXXXXX")
    text = json.dumps([desk.payloads("guest.signed_in"), desk.payloads("guest.signed_out")])
    for secret in ("Rahmat", "Bawaslu", "Rapat", "7271-0001"):
        assert secret not in text
    assert desk.payloads("guest.signed_out")[0]["minutes"] == 90


@pytest.mark.parametrize("fields, problem", [
    (("", None, "Rapat", "Kasubag", None), "the guest's name is required"),
    (("Rahmat", None, "", "Kasubag", None), "the purpose of the visit is required"),
    (("Rahmat", None, "Rapat", " ", None), "whom the guest visits is required"),
    (("R" * 81, None, "Rapat", "Kasubag", None), "the guest's name must be 1 to 80"),
    (("Rahmat", None, "Rapat", "Kasubag", "72;DROP"), "the ID number may hold only"),
    (("Rah\x07mat", None, "Rapat", "Kasubag", None), "printable characters"),
])
def test_bad_guest_entries_are_refused_in_one_sentence(fields: tuple[Any, ...],
                                                       problem: str) -> None:
    with pytest.raises(RecordError, match=problem):
        guest_entry(*fields)


def test_personal_data_is_purged_after_the_retention_time(tmp_path: Path) -> None:
    desk = Desk(tmp_path, guests={"retention_days": 2})
    guest = desk.records.sign_in(guest_entry("Maria Lamba", "PLN", "Listrik", "Umum",
                                             "1234"), "Ani")
    desk.go(at(10, 0))
    desk.records.sign_out(guest.badge)
    ReportMaker(desk.rt).make(DAY, None, "cli")
    folder = tmp_path / "reports"
    assert sorted(p.name for p in folder.iterdir()) == ["laporan-2026-12-04-id.json",
                                                        "laporan-2026-12-04-id.pdf"]
    desk.go(at(9, 0, DAY + timedelta(days=2)))
    assert desk.records.purge() == 0  # not two days after the visit yet
    desk.go(at(11, 0, DAY + timedelta(days=2)))
    assert desk.records.purge() == 1
    (kept,) = desk.records.visits(at(0), at(23, 59))
    assert (kept.name, kept.organisation, kept.purpose, kept.id_number) == (None,) * 4
    assert (kept.badge, kept.host) == (guest.badge, "Umum")
    assert desk.payloads("guest.purged")[0]["count"] == 1
    assert list(folder.iterdir()) == []  # the report files named her
    rebuilt = ReportMaker(desk.rt).build(DAY).report["guests"]["visits"]
    assert rebuilt[0]["name"] is None and rebuilt[0]["purged"] is True
    assert desk.records.purge() == 0
    desk.rt.close()


def test_a_badge_scanned_on_a_serial_reader_signs_the_guest_out(tmp_path: Path) -> None:
    scanners = {name: PtyTagReaderSim(name, "line", directory=str(tmp_path), seed=1)
                for name in ("meja", "patroli")}
    readers = [{"name": n, "url": s.url, "framing": "line"} for n, s in scanners.items()]
    desk = Desk(tmp_path, patrol={"readers": readers, "checkpoints": [
        {"id": "CP-01", "name": "Lobi", "tags": ["KPU-CP-01"]}]}, guests={"scanners": ["meja"]})
    patrol = PatrolService(desk.rt, reader_options={"reconnect_min_s": 0.05,
                                                    "reconnect_max_s": 0.2})
    daemon = RecordsService(desk.rt)
    daemon.open()
    stop = threading.Event()
    thread = threading.Thread(target=patrol.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_until(lambda: all(patrol.readers_up().values()) and len(patrol.readers_up()) == 2,
                   15, "both scanners open")
        one = desk.records.sign_in(guest_entry("A", None, "x", "y", None))
        two = desk.records.sign_in(guest_entry("B", None, "x", "y", None))
        scanners["patroli"].tap(two.badge)  # the patrol handheld: not a sign-out scanner
        scanners["meja"].tap(one.badge)
        wait_until(lambda: len(desk.payloads("patrol.tap")) == 2, 15, "two taps recorded")
        daemon.step()
        assert [g.badge for g in desk.records.inside()] == [two.badge]
        (out,) = desk.payloads("guest.signed_out")
        assert (out["badge"], out["via"], out["reader"]) == (one.badge, "scan", "meja")
        daemon.step()  # the cursor moved on: a scan is applied once
        assert len(desk.payloads("guest.signed_out")) == 1
    finally:
        stop.set()
        thread.join(15)
        desk.rt.close()
        for sim in scanners.values():
            sim.close()


# --- equipment -------------------------------------------------------------------------------

def test_equipment_alerts_are_raised_once_and_cleared(desk: Desk) -> None:
    records = desk.records
    records.check("Ani", [Problem("HT-1", "broken", "antena patah"),
                          Problem("SENTER-1", "missing")])
    assert sorted(p["alert"] for p in desk.payloads("equipment.alert")) == ["broken", "missing"]
    records.review_equipment()
    assert len(desk.payloads("equipment.alert")) == 2  # nothing new: not raised again
    records.check("Budi", [Problem("SENTER-1", "missing")])
    assert [p["item"] for p in desk.payloads("equipment.alert_cleared")] == ["HT-1"]
    desk.go(at(8, 0, date(2026, 12, 11)))  # APAR-01 was due on the 10th
    records.review_equipment()
    overdue = [p for p in desk.payloads("equipment.alert") if p["alert"] == "inspection_overdue"]
    assert overdue[0]["message"] == ("Pemeriksaan APAR Lobi (APAR-01, Lobi) lewat jatuh tempo "
                                     "2026-12-10.")
    event = records.inspect("APAR-01", "Ani", "ok", "broken", date(2026, 12, 1))
    assert event.payload["problems"] == ["seal_broken", "expired"]
    assert event.payload["next_inspection"] == "2027-01-10"  # 30 days on
    failed = desk.payloads("equipment.alert")[-1]
    assert (failed["alert"], failed["severity"], failed["problems"]) == (
        "inspection_failed", "critical", ["seal_broken", "expired"])
    assert "segel rusak, kedaluwarsa" in failed["message"]
    assert [p["alert"] for p in desk.payloads("equipment.alert_cleared")][-1] == \
        "inspection_overdue"
    records.inspect("APAR-01", "Ani", "ok", "ok", date(2028, 1, 1), date(2027, 6, 1))
    (apar,) = [s for s in records.inventory() if s.item.id == "APAR-01"]
    assert (apar.alerts, apar.next_inspection) == ([], date(2027, 6, 1))
    with pytest.raises(RecordError, match="HT-1 is a ht, not a fire extinguisher"):
        records.inspect("HT-1", "Ani", "ok", "ok", date(2028, 1, 1))
    with pytest.raises(RecordError, match="the next inspection .* must be after today"):
        records.inspect("APAR-01", "Ani", "ok", "ok", date(2028, 1, 1), date(2026, 12, 1))


def test_a_shift_without_a_checklist_is_an_alert(desk: Desk) -> None:
    records = desk.records
    assert records.review_checklists() == []  # the first run judges nothing before it
    records.check("Ani", [])  # the day shift (07:00-19:00) has its checklist
    desk.go(at(20, 5))
    assert records.review_checklists() == []
    desk.go(at(8, 5, DAY + timedelta(days=1)))  # the night shift ended at 07:00, none
    (alert,) = records.review_checklists()
    assert (alert.payload["alert"], alert.payload["shift"]) == ("checklist_missing",
                                                               f"night {DAY}")
    assert alert.occurred_at == at(8, 0, DAY + timedelta(days=1))
    assert records.review_checklists() == []


# --- duty log and handover -------------------------------------------------------------------

def test_handover_rules_and_its_snapshot(desk: Desk) -> None:
    records = desk.records
    guest = records.sign_in(guest_entry("Yusuf", None, "Listrik", "Umum", None))
    records.check("Ani", [Problem("HT-1", "broken")])
    with pytest.raises(RecordError, match="no handover is waiting"):
        records.confirm_handover("Budi")
    with pytest.raises(RecordError, match="must be two people"):
        records.start_handover("Ani", "ani")
    desk.go(at(18, 55))
    records.start_handover("Ani", "Budi", "HT-1 rusak")
    with pytest.raises(RecordError, match="is still waiting"):
        records.start_handover("Ani", "Citra")
    with pytest.raises(RecordError, match="the handover is to Budi; only they can confirm it"):
        records.confirm_handover("Citra")
    event = records.confirm_handover("budi")
    p = event.payload
    assert (p["outgoing"], p["incoming"], p["shift"], p["via"]) == ("Ani", "Budi",
                                                                    f"night {DAY}", "cli")
    assert p["guests_inside"] == [{"guest": guest.id, "badge": guest.badge}]
    assert p["open_findings"] == [{"kind": "equipment", "item": "HT-1", "name": "HT 1",
                                   "alert": "broken"}]
    assert desk.kinds("handover") == ["handover.started", "handover.confirmed"]
    records.start_handover("Budi", "Citra")
    records.cancel_handover("Budi")
    assert records.pending_handover() is None


def test_the_incoming_guards_punch_confirms_only_after_the_offer(desk: Desk) -> None:
    daemon = RecordsService(desk.rt)
    daemon.open()
    desk.rt.events.record("attendance.punch", "zk:1", {"user_id": "103", "guard": "Citra"})
    desk.go(at(18, 58))
    desk.records.start_handover("Ani", "Citra")
    daemon.step()
    assert desk.records.pending_handover() is not None  # the punch came before the offer
    desk.go(at(19, 1))
    desk.rt.events.record("attendance.punch", "zk:1", {"user_id": "104", "guard": "Dedi"})
    desk.rt.events.record("attendance.punch", "zk:1", {"user_id": "103", "guard": "Citra"})
    daemon.step()
    (confirmed,) = desk.payloads("handover.confirmed")
    assert (confirmed["incoming"], confirmed["via"]) == ("Citra", "fingerprint")


def test_the_duty_log_holds_the_guards_and_the_systems_entries(desk: Desk) -> None:
    desk.records.add_entry("Listrik padam 10 menit", "Eko")
    desk.rt.events.record("radio.alert", "radio", {"alert": "stuck", "message": "PTT macet"})
    desk.rt.events.record("lamp.switched", "lamp", {"on": True})  # not a duty-log matter
    lines = desk.records.log(at(0), at(23, 59))
    assert [(x["by"], x["auto"], x["text"]) for x in lines] == [
        ("Eko", False, "Listrik padam 10 menit"), (None, True, "PTT macet")]
    with pytest.raises(RecordError, match="the entry is required"):
        desk.records.add_entry("   ", "Eko")


# --- configuration ---------------------------------------------------------------------------

@pytest.mark.parametrize("sections, problem", [
    ({"equipment": {"items": [{"id": "APAR-9", "kind": "extinguisher", "name": "X"}]}},
     "'equipment.items[1].location' must be set for a fire extinguisher"),
    ({"equipment": {"items": [ITEMS[0], ITEMS[0]]}}, "'equipment.items[2].id' must be unique"),
    ({"equipment": {"items": [{**ITEMS[2], "next_inspection": "10/12/2026"}]}},
     "'equipment.items[1].next_inspection' must be a date such as '2027-01-15'"),
    ({"guests": {"badge_prefix": "tamu"}}, "'guests.badge_prefix' must be 1 to 8 upper-case"),
    ({"report": {"url": "http://example.org/x"}}, "'report.url' must be an https:// URL"),
    ({"report": {"time": "7:30"}}, "'report.time' must be a local time such as '07:30'"),
    ({"report": {"language": "fr"}}, "'report.language' must be 'id', 'en', or ''"),
])
def test_configuration_mistakes_are_one_sentence(tmp_path: Path, sections: dict[str, Any],
                                                 problem: str) -> None:
    base = data(tmp_path)
    base.update(sections)
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(base, "t.toml", env={})
    assert problem in str(caught.value) and "\n" not in str(caught.value)


# --- the command line ------------------------------------------------------------------------

def write_toml(tmp_path: Path) -> Path:
    path = tmp_path / "posjaga.toml"
    path.write_text(f"""
[site]
id = "kpu-palu"
name = "Sekretariat KPU Kota Palu"
[store]
url = "sqlite:///{tmp_path}/cli.db"
[report]
output_dir = "{tmp_path}/reports"
[[equipment.items]]
id = "HT-1"
kind = "ht"
name = "HT 1"
[[equipment.items]]
id = "APAR-01"
kind = "extinguisher"
name = "APAR Lobi"
location = "Lobi"
type = "powder 3 kg"
next_inspection = "2099-01-01"
""")
    return path


def test_the_command_line_records_and_refuses_bad_input(tmp_path: Path) -> None:
    env = {"POSJAGA_CONFIG": str(write_toml(tmp_path))}
    run = lambda *a: posjaga(*a, env=env)  # noqa: E731
    signed = run("guest", "in", "--name", "Rahmat", "--purpose", "Rapat", "--visit", "Kasubag",
                 "--by", "Ani", "--badge-pdf", str(tmp_path / "badge.pdf"))
    assert signed.returncode == 0, signed.stderr
    badge = signed.stdout.split("badge ")[1].split()[0]
    assert (tmp_path / "badge.pdf").read_bytes().startswith(b"%PDF")
    listed = json.loads(run("guest", "list", "--inside", "--json").stdout)
    assert [g["badge"] for g in listed] == [badge]
    assert run("equipment", "check", "--by", "Ani", "--broken", "ht-1=antena").returncode == 0
    assert run("log", "add", "Aman", "--by", "Ani").returncode == 0
    assert run("guest", "out", badge).returncode == 0
    bad = [
        (("guest", "out", badge), "already signed out"),
        (("guest", "out", "TAMU-ZZZZZZ"), "no guest has the badge or number 'TAMU-ZZZZZZ'"),
        (("equipment", "check", "--by", "Ani", "--missing", "HT-9"),
         "'HT-9' is not an item of the inventory; known: HT-1, APAR-01"),
        (("equipment", "check", "--by", "Ani", "--missing", "HT-1", "--broken", "HT-1"),
         "an item is named twice"),
        (("equipment", "inspect", "APAR-01", "--by", "Ani", "--pressure", "meh", "--seal", "ok",
          "--expires", "2030-01-01"), "the pressure gauge must read one of ok, low, high"),
        (("equipment", "inspect", "APAR-01", "--by", "Ani", "--pressure", "ok", "--seal", "ok",
          "--expires", "1/1/2030"), "--expires '1/1/2030' is not a date such as '2027-06-30'"),
        (("handover", "confirm", "--by", "Budi"), "no handover is waiting"),
        (("log", "show", "--date", "kemarin"), "--date 'kemarin' is not a date"),
        (("report", "--date", "2999-01-01"), "has not begun yet"),
        (("report", "--lang", "fr"), "--lang must be 'id' or 'en', got 'fr'"),
    ]
    for args, message in bad:
        result = run(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    log = json.loads(run("log", "show", "--json").stdout)
    assert [x["text"] for x in log if not x["auto"]] == ["Aman"]
    report = run("report", "--date", str(datetime.now(ZONE).date()), "--json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["summary"]["guests"] == 1
