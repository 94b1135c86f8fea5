"""Debounced watching of a digital input line (radio COS / PTT sense and the like).

Debounce is ours, not gpiozero's: mock pins never bounce and ``bounce_time`` behaves
differently per pin library. A level is reported only after it held for ``debounce_s`` on the
injected clock. Edges arrive from gpiozero callbacks (another thread on real pins), and
``poll()`` both samples the pin (repairing missed edges) and reports a level that settled
without a further edge, so the owner must call ``poll()`` periodically or run a ``PollLoop``.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from gpiozero import DigitalInputDevice
from gpiozero.exc import DeviceClosed
from gpiozero.pins import Factory

from .clock import Clock, monotonic
from .errors import PinConfigError, PinId, opening, pin_label

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LineChange:
    """A debounced transition.

    ``at_monotonic`` is the injected-clock time at which the reported level began (its last
    edge), not when debounce confirmed it, so differences between changes are true durations.
    """

    name: str
    active: bool
    at_monotonic: float


class LineMonitor:
    """Watch one input line and deliver debounced ``LineChange`` values to ``on_change``.

    The reported state starts inactive; a line already active when the monitor opens is
    reported as a change once it has held for ``debounce_s`` (its ``at_monotonic`` is then the
    opening time, the earliest we know of). ``on_change`` runs in whichever thread noticed the
    change: a gpiozero callback thread or the caller of ``poll()``; deliveries never overlap.
    """

    def __init__(
        self,
        pin: PinId,
        name: str,
        *,
        pull_up: bool | None,
        active_state: bool | None = None,
        debounce_s: float,
        clock: Clock = monotonic,
        on_change: Callable[[LineChange], None] | None = None,
        pin_factory: Factory,
    ) -> None:
        _check_debounce(pin, name, debounce_s)
        self.name = name
        self._debounce_s = float(debounce_s)
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()  # guards the state below
        self._deliver_lock = threading.RLock()  # keeps deliveries in order; re-entrant for poll()
        now = clock()
        self._stable, self._stable_since = False, now
        self._raw, self._raw_since = False, now
        self._device: DigitalInputDevice | None = _open_input(
            pin, name, pull_up, active_state, pin_factory
        )
        self._device.when_activated = self._on_activated
        self._device.when_deactivated = self._on_deactivated
        self.poll()  # pick up the level found at opening

    @property
    def is_active(self) -> bool:
        """The debounced level."""
        with self._lock:
            return self._stable

    @property
    def active_since(self) -> float | None:
        """Clock time the debounced active level began, or None while inactive."""
        with self._lock:
            return self._stable_since if self._stable else None

    @property
    def raw_active(self) -> bool:
        """The last level seen, before debouncing (for diagnostics)."""
        with self._lock:
            return self._raw

    @property
    def pin_name(self) -> str | None:
        device = self._device
        return None if device is None else device.pin.info.name

    @property
    def closed(self) -> bool:
        return self._device is None

    def poll(self) -> list[LineChange]:
        """Sample the pin, report any level that has settled, and return what was reported."""
        device = self._device
        if device is None:
            return []
        now = self._clock()
        try:
            level = bool(device.is_active)
        except DeviceClosed:
            return []  # closed by another thread between the check and the read
        return self._observe(level, now)

    def close(self) -> None:
        """Stop watching and release the pin. Safe to call twice."""
        device, self._device = self._device, None
        if device is not None:
            device.when_activated = None
            device.when_deactivated = None
            device.close()

    def __enter__(self) -> LineMonitor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _on_activated(self) -> None:
        self._observe(True, self._clock())

    def _on_deactivated(self) -> None:
        self._observe(False, self._clock())

    def _observe(self, level: bool, now: float) -> list[LineChange]:
        with self._deliver_lock:
            with self._lock:
                changes = self._record(level, now)
            self._deliver(changes)
        return changes

    def _record(self, level: bool, now: float) -> list[LineChange]:
        # Two threads may read the clock in one order and take the lock in the other.
        now = max(now, self._raw_since)
        changes: list[LineChange] = []
        self._settle(now, changes)
        if level != self._raw:
            self._raw, self._raw_since = level, now
        self._settle(now, changes)  # with debounce 0 the new level counts at once
        return changes

    def _settle(self, now: float, changes: list[LineChange]) -> None:
        if self._raw == self._stable or now - self._raw_since < self._debounce_s:
            return
        self._stable, self._stable_since = self._raw, self._raw_since
        changes.append(LineChange(self.name, self._stable, self._stable_since))

    def _deliver(self, changes: list[LineChange]) -> None:
        if self._on_change is None:
            return
        for change in changes:
            try:
                self._on_change(change)
            except Exception:
                # The change is already committed; a failing consumer must not wedge the
                # pin callback thread or the poll loop.
                log.exception("on_change handler for line %r failed", self.name)


def _check_debounce(pin: PinId, name: str, debounce_s: float) -> None:
    if not math.isfinite(debounce_s) or debounce_s < 0:
        raise PinConfigError(
            f"{pin_label(pin)} for the {name} line needs a debounce of zero or more seconds, "
            f"not {debounce_s!r}."
        )


def _open_input(
    pin: PinId,
    name: str,
    pull_up: bool | None,
    active_state: bool | None,
    pin_factory: Factory,
) -> DigitalInputDevice:
    role = f"{name} line"
    active_state = _resolve_active_state(pin, role, pull_up, active_state)
    with opening(role, pin):
        return DigitalInputDevice(
            pin,
            pull_up=pull_up,
            active_state=active_state if pull_up is None else None,
            bounce_time=None,
            pin_factory=pin_factory,
        )


def _resolve_active_state(
    pin: PinId, role: str, pull_up: bool | None, active_state: bool | None
) -> bool:
    where = f"{pin_label(pin)} for the {role}"
    if pull_up is None:
        if active_state is None:
            raise PinConfigError(
                f"{where} has no internal pull, so active_state (True for active-high, "
                f"False for active-low) must be given."
            )
        return bool(active_state)
    # A pull rests the line at its inactive level: pull-up means active-low.
    implied = not pull_up
    if active_state is not None and bool(active_state) != implied:
        rest = "high" if pull_up else "low"
        raise PinConfigError(
            f"{where} is pulled {rest}, so it must be active-{'low' if pull_up else 'high'}."
        )
    return implied
