"""The parking-lamp daemon on gpiozero mock pins, a real SQLite store and a manual clock.

Palu (0.90 S, 119.87 E, Asia/Makassar): sunset and sunrise come from astral; the tests switch
exactly on those instants, never on measured wall-clock durations.
"""
from __future__ import annotations

import json
import threading
from time import monotonic, sleep
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

import pytest

from drivers.gpio import DEFAULT_PINOUT, COS, PTT, GpioSimulator, SimLamp
from edge.clock import ManualClock
from edge.config import Config, ConfigError, config_from_mapping
from edge.sun import LampSchedule, Window
from services.lamp import HOURS_STATE, STATE, LampService
from services.runtime import Runtime, open_runtime

ZONE = ZoneInfo("Asia/Makassar")
PALU = {"id": "kpu-palu", "timezone": "Asia/Makassar", "latitude": -0.90, "longitude": 119.87}
DAY = date(2026, 12, 4)
WAIT = 10.0  # generous timeout for other threads; never a measured duration


def local(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), tzinfo=ZONE).astimezone(timezone.utc)


def palu_schedule(windows: tuple[str, ...] = ()) -> LampSchedule:
    return LampSchedule(-0.90, 119.87, ZONE, [Window.parse(w) for w in windows])


SUNRISE, SUNSET = palu_schedule().sun_times(DAY)
NEXT_SUNRISE, _ = palu_schedule().sun_times(DAY + timedelta(days=1))


def make_config(tmp_path: Path, language: str = "id", **lamp: Any) -> Config:
    return config_from_mapping({
        "site": {**PALU, "language": language},
        "store": {"url": f"sqlite:///{tmp_path}/posjaga.db"},
        "gpio": {"pin_factory": "mock"},
        "lamp": {"feedback": True, **lamp},
    }, "test.toml")


@dataclass
class Post:
    """One guard post: the store, the clock, the simulated wiring and the lamp daemon."""

    rt: Runtime
    clock: ManualClock
    sim: GpioSimulator
    lamp: LampService
    history: list[SimLamp]

    def events(self, kind: str = "lamp") -> list[Any]:
        return list(self.rt.events.query(kind=kind))

    def state(self) -> dict[str, Any]:
        found = self.rt.states.get(STATE)
        assert found is not None
        return dict(found.payload)

    def command(self, body: Any) -> dict[str, Any]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.rt.router.handle("lamp", raw).body

    def at(self, when: datetime) -> None:
        """Move the clock to ``when`` (forward only) and let the daemon look once."""
        self.clock.advance((when - self.clock.now()).total_seconds())
        self.lamp.step()


class Posts:
    """Builds posts and restarts them on the same database; closes everything at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self._closers: list[Callable[[], None]] = []

    def start(self, at: datetime, *, clock: ManualClock | None = None,
              sim: GpioSimulator | None = None, open_lamp: bool = True,
              config: Config | None = None, **lamp: Any) -> Post:
        if clock is None:
            clock = ManualClock(at)
        else:  # a restart: time went on while the daemon was down
            clock.advance((at - clock.now()).total_seconds())
        rt = open_runtime(config or make_config(self.tmp_path, **lamp), clock)
        history: list[SimLamp] = []
        if sim is None:
            sim = GpioSimulator(on_lamp_change=history.append)
            self._closers.append(sim.factory.close)
        service = LampService(rt, pin_factory=sim.factory)
        self._closers += [rt.close, service.close]
        if open_lamp:
            service.open()
        return Post(rt, clock, sim, service, history)

    def own(self, sim: GpioSimulator) -> GpioSimulator:
        """A second board, as after a power cut; its pins are closed at the end."""
        self._closers.append(sim.factory.close)
        return sim

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer()


@pytest.fixture
def posts(tmp_path: Path) -> Iterator[Posts]:
    made = Posts(tmp_path)
    yield made
    made.close()


# --- configuration and the schedule --------------------------------------------------------

def test_config_defaults_follow_the_driver_pinout_and_old_files_stay_valid(tmp_path: Path) -> None:
    config = config_from_mapping({"site": {"id": "kpu-palu"}}, "old.toml")
    assert config.gpio.pin_factory == "lgpio"
    assert config.lamp.relay_pin == DEFAULT_PINOUT.relay_pin
    assert config.lamp.feedback_pin == DEFAULT_PINOUT.feedback_pin
    assert (config.lamp.relay_active == "high") == DEFAULT_PINOUT.relay_active_high
    assert (config.lamp.feedback_active == "high") == DEFAULT_PINOUT.feedback_active_high
    assert config.radio.cos_pin == DEFAULT_PINOUT.line(COS).pin
    assert config.radio.ptt_pin == DEFAULT_PINOUT.line(PTT).pin
    assert (config.radio.cos_active == "high") == DEFAULT_PINOUT.line(COS).active_high
    assert config.radio.debounce_s == DEFAULT_PINOUT.debounce_s
    assert config.lamp.default_mode == "auto" and config.lamp.after_hours == []


@pytest.mark.parametrize("section, value, words", [
    ("lamp", {"after_hours": ["18:00-18:00"]}, "'lamp.after_hours' must be a local time window"),
    ("lamp", {"after_hours": ["6pm-10pm"]}, "'lamp.after_hours' must be a local time window"),
    ("lamp", {"relay_pin": 40}, "'lamp.relay_pin' must be a BCM GPIO number"),
    ("lamp", {"default_mode": "dim"}, "'lamp.default_mode' must be 'auto', 'on' or 'off'"),
    ("gpio", {"pin_factory": "pigpio"}, "'gpio.pin_factory' must be a gpiozero pin factory"),
    ("radio", {"ani_pattern": "["}, "'radio.ani_pattern' must be a regular expression"),
])
def test_config_mistakes_are_one_sentence(section: str, value: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        config_from_mapping({"site": {"id": "kpu-palu"}, section: value}, "bad.toml")


def test_palu_sun_times_are_plausible_for_the_equator() -> None:
    assert SUNRISE is not None and SUNSET is not None
    assert time(5, 30) < SUNRISE.astimezone(ZONE).time() < time(6, 15)
    assert time(17, 40) < SUNSET.astimezone(ZONE).time() < time(18, 20)


def test_schedule_flips_exactly_at_sunset_and_sunrise() -> None:
    schedule = palu_schedule()
    tick = timedelta(seconds=1)
    assert schedule.decide(SUNSET - tick).on is False
    assert schedule.decide(SUNSET) == schedule.decide(SUNSET + tick)
    assert schedule.decide(SUNSET).cause == "dark"
    assert schedule.decide(NEXT_SUNRISE - tick).on is True
    assert schedule.decide(NEXT_SUNRISE).on is False
    assert schedule.next_change(local(DAY, 12)) == SUNSET
    assert schedule.next_change(SUNSET) == NEXT_SUNRISE
    assert schedule.next_change(local(DAY, 23)) == NEXT_SUNRISE


def test_after_hours_windows_light_the_lamp_in_daylight_and_may_cross_midnight() -> None:
    schedule = palu_schedule(("12:00-13:30", "22:00-02:00"))
    assert schedule.decide(local(DAY, 11, 59, 59)).on is False
    assert schedule.decide(local(DAY, 12)).cause == "after_hours"
    assert schedule.decide(local(DAY, 13, 30)).on is False
    assert schedule.next_change(local(DAY, 9)) == local(DAY, 12)
    assert schedule.next_change(local(DAY, 12, 30)) == local(DAY, 13, 30)
    assert Window.parse("22:00-02:00").contains(local(DAY, 1).astimezone(ZONE))
    assert not Window.parse("22:00-02:00").contains(local(DAY, 2).astimezone(ZONE))


def test_polar_days_fall_back_to_the_sun_elevation() -> None:
    svalbard = LampSchedule(78.2, 15.6, ZoneInfo("Arctic/Longyearbyen"))
    midsummer = datetime(2026, 6, 21, 23, tzinfo=timezone.utc)
    midwinter = datetime(2026, 12, 21, 12, tzinfo=timezone.utc)
    assert svalbard.decide(midsummer).on is False
    assert svalbard.decide(midwinter).on is True


# --- following dusk and dawn ---------------------------------------------------------------

def test_lamp_switches_on_at_sunset_and_off_at_sunrise(posts: Posts) -> None:
    post = posts.start(SUNSET - timedelta(minutes=5))
    assert post.sim.lamp_output() is False
    post.at(SUNSET - timedelta(seconds=1))
    assert post.sim.lamp_output() is False
    post.at(SUNSET)
    assert post.sim.lamp_output() is True and post.sim.lamp_lit() is True
    switched = post.events("lamp.switched")
    assert [(e.payload["reason"], e.payload["on"]) for e in switched] == [
        ("restore", False), ("schedule", True)]
    assert switched[-1].occurred_at == SUNSET
    assert switched[-1].payload == {"on": True, "mode": "auto", "reason": "schedule",
                                    "cause": "dark", "by": None}
    state = post.state()
    assert state["on"] is True and state["mode"] == "auto" and state["fault"] is None
    assert state["next_change"] == NEXT_SUNRISE.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    post.at(NEXT_SUNRISE - timedelta(seconds=1))
    assert post.sim.lamp_output() is True
    post.at(NEXT_SUNRISE)
    assert post.sim.lamp_output() is False
    last = post.events("lamp.switched")[-1]
    assert (last.payload["on"], last.payload["cause"], last.occurred_at) == (
        False, "daylight", NEXT_SUNRISE)
    assert post.events("lamp.alert") == []  # a working bulb followed every switch


def test_the_running_daemon_wakes_at_sunset_by_itself(posts: Posts) -> None:
    post = posts.start(SUNSET - timedelta(seconds=30), open_lamp=False)
    stop = threading.Event()
    thread = threading.Thread(target=post.lamp.run, args=(stop,), daemon=True)
    thread.start()
    try:
        _wait_for(lambda: post.rt.states.get(STATE) is not None)
        assert post.sim.lamp_output() is False
        post.clock.advance(30)
        _wait_for(post.sim.lamp_output)
        assert post.events("lamp.switched")[-1].occurred_at == SUNSET
    finally:
        stop.set()
        thread.join(WAIT)
    assert not thread.is_alive()
    # Stopping releases the relay (the hold-off resistor keeps the lamp off) and says so.
    assert post.sim.relay_pin_level() is None and post.sim.lamp_output() is False
    assert post.events("lamp.switched")[-1].payload["reason"] == "shutdown"


# --- commands ------------------------------------------------------------------------------

BAD_COMMANDS = [
    (b"lamp on", "not valid JSON"),
    (b'["on"]', "must be a JSON object"),
    ({"by": "budi"}, "has no 'mode'"),
    ({"mode": "ON", "by": "budi"}, "'mode' must be one of auto, on, off"),
    ({"mode": 1, "by": "budi"}, "'mode' must be text"),
    ({"mode": "off"}, "has no 'by'"),
    ({"mode": "off", "by": "  "}, "'by' must name the supervisor"),
    ({"mode": "off", "by": "x" * 65}, "'by' must name the supervisor"),
    ({"mode": "off", "by": "budi", "until": "06:00"}, "unknown key 'until'"),
]


@pytest.mark.parametrize("body, words", BAD_COMMANDS)
def test_a_bad_command_is_refused_and_changes_nothing(posts: Posts, body: Any, words: str) -> None:
    post = posts.start(SUNSET + timedelta(hours=1))
    before_events, before_state = post.rt.events.count(), post.state()
    answer = post.command(body)
    assert answer["status"] == "error" and words in answer["error"]
    assert post.rt.events.count() == before_events
    assert post.state() == before_state
    assert post.sim.lamp_output() is True
    post.lamp.step()
    assert post.sim.lamp_output() is True


def test_a_supervisor_switches_the_lamp_off_and_back_to_auto(posts: Posts) -> None:
    post = posts.start(SUNSET + timedelta(hours=1))
    answer = post.command({"mode": "off", "by": "Budi (Danru)", "transaction": 7})
    assert answer == {"status": "ok", "data": {"mode": "off", "on": False, "changed": True},
                      "transaction": 7}
    assert post.sim.lamp_output() is False
    kinds = [(e.kind, e.payload.get("by")) for e in post.events()]
    assert kinds[-2:] == [("lamp.mode_changed", "Budi (Danru)"), ("lamp.switched", "Budi (Danru)")]
    assert post.events("lamp.switched")[-1].payload["reason"] == "command"
    state = post.state()
    assert (state["mode"], state["mode_by"], state["on"], state["next_change"]) == (
        "off", "Budi (Danru)", False, None)

    # The schedule no longer rules: an hour later it is still off.
    post.at(SUNSET + timedelta(hours=2))
    assert post.sim.lamp_output() is False

    count = post.rt.events.count()
    again = post.command({"mode": "off", "by": "Andi"})
    assert again["data"] == {"mode": "off", "on": False, "changed": False}
    assert post.rt.events.count() == count  # nothing happened, nothing to log

    assert post.command({"mode": "auto", "by": "Andi"})["data"]["on"] is True
    assert post.sim.lamp_output() is True


def test_a_mode_change_that_does_not_switch_is_still_logged(posts: Posts) -> None:
    post = posts.start(SUNSET + timedelta(hours=1))
    assert post.command({"mode": "on", "by": "Andi"})["data"] == {
        "mode": "on", "on": True, "changed": True}
    assert [e.kind for e in post.events()][-1] == "lamp.mode_changed"
    assert post.state()["mode"] == "on"
    post.at(NEXT_SUNRISE + timedelta(minutes=1))
    assert post.sim.lamp_output() is True  # "on" holds through the sunrise


def test_commands_are_refused_while_the_daemon_is_not_running(posts: Posts) -> None:
    post = posts.start(SUNSET + timedelta(hours=1), open_lamp=False)
    answer = post.command({"mode": "on", "by": "Andi"})
    assert answer["status"] == "error" and "not running" in answer["error"]
    assert post.rt.states.get(STATE) is None and post.rt.events.count() == 0


# --- restart and power cut -----------------------------------------------------------------

def test_the_mode_survives_a_restart(posts: Posts) -> None:
    noon = local(DAY, 12)
    first = posts.start(noon)
    assert first.command({"mode": "on", "by": "Andi"})["status"] == "ok"
    assert first.sim.lamp_output() is True
    first.lamp.close()
    first.rt.close()
    assert first.sim.lamp_output() is False  # released: the hold-off resistor rules

    second = posts.start(noon + timedelta(minutes=10), clock=first.clock, sim=first.sim)
    assert second.sim.lamp_output() is True
    restore = second.events("lamp.switched")[-1]
    assert restore.payload == {"on": True, "mode": "on", "reason": "restore", "cause": "manual",
                               "by": None, "previous_on": False}
    assert second.state()["mode_by"] == "Andi"


def test_after_a_power_cut_the_lamp_follows_the_mode_not_the_floating_pin(posts: Posts) -> None:
    night = SUNSET + timedelta(hours=2)
    first = posts.start(night)
    assert first.command({"mode": "off", "by": "Andi"})["status"] == "ok"
    # Power cut: no clean stop, no shutdown event. The new boot finds the relay line floating
    # high (as a missing pull-down would leave it) before the daemon claims it.
    seen: list[SimLamp] = []
    board = GpioSimulator(on_lamp_change=seen.append)
    posts.own(board)
    board.factory.pin(DEFAULT_PINOUT.relay_pin).drive_high()
    assert board.relay_pin_level() is None  # an input: floating, whatever level it reads
    second = posts.start(night + timedelta(minutes=3), clock=first.clock, sim=board)
    assert board.relay_pin_level() is False and board.lamp_output() is False
    assert not any(s.relay_energised for s in seen)  # claimed straight at "off"
    restore = second.events("lamp.switched")[-1].payload
    assert (restore["reason"], restore["on"], restore["mode"], restore["previous_on"]) == (
        "restore", False, "off", False)


def test_a_lamp_lit_before_the_power_cut_is_lit_again_in_auto_mode(posts: Posts) -> None:
    night = SUNSET + timedelta(hours=2)
    first = posts.start(night)
    assert first.sim.lamp_output() is True
    board = posts.own(GpioSimulator())
    second = posts.start(night + timedelta(minutes=3), clock=first.clock, sim=board)
    assert board.lamp_output() is True
    assert second.events("lamp.switched")[-1].payload["previous_on"] is True


def test_a_corrupt_stored_mode_falls_back_to_the_configured_default(posts: Posts) -> None:
    night = SUNSET + timedelta(hours=2)
    first = posts.start(night, open_lamp=False, default_mode="off")
    first.rt.states.set(STATE, {"mode": "dim", "on": True})
    first.lamp.open()
    assert first.sim.lamp_output() is False
    assert first.state()["mode"] == "off"


# --- feedback ------------------------------------------------------------------------------

def test_a_dead_bulb_is_an_alert_and_a_new_bulb_clears_it(posts: Posts) -> None:
    post = posts.start(SUNSET - timedelta(seconds=1), feedback_delay_s=3.0)
    post.sim.break_bulb()
    post.at(SUNSET)
    for seconds in (1, 2, 2.5):
        post.at(SUNSET + timedelta(seconds=seconds))
    assert post.events("lamp.alert") == []  # not yet: the lamp may still be warming up
    post.at(SUNSET + timedelta(seconds=4))
    (alert,) = post.events("lamp.alert")
    assert alert.kind == "lamp.alert"
    assert alert.payload["alert"] == "not_lit" and alert.payload["feedback_lit"] is False
    assert "MENYALA" in alert.payload["message"] and "bola lampu" in alert.payload["message"]
    assert post.state()["fault"] == "not_lit"
    post.at(SUNSET + timedelta(seconds=10))
    assert len(post.events("lamp.alert")) == 1  # raised once, not on every check

    post.sim.repair()
    post.at(SUNSET + timedelta(seconds=11))
    (cleared,) = post.events("lamp.alert_cleared")
    assert cleared.payload["alert"] == "not_lit"
    assert post.state()["fault"] is None


def test_a_relay_stuck_closed_is_an_alert_in_english_when_configured(posts: Posts) -> None:
    post = posts.start(local(DAY, 12), language="en")
    post.sim.stick_relay(closed=True)
    for seconds in range(1, 6):
        post.at(local(DAY, 12, 0, seconds))
    (alert,) = post.events("lamp.alert")
    assert alert.payload["alert"] == "lit_while_off"
    assert alert.payload["message"].startswith("The parking lamp is switched OFF")


def test_an_open_fault_is_not_raised_again_after_a_restart(posts: Posts) -> None:
    first = posts.start(SUNSET + timedelta(hours=1))
    first.sim.break_bulb()
    first.at(SUNSET + timedelta(hours=1, seconds=1))
    first.at(SUNSET + timedelta(hours=1, seconds=5))
    assert len(first.events("lamp.alert")) == 1
    first.lamp.close()
    first.rt.close()
    second = posts.start(SUNSET + timedelta(hours=1, minutes=1), clock=first.clock, sim=first.sim)
    for seconds in (1, 5, 10):
        second.at(SUNSET + timedelta(hours=1, minutes=1, seconds=seconds))
    assert len(second.events("lamp.alert")) == 1
    assert second.state()["fault"] == "not_lit"


def test_without_feedback_wiring_nothing_is_compared(posts: Posts) -> None:
    post = posts.start(SUNSET + timedelta(hours=1), feedback=False)
    post.sim.break_bulb()
    for seconds in range(1, 8):
        post.at(SUNSET + timedelta(hours=1, seconds=seconds))
    assert post.events("lamp.alert") == []
    assert post.state()["feedback_wired"] is False


# --- on-hours for the daily report ---------------------------------------------------------

def test_daily_on_hours_are_closed_at_local_midnight(posts: Posts) -> None:
    post = posts.start(SUNSET - timedelta(seconds=1))
    post.at(SUNSET)
    midnight = local(DAY + timedelta(days=1), 0)
    post.at(midnight + timedelta(seconds=30))  # one long step straddling midnight
    (daily,) = post.events("lamp.daily")
    expected = (midnight - SUNSET).total_seconds()
    assert daily.payload["date"] == "2026-12-04"
    assert daily.payload["on_s"] == pytest.approx(expected, abs=0.1)
    assert daily.payload["on_hours"] == pytest.approx(expected / 3600, abs=0.01)
    assert daily.payload["switches"] == 2  # the restore and the sunset
    assert daily.occurred_at == midnight
    today = post.rt.states.get(HOURS_STATE)
    assert today is not None and today.payload["date"] == "2026-12-05"
    assert today.payload["on_s"] == pytest.approx(30.0, abs=0.1)


def test_on_time_survives_a_restart_and_a_missed_midnight_is_closed_late(posts: Posts) -> None:
    post = posts.start(SUNSET - timedelta(seconds=1))
    post.at(SUNSET)
    post.at(SUNSET + timedelta(hours=1))
    post.lamp.close()
    post.rt.close()
    again = posts.start(SUNSET + timedelta(hours=2), clock=post.clock, sim=post.sim)
    stored = again.rt.states.get(HOURS_STATE)
    assert stored is not None and stored.payload["on_s"] == pytest.approx(3600.0, abs=0.1)
    again.lamp.close()
    again.rt.close()
    # Down over midnight: the next start closes 4 December from what was saved.
    third = posts.start(local(DAY + timedelta(days=1), 1), clock=post.clock, sim=post.sim)
    (daily,) = third.events("lamp.daily")
    assert daily.payload["date"] == "2026-12-04" and daily.payload["partial"] is True
    assert daily.payload["on_s"] == pytest.approx(3600.0, abs=0.1)


# --- helpers -------------------------------------------------------------------------------

def _wait_for(condition: Callable[[], object], timeout: float = WAIT) -> None:
    deadline = monotonic() + timeout
    while not condition():
        assert monotonic() < deadline, "condition not met in time"
        sleep(0.01)
