"""Daemon health: readiness, the systemd watchdog and the heartbeats ``posjaga status`` reads.

The protocol a service may follow (every part optional; see docs/operations.md):

- ``ready() -> bool``: True once the service is really up (devices claimed, loop running).
  Without it, a service counts as ready once its thread has run ``SETTLE_S`` without dying.
- ``health() -> str | None``: one sentence naming what is wrong from the service's own point of
  view (a reader unplugged, the broker away), or None when all is well.
- ``heartbeat: float``: ``time.monotonic()`` of the last turn of the service's loop. A service
  that keeps one is *hung* when it is older than ``HUNG_AFTER_S``.

Being *alive* (thread running, loop turning) is what the watchdog pings for: systemd restarts a
process whose service hung. A *problem* reported by ``health()`` is not a reason to restart (a
broker outage or an unplugged reader is not cured by a restart); it goes into the heartbeat so
``posjaga status`` can tell a person. Services written before this protocol get an adapter
below, built only on their public attributes.
"""
from __future__ import annotations

import logging
import os
import platform
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from edge.sdnotify import Notifier
from edge.timefmt import to_utc_text

log = logging.getLogger(__name__)

SETTLE_S = 0.2
HUNG_AFTER_S = 120.0
HEARTBEAT_S = 60.0  # one SQLite write per daemon and minute: the SD card matters
HEARTBEAT_PREFIX = "service/"


def heartbeat_state(name: str) -> str:
    return HEARTBEAT_PREFIX + name


@dataclass(frozen=True)
class Check:
    """One service's health at one moment."""

    name: str
    alive: bool
    ready: bool
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.alive and self.problem is None


class Watched:
    """A service and the thread it runs on, with the adapter that reads its health."""

    def __init__(self, service: Any, thread: threading.Thread, started: float) -> None:
        self.service = service
        self.thread = thread
        self.started = started
        self._ready = getattr(service, "ready", None) or _ADAPTED_READY.get(service.name)
        self._health = getattr(service, "health", None) or _ADAPTED_HEALTH.get(service.name)

    def check(self, now: float) -> Check:
        service = self.service
        alive = self.thread.is_alive()
        beat = getattr(service, "heartbeat", None)
        problem = None
        if alive and isinstance(beat, (int, float)) and now - beat > HUNG_AFTER_S:
            alive, problem = False, f"its loop has not turned for {now - beat:.0f} s"
        if not alive:
            return Check(service.name, False, False, problem or "it is not running")
        if self._ready is not None:
            ready = bool(_call(self._ready, service))
        else:
            ready = now - self.started >= SETTLE_S
        problem = _call(self._health, service) if self._health is not None else None
        return Check(service.name, True, ready, problem)


def _call(fn: Callable[..., Any], service: Any) -> Any:
    # Bound methods take no argument; adapters take the service.
    return fn() if getattr(fn, "__self__", None) is service else fn(service)


# --- adapters for the services that predate the protocol (public attributes only) -----------

def _uplink_ready(service: Any) -> bool:
    stats = service.uplink.stats
    # Up once it has tried the broker: a post may be offline, which must not hold READY back.
    return bool(stats.connected or stats.connect_failures or stats.last_error)


def _uplink_health(service: Any) -> str | None:
    stats = service.uplink.stats
    if stats.connected:
        return None
    return stats.last_error or "not connected to the broker yet"


def _patrol_ready(service: Any) -> bool:
    return bool(service.readers_up())


def _patrol_health(service: Any) -> str | None:
    down = sorted(name for name, up in service.readers_up().items() if not up)
    return f"tag reader {', '.join(down)} is not connected" if down else None


def _attendance_health(service: Any) -> str | None:
    return None if service.live else "the fingerprint machine is not connected"


_ADAPTED_READY: dict[str, Callable[[Any], bool]] = {
    "uplink": _uplink_ready, "patrol": _patrol_ready}
_ADAPTED_HEALTH: dict[str, Callable[[Any], str | None]] = {
    "uplink": _uplink_health, "patrol": _patrol_health, "attendance": _attendance_health}


class Monitor:
    """Run from the runner's main loop: READY once, WATCHDOG while alive, heartbeats."""

    def __init__(self, states: Any, clock: Any, notifier: Notifier,
                 heartbeat_s: float = HEARTBEAT_S) -> None:
        self.states = states
        self.clock = clock
        self.notifier = notifier
        self.heartbeat_s = heartbeat_s
        self.watched: list[Watched] = []
        self.is_ready = False
        self._next_ping = 0.0
        self._beats: dict[str, tuple[float, bool, str | None]] = {}
        self._started_at = to_utc_text(clock.now())
        self._host = platform.node() or "pi"

    def watch(self, service: Any, thread: threading.Thread) -> None:
        self.watched.append(Watched(service, thread, time.monotonic()))

    def tick(self) -> list[Check]:
        now = time.monotonic()
        checks = [w.check(now) for w in self.watched]
        if not self.is_ready and all(c.ready for c in checks):
            self.is_ready = True
            self.notifier.ready(_summary(checks))
            log.info("ready: %s", ", ".join(c.name for c in checks))
        alive = all(c.alive for c in checks)
        # Only while every service lives: a hung one stops the pings and systemd restarts us.
        if alive and self.notifier.watchdog_s and now >= self._next_ping:
            self.notifier.watchdog()
            self._next_ping = now + self.notifier.watchdog_s
        if self.is_ready:
            self._heartbeats(checks, now)
        return checks

    def stopped(self, reason: str) -> None:
        self.notifier.stopping(reason)
        for w in self.watched:
            self._write(w.service.name, running=False, ok=reason == "stopped",
                        problem=None if reason == "stopped" else reason)

    def _heartbeats(self, checks: list[Check], now: float) -> None:
        for c in checks:
            last = self._beats.get(c.name)
            changed = last is None or (last[1], last[2]) != (c.ok, c.problem)
            if changed:
                if c.problem and (last is None or last[2] != c.problem):
                    log.warning("%s: %s", c.name, c.problem)
                self.notifier.status(_summary(checks))
            if changed or now - last[0] >= self.heartbeat_s:
                self._write(c.name, running=True, ok=c.ok, problem=c.problem)
                self._beats[c.name] = (now, c.ok, c.problem)

    def _write(self, name: str, *, running: bool, ok: bool, problem: str | None) -> None:
        try:
            self.states.set(heartbeat_state(name), {
                "service": name, "running": running, "ok": ok, "problem": problem,
                "at": to_utc_text(self.clock.now()), "every_s": self.heartbeat_s,
                "pid": os.getpid(), "host": self._host, "started_at": self._started_at})
        except Exception as exc:  # a full disk must not stop the daemons; status will show it
            log.error("could not write the heartbeat of %s: %s", name, exc)


def _summary(checks: list[Check]) -> str:
    bad = [f"{c.name}: {c.problem}" for c in checks if c.problem]
    return "; ".join(bad) if bad else "running: " + ", ".join(c.name for c in checks)
