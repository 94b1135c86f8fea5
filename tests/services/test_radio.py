"""The radio log daemon on gpiozero mock pins, a real SQLite store and a manual clock."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from time import monotonic, sleep
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

import pytest

from drivers.gpio import COS, PTT, GpioSimulator
from edge.airtime import AirtimeTracker, Chatter, Stuck, Transmission
from edge.clock import ManualClock
from edge.config import config_from_mapping
from services.radio import COUNTS_STATE, STATE, RadioService
from services.runtime import Runtime, open_runtime

ZONE = ZoneInfo("Asia/Makassar")
DAY = date(2026, 12, 4)
WAIT = 10.0  # generous timeout for other threads; never a measured duration
STEP = 0.125  # how far the clock moves between daemon steps (binary-exact)


def local(day: date, hh: int, mm: int = 0, ss: float = 0) -> datetime:
    whole = int(ss)
    at = datetime.combine(day, time(hh, mm, whole), tzinfo=ZONE)
    return (at + timedelta(seconds=ss - whole)).astimezone(timezone.utc)


def utc_text(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- the pure tracker ----------------------------------------------------------------------

def tracker(**kw: float) -> AirtimeTracker:
    args = {"hang_s": 1.0, "min_s": 0.5, "stuck_s": 120.0} | kw
    return AirtimeTracker("cos", **args)


def test_a_transmission_ends_only_after_the_hang_time() -> None:
    t = tracker()
    assert t.change(True, 10.0) == []
    assert t.change(False, 14.0) == []
    assert t.tick(14.9) == []
    (done,) = t.tick(15.0)
    assert done == Transmission("cos", 10.0, 14.0, 4.0, 1, 0, False)
    assert done.duration_s == 4.0 and not t.pending


def test_short_gaps_join_one_transmission() -> None:
    t = tracker()
    t.change(True, 10.0)
    t.change(False, 12.0)
    t.change(True, 12.5)  # squelch flutter
    t.change(False, 14.0)
    (done,) = t.tick(20.0)
    assert (done.start, done.end, done.active_s, done.bursts) == (10.0, 14.0, 3.5, 2)


def test_chatter_is_folded_into_the_next_transmission() -> None:
    t = tracker()
    t.change(True, 10.0)
    t.change(False, 10.25)
    (chatter,) = t.tick(12.0)
    assert chatter == Chatter("cos", 10.0, 10.25)
    t.change(True, 20.0)
    t.change(False, 20.25)
    t.change(True, 30.0)
    t.change(False, 33.0)
    outcomes = t.tick(40.0)
    assert outcomes == [Transmission("cos", 30.0, 33.0, 3.0, 1, 2, False)]


def test_a_stuck_line_is_raised_once_and_cleared_on_release() -> None:
    t = tracker(stuck_s=120.0)
    t.change(True, 0.0)
    assert t.tick(120.0) == []
    (raised,) = t.tick(120.5)
    assert raised == Stuck("cos", 0.0, 120.0, True) and t.stuck
    assert t.tick(300.0) == []
    (cleared,) = t.change(False, 301.0)
    assert cleared == Stuck("cos", 0.0, 301.0, False) and not t.stuck
    (done,) = t.tick(302.0)
    assert isinstance(done, Transmission) and done.stuck and done.duration_s == 301.0


# --- the daemon ----------------------------------------------------------------------------

@dataclass
class Post:
    rt: Runtime
    clock: ManualClock
    sim: GpioSimulator
    radio: RadioService

    def run_for(self, seconds: float) -> None:
        """Let ``seconds`` of clock time pass, the daemon stepping every STEP."""
        end = self.clock.monotonic() + seconds
        while self.clock.monotonic() < end:
            self.clock.advance(min(STEP, end - self.clock.monotonic()))
            self.radio.step()

    def events(self, kind: str = "radio") -> list[Any]:
        return list(self.rt.events.query(kind=kind))

    def state(self, name: str = STATE) -> dict[str, Any]:
        found = self.rt.states.get(name)
        assert found is not None
        return dict(found.payload)


class Posts:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self._closers: list[Callable[[], None]] = []

    def start(self, at: datetime, *, clock: ManualClock | None = None,
              sim: GpioSimulator | None = None, open_radio: bool = True,
              language: str = "id", **radio: Any) -> Post:
        if clock is None:
            clock = ManualClock(at)
        else:
            clock.advance((at - clock.now()).total_seconds())
        config = config_from_mapping({
            "site": {"id": "kpu-palu", "timezone": "Asia/Makassar", "language": language},
            "store": {"url": f"sqlite:///{self.tmp_path}/posjaga.db"},
            "gpio": {"pin_factory": "mock"}, "radio": radio}, "test.toml")
        rt = open_runtime(config, clock)
        if sim is None:
            sim = GpioSimulator(sleep=clock.advance)
            self._closers.append(sim.factory.close)
        service = RadioService(rt, pin_factory=sim.factory)
        self._closers += [rt.close, service.close]
        if open_radio:
            service.open()
        return Post(rt, clock, sim, service)

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer()


@pytest.fixture
def posts(tmp_path: Path) -> Iterator[Posts]:
    made = Posts(tmp_path)
    yield made
    made.close()


def test_received_and_sent_transmissions_become_events(posts: Posts) -> None:
    start = local(DAY, 9, 15)
    post = posts.start(start)
    post.sim.set_line(COS, True)
    post.run_for(4.0)
    assert post.state()["busy"] is True and post.state()["rx"] is True
    assert post.state()["busy_since"] == utc_text(start)
    post.sim.set_line(COS, False)
    post.run_for(0.5)
    assert post.events("radio.transmission") == []  # still in its hang time
    post.run_for(1.0)
    (rx,) = post.events("radio.transmission")
    assert rx.payload == {"direction": "rx", "line": "cos", "start": utc_text(start),
                          "end": utc_text(start + timedelta(seconds=4)), "duration_s": 4.0,
                          "active_s": 4.0, "bursts": 1, "folded": 0, "stuck": False}
    assert rx.occurred_at == start
    assert post.state()["busy"] is False

    post.sim.key_ptt(2.5)  # advances the clock by 2.5 s while keyed
    post.run_for(2.0)
    tx = post.events("radio.transmission")[-1].payload
    assert (tx["direction"], tx["line"], tx["duration_s"]) == ("tx", "ptt", 2.5)
    counts = post.state(COUNTS_STATE)
    assert counts["hourly"]["rx"]["count"] == 1 and counts["hourly"]["tx"]["count"] == 1
    assert counts["daily"]["rx"]["seconds"] == 4.0 and counts["daily"]["tx"]["seconds"] == 2.5


def test_bouncing_contacts_give_one_transmission(posts: Posts) -> None:
    start = local(DAY, 9, 15)
    post = posts.start(start, debounce_s=0.05)
    # Edges at 0, 2, ... 12 ms (last one active), then 3 s keyed from the burst's end (14 ms).
    post.sim.bounce(PTT, True, transitions=7, gap_s=0.002)
    post.run_for(3.0)
    # Release: edges at 3.014, 3.017, ... 3.026 s, the last one idle.
    post.sim.bounce(PTT, False, transitions=5, gap_s=0.003)
    post.run_for(2.0)
    (tx,) = post.events("radio.transmission")
    # One transmission, timed from the last edge of each burst: the level that held.
    assert tx.payload["bursts"] == 1
    assert tx.payload["start"] == utc_text(start + timedelta(seconds=0.012))
    assert tx.payload["duration_s"] == pytest.approx(3.026 - 0.012, abs=1e-6)
    assert post.state(COUNTS_STATE)["hourly"]["tx"]["chatter"] == 0  # no bounce got through


def test_chatter_is_counted_and_folded_not_logged(posts: Posts) -> None:
    post = posts.start(local(DAY, 9, 15), min_transmission_s=0.5)
    for _ in range(3):  # kerchunks: noise or a quick key-up
        post.sim.carrier(0.25)
        post.run_for(1.5)
    assert post.events("radio.transmission") == []
    assert post.state(COUNTS_STATE)["hourly"]["rx"]["chatter"] == 3
    post.sim.carrier(3.0)
    post.run_for(1.5)
    (rx,) = post.events("radio.transmission")
    assert rx.payload["folded"] == 3 and rx.payload["duration_s"] == 3.0


def test_a_stuck_ptt_is_an_alert_until_released(posts: Posts) -> None:
    start = local(DAY, 9, 15)
    post = posts.start(start, ptt_stuck_s=120.0)
    post.sim.set_line(PTT, True)
    post.run_for(119.875)
    assert post.events("radio.alert") == []
    post.run_for(0.5)
    (alert,) = post.events("radio.alert")
    assert alert.payload["alert"] == "stuck" and alert.payload["line"] == "ptt"
    assert alert.payload["severity"] == "critical" and alert.payload["limit_s"] == 120.0
    assert alert.payload["active_since"] == utc_text(start)
    assert "PTT" in alert.payload["message"] and "2 menit" in alert.payload["message"]
    assert post.state()["stuck"] == ["ptt"]
    post.run_for(60.0)
    assert len(post.events("radio.alert")) == 1
    post.sim.set_line(PTT, False)
    post.run_for(2.0)
    (cleared,) = post.events("radio.alert_cleared")
    assert cleared.payload["active_s"] == 119.875 + 0.5 + 60.0
    (tx,) = post.events("radio.transmission")
    assert tx.payload["stuck"] is True
    assert post.state()["stuck"] == [] and post.state()["busy"] is False
    assert post.state(COUNTS_STATE)["hourly"]["tx"]["stuck"] == 1


def test_a_stuck_squelch_alert_is_in_english_when_configured(posts: Posts) -> None:
    post = posts.start(local(DAY, 9, 15), language="en", cos_stuck_s=90.0)
    post.sim.set_line(COS, True)
    post.run_for(91.0)
    (alert,) = post.events("radio.alert")
    assert alert.payload["severity"] == "warning"
    assert alert.payload["message"].startswith("The radio (HT) squelch has been open for over "
                                               "90 seconds")


def test_hourly_and_daily_counts_are_closed_on_the_hour_and_at_midnight(posts: Posts) -> None:
    post = posts.start(local(DAY, 23, 58))
    post.sim.carrier(5.0)
    post.run_for(2.0)
    post.sim.key_ptt(1.0)
    post.run_for(120.0)  # past midnight
    hourly = post.events("radio.hourly")
    assert [e.payload["hour"] for e in hourly] == ["2026-12-04T23:00:00+08:00"]
    assert hourly[0].payload["rx"] == {"count": 1, "seconds": 5.0, "chatter": 0, "stuck": 0}
    assert hourly[0].payload["tx"]["count"] == 1
    assert hourly[0].occurred_at == local(DAY + timedelta(days=1), 0)
    (daily,) = post.events("radio.daily")
    assert daily.payload["date"] == "2026-12-04" and daily.payload["rx"]["count"] == 1
    fresh = post.state(COUNTS_STATE)
    assert fresh["date"] == "2026-12-05" and fresh["daily"]["rx"]["count"] == 0


def test_counts_survive_a_restart_and_a_missed_hour_is_closed_late(posts: Posts) -> None:
    first = posts.start(local(DAY, 10, 15))
    first.sim.carrier(2.0)
    first.run_for(2.0)
    first.radio.close()
    first.rt.close()
    second = posts.start(local(DAY, 10, 40), clock=first.clock, sim=first.sim)
    assert second.state(COUNTS_STATE)["hourly"]["rx"]["count"] == 1
    second.sim.carrier(2.0)
    second.run_for(2.0)
    second.radio.close()
    second.rt.close()
    third = posts.start(local(DAY, 12, 5), clock=first.clock, sim=first.sim)
    (hourly,) = third.events("radio.hourly")
    assert hourly.payload["hour"] == "2026-12-04T10:00:00+08:00"
    assert hourly.payload["partial"] is True and hourly.payload["rx"]["count"] == 2
    assert third.state(COUNTS_STATE)["daily"]["rx"]["count"] == 2  # same day: kept


def test_a_transmission_on_the_air_at_stop_is_logged_as_cut(posts: Posts) -> None:
    post = posts.start(local(DAY, 9, 15))
    post.sim.set_line(COS, True)
    post.run_for(3.0)
    post.radio.close()
    (rx,) = post.events("radio.transmission")
    assert rx.payload["cut_by_stop"] is True and rx.payload["duration_s"] == 3.0
    assert post.state()["busy"] is False and post.state()["watching"] == []


def test_only_the_configured_lines_are_watched(posts: Posts) -> None:
    post = posts.start(local(DAY, 9, 15), ptt=False)
    assert list(post.radio.monitors) == [COS]
    assert post.state()["watching"] == ["rx"]
    post.sim.key_ptt(3.0)
    post.run_for(2.0)
    assert post.events("radio.transmission") == []


def test_the_running_daemon_logs_traffic_by_itself(posts: Posts) -> None:
    post = posts.start(local(DAY, 9, 15), open_radio=False)
    stop = threading.Event()
    thread = threading.Thread(target=post.radio.run, args=(stop,), daemon=True)
    thread.start()
    try:
        _wait_for(lambda: post.rt.states.get(STATE) is not None)
        post.sim.set_line(COS, True)
        _advance_until(post.clock, lambda: post.state()["busy"])
        post.clock.advance(2.0)
        post.sim.set_line(COS, False)
        _advance_until(post.clock, lambda: post.events("radio.transmission"))
    finally:
        stop.set()
        thread.join(WAIT)
    assert not thread.is_alive()
    (rx,) = post.events("radio.transmission")
    assert rx.payload["direction"] == "rx" and rx.payload["duration_s"] >= 2.0


# --- ANI / PTT-ID --------------------------------------------------------------------------

@pytest.fixture
def decoder_port() -> Iterator[tuple[int, str]]:
    """A pseudo-terminal standing in for the decoder's serial cable: (our end, port path)."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    yield master, path
    os.close(master)
    os.close(slave)


def test_a_decoded_caller_id_names_the_received_transmission(
        posts: Posts, decoder_port: tuple[int, str]) -> None:
    master, path = decoder_port
    post = posts.start(local(DAY, 9, 15), ani_port=path, ani_window_s=2.0)
    ani = post.radio.ani
    assert ani is not None and ani.connected.wait(WAIT)
    os.write(master, b"boot banner, no id here\r\n")
    post.sim.set_line(COS, True)
    post.run_for(1.0)
    os.write(master, b"ANI: 1234\r\n")  # PTT-ID at key-up
    _wait_for(lambda: ani.heard() == 1)
    post.run_for(2.0)
    post.sim.set_line(COS, False)
    post.run_for(1.5)
    assert post.events("radio.transmission") == []  # held for an id sent at release
    post.run_for(1.0)
    (rx,) = post.events("radio.transmission")
    assert rx.payload["caller"] == "1234" and "callers" not in rx.payload

    os.write(master, b"ANI: 5678\r\n")  # an id with no traffic around it belongs to nobody
    _wait_for(lambda: ani.heard() == 2)
    post.run_for(2.5)
    post.sim.carrier(3.0)
    post.run_for(4.0)
    assert post.events("radio.transmission")[-1].payload["caller"] is None

    post.sim.set_line(COS, True)  # two radios doubling on the channel: both ids are kept
    for caller in (b"1111", b"2222"):
        os.write(master, b"ANI: " + caller + b"\r\n")
        _wait_for(lambda: ani.heard() in (3, 4) and caller.decode() in
                  ani.ids_between(0, float("inf")))
    post.run_for(2.0)
    post.sim.set_line(COS, False)
    post.run_for(4.0)
    last = post.events("radio.transmission")[-1].payload
    assert (last["caller"], last["callers"]) == ("1111", ["1111", "2222"])
    post.radio.close()  # before the port goes away


def test_the_decoder_pattern_picks_the_id_group(posts: Posts) -> None:
    post = posts.start(local(DAY, 9, 15), ani_port="/dev/null-not-a-port",
                       ani_pattern=r"MDC1200 unit (?P<id>[0-9A-F]{4})", open_radio=False)
    ani = post.radio.ani
    assert ani is not None
    assert ani.parse("MDC1200 unit 0A1F op 01") == "0A1F"
    assert ani.parse("1234") is None


def test_a_missing_decoder_does_not_stop_the_radio_log(posts: Posts) -> None:
    post = posts.start(local(DAY, 9, 15), ani_port="/dev/posjaga-no-such-port")
    post.sim.carrier(2.0)
    post.run_for(4.0)
    (rx,) = post.events("radio.transmission")
    assert rx.payload["caller"] is None


# --- helpers -------------------------------------------------------------------------------

def _wait_for(condition: Callable[[], object], timeout: float = WAIT) -> None:
    deadline = monotonic() + timeout
    while not condition():
        assert monotonic() < deadline, "condition not met in time"
        sleep(0.01)


def _advance_until(clock: ManualClock, condition: Callable[[], object]) -> None:
    """Move a manual clock in small steps until another thread made ``condition`` true."""
    deadline = monotonic() + WAIT
    while not condition():
        assert monotonic() < deadline, "condition not met in time"
        clock.advance(STEP)
        sleep(0.005)
