"""Patrol rules (edge/patrol.py) on a manual clock: plans, round endings, signals, restarts.

No thread, no device: a guard's walk is a list of taps at instants of an injected ManualClock,
so every time in these tests is exact.
"""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.clock import ManualClock
from edge.config import Config, ConfigError, config_from_mapping
from edge.events import NewEvent, validate_new
from edge.patrol import PatrolBook, TapIn, guards_on_duty
from edge.patrol_plan import RoundPlan

ZONE = ZoneInfo("Asia/Makassar")
DAY = date(2026, 12, 4)
CHECKPOINTS = [
    {"id": "CP-01", "name": "Lobi", "room": "Lantai 1", "tags": ["KPU-CP-01"]},
    {"id": "CP-02", "name": "Ruang Ketua", "room": "Lantai 2", "tags": ["KPU-CP-02"]},
    {"id": "CP-03", "name": "Ruang Sekretaris", "room": "Lantai 2", "tags": ["KPU-CP-03"]},
    {"id": "CP-04", "name": "Gudang Logistik", "tags": ["KPU-CP-04", "3808980205"]},
]
GUARDS = [{"id": "3", "name": "Budi", "badges": ["04A1B2C3D4E5F6"]},
          {"id": "4", "name": "Andi", "badges": ["0A0B0C0D"]}]
OUTCOMES = [{"code": "KPU-AMAN", "state": "secure"},
            {"code": "KPU-ELEK", "state": "electronics_off"},
            {"code": "KPU-PINTU", "state": "door_locked"},
            {"code": "KPU-M-JENDELA", "state": "problem", "note": "Jendela tidak bisa dikunci"}]
BUDI_ON_DUTY = guards_on_duty({"guards": [{"id": "3", "name": "Budi"}]}, {})


def local(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), tzinfo=ZONE).astimezone(timezone.utc)


def make_config(language: str = "id", **patrol: Any) -> Config:
    section = {"checkpoints": CHECKPOINTS, "guards": GUARDS, "outcomes": OUTCOMES,
               "readers": [{"name": "scanner", "url": "/dev/ttyACM0"}], **patrol}
    return config_from_mapping({"site": {"id": "kpu-palu", "language": language},
                                "patrol": section}, "test.toml", env={})


class Post:
    """The rules plus a manual clock and everything they said, kept in order."""

    def __init__(self, start: datetime, language: str = "id", **patrol: Any) -> None:
        self.clock = ManualClock(start)
        self.config = make_config(language, **patrol)
        self.book = PatrolBook(self.config.patrol, ZONE, language)
        self.events: list[NewEvent] = []
        self.said(self.book.start(None, start))

    def said(self, events: Iterable[NewEvent]) -> list[NewEvent]:
        events = list(events)
        for event in events:
            validate_new(event)  # each one could be recorded as it is
        self.events += events
        return events

    def at(self, when: datetime) -> list[NewEvent]:
        self.clock.advance((when - self.clock.now()).total_seconds())
        return self.said(self.book.tick(self.clock.now()))

    def walk(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def tap(self, code: str, reader: str = "scanner", duty: list[dict] | None = None,
            fixed: str | None = None, kind: str = "line",
            card_number: int | None = None) -> dict[str, Any]:
        tap = TapIn(reader=reader, code=code, tag_kind=kind, at=self.clock.now(),
                    mono=self.clock.monotonic(), fixed_checkpoint=fixed, card_number=card_number)
        on_duty = BUDI_ON_DUTY if duty is None else duty
        events = self.said(self.book.tap(tap, lambda: on_duty))
        return dict(next(e for e in events if e.kind == "patrol.tap").payload)

    def patrol(self, codes: Iterable[str], every_s: float = 120.0, **options: Any) -> None:
        for code in codes:
            self.tap(code, **options)
            self.walk(every_s)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [dict(e.payload) for e in self.events if e.kind == kind]

    def signals(self, payload: dict[str, Any]) -> list[str]:
        return [s["signal"] for s in payload["signals"]]


ALL = ["KPU-CP-01", "KPU-CP-02", "KPU-CP-03", "KPU-CP-04"]


# --- the plan ------------------------------------------------------------------------------

def test_the_default_plan_is_every_3_hours_aligned_to_the_shifts_day_and_night() -> None:
    plan = RoundPlan(make_config().patrol.plan, ZONE)
    slots = plan.slots_of_day(DAY)
    assert [s.id for s in slots] == [f"20261204-{h:02d}00" for h in (1, 4, 7, 10, 13, 16, 19, 22)]
    night = slots[-1]
    assert (night.opens, night.late, night.deadline) == (
        local(DAY, 21, 45), local(DAY, 22, 30), local(DAY + timedelta(days=1), 0))
    assert plan.report_time(DAY) == local(DAY + timedelta(days=1), 0)


def test_shifts_of_other_lengths_restart_the_rhythm_and_deadlines_never_overlap() -> None:
    plan = RoundPlan(make_config(plan={"shifts": ["08:00", "16:00"]}).patrol.plan, ZONE)
    slots = {s.id[-4:]: s for s in plan.slots_of_day(DAY)}
    assert list(slots) == ["0100", "0400", "0700", "0800", "1100", "1400", "1600", "1900", "2200"]
    # 07:00 is the night shift's last round: it must end before the 08:00 round opens.
    assert slots["0700"].deadline == slots["0800"].opens == local(DAY, 7, 45)
    assert slots["1400"].deadline == local(DAY, 15, 45)


def test_the_first_round_after_installing_is_one_that_is_not_late_yet() -> None:
    plan = RoundPlan(make_config().patrol.plan, ZONE)
    assert plan.first_slot(local(DAY, 22, 10)).id == "20261204-2200"
    assert plan.first_slot(local(DAY, 22, 40)).id == "20261205-0100"


# --- round endings -------------------------------------------------------------------------

def test_a_complete_round_on_time() -> None:
    post = Post(local(DAY, 21, 40))
    first = post.tap("KPU-CP-01")
    assert first["signals"][0]["signal"] == "outside_round"  # opens at 21:45
    post.at(local(DAY, 21, 58))
    post.patrol(ALL)
    (done,) = post.of("patrol.round")
    assert done["outcome"] == "complete" and done["late"] is False
    assert done["round"] == "20261204-2200" and done["missing"] == []
    assert [v["id"] for v in done["visited"]] == ["CP-01", "CP-02", "CP-03", "CP-04"]
    assert done["guard"] == {"id": "3", "name": "Budi", "via": "duty"}
    assert done["started_at"] == "2026-12-04T13:58:00.000000Z" and done["duration_s"] == 360
    assert post.of("patrol.alert") == []
    state = post.book.state()
    assert state["round"]["id"] == "20261205-0100" and state["round"]["status"] == "pending"
    assert state["last_round"]["outcome"] == "complete"
    # Nothing more happens at the old round's late time or deadline.
    post.at(local(DAY, 23, 59))
    assert len(post.of("patrol.round")) == 1 and post.of("patrol.alert") == []


def test_a_late_round_is_alerted_at_its_late_time_and_may_still_complete() -> None:
    post = Post(local(DAY, 21, 40))
    post.at(local(DAY, 22, 20))
    post.patrol(ALL[:2], every_s=240)
    post.at(local(DAY, 22, 30))
    (late,) = post.of("patrol.alert")
    assert late["alert"] == "late" and late["status"] == "in_progress"
    assert [m["name"] for m in late["missing"]] == ["Ruang Sekretaris", "Gudang Logistik"]
    assert late["message"] == ("Ronde patroli 04/12 22:00 WITA terlambat: belum selesai 30 "
                               "menit setelah jadwal. Belum diperiksa: Ruang Sekretaris, "
                               "Gudang Logistik.")
    late_event = next(e for e in post.events if e.kind == "patrol.alert")
    assert late_event.occurred_at == local(DAY, 22, 30)
    post.patrol(ALL[2:])
    (done,) = post.of("patrol.round")
    assert done["outcome"] == "complete" and done["late"] is True
    assert len(post.of("patrol.alert")) == 1  # late once, then complete: no more alerts


def test_a_missed_round_names_every_checkpoint() -> None:
    post = Post(local(DAY, 21, 40))
    post.at(local(DAY + timedelta(days=1), 0, 30))
    kinds = [e.kind for e in post.events]
    assert kinds == ["patrol.alert", "patrol.round", "patrol.alert", "patrol.daily"]
    late, missed = post.of("patrol.alert")
    assert (late["alert"], missed["alert"]) == ("late", "missed")
    (ended,) = post.of("patrol.round")
    assert ended["outcome"] == "missed" and ended["started_at"] is None
    assert [m["id"] for m in ended["missing"]] == ["CP-01", "CP-02", "CP-03", "CP-04"]
    assert missed["message"] == ("Ronde patroli 04/12 22:00 WITA terlewat: tidak dimulai sampai "
                                 "05/12 00:00 WITA. Titik yang terlewat: Lobi, Ruang Ketua, "
                                 "Ruang Sekretaris, Gudang Logistik.")
    assert post.events[1].occurred_at == local(DAY + timedelta(days=1), 0)


@pytest.mark.parametrize("language, words", [
    ("id", "Ronde patroli 04/12 22:00 WITA tidak lengkap: 2 titik tidak diperiksa: "
           "Ruang Sekretaris, Gudang Logistik."),
    ("en", "Patrol round 04/12 22:00 WITA is incomplete: 2 checkpoints were not checked: "
           "Ruang Sekretaris, Gudang Logistik."),
])
def test_an_incomplete_round_names_the_missing_checkpoints(language: str, words: str) -> None:
    post = Post(local(DAY, 21, 50), language=language)
    post.patrol(ALL[:2])
    post.at(local(DAY, 23, 59, 59))
    assert post.of("patrol.round") == []
    post.at(local(DAY + timedelta(days=1), 0))
    (ended,) = post.of("patrol.round")
    assert ended["outcome"] == "incomplete" and ended["late"] is True
    assert [m["name"] for m in ended["missing"]] == ["Ruang Sekretaris", "Gudang Logistik"]
    incomplete = post.of("patrol.alert")[-1]
    assert incomplete["alert"] == "incomplete" and incomplete["message"] == words


def test_a_round_spanning_midnight_belongs_to_the_day_it_was_due() -> None:
    post = Post(local(DAY, 21, 40), plan={"deadline_min": 150})
    post.at(local(DAY, 23, 55))
    post.patrol(ALL[:2], every_s=300)
    report_day_ended = post.at(local(DAY + timedelta(days=1), 0, 5))
    assert [e.kind for e in report_day_ended] == []  # the report waits for the 22:00 round
    post.patrol(ALL[2:], every_s=300)
    (done,) = post.of("patrol.round")
    assert done["round"] == "20261204-2200" and done["date"] == "2026-12-04"
    assert done["outcome"] == "complete" and done["late"] is True
    assert done["ended_at"] == "2026-12-04T16:10:00.000000Z"  # 00:10 WITA on the 5th
    post.at(local(DAY + timedelta(days=1), 0, 30))
    (daily,) = post.of("patrol.daily")
    assert daily["date"] == "2026-12-04" and daily["partial"] is True
    assert [(r["round"], r["outcome"], r["late"]) for r in daily["rounds"]] == [
        ("20261204-2200", "complete", True)]
    assert daily["counts"] == {"rounds": 1, "complete": 1, "late": 1, "incomplete": 0,
                               "missed": 0, "findings": 0}
    assert next(e for e in post.events if e.kind == "patrol.daily").occurred_at == local(
        DAY + timedelta(days=1), 0, 30)


def test_a_day_of_rounds_adds_up_in_the_daily_report() -> None:
    post = Post(local(DAY, 0, 30), language="en")
    for hour in (1, 4, 7, 10, 13, 16, 19, 22):
        post.at(local(DAY, hour, 35 if hour == 10 else 5))
        if hour == 13:
            continue  # missed
        post.patrol(ALL if hour != 16 else ALL[:3], every_s=60)
        if hour == 1:
            post.tap("KPU-M-JENDELA")
    post.at(local(DAY + timedelta(days=1), 0))
    (daily,) = post.of("patrol.daily")
    assert daily["counts"] == {"rounds": 8, "complete": 6, "late": 1, "incomplete": 1,
                               "missed": 1, "findings": 1}
    assert daily["message"] == ("Patrol 04/12/2026: 8 rounds, 6 complete (1 late), "
                                "1 incomplete, 1 missed; 1 findings.")
    assert [r["outcome"] for r in daily["rounds"] if r["late"]] == [
        "complete", "missed", "incomplete"]
    assert daily["findings"][0]["name"] == "Gudang Logistik"
    assert post.book.state()["days"] == []  # reported: nothing kept for that day


# --- rooms and findings --------------------------------------------------------------------

def test_outcome_codes_record_the_room_state_and_what_is_not_secure_becomes_a_finding() -> None:
    post = Post(local(DAY, 21, 58))
    post.tap("KPU-CP-01")
    secure = post.tap("KPU-AMAN")
    assert secure["outcome"]["state"] == "secure" and secure["checkpoint"]["id"] == "CP-01"
    post.walk(90)
    post.tap("KPU-CP-02")
    post.tap("KPU-ELEK")
    post.tap("KPU-PINTU")
    post.walk(90)
    post.tap("KPU-CP-03")
    post.tap("KPU-M-JENDELA")
    findings = post.of("patrol.finding")
    assert [(f["checkpoint"]["id"], f["state"]) for f in findings] == [
        ("CP-02", "electronics_off"), ("CP-02", "door_locked"), ("CP-03", "problem")]
    assert findings[0]["message"] == ("Temuan patroli di Ruang Ketua (Lantai 2): elektronik "
                                      "masih menyala, sudah dimatikan petugas.")
    assert findings[2]["note"] == "Jendela tidak bisa dikunci"
    assert findings[2]["guard"]["name"] == "Budi"
    visited = {v["id"]: v["outcomes"] for v in post.book.state()["round"]["visited"]}
    assert visited == {"CP-01": ["secure"], "CP-02": ["electronics_off", "door_locked"],
                       "CP-03": ["problem"]}
    post.walk(90)
    post.tap("KPU-CP-04")
    after = post.tap("KPU-ELEK", duty=[])  # after the round completed, nobody on duty
    assert after["guard"]["name"] == "Budi"  # who visited the room, not the next round's
    (done,) = post.of("patrol.round")
    assert len(done["findings"]) == 3
    assert [f["checkpoint"] for f in post.book.state()["last_round"]["findings"]] == [
        "CP-02", "CP-02", "CP-03", "CP-04"]


def test_an_outcome_code_without_a_recent_checkpoint_is_recorded_not_applied() -> None:
    post = Post(local(DAY, 21, 58))
    lonely = post.tap("KPU-M-JENDELA")
    assert post.signals(lonely) == ["outcome_without_checkpoint"] and lonely["round"] is None
    post.tap("KPU-CP-01")
    post.walk(301)  # outcome_window_s is 300
    stale = post.tap("KPU-ELEK")
    assert post.signals(stale) == ["outcome_without_checkpoint"]
    assert post.of("patrol.finding") == []


# --- who tapped ----------------------------------------------------------------------------

def test_taps_go_to_the_guard_on_duty_or_to_the_guard_whose_badge_opened_the_round() -> None:
    post = Post(local(DAY, 21, 50))
    assert post.tap("KPU-CP-01")["guard"]["via"] == "duty"
    post.at(local(DAY + timedelta(days=1), 0, 50))  # the next round, 01:00
    badge = post.tap("0a0b0c0d", reader="post-nfc", kind="nfc-a", duty=[])
    assert badge["resolved"] == "badge" and badge["round"] == "20261205-0100"
    post.walk(60)
    tap = post.tap("KPU-CP-02", duty=BUDI_ON_DUTY)
    assert tap["guard"] == {"id": "4", "name": "Andi", "via": "badge"}
    assert post.book.state()["round"]["guard"]["name"] == "Andi"


def test_with_two_guards_on_duty_and_no_badge_a_tap_names_both_and_blames_neither() -> None:
    post = Post(local(DAY, 21, 50))
    both = guards_on_duty({"guards": [{"id": "3"}, "4"]}, post.book.catalog.guards)
    assert [g["name"] for g in both] == ["Budi", "Andi"]
    tap = post.tap("KPU-CP-01", duty=both)
    assert tap["guard"] is None and tap["on_duty"] == ["3", "4"]


def test_a_badge_on_a_fixed_reader_is_a_visit_to_its_checkpoint() -> None:
    post = Post(local(DAY, 21, 50))
    tap = post.tap("04A1B2C3D4E5F6", reader="gudang", fixed="CP-04", kind="nfc-a")
    assert tap["resolved"] == "badge" and tap["checkpoint"]["id"] == "CP-04"
    assert tap["starts_round"] is True and tap["guard"]["via"] == "badge"
    post.tap("KPU-PINTU")  # the outcome sheet scanned with the handheld scanner
    assert post.of("patrol.finding")[0]["checkpoint"]["id"] == "CP-04"


def test_an_outcome_code_goes_to_the_room_last_visited_or_to_its_fixed_readers_room() -> None:
    post = Post(local(DAY, 21, 50))
    post.tap("KPU-CP-01")
    post.walk(60)
    post.tap("04A1B2C3D4E5F6", reader="gudang", fixed="CP-04", kind="nfc-a")
    post.walk(60)
    post.tap("KPU-CP-02")
    post.tap("KPU-PINTU", reader="gudang", fixed="CP-04")  # an outcome card on the fixed reader
    post.tap("KPU-ELEK")  # the sheet on the handheld: the room just visited
    assert [f["checkpoint"]["id"] for f in post.of("patrol.finding")] == ["CP-04", "CP-02"]


# --- signals: recorded on the tap, never a reason to drop it -------------------------------

def test_a_walk_faster_than_the_minimum_is_flagged_by_monotonic_time() -> None:
    post = Post(local(DAY, 21, 50), checkpoints=[
        *CHECKPOINTS[:3], {**CHECKPOINTS[3], "min_walk_s": 90}])
    post.tap("KPU-CP-01")
    post.walk(8)
    fast = post.tap("KPU-CP-02")
    assert fast["signals"] == [{"signal": "too_fast", "from": "CP-01", "walk_s": 8.0,
                                "min_walk_s": 20.0}]
    assert fast["first_visit"] is True  # still a visit
    # NTP steps the wall clock an hour forward: the walk is still 10 s by the monotonic clock.
    post.clock.set_wall(post.clock.now() + timedelta(hours=1))
    post.walk(10)
    assert post.signals(post.tap("KPU-CP-03")) == ["too_fast"]
    post.walk(60)
    assert post.tap("KPU-CP-04")["signals"][0]["min_walk_s"] == 90  # its own minimum
    assert post.of("patrol.round")[0]["signals"] == {"too_fast": 3}


def test_a_burst_of_taps_from_one_reader_is_flagged() -> None:
    post = Post(local(DAY, 21, 50), burst_taps=4, burst_window_s=30)
    taps = [post.tap(code) for code in ["KPU-CP-01", "KPU-AMAN", "KPU-CP-02", "KPU-CP-03"]]
    assert [("burst" in post.signals(t)) for t in taps] == [False, False, False, True]
    assert taps[-1]["first_visit"] is True
    post.walk(31)
    assert "burst" not in post.signals(post.tap("KPU-CP-04", reader="other"))


def test_a_code_that_is_not_ours_is_recorded_as_unknown() -> None:
    post = Post(local(DAY, 21, 50))
    post.tap("KPU-CP-01")
    tap = post.tap("8992761002015")  # a bottle's barcode
    assert tap["resolved"] == "unknown" and post.signals(tap) == ["foreign_code"]
    assert tap["round"] == "20261204-2200"
    post.at(local(DAY + timedelta(days=1), 0))
    assert post.of("patrol.daily")[0]["unknown_tags"] == 1


def test_taps_outside_any_round_and_too_soon_after_the_last_start_are_flagged() -> None:
    post = Post(local(DAY, 18, 0), plan={"min_spacing_min": 160, "early_min": 30})
    early = post.tap("KPU-CP-01")
    assert early["signals"] == [{"signal": "outside_round", "next_round": "20261204-1900",
                                 "opens_at": "2026-12-04T10:30:00.000000Z"}]
    assert "first_visit" not in early and early["round"] is None
    post.at(local(DAY, 19, 0))
    post.patrol(ALL, every_s=60)
    post.at(local(DAY, 21, 35))  # the 22:00 round opened at 21:30; 19:00 + 160 min is 21:40
    too_soon = post.tap("KPU-CP-01")
    assert too_soon["signals"] == [{"signal": "too_soon",
                                    "earliest": "2026-12-04T13:40:00.000000Z"}]
    assert too_soon["round"] is None
    post.at(local(DAY, 21, 40))
    assert post.tap("KPU-CP-01").get("starts_round") is True


def test_an_ordered_round_flags_checkpoints_out_of_order_but_counts_them() -> None:
    ordered = [{**cp, "order": n} for n, cp in enumerate(CHECKPOINTS, 1)]
    post = Post(local(DAY, 21, 50), checkpoints=ordered, plan={"order": "ordered"})
    post.patrol(["KPU-CP-01", "KPU-CP-03", "KPU-CP-02", "KPU-CP-04"])
    signals = [post.signals(t) for t in post.of("patrol.tap")]
    assert signals == [[], ["out_of_order"], [], []]
    assert post.of("patrol.tap")[1]["signals"][0]["expected"] == "CP-02"
    done = post.of("patrol.round")[0]
    assert done["outcome"] == "complete" and done["signals"] == {"out_of_order": 1}


def test_a_checkpoint_tag_read_by_a_reader_fixed_elsewhere_is_flagged() -> None:
    post = Post(local(DAY, 21, 50))
    tap = post.tap("KPU-CP-02", reader="gudang", fixed="CP-04")
    assert tap["signals"] == [{"signal": "wrong_place", "reader_checkpoint": "CP-04"}]
    assert tap["checkpoint"]["id"] == "CP-02"


def test_an_em4100_fob_may_be_listed_by_its_printed_number() -> None:
    post = Post(local(DAY, 21, 50))
    tap = post.tap("62E3086CED", kind="em4100", card_number=3808980205)
    assert tap["checkpoint"]["id"] == "CP-04" and tap["tag_kind"] == "em4100"


# --- restarts ------------------------------------------------------------------------------

def restarted(post: Post, at: datetime, state: Any = None) -> Post:
    """A new book on the stored state (through JSON, as the store keeps it)."""
    stored = json.loads(json.dumps(post.book.state() if state is None else state))
    post.clock.advance((at - post.clock.now()).total_seconds())
    post.book = PatrolBook(post.config.patrol, ZONE, "id")
    post.said(post.book.start(stored, at))
    return post


def test_a_restart_continues_the_round_in_progress() -> None:
    post = Post(local(DAY, 21, 50))
    post.patrol(ALL[:2])
    post.tap("KPU-M-JENDELA")
    restarted(post, local(DAY, 22, 10))
    assert post.book.round.status == "in_progress"
    post.patrol(ALL[2:])
    (done,) = post.of("patrol.round")
    assert done["outcome"] == "complete" and len(done["visited"]) == 4
    assert done["started_at"] == "2026-12-04T13:50:00.000000Z"
    assert len(done["findings"]) == 1


def test_rounds_that_ended_while_the_service_was_down_say_so() -> None:
    post = Post(local(DAY, 21, 50))
    post.patrol(ALL[:1])
    before = len(post.events)
    restarted(post, local(DAY + timedelta(days=1), 3, 10))
    assert [(e.kind, e.payload.get("alert")) for e in post.events[before:]] == [
        ("patrol.alert", "late"), ("patrol.round", None), ("patrol.alert", "incomplete"),
        ("patrol.daily", None), ("patrol.alert", "late"), ("patrol.round", None),
        ("patrol.alert", "missed")]
    assert all(e.payload.get("service_down") for e in post.events[before:]
               if e.kind != "patrol.daily")
    rounds = post.of("patrol.round")
    assert [(r["round"], r["outcome"], r.get("service_down")) for r in rounds] == [
        ("20261204-2200", "incomplete", True), ("20261205-0100", "missed", True)]
    missed = post.of("patrol.alert")[-1]
    assert missed["message"].startswith("Ronde patroli 05/12 01:00 WITA tidak tercatat: "
                                        "layanan patroli tidak berjalan")
    assert post.book.round.slot.id == "20261205-0400"
    assert post.of("patrol.daily")[0]["date"] == "2026-12-04"


REPLAY_CODES = ALL + ["KPU-AMAN", "KPU-M-JENDELA", "KPU-PINTU", "04A1B2C3D4E5F6", "0A0B0C0D",
                      "NOT-OURS"]
BOTH_ON_DUTY = guards_on_duty({"guards": [{"id": "3", "name": "Budi"},
                                          {"id": "4", "name": "Andi"}]}, {})


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(REPLAY_CODES),
                                st.one_of(st.floats(1, 90), st.floats(90, 4000)),
                                st.sampled_from([None, "CP-02"]),
                                st.sampled_from(["budi", "both", "nobody"])),
                      min_size=1, max_size=40),
       cut_at=st.floats(0, 1))
def test_a_stored_state_behind_the_log_catches_up_from_it(steps, cut_at) -> None:
    """A power cut before the state was written: the state of an earlier moment plus the
    events logged since must give the very state the service had (days of rounds, findings,
    signals, badges, fixed readers, unknown tags)."""
    duty = {"budi": BUDI_ON_DUTY, "both": BOTH_ON_DUTY, "nobody": []}
    cut = int(cut_at * len(steps))  # the state was last written before step `cut`
    post = Post(local(DAY, 21, 50))
    saved = None
    for i, (code, walk_s, fixed, on_duty) in enumerate(steps):
        if i == cut:
            saved = (_plain(post.book.state()), len(post.events))
        post.tap(code, fixed=fixed, duty=duty[on_duty])
        post.at(post.clock.now() + timedelta(seconds=walk_s))
    stored, logged = saved or (_plain(post.book.state()), len(post.events))
    book = PatrolBook(post.config.patrol, ZONE, "id")
    assert book.start(stored, post.clock.now(), since=post.events[logged:]) == []
    assert _plain(book.state()) == _plain(post.book.state())


def test_without_the_events_since_a_state_behind_the_log_would_be_wrong() -> None:
    post = Post(local(DAY, 21, 50))
    stored = _plain(post.book.state())
    post.patrol(ALL[:3])
    post.tap("KPU-M-JENDELA")
    behind = PatrolBook(post.config.patrol, ZONE, "id")
    behind.start(stored, post.clock.now())
    assert behind.round.status == "pending"  # what the service did before it replayed
    caught_up = PatrolBook(post.config.patrol, ZONE, "id")
    caught_up.start(stored, post.clock.now(), since=post.events)
    assert [cp.id for cp in caught_up._remaining(caught_up.round)] == ["CP-04"]
    assert caught_up.round.findings[0]["note"] == "Jendela tidak bisa dikunci"
    assert _plain(caught_up.state()) == _plain(post.book.state())


def test_a_finding_scanned_after_its_round_completed_is_caught_up_too() -> None:
    post = Post(local(DAY, 21, 50))
    post.patrol(ALL[:3], every_s=60)
    post.tap(ALL[3])  # completes the round
    stored = _plain(post.book.state())
    logged = len(post.events)
    post.walk(5)
    post.tap("KPU-M-JENDELA")  # the outcome sheet right after the last room
    assert post.book.last_round["findings"]
    book = PatrolBook(post.config.patrol, ZONE, "id")
    book.start(stored, post.clock.now(), since=post.events[logged:])
    assert _plain(book.state()) == _plain(post.book.state())


def test_an_unusable_stored_state_starts_afresh() -> None:
    post = Post(local(DAY, 21, 50))
    restarted(post, local(DAY, 22, 5), state={"round": {"due_at": "yesterday"}})
    assert post.book.round.slot.id == "20261204-2200" and post.book.round.status == "pending"


# --- configuration -------------------------------------------------------------------------

def test_files_without_a_patrol_section_stay_valid() -> None:
    config = config_from_mapping({"site": {"id": "kpu-palu"}}, "old.toml", env={})
    assert config.patrol.readers == [] and config.patrol.plan.every_h == 3.0
    assert config.patrol.plan.shifts == ["07:00", "19:00"]


@pytest.mark.parametrize("patrol, words", [
    ({"checkpoints": [{"id": "CP-01", "name": "Lobi", "tags": []}]},
     "'patrol.checkpoints[1].tags' must be a non-empty list of tag codes"),
    ({"checkpoints": [{"id": "CP 01", "name": "Lobi", "tags": ["A"]}]},
     "'patrol.checkpoints[1].id' must be a short id"),
    ({"checkpoints": [{"id": "CP-01", "tags": ["A"]}]}, "'patrol.checkpoints[1].name' is missing"),
    ({"checkpoints": {"id": "CP-01"}}, "'patrol.checkpoints' must be a list of"),
    ({"checkpoints": [CHECKPOINTS[0], {**CHECKPOINTS[1], "tags": ["kpu-cp-01 "]}]},
     "'patrol.checkpoints[2].tags' must not repeat 'kpu-cp-01 ', which already belongs to "
     "checkpoint CP-01"),
    ({"checkpoints": CHECKPOINTS, "guards": [{"id": "3", "name": "B", "badges": ["KPU-CP-02"]}]},
     "'patrol.guards[1].badges' must not repeat"),
    ({"checkpoints": [CHECKPOINTS[0], CHECKPOINTS[0]]},
     "'patrol.checkpoints[2].id' must be unique"),
    ({"checkpoints": CHECKPOINTS, "readers": [{"name": "g", "url": "x", "checkpoint": "CP-09"}]},
     "'patrol.readers[1].checkpoint' must be the id of a checkpoint, got 'CP-09'"),
    ({"readers": [{"name": "g", "url": "x", "framing": "wiegand"}]},
     "'patrol.readers[1].framing' must be 'line'"),
    ({"outcomes": [{"code": "OK", "state": "fine"}]}, "'patrol.outcomes[1].state' must be"),
    ({"plan": {"shifts": ["7:00"]}}, "'patrol.plan.shifts' must be a non-empty list of local"),
    ({"plan": {"shifts": ["07:00", "07:10"]}},
     "'patrol.plan' must have rounds more than early_min (15 minutes) apart"),
    ({"plan": {"every_h": 0}}, "'patrol.plan.every_h' must be a number greater than 0"),
    ({"checkpoints": [{**cp, "order": 1} for cp in CHECKPOINTS[:2]]},
     "'patrol.checkpoints' must give each 'order' once"),
])
def test_patrol_config_mistakes_are_one_sentence_naming_the_key(patrol: dict[str, Any],
                                                                words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping({"site": {"id": "kpu-palu"}, "patrol": patrol}, "bad.toml", env={})
    message = str(caught.value)
    assert message.startswith("bad.toml: ") and "\n" not in message
    assert words in message


def test_the_commented_patrol_example_is_valid_once_uncommented() -> None:
    from pathlib import Path
    import tomllib

    text = (Path(__file__).resolve().parents[2] / "posjaga.example.toml").read_text()
    start = text.index("# [patrol]\n")
    end = text.find("\n# --- ", start)  # the next section's header, if any
    block = text[start:] if end < 0 else text[start:end]
    lines = [line[2:] if line.startswith("# ") else line.lstrip("#") for line in
             block.splitlines() if not line.startswith("#  ")]
    config = config_from_mapping({"site": {"id": "kpu-palu"}, **tomllib.loads("\n".join(lines))},
                                 "example", env={})
    patrol = config.patrol
    assert [r.name for r in patrol.readers] == ["pemindai", "gudang"]
    assert patrol.readers[1].checkpoint == "CP-04" and patrol.plan.every_h == 3
    assert [o.state for o in patrol.outcomes] == ["secure", "electronics_off", "door_locked",
                                                  "problem"]
