"""A simulated guard post around a MockFactory: radio lines, the lamp relay and its bulb.

Mock pins exist only inside one process and one factory object, so the services and the
simulator must share the factory: build ``GpioSimulator`` first, then open ``LampRelay`` and
``LineMonitor`` on ``sim.factory`` (the services layer does that for ``posjaga sim gpio``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO, TypeVar, cast

from gpiozero.pins.mock import MockFactory, MockPin

from ._mockpins import DrivenInputPin, WatchedOutputPin
from .errors import PinConfigError, PinId, PinInUseError, pin_label
from .factory import make_mock_factory
from .pinout import COS, DEFAULT_PINOUT, PTT, GpioPinout, LineSpec

_P = TypeVar("_P", bound=MockPin)


@dataclass(frozen=True, slots=True)
class SimLamp:
    """What the simulated world looks like at the lamp."""

    relay_energised: bool
    lamp_lit: bool


class GpioSimulator:
    """Drive the simulated inputs and watch the relay on a MockFactory.

    By default the bulb lights exactly when the relay is energised, and the feedback input
    follows the bulb; ``break_bulb()`` and ``stick_relay()`` make the feedback disagree with
    the relay, ``repair()`` undoes both. ``sleep`` paces the scripted helpers (``key_ptt``,
    ``carrier``, ``bounce``); pass ``ManualClock.sleep`` to script them without waiting.
    """

    def __init__(
        self,
        factory: MockFactory | None = None,
        pinout: GpioPinout = DEFAULT_PINOUT,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_lamp_change: Callable[[SimLamp], None] | None = None,
    ) -> None:
        self.factory = factory if factory is not None else make_mock_factory()
        self.pinout = pinout
        self._sleep = sleep
        self._on_lamp_change = on_lamp_change
        self._lock = threading.RLock()
        self._bulb_ok = True
        self._stuck_closed: bool | None = None
        _check_distinct_pins(self.factory, pinout)
        self._lines = {spec.name: spec for spec in pinout.lines}
        self._line_pins = {
            spec.name: self._claim(spec.pin, DrivenInputPin, f"{spec.name} line")
            for spec in pinout.lines
        }
        self._feedback_pin = self._claim_feedback()
        self._relay_pin = self._claim(pinout.relay_pin, WatchedOutputPin, "lamp relay")
        self._last = SimLamp(False, False)
        for name in self._lines:
            self.set_line(name, False)
        self._relay_pin.listener = self._relay_changed
        self._relay_changed()

    @property
    def line_names(self) -> tuple[str, ...]:
        return tuple(self._lines)

    def set_line(self, name: str, active: bool) -> None:
        """Make line ``name`` logically active or inactive (its pin level follows the wiring)."""
        spec = self._spec(name)
        level = spec.active_high if active else not spec.active_high
        self._line_pins[name].drive(level)

    def line_driven_active(self, name: str) -> bool:
        """What the simulator currently drives on line ``name`` (before any debouncing)."""
        spec = self._spec(name)
        return self._line_pins[name].state == spec.active_high

    def pulse(self, name: str, seconds: float) -> None:
        """Hold line ``name`` active for ``seconds`` of the simulator's sleep function."""
        self.set_line(name, True)
        self._sleep(seconds)
        self.set_line(name, False)

    def key_ptt(self, seconds: float) -> None:
        """Simulate one of our own transmissions lasting ``seconds``."""
        self.pulse(PTT, seconds)

    def carrier(self, seconds: float) -> None:
        """Simulate received traffic (squelch open) lasting ``seconds``."""
        self.pulse(COS, seconds)

    def bounce(self, name: str, active: bool, transitions: int = 5, gap_s: float = 0.001) -> None:
        """Contact bounce: ``transitions`` toggles ``gap_s`` apart, ending at ``active``.

        The first toggle goes towards ``active``; an even count needs one more edge to end there.
        """
        if transitions < 1:
            raise ValueError("a bounce needs at least one transition.")
        for index in range(transitions):
            self.set_line(name, active if index % 2 == 0 else not active)
            self._sleep(gap_s)
        self.set_line(name, active)

    def lamp_output(self) -> bool:
        """True when the relay pin is driven to its active level (relay energised).

        A pin that is not an output counts as off: the hold-off resistor keeps the relay off.
        """
        pin = self._relay_pin
        return pin.function == "output" and pin.state == self.pinout.relay_active_high

    def relay_pin_level(self) -> bool | None:
        """The electrical level on the relay pin, or None while it is a floating input."""
        pin = self._relay_pin
        return bool(pin.state) if pin.function == "output" else None

    def lamp_lit(self) -> bool:
        """Whether the simulated bulb gives light."""
        with self._lock:
            return self._last.lamp_lit

    def break_bulb(self) -> None:
        """The bulb stays dark whatever the relay does."""
        with self._lock:
            self._bulb_ok = False
        self._relay_changed()

    def stick_relay(self, closed: bool = True) -> None:
        """Weld the relay contacts closed (lamp stays lit) or stuck open (lamp stays dark)."""
        with self._lock:
            self._stuck_closed = bool(closed)
        self._relay_changed()

    def repair(self) -> None:
        """A working bulb and a relay that follows its coil again."""
        with self._lock:
            self._bulb_ok, self._stuck_closed = True, None
        self._relay_changed()

    def describe_faults(self) -> str:
        with self._lock:
            faults = [] if self._bulb_ok else ["bulb broken"]
            if self._stuck_closed is not None:
                faults.append(f"relay stuck {'closed' if self._stuck_closed else 'open'}")
        return ", ".join(faults) or "none"

    def _relay_changed(self) -> None:
        energised = self.lamp_output()
        with self._lock:
            contacts = energised if self._stuck_closed is None else self._stuck_closed
            state = SimLamp(energised, contacts and self._bulb_ok)
            changed, self._last = state != self._last, state
            self._drive_feedback(state.lamp_lit)
        if changed and self._on_lamp_change is not None:
            self._on_lamp_change(state)

    def _drive_feedback(self, lit: bool) -> None:
        if self._feedback_pin is not None:
            high = self.pinout.feedback_active_high
            self._feedback_pin.drive(high if lit else not high)

    def _spec(self, name: str) -> LineSpec:
        if name not in self._lines:
            return self.pinout.line(name)  # raises the one-sentence error
        return self._lines[name]

    def _claim_feedback(self) -> DrivenInputPin | None:
        if self.pinout.feedback_pin is None:
            return None
        return self._claim(self.pinout.feedback_pin, DrivenInputPin, "lamp feedback")

    def _claim(self, pin: PinId, cls: type[_P], role: str) -> _P:
        info = _pin_info(self.factory, pin, role)
        existing = self.factory.pins.get(info)
        if existing is not None and not isinstance(existing, cls):
            raise PinConfigError(
                f"{pin_label(pin)} for the {role} was opened before the simulator; create the "
                f"GpioSimulator first so it can wire the simulated hardware to that pin."
            )
        return cast(_P, self.factory.pin(pin, pin_class=cls))


def _pin_info(factory: MockFactory, pin: PinId, role: str) -> object:
    for _header, info in factory.board_info.find_pin(pin):
        if "gpio" in info.interfaces:
            return info
    raise PinConfigError(f"{pin_label(pin)} for the {role} is not a valid GPIO pin on this board.")


def _check_distinct_pins(factory: MockFactory, pinout: GpioPinout) -> None:
    roles: list[tuple[PinId, str]] = [(pinout.relay_pin, "lamp relay")]
    if pinout.feedback_pin is not None:
        roles.append((pinout.feedback_pin, "lamp feedback"))
    roles += [(spec.pin, f"{spec.name} line") for spec in pinout.lines]
    seen: dict[object, str] = {}
    for pin, role in roles:
        info = _pin_info(factory, pin, role)
        if info in seen:
            raise PinInUseError(
                f"{pin_label(pin)} for the {role} is already used by the {seen[info]}."
            )
        seen[info] = role


def cli(argv: list[str], *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Entry point for ``posjaga sim gpio``: an interactive shell over a fresh simulator.

    Returns the process exit status; ``stdin``/``stdout`` default to the process streams.
    """
    from .sim_shell import run  # the shell pulls in cmd/argparse only when asked for

    return run(argv, stdin=stdin, stdout=stdout)
