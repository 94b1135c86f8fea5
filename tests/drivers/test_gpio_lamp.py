"""LampRelay: physical pin levels, explicit initial value, feedback and pin errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from drivers.gpio import (
    GpioPinout,
    GpioSimulator,
    LampRelay,
    PinConfigError,
    PinInUseError,
    SimLamp,
    make_pin_factory,
)

RELAY, FEEDBACK = 17, 27


@pytest.fixture
def gpio_factory() -> Iterator[MockFactory]:
    factory = make_pin_factory("mock")
    assert isinstance(factory, MockFactory)
    yield factory
    factory.close()


def _level(factory: MockFactory, pin: int) -> bool:
    return bool(factory.pin(pin).state)


@pytest.mark.parametrize(
    ("active_high", "off_level", "on_level"), [(True, False, True), (False, True, False)]
)
def test_relay_drives_the_right_physical_level(
    gpio_factory: MockFactory, active_high: bool, off_level: bool, on_level: bool
) -> None:
    with LampRelay(
        RELAY, initial_on=False, active_high=active_high, pin_factory=gpio_factory
    ) as relay:
        assert gpio_factory.pin(RELAY).function == "output"
        assert _level(gpio_factory, RELAY) is off_level
        relay.on()
        assert relay.is_commanded_on is True
        assert _level(gpio_factory, RELAY) is on_level
        relay.off()
        assert relay.is_commanded_on is False
        assert _level(gpio_factory, RELAY) is off_level


@pytest.mark.parametrize(("active_high", "on_level"), [(True, True), (False, False)])
def test_initial_on_is_applied_when_the_pin_is_claimed(
    gpio_factory: MockFactory, active_high: bool, on_level: bool
) -> None:
    with LampRelay(
        RELAY, initial_on=True, active_high=active_high, pin_factory=gpio_factory
    ) as relay:
        assert relay.is_commanded_on is True
        assert _level(gpio_factory, RELAY) is on_level
        output_levels = [s.state for s in gpio_factory.pin(RELAY).states[1:]]
        assert all(level is on_level for level in output_levels)


def test_initial_value_is_mandatory(gpio_factory: MockFactory) -> None:
    with pytest.raises(TypeError):
        LampRelay(RELAY, pin_factory=gpio_factory)  # type: ignore[call-arg]


def test_set_restores_a_stored_state(gpio_factory: MockFactory) -> None:
    with LampRelay(RELAY, initial_on=False, pin_factory=gpio_factory) as relay:
        relay.set(True)
        assert _level(gpio_factory, RELAY) is True
        relay.set(False)
        assert _level(gpio_factory, RELAY) is False


def test_close_releases_the_pin_as_input(gpio_factory: MockFactory) -> None:
    relay = LampRelay(RELAY, initial_on=True, pin_factory=gpio_factory)
    relay.close()
    relay.close()  # twice is harmless
    assert relay.closed
    assert gpio_factory.pin(RELAY).function == "input"
    with pytest.raises(PinConfigError, match="closed"):
        relay.on()
    LampRelay(RELAY, initial_on=False, pin_factory=gpio_factory).close()


def test_no_feedback_reads_none(gpio_factory: MockFactory) -> None:
    with LampRelay(RELAY, initial_on=True, pin_factory=gpio_factory) as relay:
        assert relay.feedback_lit is None
        assert relay.pin_name == "GPIO17"


@pytest.fixture
def gpio_sim_lamp(gpio_factory: MockFactory) -> Iterator[tuple[GpioSimulator, LampRelay]]:
    sim = GpioSimulator(gpio_factory)
    relay = LampRelay(
        RELAY, initial_on=False, feedback_pin=FEEDBACK, pin_factory=gpio_factory
    )
    yield sim, relay
    relay.close()


def test_feedback_agrees_with_a_healthy_lamp(
    gpio_sim_lamp: tuple[GpioSimulator, LampRelay],
) -> None:
    sim, relay = gpio_sim_lamp
    assert relay.feedback_lit is False
    relay.on()
    assert sim.lamp_output() is True
    assert relay.feedback_lit is True
    relay.off()
    assert sim.lamp_output() is False
    assert relay.feedback_lit is False


def test_broken_bulb_disagrees(gpio_sim_lamp: tuple[GpioSimulator, LampRelay]) -> None:
    sim, relay = gpio_sim_lamp
    sim.break_bulb()
    relay.on()
    assert relay.is_commanded_on is True
    assert relay.feedback_lit is False
    sim.repair()
    assert relay.feedback_lit is True


def test_stuck_relay_disagrees(gpio_sim_lamp: tuple[GpioSimulator, LampRelay]) -> None:
    sim, relay = gpio_sim_lamp
    relay.on()
    sim.stick_relay(closed=True)
    relay.off()
    assert relay.is_commanded_on is False
    assert relay.feedback_lit is True
    sim.stick_relay(closed=False)
    relay.on()
    assert relay.feedback_lit is False


def test_feedback_tracks_an_initially_on_relay(gpio_factory: MockFactory) -> None:
    events: list[SimLamp] = []
    GpioSimulator(gpio_factory, on_lamp_change=events.append)
    with LampRelay(
        RELAY, initial_on=True, feedback_pin=FEEDBACK, pin_factory=gpio_factory
    ) as relay:
        # The feedback input was opened after the relay lit the lamp; its pull must not
        # have erased the simulated "lit" level.
        assert relay.feedback_lit is True
    assert events == [SimLamp(True, True), SimLamp(False, False)]


def test_active_low_feedback_with_pull_up(gpio_factory: MockFactory) -> None:
    with LampRelay(
        RELAY,
        initial_on=True,
        feedback_pin=FEEDBACK,
        feedback_active_high=False,
        feedback_pull_up=True,
        pin_factory=gpio_factory,
    ) as relay:
        assert gpio_factory.pin(FEEDBACK).pull == "up"
        assert relay.feedback_lit is False  # idle high: the opto is dark
        gpio_factory.pin(FEEDBACK).drive_low()
        assert relay.feedback_lit is True


def test_active_low_feedback_through_the_simulator(gpio_factory: MockFactory) -> None:
    pinout = GpioPinout(feedback_active_high=False, feedback_pull_up=True)
    sim = GpioSimulator(gpio_factory, pinout)
    with LampRelay(
        RELAY,
        initial_on=False,
        feedback_pin=FEEDBACK,
        feedback_active_high=False,
        feedback_pull_up=True,
        pin_factory=gpio_factory,
    ) as relay:
        relay.on()
        assert gpio_factory.pin(FEEDBACK).state is False
        assert relay.feedback_lit is True
        sim.break_bulb()
        assert relay.feedback_lit is False


def test_feedback_pull_must_rest_at_not_lit(gpio_factory: MockFactory) -> None:
    with pytest.raises(PinConfigError) as info:
        LampRelay(
            RELAY,
            initial_on=False,
            feedback_pin=FEEDBACK,
            feedback_active_high=True,
            feedback_pull_up=True,
            pin_factory=gpio_factory,
        )
    assert str(info.value).startswith("GPIO27 for the lamp feedback is pulled high")
    LampRelay(RELAY, initial_on=False, pin_factory=gpio_factory).close()  # relay was released


def test_relay_pin_already_in_use(gpio_factory: MockFactory) -> None:
    with LampRelay(RELAY, initial_on=False, pin_factory=gpio_factory):
        with pytest.raises(PinInUseError) as info:
            LampRelay(RELAY, initial_on=False, pin_factory=gpio_factory)
    message = str(info.value)
    assert message == "GPIO17 for the lamp relay is already in use by another device."


def test_feedback_on_the_relay_pin_is_refused_and_cleaned_up(gpio_factory: MockFactory) -> None:
    with pytest.raises(PinInUseError, match="^GPIO17 for the lamp feedback is already in use"):
        LampRelay(RELAY, initial_on=False, feedback_pin=RELAY, pin_factory=gpio_factory)
    LampRelay(RELAY, initial_on=False, pin_factory=gpio_factory).close()


def test_invalid_pin_is_named(gpio_factory: MockFactory) -> None:
    with pytest.raises(PinConfigError) as info:
        LampRelay(99, initial_on=False, pin_factory=gpio_factory)
    assert str(info.value) == "GPIO99 for the lamp relay is not a valid GPIO pin on this board."
