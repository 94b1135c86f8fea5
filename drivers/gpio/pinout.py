"""The default wiring of the guard post, as plain values (see docs/gpio.md for the why)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import PinConfigError, PinId

COS = "cos"
PTT = "ptt"


@dataclass(frozen=True, slots=True)
class LineSpec:
    """An input line behind an optocoupler: by default it pulls the pin low when active."""

    name: str
    pin: PinId
    pull_up: bool | None = True
    active_state: bool | None = None

    @property
    def active_high(self) -> bool:
        """The pin level that means "active", derived the way gpiozero derives it."""
        if self.pull_up is None:
            return bool(self.active_state)
        return not self.pull_up


def _default_lines() -> tuple[LineSpec, ...]:
    return (LineSpec(COS, 22), LineSpec(PTT, 23))


@dataclass(frozen=True, slots=True)
class GpioPinout:
    """Which BCM pins do what, and at which level.

    The relay defaults to active-high because the recommended driver plus a 10 kOhm
    pull-down keeps the relay off whenever the pin is not driven (boot, stop, crash).
    """

    relay_pin: PinId = 17
    relay_active_high: bool = True
    feedback_pin: PinId | None = 27
    feedback_active_high: bool = True
    feedback_pull_up: bool | None = False
    lines: tuple[LineSpec, ...] = field(default_factory=_default_lines)
    debounce_s: float = 0.05

    def line(self, name: str) -> LineSpec:
        for spec in self.lines:
            if spec.name == name:
                return spec
        known = ", ".join(spec.name for spec in self.lines) or "none"
        raise PinConfigError(f"no GPIO line named {name!r} is configured (known: {known}).")


DEFAULT_PINOUT = GpioPinout()
