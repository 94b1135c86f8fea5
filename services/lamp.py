"""The parking-lamp daemon (SOP step 4: parking in and after office hours).

Modes: ``auto`` (lit from sunset to sunrise and in the after-hours windows, see edge/sun.py),
``on`` and ``off``. Supervisors change the mode with a command on ``<root>/lamp/set``; who may
send one is the broker's ACL's business. The mode is kept in the retained ``lamp`` state, so it
survives a restart, and the relay is claimed at the level the mode asks for: after a power cut
the lamp returns to what the mode says, never to whatever the pin floated to.

Threads: the command handler runs on the uplink's thread, ``step`` on this daemon's; one lock
serialises them, and both only do quick work (a GPIO write and a SQLite commit).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Mapping

from gpiozero.pins import Factory

from drivers.gpio import LampRelay
from edge.commands import CommandError, require
from edge.events import NewEvent
from edge.sun import Decision, LampSchedule, Window
from edge.timefmt import from_utc_text, to_utc_text
from services.gpio_common import (input_levels, local_day_end, pin_factory_for, say,
                                  seconds_since_local_midnight, utc_text)
from services.runtime import Runtime

log = logging.getLogger(__name__)

MODES = ("auto", "on", "off")
SOURCE = "lamp"
STATE = "lamp"
HOURS_STATE = "lamp_hours"
_COMMAND_KEYS = frozenset({"mode", "by", "transaction"})
_CHECKPOINT_S = 300.0  # while lit, save today's on-time this often (a crash loses at most this)
_MIN_PAUSE_S = 0.05

_TEXTS = {
    "not_lit": {
        "id": "Lampu parkir diperintahkan MENYALA tetapi sensor membaca PADAM: periksa bola "
              "lampu, sekring, atau relai.",
        "en": "The parking lamp is switched ON but its sensor reads DARK: check the bulb, "
              "fuse or relay.",
    },
    "lit_while_off": {
        "id": "Lampu parkir diperintahkan PADAM tetapi sensor membaca MENYALA: relai mungkin "
              "macet.",
        "en": "The parking lamp is switched OFF but its sensor reads LIT: the relay may be "
              "stuck.",
    },
}


@dataclass
class _Tally:
    """On-time of one local day."""

    day: date
    on_s: float = 0.0
    switches: int = 0

    def payload(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "on_s": round(self.on_s, 1),
                "on_hours": round(self.on_s / 3600.0, 2), "switches": self.switches}


def parse_command(request: Mapping[str, Any]) -> tuple[str, str]:
    """The mode and the sender's name of a lamp command; CommandError for anything else."""
    unknown = sorted(set(request) - _COMMAND_KEYS)
    if unknown:
        raise CommandError(f"the lamp command has an unknown key '{unknown[0]}'; it takes "
                           "'mode', 'by' and optionally 'transaction'")
    mode = require(request, "mode", str, MODES)
    by = require(request, "by", str).strip()
    if not by or len(by) > 64 or not by.isprintable():
        raise CommandError("'by' must name the supervisor in 1 to 64 printable characters")
    return mode, by


class LampService:
    name = "lamp"

    def __init__(self, rt: Runtime, pin_factory: Factory | None = None) -> None:
        self.rt = rt
        self.cfg = rt.config.lamp
        site = rt.config.site
        self.zone = site.zone
        self.language = site.language
        self.schedule = LampSchedule(site.latitude, site.longitude, site.zone,
                                     [Window.parse(w) for w in self.cfg.after_hours])
        self._given_factory = pin_factory
        self._factory: Factory | None = None
        self._own_factory = False
        self._lock = threading.RLock()
        self._relay: LampRelay | None = None
        self._mode: str = self.cfg.default_mode
        self._mode_by: str | None = None
        self._mode_at: str | None = None
        self._on = False
        self._last: dict[str, Any] = {}  # reason, cause, by, since of the last switch
        self._next_change: datetime | None = None
        self._mismatch_since: float | None = None
        self._fault: str | None = None
        self._fault_since: datetime | None = None
        self._tally = _Tally(rt.local(rt.clock.now()).date())
        self._last_mono = rt.clock.monotonic()
        self._last_checkpoint = self._last_mono
        rt.router.register("lamp", self._command)

    # --- life cycle --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        self.open()
        try:
            while not stop.is_set():
                self.step()
                if self.rt.clock.wait(stop, self._pause_s()):
                    break
        finally:
            self.close()

    def open(self) -> None:
        """Restore mode and today's on-time, then claim the relay at the level the mode asks."""
        with self._lock:
            if self._relay is not None:
                return
            now, mono = self.rt.clock.now(), self.rt.clock.monotonic()
            previous_on = self._restore(now)
            decision = self._decide(self._mode, now)
            self._factory, self._own_factory = pin_factory_for(
                self.rt.config.gpio.pin_factory, self._given_factory)
            try:
                self._relay = self._open_relay(decision.on)
            except BaseException:
                self._release_factory()
                raise
            self._last_mono = self._last_checkpoint = mono
            self._on = not decision.on  # so the restore counts as a switch to decision.on
            self._switch(decision, "restore", None, now, mono,
                         extra={"previous_on": previous_on}, drive=False)
            log.info("lamp on %s restored: mode %s, %s", self._relay.pin_name, self._mode,
                     "on" if self._on else "off")

    def step(self) -> None:
        """Follow the schedule, compare feedback, keep the day's on-time; quick, never blocks."""
        with self._lock:
            if self._relay is None:
                return
            now, mono = self.rt.clock.now(), self.rt.clock.monotonic()
            self._account(now, mono)
            decision = self._decide(self._mode, now)
            if decision.on != self._on:
                self._switch(decision, "schedule", None, now, mono)
            self._check_feedback(now, mono)
            if self._on and mono - self._last_checkpoint >= _CHECKPOINT_S:
                self._checkpoint(mono)

    def close(self) -> None:
        """Release the relay (the hold-off resistor turns the lamp off) and record that."""
        with self._lock:
            relay = self._relay
            if relay is None:
                return
            try:
                now, mono = self.rt.clock.now(), self.rt.clock.monotonic()
                self._account(now, mono)
                if self._on:
                    self._switch(Decision(False, "stopped"), "shutdown", None, now, mono,
                                 drive=False)
                self._checkpoint(mono)
            finally:
                self._relay = None
                relay.close()
                self._release_factory()

    # --- commands ----------------------------------------------------------------------------

    def _command(self, request: Mapping[str, Any]) -> dict[str, Any]:
        mode, by = parse_command(request)
        with self._lock:
            if self._relay is None:
                raise CommandError("the lamp service is not running right now, so the lamp "
                                   "cannot be switched; try again in a moment")
            if mode == self._mode:
                return {"mode": mode, "on": self._on, "changed": False}
            now, mono = self.rt.clock.now(), self.rt.clock.monotonic()
            self._account(now, mono)
            changed = NewEvent("lamp.mode_changed", SOURCE,
                               {"mode": mode, "previous": self._mode, "by": by})
            decision = self._decide(mode, now)
            if decision.on != self._on:
                # One transaction: if it fails, the router answers an error and nothing moved.
                self._switch(decision, "command", by, now, mono, before=[changed],
                             mode=(mode, by))
            else:
                self.rt.events.record_many([changed])
                self._set_mode(mode, by, now)
                self._next_change = self._schedule_next(now)
                self._publish(now)
            log.info("lamp mode %s set by %s", mode, by)
            return {"mode": mode, "on": self._on, "changed": True}

    # --- switching ---------------------------------------------------------------------------

    def _decide(self, mode: str, now: datetime) -> Decision:
        if mode == "auto":
            return self.schedule.decide(now)
        return Decision(mode == "on", "manual")

    def _switch(self, decision: Decision, reason: str, by: str | None, now: datetime,
                mono: float, *, extra: Mapping[str, Any] | None = None,
                before: list[NewEvent] | None = None, mode: tuple[str, str] | None = None,
                drive: bool = True) -> None:
        """Record the switch durably first, then drive the relay and publish the state."""
        new_mode = mode[0] if mode else self._mode
        payload = {"on": decision.on, "mode": new_mode, "reason": reason,
                   "cause": decision.cause, "by": by, **(extra or {})}
        self.rt.events.record_many([*(before or []),
                                    NewEvent("lamp.switched", SOURCE, payload, now)])
        if mode:
            self._set_mode(mode[0], mode[1], now)
        if drive and self._relay is not None:
            self._relay.set(decision.on)
        self._on = decision.on
        self._last = {"reason": reason, "cause": decision.cause, "by": by,
                      "since": to_utc_text(now)}
        self._mismatch_since = None  # the lamp needs time to follow the relay
        self._tally.switches += 1
        self._next_change = self._schedule_next(now)
        self._publish(now)
        self._checkpoint(mono)

    def _set_mode(self, mode: str, by: str | None, now: datetime) -> None:
        self._mode, self._mode_by, self._mode_at = mode, by, to_utc_text(now)

    def _schedule_next(self, now: datetime) -> datetime | None:
        return self.schedule.next_change(now) if self._mode == "auto" else None

    def _pause_s(self) -> float:
        with self._lock:
            pause = self.cfg.check_s
            if self._next_change is not None:
                until = (self._next_change - self.rt.clock.now()).total_seconds()
                pause = min(pause, until)
            return max(_MIN_PAUSE_S, pause)

    def _publish(self, now: datetime) -> None:
        self.rt.states.set(STATE, {
            "mode": self._mode, "mode_by": self._mode_by, "mode_at": self._mode_at,
            "on": self._on, **self._last, "next_change": utc_text(self._next_change),
            "feedback_wired": self.cfg.feedback, "fault": self._fault,
            "fault_since": utc_text(self._fault_since),
        })

    # --- feedback ----------------------------------------------------------------------------

    def _check_feedback(self, now: datetime, mono: float) -> None:
        assert self._relay is not None
        lit = self._relay.feedback_lit
        if lit is None:
            return
        kind = None if lit == self._on else ("not_lit" if self._on else "lit_while_off")
        if self._fault is not None and kind != self._fault:
            self._clear_fault(now)
        if kind is None:
            self._mismatch_since = None
            return
        if self._mismatch_since is None:
            self._mismatch_since = mono
        if self._fault is None and mono - self._mismatch_since >= self.cfg.feedback_delay_s:
            self._raise_fault(kind, lit, now, mono)

    def _raise_fault(self, kind: str, lit: bool, now: datetime, mono: float) -> None:
        first = mono if self._mismatch_since is None else self._mismatch_since
        since = now - timedelta(seconds=mono - first)
        self.rt.events.record("lamp.alert", SOURCE, {
            "alert": kind, "severity": "warning", "on": self._on, "feedback_lit": lit,
            "since": to_utc_text(since), "message": say(_TEXTS[kind], self.language)})
        self._fault, self._fault_since = kind, since
        self._publish(now)
        log.warning("lamp feedback disagrees with the relay: %s", kind)

    def _clear_fault(self, now: datetime) -> None:
        since = self._fault_since or now
        self.rt.events.record("lamp.alert_cleared", SOURCE, {
            "alert": self._fault, "since": to_utc_text(since),
            "duration_s": round((now - since).total_seconds(), 1)})
        self._fault, self._fault_since = None, None
        self._publish(now)

    # --- on-time per day ---------------------------------------------------------------------

    def _account(self, now: datetime, mono: float) -> None:
        """Add the time since the last call to the day it fell in, closing finished days."""
        delta = max(0.0, mono - self._last_mono)
        self._last_mono = mono
        today = self.rt.local(now).date()
        if today <= self._tally.day:  # a wall clock stepped back keeps counting the same day
            self._tally.on_s += delta if self._on else 0.0
            return
        into_today = min(delta, seconds_since_local_midnight(now, self.zone))
        if self._on:
            self._tally.on_s += delta - into_today
        self._close_day(self._tally, partial=False)
        self._tally = _Tally(today, into_today if self._on else 0.0)
        self._checkpoint(mono)

    def _close_day(self, tally: _Tally, partial: bool) -> None:
        payload = tally.payload()
        if partial:
            payload["partial"] = True  # the service was down at midnight: last checkpoint
        self.rt.events.record("lamp.daily", SOURCE, payload,
                              occurred_at=local_day_end(tally.day, self.zone))

    def _checkpoint(self, mono: float) -> None:
        self._last_checkpoint = mono
        self.rt.states.set(HOURS_STATE, self._tally.payload())

    # --- restart -----------------------------------------------------------------------------

    def _restore(self, now: datetime) -> bool | None:
        """Take the mode and today's on-time from the stored states; the lamp's last state."""
        stored = self.rt.states.get(STATE)
        previous_on: bool | None = None
        if stored is not None:
            payload = stored.payload
            if payload.get("mode") in MODES:
                self._mode = payload["mode"]
                self._mode_by, self._mode_at = payload.get("mode_by"), payload.get("mode_at")
            else:
                log.warning("stored lamp mode %r is not one of %s; using %s",
                            payload.get("mode"), MODES, self._mode)
            on = payload.get("on")
            previous_on = on if isinstance(on, bool) else None
            if payload.get("fault") in _TEXTS and self.cfg.feedback:
                # Still open: cleared by the first agreeing check, not raised a second time.
                self._fault = payload["fault"]
                self._fault_since = _parse_utc(payload.get("fault_since")) or now
        self._tally = self._restore_tally(now)
        return previous_on

    def _restore_tally(self, now: datetime) -> _Tally:
        today = self.rt.local(now).date()
        stored = self.rt.states.get(HOURS_STATE)
        if stored is None:
            return _Tally(today)
        try:
            saved = _Tally(date.fromisoformat(stored.payload["date"]),
                           float(stored.payload["on_s"]), int(stored.payload["switches"]))
        except (KeyError, TypeError, ValueError):
            log.warning("stored lamp on-time %r is unreadable; starting from zero",
                        dict(stored.payload))
            return _Tally(today)
        if saved.day == today:
            return saved
        fresh = _Tally(today)
        if saved.day < today:
            self._close_day(saved, partial=True)
            # Saved at once, so a start that fails later does not report that day twice.
            self.rt.states.set(HOURS_STATE, fresh.payload())
        return fresh

    # --- pins --------------------------------------------------------------------------------

    def _open_relay(self, on: bool) -> LampRelay:
        cfg = self.cfg
        pull_up, _ = input_levels(cfg.feedback_active, cfg.feedback_internal_pull)
        return LampRelay(
            cfg.relay_pin, initial_on=on, active_high=cfg.relay_active == "high",
            feedback_pin=cfg.feedback_pin if cfg.feedback else None,
            feedback_active_high=cfg.feedback_active == "high", feedback_pull_up=pull_up,
            pin_factory=self._factory)

    def _release_factory(self) -> None:
        factory, self._factory = self._factory, None
        if factory is not None and self._own_factory:
            factory.close()


def _parse_utc(text: Any) -> datetime | None:
    try:
        return from_utc_text(text) if isinstance(text, str) else None
    except ValueError:
        return None
