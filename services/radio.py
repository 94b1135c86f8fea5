"""The radio (HT) log daemon: every transmission heard (COS) or sent (PTT) becomes an event.

Debounced line changes (drivers.gpio.LineMonitor) feed one AirtimeTracker per line
(edge/airtime.py), which merges flutter, folds chatter and spots a stuck line. This daemon turns
what the trackers report into events, keeps the retained ``radio`` (channel busy) and
``radio_counts`` states, and closes hourly and daily counts. An optional ANI / PTT-ID decoder
(services/ani.py) names the radio behind a received transmission.

Threads: line changes arrive on gpiozero's callback thread or in ``poll()``; they only go into a
queue, and everything else happens in ``step`` on this daemon's thread.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from gpiozero.pins import Factory

from drivers.gpio import COS, PTT, LineChange, LineMonitor
from edge.airtime import AirtimeTracker, Chatter, Outcome, Stuck, Transmission
from edge.events import NewEvent
from edge.timefmt import to_utc_text
from services.ani import AniReader
from services.gpio_common import (input_levels, local_day_end, pin_factory_for, say, span_text,
                                  wall_at)
from services.runtime import Runtime

log = logging.getLogger(__name__)

SOURCE = "radio"
STATE = "radio"
COUNTS_STATE = "radio_counts"
DIRECTION = {COS: "rx", PTT: "tx"}

_TEXTS = {
    PTT: {
        "id": "PTT radio (HT) di pos jaga tertekan terus lebih dari {limit}: kanal terblokir "
              "untuk semua, periksa HT sekarang.",
        "en": "The radio (HT) PTT at the guard post has been keyed for over {limit}: the "
              "channel is jammed for everyone; check the HT now.",
    },
    COS: {
        "id": "Squelch radio (HT) terbuka terus lebih dari {limit}: periksa HT, kabel COS, "
              "atau pemancar yang macet di kanal.",
        "en": "The radio (HT) squelch has been open for over {limit}: check the HT, the COS "
              "cable, or a transmitter stuck on the channel.",
    },
}


def _empty() -> dict[str, dict[str, float]]:
    return {d: {"count": 0, "seconds": 0.0, "chatter": 0, "stuck": 0} for d in ("rx", "tx")}


@dataclass
class _Counts:
    """Activity of the current local hour and day; a transmission counts when it ends."""

    hour: datetime  # local start of the hour
    day: date
    hourly: dict[str, dict[str, float]] = field(default_factory=_empty)
    daily: dict[str, dict[str, float]] = field(default_factory=_empty)

    def add(self, direction: str, key: str, amount: float = 1) -> None:
        for bucket in (self.hourly, self.daily):
            bucket[direction][key] = round(bucket[direction][key] + amount, 3)

    def payload(self) -> dict[str, Any]:
        return {"hour": self.hour.isoformat(), "date": self.day.isoformat(),
                "hourly": self.hourly, "daily": self.daily}


class RadioService:
    name = "radio"

    def __init__(self, rt: Runtime, pin_factory: Factory | None = None) -> None:
        self.rt = rt
        self.cfg = cfg = rt.config.radio
        self.zone = rt.config.site.zone
        self.language = rt.config.site.language
        self._given_factory = pin_factory
        self._factory: Factory | None = None
        self._own_factory = False
        self._lines = [name for name, wanted in ((COS, cfg.cos), (PTT, cfg.ptt)) if wanted]
        stuck = {COS: cfg.cos_stuck_s, PTT: cfg.ptt_stuck_s}
        self.trackers = {name: AirtimeTracker(name, hang_s=cfg.hang_s,
                                              min_s=cfg.min_transmission_s, stuck_s=stuck[name])
                         for name in self._lines}
        self.monitors: dict[str, LineMonitor] = {}
        self._changes: queue.SimpleQueue[LineChange] = queue.SimpleQueue()
        self._held: list[Transmission] = []  # received, waiting for a late caller id
        self.ani = AniReader(cfg.ani_port, cfg.ani_baud, cfg.ani_pattern, rt.clock) \
            if cfg.ani_port else None
        self._counts = self._fresh_counts(rt.clock.now())
        self._lock = threading.Lock()  # open/step/close may be called from a test thread too

    # --- life cycle --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        self.open()
        try:
            while not stop.is_set():
                self.step()
                if self.rt.clock.wait(stop, self.cfg.poll_s):
                    break
        finally:
            self.close()

    def open(self) -> None:
        with self._lock:
            if self.monitors:
                return
            self._restore_counts(self.rt.clock.now())
            self._factory, self._own_factory = pin_factory_for(
                self.rt.config.gpio.pin_factory, self._given_factory)
            try:
                for name in self._lines:
                    self.monitors[name] = self._open_line(name)
            except BaseException:
                self._close_pins()
                raise
            self._publish_state()
            if self.ani is not None:
                self.ani.start()
            log.info("radio lines watched: %s", ", ".join(
                f"{n} on {m.pin_name}" for n, m in self.monitors.items()) or "none")

    def step(self) -> None:
        """Sample the lines, turn their changes into events, close finished hours and days."""
        with self._lock:
            if not self.monitors:
                return
            for monitor in self.monitors.values():
                monitor.poll()
            now = self.rt.clock.monotonic()
            outcomes: list[Outcome] = []
            changed = False
            while True:
                try:
                    change = self._changes.get_nowait()
                except queue.Empty:
                    break
                outcomes += self.trackers[change.name].change(change.active, change.at_monotonic)
                changed = True
            for tracker in self.trackers.values():
                outcomes += tracker.tick(now)
            self._handle(outcomes, now, cut=False)
            if changed or any(isinstance(o, Stuck) for o in outcomes):
                self._publish_state()
            self._roll(self.rt.clock.now())

    def close(self) -> None:
        """Stop watching; a transmission still on the air is logged as cut by the stop."""
        with self._lock:
            if not self.monitors:
                return
            try:
                if self.ani is not None:
                    self.ani.stop()
                now = self.rt.clock.monotonic()
                for tracker in self.trackers.values():
                    cut = tracker.active  # still on the air: its end is ours, not the radio's
                    ended = tracker.change(False, now) + tracker.tick(now + tracker.hang_s)
                    self._handle(ended, now, cut=cut)
                self._release_held(float("inf"))
                self._publish_state(idle=True)
            finally:
                self._close_pins()

    # --- outcomes ----------------------------------------------------------------------------

    def _handle(self, outcomes: list[Outcome], now: float, cut: bool) -> None:
        for outcome in outcomes:
            if isinstance(outcome, Transmission):
                if self.ani is not None and outcome.line == COS and not cut:
                    self._held.append(outcome)  # an id sent at release may still be coming
                else:
                    self._record_transmission(outcome, cut)
            elif isinstance(outcome, Chatter):
                self._count(outcome.line, outcome.end, "chatter", 1)
            else:
                self._record_stuck(outcome)
        self._release_held(now)

    def _release_held(self, now: float) -> None:
        window = self.cfg.ani_window_s
        ready = [t for t in self._held if now >= t.end + window]
        self._held = [t for t in self._held if now < t.end + window]
        for transmission in ready:
            self._record_transmission(transmission, cut=False)

    def _record_transmission(self, t: Transmission, cut: bool) -> None:
        start, end = self._wall(t.start), self._wall(t.end)
        payload: dict[str, Any] = {
            "direction": DIRECTION[t.line], "line": t.line, "start": to_utc_text(start),
            "end": to_utc_text(end), "duration_s": round(t.duration_s, 3),
            "active_s": round(t.active_s, 3), "bursts": t.bursts, "folded": t.folded,
            "stuck": t.stuck}
        if cut:
            payload["cut_by_stop"] = True
        if self.ani is not None and t.line == COS:
            window = self.cfg.ani_window_s
            callers = self.ani.ids_between(t.start - window, t.end + window)
            payload["caller"] = callers[0] if callers else None
            if len(callers) > 1:
                payload["callers"] = callers
        self._roll(end)
        self.rt.events.record("radio.transmission", SOURCE, payload, occurred_at=start)
        self._count(t.line, t.end, "count", 1, seconds=t.duration_s)

    def _record_stuck(self, s: Stuck) -> None:
        direction = DIRECTION[s.line]
        since = to_utc_text(self._wall(s.since))
        if s.raised:
            limit = self.trackers[s.line].stuck_s
            self.rt.events.record("radio.alert", SOURCE, {
                "alert": "stuck", "severity": "critical" if s.line == PTT else "warning",
                "line": s.line, "direction": direction, "active_since": since, "limit_s": limit,
                "message": say(_TEXTS[s.line], self.language,
                               limit=span_text(limit, self.language))},
                occurred_at=self._wall(s.at))
            self._count(s.line, s.at, "stuck", 1)
            log.warning("radio %s line stuck active since %s", s.line, since)
        else:
            self.rt.events.record("radio.alert_cleared", SOURCE, {
                "alert": "stuck", "line": s.line, "direction": direction,
                "active_since": since, "active_s": round(s.at - s.since, 3)},
                occurred_at=self._wall(s.at))

    # --- states and counts -------------------------------------------------------------------

    def _publish_state(self, idle: bool = False) -> None:
        active = {n: (not idle) and m.is_active for n, m in self.monitors.items()}
        stuck = sorted(n for n, t in self.trackers.items() if t.stuck and not idle)
        since = [m.active_since for n, m in self.monitors.items() if active[n]]
        self.rt.states.set(STATE, {
            "busy": any(active.values()), "rx": active.get(COS, False),
            "tx": active.get(PTT, False), "stuck": stuck,
            "busy_since": to_utc_text(self._wall(min(since))) if since else None,
            "watching": [] if idle else sorted(DIRECTION[n] for n in self.monitors)})

    def _count(self, line: str, at: float, key: str, amount: float,
               seconds: float | None = None) -> None:
        direction = DIRECTION[line]
        self._roll(self._wall(at))
        self._counts.add(direction, key, amount)
        if seconds is not None:
            self._counts.add(direction, "seconds", seconds)
        self.rt.states.set(COUNTS_STATE, self._counts.payload())

    def _roll(self, at: datetime) -> None:
        """Close the hour and the day before ``at`` (local), if ``at`` is past them."""
        fresh = self._fresh_counts(at)
        counts = self._counts
        items: list[NewEvent] = []
        if fresh.hour > counts.hour:
            items.append(self._hourly(counts, partial=False))
            counts.hour, counts.hourly = fresh.hour, _empty()
        if fresh.day > counts.day:
            items.append(self._daily(counts, partial=False))
            counts.day, counts.daily = fresh.day, _empty()
        if items:
            self.rt.events.record_many(items)
            self.rt.states.set(COUNTS_STATE, counts.payload())

    def _hourly(self, counts: _Counts, partial: bool) -> NewEvent:
        end = counts.hour.astimezone(timezone.utc) + timedelta(hours=1)
        payload = {"hour": counts.hour.isoformat(), **counts.hourly}
        if partial:
            payload["partial"] = True  # the service was down when the hour ended
        return NewEvent("radio.hourly", SOURCE, payload, end)

    def _daily(self, counts: _Counts, partial: bool) -> NewEvent:
        payload = {"date": counts.day.isoformat(), **counts.daily}
        if partial:
            payload["partial"] = True
        return NewEvent("radio.daily", SOURCE, payload, local_day_end(counts.day, self.zone))

    def _fresh_counts(self, at: datetime) -> _Counts:
        local = at.astimezone(self.zone)
        return _Counts(local.replace(minute=0, second=0, microsecond=0), local.date())

    def _restore_counts(self, now: datetime) -> None:
        """Continue this hour's and day's counts; close the ones that ended while down."""
        fresh = self._fresh_counts(now)
        stored = self.rt.states.get(COUNTS_STATE)
        self._counts = fresh
        if stored is None:
            return
        try:
            saved = _Counts(datetime.fromisoformat(stored.payload["hour"]),
                            date.fromisoformat(stored.payload["date"]),
                            _checked(stored.payload["hourly"]), _checked(stored.payload["daily"]))
        except (KeyError, TypeError, ValueError):
            log.warning("stored radio counts are unreadable; starting from zero")
            return
        items: list[NewEvent] = []
        if saved.hour == fresh.hour:
            fresh.hourly = saved.hourly
        elif saved.hour < fresh.hour:
            items.append(self._hourly(saved, partial=True))
        if saved.day == fresh.day:
            fresh.daily = saved.daily
        elif saved.day < fresh.day:
            items.append(self._daily(saved, partial=True))
        if items:
            self.rt.events.record_many(items)
        self.rt.states.set(COUNTS_STATE, fresh.payload())

    # --- pins and time -----------------------------------------------------------------------

    def _open_line(self, name: str) -> LineMonitor:
        cfg = self.cfg
        active, pull, pin = ((cfg.cos_active, cfg.cos_internal_pull, cfg.cos_pin) if name == COS
                             else (cfg.ptt_active, cfg.ptt_internal_pull, cfg.ptt_pin))
        pull_up, active_state = input_levels(active, pull)
        return LineMonitor(pin, name, pull_up=pull_up, active_state=active_state,
                           debounce_s=cfg.debounce_s, clock=self.rt.clock.monotonic,
                           on_change=self._changes.put, pin_factory=self._factory)

    def _close_pins(self) -> None:
        monitors, self.monitors = self.monitors, {}
        for monitor in monitors.values():
            monitor.close()
        factory, self._factory = self._factory, None
        if factory is not None and self._own_factory:
            factory.close()

    def _wall(self, mono: float) -> datetime:
        return wall_at(self.rt.clock, mono)


def _checked(value: Any) -> dict[str, dict[str, float]]:
    """Stored counts, shaped like ``_empty()`` (missing keys count as zero)."""
    result = _empty()
    for direction, keys in result.items():
        stored = value[direction]
        for key in keys:
            keys[key] = float(stored.get(key, 0)) if key == "seconds" else int(stored.get(key, 0))
    return result
