"""Shift rules on their edges (edge/roster.py, edge/attendance.py): pure functions, a
ManualClock for 'now', no device and no store."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.attendance import DeviceTimes, PunchFact, Rules, evaluate
from edge.clock import ManualClock
from edge.roster import (Assignment, RosterError, check_shifts, duty_blocks, parse_roster_csv,
                         parse_shifts)
from edge.timefmt import device_local_to_utc

ZONE = ZoneInfo("Asia/Makassar")
SHIFTS = parse_shifts(["day 07:00-19:00", "night 19:00-07:00"])
RULES = Rules()  # early_in 120, late_grace 10, absent_after 60, leave grace 5, late_out 180
DAY = date(2026, 12, 4)
GUARDS = {"101": "Ani", "102": "Budi"}
S = timedelta(seconds=1)
M = timedelta(minutes=1)


def local(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=ZONE).astimezone(
        timezone.utc)


def clock_at(at: datetime) -> ManualClock:
    return ManualClock(at)


def run(assignments: list[Assignment], punches: dict[str, list[datetime]], now: datetime,
        known_until: datetime | None = None, covered: set[date] | None = None,
        kinds: dict[datetime, int] | None = None):
    blocks = duty_blocks(assignments, SHIFTS, ZONE)
    facts = {u: [PunchFact(t, u, (kinds or {}).get(t, 0)) for t in ts] for u, ts in punches.items()}
    days = covered if covered is not None else {a.day for a in assignments}
    clock = clock_at(now)
    return evaluate(blocks, facts, GUARDS, days, clock.now(),
                    known_until or clock.now(), RULES, ZONE)


def kinds(result) -> list[tuple[str, str, int | None]]:
    return [(o.guard, o.kind, o.minutes) for o in result.outcomes]


# --- clocking in: grace and absence ------------------------------------------------------

def test_a_punch_a_second_before_the_grace_time_is_on_time() -> None:
    day = [Assignment(DAY, "day", "Ani", "101")]
    start = local(DAY, 7)
    r = run(day, {"101": [start + 10 * M - S]}, start + 2 * M * 60)
    assert kinds(r) == [("Ani", "on_time", None)]
    r = run(day, {"101": [start + 10 * M]}, start + 2 * M * 60)
    assert kinds(r) == [("Ani", "on_time", None)]  # the grace time itself still counts


def test_a_second_after_the_grace_time_is_late_rounded_up_to_whole_minutes() -> None:
    start = local(DAY, 7)
    r = run([Assignment(DAY, "day", "Ani", "101")], {"101": [start + 10 * M + S]},
            start + 2 * 60 * M)
    assert kinds(r) == [("Ani", "late", 11)]


def test_absent_only_once_the_deadline_passed_and_a_second_before_is_late() -> None:
    day = [Assignment(DAY, "day", "Ani", "101")]
    start = local(DAY, 7)
    deadline = start + 60 * M
    assert kinds(run(day, {}, deadline - S)) == []  # not yet
    absent = run(day, {}, deadline)
    assert kinds(absent) == [("Ani", "absent", None)]
    assert absent.outcomes[0].at == deadline and absent.duty[0].status == "absent"
    late = run(day, {"101": [deadline - S]}, deadline + 10 * M)
    assert kinds(late) == [("Ani", "late", 60)]


def test_nobody_is_declared_absent_for_a_deadline_the_pi_could_not_see() -> None:
    day = [Assignment(DAY, "day", "Ani", "101")]
    start = local(DAY, 7)
    blind = run(day, {}, start + 3 * 60 * M, known_until=start + 30 * M)
    assert kinds(blind) == [] and blind.duty[0].status == "expected"
    # The link is back and the pull found her punch: late, not absent.
    back = run(day, {"101": [start + 40 * M]}, start + 3 * 60 * M)
    assert kinds(back) == [("Ani", "late", 40)]


def test_a_punch_long_before_the_shift_is_unscheduled_not_a_clock_in() -> None:
    start = local(DAY, 7)
    early = start - 2 * 60 * M - S  # a second before the early_in window opens
    r = run([Assignment(DAY, "day", "Ani", "101")], {"101": [early]}, start + 30 * M)
    assert kinds(r) == [("Ani", "unscheduled", None)]
    assert run([Assignment(DAY, "day", "Ani", "101")], {"101": [early]}, start + 30 * M,
               covered=set()).outcomes == []  # no approved roster that day: nothing enforced


# --- the night shift across midnight ----------------------------------------------------------

def test_night_shift_across_midnight_on_time_and_out_after_midnight() -> None:
    night = [Assignment(DAY, "night", "Budi", "102")]
    start, end = local(DAY, 19), local(DAY + timedelta(days=1), 7)
    assert end - start == timedelta(hours=12)
    r = run(night, {"102": [start - 5 * M, end + 2 * M]}, end + 4 * 60 * M)
    assert kinds(r) == [("Budi", "on_time", None)]
    assert r.outcomes[0].block is not None and r.outcomes[0].block.day == DAY


def test_night_shift_left_early_after_midnight_and_no_clock_out() -> None:
    night = [Assignment(DAY, "night", "Budi", "102")]
    start, end = local(DAY, 19), local(DAY + timedelta(days=1), 7)
    # Leaving at 06:30 the next morning: 30 minutes early, decided at 06:55 (end - grace).
    punches = {"102": [start, end - 30 * M]}
    assert kinds(run(night, punches, end - 5 * M - S)) == [("Budi", "on_time", None)]
    assert kinds(run(night, punches, end - 5 * M)) == [("Budi", "on_time", None),
                                                      ("Budi", "left_early", 30)]
    forgot = run(night, {"102": [start]}, end + 3 * 60 * M)
    assert kinds(forgot) == [("Budi", "on_time", None), ("Budi", "no_clock_out", None)]
    assert forgot.outcomes[1].at == end + 3 * 60 * M


def test_duty_state_at_midnight_lists_the_night_guard() -> None:
    night = [Assignment(DAY, "night", "Budi", "102")]
    r = run(night, {"102": [local(DAY, 18, 55)]}, local(DAY + timedelta(days=1), 0, 30))
    assert [(d.block.guard, d.status) for d in r.duty] == [("Budi", "on_duty")]


# --- a guard on two shifts -----------------------------------------------------------------

def test_a_guard_on_day_and_night_is_one_block_clocking_in_and_out_once() -> None:
    both = [Assignment(DAY, "day", "Ani", "101"), Assignment(DAY, "night", "Ani", "101")]
    blocks = duty_blocks(both, SHIFTS, ZONE)
    assert len(blocks) == 1 and blocks[0].label == "day+night"
    assert blocks[0].length == timedelta(hours=24)
    start, end = local(DAY, 7), local(DAY + timedelta(days=1), 7)
    r = run(both, {"101": [start - M, end + M]}, end + 4 * 60 * M)
    assert kinds(r) == [("Ani", "on_time", None)]  # no left_early at 19:00, no absence at 20:00
    home = run(both, {"101": [start - M, local(DAY, 19, 5)]}, end)
    assert kinds(home) == [("Ani", "on_time", None), ("Ani", "left_early", 715)]


def test_two_shifts_apart_are_two_blocks_and_punches_go_to_the_nearest() -> None:
    shifts = parse_shifts(["pagi 07:00-13:00", "sore 15:00-21:00"])
    both = [Assignment(DAY, "pagi", "Ani", "101"), Assignment(DAY, "sore", "Ani", "101")]
    blocks = duty_blocks(both, shifts, ZONE)
    assert [b.label for b in blocks] == ["pagi", "sore"]
    facts = {"101": [PunchFact(t, "101") for t in (local(DAY, 6, 58), local(DAY, 13, 2),
                                                    local(DAY, 15, 20), local(DAY, 21, 1))]}
    now = local(DAY, 23, 59)
    r = evaluate(blocks, facts, GUARDS, {DAY}, now, now, RULES, ZONE)
    assert [(o.block.label if o.block else None, o.kind, o.minutes) for o in r.outcomes] == [
        ("pagi", "on_time", None), ("sore", "late", 20)]


# --- doubles and check-out keys -----------------------------------------------------------------

def test_double_punch_is_reported_and_ignored() -> None:
    start = local(DAY, 7)
    r = run([Assignment(DAY, "day", "Ani", "101")],
            {"101": [start - 10 * M, start - 9 * M, start - 6 * M]}, start + 60 * M)
    assert kinds(r) == [("Ani", "on_time", None), ("Ani", "double", None),
                        ("Ani", "double", None)]
    assert r.duty[0].status == "on_duty"  # the doubles are not taken for a clock-out


def test_an_early_punch_keyed_check_out_is_leaving_early() -> None:
    start = local(DAY, 7)
    out = start + 2 * 60 * M
    punches = {"101": [start, out]}
    r = run([Assignment(DAY, "day", "Ani", "101")], punches, local(DAY, 19), kinds={out: 1})
    assert kinds(r) == [("Ani", "on_time", None), ("Ani", "left_early", 600)]
    assert r.duty == []  # the shift is over
    # The same punch keyed as check-in before mid-shift is taken for an extra punch.
    r = run([Assignment(DAY, "day", "Ani", "101")], punches, local(DAY, 12))
    assert r.duty[0].status == "on_duty"


# --- shift definitions, CSV, device times --------------------------------------------------------

def test_shift_definitions() -> None:
    assert SHIFTS["night"].crosses_midnight and not SHIFTS["day"].crosses_midnight
    assert check_shifts(["day 07:00-19:00"]) is None
    for bad in (["day 7-19"], ["day 07:00-07:00"], ["a 07:00-19:00", "a 19:00-07:00"], [],
                ["Day 07:00-19:00"], ["day 25:00-07:00"]):
        assert check_shifts(bad) is not None, bad


def test_roster_csv_errors_name_the_line() -> None:
    ok = parse_roster_csv("# comment\ndate,shift,guard,user_id\n2026-12-04,day,Ani,101\n"
                          "2026-12-04,night, Budi ,\n", ["day", "night"])
    assert [(r.line, r.guard, r.user_id) for r in ok] == [(3, "Ani", "101"), (4, "Budi", None)]
    cases = [("date,shift,guard\n2026-12-04,evening,Ani\n", "line 2: unknown shift 'evening'"),
             ("date,shift,guard\n\n# x\n04/12/2026,day,Ani\n", "line 4: '04/12/2026'"),
             ("day,guard\n", "must start with the header"),
             ("date,shift,guard\n", "no assignments"),
             ("date,shift,guard,user_id\n2026-12-04,day,Ani,10 1\n", "line 2: a fingerprint"),
             ("date,shift,guard\n2026-01-01,day,A\n2026-06-01,day,A\n", "at most 92 days")]
    for text, fragment in cases:
        with pytest.raises(RosterError, match=fragment) as info:
            parse_roster_csv(text, ["day", "night"])
        assert "\n" not in str(info.value)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
       st.sampled_from(["Asia/Makassar", "Europe/Berlin", "America/New_York"]))
def test_device_times_match_device_local_to_utc(naive: datetime, zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    times = DeviceTimes(zone)
    naive = naive.replace(microsecond=0)
    assert times.utc(naive) == device_local_to_utc(naive, zone)
    assert times.utc_text(naive) == device_local_to_utc(naive, zone).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")
    later = naive + timedelta(minutes=37)  # the cached hour must not leak into the next
    assert times.utc(later) == device_local_to_utc(later, zone)
