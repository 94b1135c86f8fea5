"""LineMonitor: debouncing against an injected clock, pulls and active levels, threads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest
from gpiozero.pins.mock import MockFactory
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.gpio import (
    GpioSimulator,
    LampRelay,
    LineChange,
    LineMonitor,
    ManualClock,
    PinConfigError,
    PinInUseError,
    PollLoop,
    make_mock_factory,
)

COS_PIN = 22
DEBOUNCE = 0.0625  # binary-exact, so clock sums compare exactly
WAIT = 5.0  # generous timeout for other threads; never a measured duration

OpenLine = Callable[..., tuple[LineMonitor, "Recorder"]]


class Recorder:
    """Collects changes from any thread and lets a test wait for them."""

    def __init__(self) -> None:
        self.changes: list[LineChange] = []
        self._cond = threading.Condition()

    def __call__(self, change: LineChange) -> None:
        with self._cond:
            self.changes.append(change)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = WAIT) -> list[LineChange]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.changes) >= count, timeout), (
                f"expected {count} changes, got {self.changes}"
            )
            return list(self.changes)


@pytest.fixture
def gpio_factory() -> Iterator[MockFactory]:
    factory = make_mock_factory()
    yield factory
    factory.close()


@pytest.fixture
def gpio_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def gpio_open_line(
    gpio_factory: MockFactory, gpio_clock: ManualClock
) -> Iterator[OpenLine]:
    opened: list[LineMonitor] = []

    def open_line(
        pin: int = COS_PIN, name: str = "cos", **kwargs: object
    ) -> tuple[LineMonitor, Recorder]:
        recorder = Recorder()
        options: dict[str, object] = {"pull_up": True, "debounce_s": DEBOUNCE}
        options.update(kwargs)
        monitor = LineMonitor(
            pin,
            name,
            clock=gpio_clock,
            on_change=recorder,
            pin_factory=gpio_factory,
            **options,  # type: ignore[arg-type]
        )
        opened.append(monitor)
        return monitor, recorder

    yield open_line
    for monitor in opened:
        monitor.close()


def test_bouncing_press_and_release_give_one_change_each(
    gpio_factory: MockFactory, gpio_clock: ManualClock, gpio_open_line: OpenLine
) -> None:
    sim = GpioSimulator(gpio_factory, sleep=gpio_clock.sleep)
    monitor, recorder = gpio_open_line()
    start = gpio_clock()
    sim.bounce("cos", True, transitions=7, gap_s=0.001953125)
    last_edge = gpio_clock() - 0.001953125
    assert monitor.poll() == [] and recorder.changes == []
    gpio_clock.advance(DEBOUNCE)
    assert monitor.poll() == [LineChange("cos", True, last_edge)]
    assert last_edge > start

    sim.bounce("cos", False, transitions=6, gap_s=0.001953125)
    gpio_clock.advance(DEBOUNCE)
    monitor.poll()
    assert [c.active for c in recorder.changes] == [True, False]


def test_glitch_shorter_than_debounce_is_ignored(
    gpio_factory: MockFactory, gpio_clock: ManualClock, gpio_open_line: OpenLine
) -> None:
    monitor, recorder = gpio_open_line()
    pin = gpio_factory.pin(COS_PIN)
    pin.drive_low()  # active-low: squelch opens
    gpio_clock.advance(DEBOUNCE / 2)
    pin.drive_high()
    gpio_clock.advance(10.0)
    monitor.poll()
    assert recorder.changes == []
    assert monitor.is_active is False


def test_settled_level_reported_only_after_full_debounce(
    gpio_factory: MockFactory, gpio_clock: ManualClock, gpio_open_line: OpenLine
) -> None:
    monitor, recorder = gpio_open_line()
    edge_at = gpio_clock()
    gpio_factory.pin(COS_PIN).drive_low()
    gpio_clock.advance(DEBOUNCE / 2)
    assert monitor.poll() == []
    gpio_clock.advance(DEBOUNCE / 2)
    assert monitor.poll() == [LineChange("cos", True, edge_at)]
    assert monitor.is_active is True and monitor.active_since == edge_at
    assert monitor.poll() == []  # reported once


def test_edge_reports_the_level_it_ends(
    gpio_factory: MockFactory, gpio_clock: ManualClock, gpio_open_line: OpenLine
) -> None:
    # No poll between: the second edge must still deliver the first, long-held level.
    _, recorder = gpio_open_line()
    pin = gpio_factory.pin(COS_PIN)
    pressed_at = gpio_clock()
    pin.drive_low()
    gpio_clock.advance(3.0)
    pin.drive_high()
    assert recorder.changes == [LineChange("cos", True, pressed_at)]


def test_active_low_line_with_pull_up(
    gpio_factory: MockFactory, gpio_clock: ManualClock, gpio_open_line: OpenLine
) -> None:
    monitor, _ = gpio_open_line(pull_up=True)
    pin = gpio_factory.pin(COS_PIN)
    assert pin.pull == "up" and pin.state is True
    assert monitor.raw_active is False
    pin.drive_low()
    assert monitor.raw_active is True
    gpio_clock.advance(DEBOUNCE)
    monitor.poll()
    assert monitor.is_active is True


def test_active_high_line_with_pull_down(
    gpio_factory: MockFactory, gpio_clock: ManualClock, gpio_open_line: OpenLine
) -> None:
    monitor, _ = gpio_open_line(pull_up=False)
    pin = gpio_factory.pin(COS_PIN)
    assert pin.pull == "down"
    pin.drive_high()
    gpio_clock.advance(DEBOUNCE)
    monitor.poll()
    assert monitor.is_active is True


def test_floating_line_uses_the_given_active_state(
    gpio_factory: MockFactory, gpio_clock: ManualClock, gpio_open_line: OpenLine
) -> None:
    monitor, _ = gpio_open_line(pull_up=None, active_state=False)
    assert gpio_factory.pin(COS_PIN).pull == "floating"
    gpio_factory.pin(COS_PIN).drive_high()
    gpio_factory.pin(COS_PIN).drive_low()
    gpio_clock.advance(DEBOUNCE)
    monitor.poll()
    assert monitor.is_active is True


def test_pull_and_active_state_must_agree(gpio_open_line: OpenLine) -> None:
    with pytest.raises(PinConfigError, match="^GPIO22 for the cos line has no internal pull"):
        gpio_open_line(pull_up=None)
    with pytest.raises(PinConfigError, match="^GPIO22 for the cos line is pulled high"):
        gpio_open_line(pull_up=True, active_state=True)
    monitor, _ = gpio_open_line(pull_up=True, active_state=False)  # consistent is fine
    assert monitor.pin_name == "GPIO22"


def test_negative_debounce_is_refused(gpio_open_line: OpenLine) -> None:
    with pytest.raises(PinConfigError, match="GPIO22 for the cos line needs a debounce"):
        gpio_open_line(debounce_s=-1.0)


def test_line_active_at_opening_is_reported_after_debounce(
    gpio_factory: MockFactory, gpio_clock: ManualClock, gpio_open_line: OpenLine
) -> None:
    sim = GpioSimulator(gpio_factory)
    sim.set_line("cos", True)  # carrier already present when the service starts
    opened_at = gpio_clock()
    monitor, recorder = gpio_open_line()
    assert monitor.is_active is False and monitor.raw_active is True
    gpio_clock.advance(DEBOUNCE)
    monitor.poll()
    assert recorder.changes == [LineChange("cos", True, opened_at)]


def test_zero_debounce_reports_each_edge(
    gpio_factory: MockFactory, gpio_clock: ManualClock, gpio_open_line: OpenLine
) -> None:
    monitor, recorder = gpio_open_line(debounce_s=0.0)
    pin = gpio_factory.pin(COS_PIN)
    pin.drive_low()
    pin.drive_high()
    assert [c.active for c in recorder.changes] == [True, False]
    assert monitor.active_since is None


def test_edges_from_another_thread_are_delivered(
    gpio_factory: MockFactory, gpio_open_line: OpenLine
) -> None:
    _, recorder = gpio_open_line(debounce_s=0.0)
    pin = gpio_factory.pin(COS_PIN)
    worker = threading.Thread(target=pin.drive_low)
    worker.start()
    assert recorder.wait_for(1)[0].active is True
    worker.join(WAIT)


def test_poll_loop_reports_a_settled_level(
    gpio_factory: MockFactory, gpio_clock: ManualClock, gpio_open_line: OpenLine
) -> None:
    monitor, recorder = gpio_open_line()
    with PollLoop([monitor], interval_s=0.002):
        gpio_factory.pin(COS_PIN).drive_low()
        gpio_clock.advance(DEBOUNCE)
        assert recorder.wait_for(1)[0].active is True


def test_failing_handler_is_logged_and_state_kept(
    gpio_factory: MockFactory, gpio_clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(change: LineChange) -> None:
        raise RuntimeError("consumer bug")

    with LineMonitor(
        COS_PIN, "cos", pull_up=True, debounce_s=0.0, clock=gpio_clock,
        on_change=broken, pin_factory=gpio_factory,
    ) as monitor:
        with caplog.at_level(logging.ERROR):
            gpio_factory.pin(COS_PIN).drive_low()
        assert monitor.is_active is True
        assert "on_change handler for line 'cos' failed" in caplog.text


def test_close_releases_the_pin(
    gpio_factory: MockFactory, gpio_clock: ManualClock, gpio_open_line: OpenLine
) -> None:
    monitor, recorder = gpio_open_line()
    monitor.close()
    monitor.close()
    assert monitor.closed and monitor.poll() == []
    gpio_factory.pin(COS_PIN).drive_low()
    gpio_clock.advance(DEBOUNCE)
    assert recorder.changes == []
    gpio_open_line()  # the pin can be opened again


def test_pin_conflict_with_the_relay_names_pin_and_role(
    gpio_factory: MockFactory, gpio_open_line: OpenLine
) -> None:
    with LampRelay(COS_PIN, initial_on=False, pin_factory=gpio_factory):
        with pytest.raises(PinInUseError) as info:
            gpio_open_line()
    assert str(info.value) == "GPIO22 for the cos line is already in use by another device."


# Edges as (level, ticks held); a tick is 1 unit of the manual clock, debounce is 4 ticks.
_EDGES = st.lists(st.tuples(st.booleans(), st.integers(min_value=0, max_value=9)), max_size=25)


def _reference(edges: list[tuple[bool, int]], start: float, debounce: float) -> list[LineChange]:
    """Report every run of one level that lasted at least ``debounce`` and differs from the last."""
    runs: list[tuple[bool, float, float]] = []  # level, began, held
    now = start
    for level, held in edges:
        if runs and runs[-1][0] == level:
            runs[-1] = (level, runs[-1][1], runs[-1][2] + held)
        else:
            runs.append((level, now, held))
        now += held
    reported, out = False, []
    for level, began, held in runs:
        if held >= debounce and level != reported:
            reported = level
            out.append(LineChange("cos", level, began))
    return out


@settings(max_examples=60, deadline=None)
@given(edges=_EDGES)
def test_debounce_matches_a_reference_model(edges: list[tuple[bool, int]]) -> None:
    factory, clock = make_mock_factory(), ManualClock()
    sim = GpioSimulator(factory, sleep=clock.sleep)
    recorder = Recorder()
    start = clock()
    monitor = LineMonitor(
        COS_PIN, "cos", pull_up=True, debounce_s=4.0, clock=clock,
        on_change=recorder, pin_factory=factory,
    )
    try:
        for level, held in edges:
            sim.set_line("cos", level)
            clock.advance(held)
        monitor.poll()
    finally:
        monitor.close()
        factory.close()
    # The line starts idle at ``start``; prepend that run so the model sees it too.
    assert recorder.changes == _reference([(False, 0), *edges], start, 4.0)
