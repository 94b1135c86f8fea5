"""MockPin variants that let the simulator stand in for the wiring around the Pi."""

from __future__ import annotations

from collections.abc import Callable

from gpiozero.pins.mock import MockPin


class DrivenInputPin(MockPin):
    """An input whose level is set by the simulated world (an optocoupler, a sensor).

    On a real board a driven signal beats the weak internal pull; plain MockPin instead jumps
    to the pull level whenever a device opens the pin, which would erase what the simulator
    set before the device existed.
    """

    external: bool | None = None

    def _set_pull(self, value: str) -> None:
        super()._set_pull(value)
        if self.external is not None:
            self._apply(self.external)

    def drive(self, level: bool) -> None:
        """Hold the line at ``level`` (True is electrically high)."""
        self.external = bool(level)
        if self._function == "input":
            self._apply(self.external)

    def _apply(self, level: bool) -> None:
        if level:
            self.drive_high()
        else:
            self.drive_low()


class WatchedOutputPin(MockPin):
    """A pin that tells a listener whenever its direction or level changes."""

    listener: Callable[[], None] | None = None

    def output_with_state(self, state: bool) -> None:
        # Direction and level together, so the simulated relay never sees the stale level
        # for an instant (lgpio itself claims the line at level low first; see docs/gpio.md).
        self._function = "output"
        MockPin._change_state(self, bool(state))
        self._notify()

    def _set_function(self, value: str) -> None:
        super()._set_function(value)
        self._notify()

    def _change_state(self, value: bool) -> bool:
        changed = super()._change_state(value)
        if changed:
            self._notify()
        return changed

    def _notify(self) -> None:
        if self.listener is not None:
            self.listener()
