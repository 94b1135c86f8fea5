"""GpioSimulator and its shell: scripted radio traffic, lamp faults, wiring mistakes."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from drivers.gpio import (
    DEFAULT_PINOUT,
    GpioPinout,
    GpioSimulator,
    LampRelay,
    LineChange,
    LineMonitor,
    LineSpec,
    ManualClock,
    PinConfigError,
    PinInUseError,
    SimLamp,
    cli,
    make_mock_factory,
)

DEBOUNCE = 0.0625


@pytest.fixture
def gpio_factory() -> Iterator[MockFactory]:
    factory = make_mock_factory()
    yield factory
    factory.close()


def _monitors(
    factory: MockFactory, clock: ManualClock, sink: list[LineChange]
) -> list[LineMonitor]:
    return [
        LineMonitor(
            spec.pin, spec.name, pull_up=spec.pull_up, debounce_s=DEBOUNCE,
            clock=clock, on_change=sink.append, pin_factory=factory,
        )
        for spec in DEFAULT_PINOUT.lines
    ]


def test_key_ptt_and_carrier_give_exact_durations(gpio_factory: MockFactory) -> None:
    clock = ManualClock()
    sim = GpioSimulator(gpio_factory, sleep=clock.sleep)
    changes: list[LineChange] = []
    monitors = _monitors(gpio_factory, clock, changes)


    def settle() -> None:  # what the owner's periodic poll does
        clock.advance(DEBOUNCE)
        for monitor in monitors:
            monitor.poll()

    try:
        sim.key_ptt(2.5)
        settle()
        sim.carrier(4.0)
        settle()
    finally:
        for monitor in monitors:
            monitor.close()
    assert [(c.name, c.active) for c in changes] == [
        ("ptt", True), ("ptt", False), ("cos", True), ("cos", False)
    ]
    assert changes[1].at_monotonic - changes[0].at_monotonic == 2.5
    assert changes[3].at_monotonic - changes[2].at_monotonic == 4.0


def test_lines_are_driven_at_the_wired_level(gpio_factory: MockFactory) -> None:
    pinout = GpioPinout(lines=(LineSpec("cos", 22), LineSpec("ptt", 23, pull_up=False)))
    sim = GpioSimulator(gpio_factory, pinout)
    sim.set_line("cos", True)
    sim.set_line("ptt", True)
    assert gpio_factory.pin(22).state is False  # active-low behind an optocoupler
    assert gpio_factory.pin(23).state is True  # active-high with pull-down
    assert sim.line_driven_active("cos") and sim.line_driven_active("ptt")


def test_level_set_before_the_device_opens_survives_its_pull(gpio_factory: MockFactory) -> None:
    clock = ManualClock()
    sim = GpioSimulator(gpio_factory)
    sim.set_line("ptt", True)
    with LineMonitor(
        23, "ptt", pull_up=True, debounce_s=0.0, clock=clock, pin_factory=gpio_factory
    ) as monitor:
        assert monitor.is_active is True


def test_lamp_output_follows_the_relay_pin(gpio_factory: MockFactory) -> None:
    events: list[SimLamp] = []
    pinout = GpioPinout(relay_active_high=False)
    sim = GpioSimulator(gpio_factory, pinout, on_lamp_change=events.append)
    assert sim.lamp_output() is False and sim.relay_pin_level() is None
    relay = LampRelay(17, initial_on=False, active_high=False, pin_factory=gpio_factory)
    assert sim.lamp_output() is False and sim.relay_pin_level() is True
    relay.on()
    assert sim.lamp_output() is True and sim.relay_pin_level() is False
    assert sim.lamp_lit() is True
    relay.close()  # released as input: the hold-off resistor keeps the relay off
    assert sim.lamp_output() is False and sim.relay_pin_level() is None
    assert events == [SimLamp(True, True), SimLamp(False, False)]


def test_faults_are_described_and_repaired(gpio_factory: MockFactory) -> None:
    sim = GpioSimulator(gpio_factory)
    sim.break_bulb()
    sim.stick_relay(closed=False)
    assert sim.describe_faults() == "bulb broken, relay stuck open"
    sim.repair()
    assert sim.describe_faults() == "none"


def test_simulator_must_come_before_the_devices(gpio_factory: MockFactory) -> None:
    with LampRelay(17, initial_on=False, pin_factory=gpio_factory):
        with pytest.raises(PinConfigError, match="^GPIO17 for the lamp relay was opened before"):
            GpioSimulator(gpio_factory)


def test_pinout_with_a_shared_pin_is_refused(gpio_factory: MockFactory) -> None:
    pinout = GpioPinout(lines=(LineSpec("cos", 22), LineSpec("ptt", 22)))
    with pytest.raises(PinInUseError) as info:
        GpioSimulator(gpio_factory, pinout)
    assert str(info.value) == "GPIO22 for the ptt line is already used by the cos line."


def test_unknown_line_name(gpio_factory: MockFactory) -> None:
    sim = GpioSimulator(gpio_factory)
    with pytest.raises(PinConfigError, match="no GPIO line named 'squelch'"):
        sim.set_line("squelch", True)


def test_bounce_needs_a_transition(gpio_factory: MockFactory) -> None:
    with pytest.raises(ValueError):
        GpioSimulator(gpio_factory, sleep=ManualClock().sleep).bounce("cos", True, transitions=0)


def _run_cli(script: str, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = cli(list(argv), stdin=io.StringIO(script), stdout=out)
    return code, out.getvalue()


def test_cli_shell_drives_the_simulator() -> None:
    script = "lamp on\nbreak\nstatus\ncos on\nptt on\nptt off\nlamp sideways\nquit\n"
    code, out = _run_cli(script, "--debounce-ms", "0")
    assert code == 0
    assert "relay energised, lamp lit" in out
    assert "relay commanded on, lamp dark, feedback dark, faults: bulb broken" in out
    assert "line cos ACTIVE" in out
    assert "line ptt ACTIVE" in out and "line ptt idle" in out
    assert "error: expected on or off, not 'sideways'." in out
    assert "Traceback" not in out


def test_cli_reports_wiring_conflicts_in_one_sentence() -> None:
    code, out = _run_cli("quit\n", "--relay-pin", "22")
    assert code == 1
    assert out.strip() == "error: GPIO22 for the cos line is already used by the lamp relay."


def test_cli_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["--relay-pin", "seventeen"], stdin=io.StringIO(""), stdout=io.StringIO()) == 2
    assert "invalid int value" in capsys.readouterr().err
