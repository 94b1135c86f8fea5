"""The parking lamp: a relay output and an optional feedback input that says the lamp is lit.

Power-cut and shutdown behaviour (read docs/gpio.md "Relay hold-off resistor"):

* The relay output is claimed with an explicit ``initial_on`` given by the caller (for example
  the lamp state restored after a power cut), so the line never takes whatever level it
  happened to float to.
* While the Pi boots, before this code runs, and again after ``close()`` or process exit, the
  pin is an input: gpiozero releases pins as inputs (the lgpio factory even switches the
  internal pull off), so the relay line floats. Only an external pull resistor on the relay
  input holds the relay off then; the wiring doc says which one.
"""

from __future__ import annotations

from types import TracebackType

from gpiozero import DigitalInputDevice, DigitalOutputDevice
from gpiozero.pins import Factory

from .errors import PinConfigError, PinId, opening, pin_label


class LampRelay:
    """Switch the lamp relay and, when wired, read whether the lamp really lit.

    ``feedback_pull_up`` follows gpiozero: True pulls up, False pulls down, None leaves the
    input floating for an external resistor. A pull must rest at the *not lit* level, so a
    disconnected sensor reads "not lit" and disagrees with a relay that is on.
    """

    def __init__(
        self,
        pin: PinId,
        *,
        initial_on: bool,
        active_high: bool = True,
        feedback_pin: PinId | None = None,
        feedback_active_high: bool = True,
        feedback_pull_up: bool | None = False,
        pin_factory: Factory,
    ) -> None:
        self._relay: DigitalOutputDevice | None = None
        self._feedback: DigitalInputDevice | None = None
        with opening("lamp relay", pin):
            self._relay = DigitalOutputDevice(
                pin,
                active_high=active_high,
                initial_value=bool(initial_on),
                pin_factory=pin_factory,
            )
        if feedback_pin is not None:
            try:
                self._feedback = _open_feedback(
                    feedback_pin, feedback_active_high, feedback_pull_up, pin_factory
                )
            except BaseException:
                self.close()
                raise

    def on(self) -> None:
        """Energise the relay (lamp on)."""
        self._require_relay().on()

    def off(self) -> None:
        """De-energise the relay (lamp off)."""
        self._require_relay().off()

    def set(self, on: bool) -> None:
        """Switch to ``on`` in one call, handy when restoring a stored mode."""
        self._require_relay().value = bool(on)

    @property
    def is_commanded_on(self) -> bool:
        """True when we are driving the relay to its active level."""
        return bool(self._require_relay().value)

    @property
    def feedback_lit(self) -> bool | None:
        """What the feedback input reads right now, or None when no feedback is wired.

        One instantaneous sample: an AC-sensing module without a smoothing capacitor pulses at
        twice the mains frequency, so callers should sample after the lamp had time to light.
        """
        if self._feedback is None:
            return None
        self._require_relay()
        return bool(self._feedback.value)

    @property
    def pin_name(self) -> str:
        """The relay pin as the board names it, e.g. ``GPIO17``."""
        return self._require_relay().pin.info.name

    @property
    def closed(self) -> bool:
        return self._relay is None

    def close(self) -> None:
        """Release both pins (as inputs: the relay then floats unless a resistor holds it)."""
        feedback, self._feedback = self._feedback, None
        relay, self._relay = self._relay, None
        if feedback is not None:
            feedback.close()
        if relay is not None:
            relay.close()

    def __enter__(self) -> LampRelay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _require_relay(self) -> DigitalOutputDevice:
        if self._relay is None:
            raise PinConfigError("the lamp relay is closed and can no longer be switched.")
        return self._relay


def _open_feedback(
    pin: PinId, active_high: bool, pull_up: bool | None, pin_factory: Factory
) -> DigitalInputDevice:
    if pull_up is not None and pull_up == active_high:
        # A pull-up with an active-high sensor would read "lit" whenever the sensor is
        # unplugged, hiding exactly the fault feedback exists to catch.
        rest = "high" if pull_up else "low"
        raise PinConfigError(
            f"{pin_label(pin)} for the lamp feedback is pulled {rest}, so it must be active-"
            f"{'low' if pull_up else 'high'} (set feedback_active_high={not pull_up})."
        )
    with opening("lamp feedback", pin):
        return DigitalInputDevice(
            pin,
            pull_up=pull_up,
            active_state=active_high if pull_up is None else None,
            pin_factory=pin_factory,
        )
