"""The attendance daemon (SOP step 3): the fingerprint machine held against the duty roster.

One thread owns the machine (a ZKDevice serves one thread): connect, check its clock, pull the
whole log (reconciliation), then capture punches live until the next scheduled pull is due;
when the link fails, ``attendance.device`` says so once, and it reconnects with backoff and
reconciles again, so punches made while the link was down are recovered. A second thread
applies the shift rules every ``check_s`` (absences and missing clock-outs fall due as time
passes, not only when someone punches).

Device errors never end the service; only ``stop`` does. See docs/attendance.md.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from drivers.zkteco import DeviceAuthError, DeviceError, Punch, ZKConfig, ZKDevice
from edge.clock import Clock
from edge.config import ConfigError
from edge.events import NewEvent
from edge.timefmt import to_local_text
from edge.uplink import Backoff
from services.attendance_duty import DutyKeeper
from services.attendance_store import Directory, PunchStore, source_of
from services.attendance_sync import ClockCheck, Reconciler, TerminalProgress
from services.roster import RosterStore
from services.runtime import Runtime

log = logging.getLogger(__name__)

DEVICE_STATE = "device/zk"
_LIVE_POLL_S = 0.2  # how often live capture looks at its stop condition


class _Until(threading.Event):
    """Set when ``outer`` is, or once the service clock reaches a deadline: live capture
    checks ``is_set()`` every poll, so a scheduled pull interrupts it cleanly."""

    def __init__(self, outer: threading.Event, clock: Clock, deadline: float) -> None:
        super().__init__()
        self._outer, self._clock, self._deadline = outer, clock, deadline

    def is_set(self) -> bool:
        return self._outer.is_set() or self._clock.monotonic() >= self._deadline


def device_for(rt: Runtime) -> ZKDevice:
    cfg = rt.config.attendance
    if not cfg.host:
        raise ConfigError(f"{rt.config.source}: 'attendance.host' must be set to the "
                          "fingerprint machine's address to run the attendance service")
    return ZKDevice(ZKConfig(cfg.host, cfg.port, cfg.password, cfg.timeout_s,
                             keepalive=cfg.keepalive_s))


class AttendanceService:
    name = "attendance"

    def __init__(self, rt: Runtime, device: ZKDevice | None = None) -> None:
        self.rt = rt
        self.cfg = rt.config.attendance
        self.device = device or device_for(rt)
        self.address = self.device.config.address
        self.store = PunchStore(rt)
        self.roster = RosterStore.from_runtime(rt)
        self.duty = DutyKeeper(rt, self.roster)
        self.sync = Reconciler(self.store, TerminalProgress(
            f"pulling the attendance log of {self.address}"))
        self.serial: str | None = None
        self.live = False
        self.pulls = 0
        self._directory = Directory({}, frozenset())
        self._max_time = ""
        self._known_until = datetime.min.replace(tzinfo=rt.clock.now().tzinfo)
        self._link: str | None = None  # up / down; None before the first attempt
        self._link_since = rt.clock.now()
        self._link_error: str | None = None
        self._clock_state = "ok"
        self._auth_alerted = False

    # --- life cycle --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        rules = threading.Thread(target=self._rules_loop, args=(stop,), name="attendance-rules",
                                 daemon=True)
        rules.start()
        backoff = Backoff(self.cfg.reconnect_min_s, self.cfg.reconnect_max_s)
        try:
            while not stop.is_set():
                try:
                    self._session(stop, backoff)
                except DeviceError as exc:
                    self._link_down(exc)
                    if self.rt.clock.wait(stop, backoff.next()):
                        break
        finally:
            self.live = False
            self.device.close()
            rules.join(10)

    def health(self) -> str | None:
        """For ``posjaga status`` (services/health.py): what is wrong, in one sentence."""
        if self._link != "up":
            reason = f" ({self._link_error})" if self._link_error else ""
            return f"the fingerprint machine {self.address} is not connected{reason}"
        if self._clock_state != "ok":
            return f"the clock of the fingerprint machine {self.address} is {self._clock_state}"
        return None

    def known_until(self) -> datetime:
        """How far the punches are known to be complete: now while live capture runs, else
        when the last pull began."""
        return self.rt.clock.now() if self.live else self._known_until

    def _rules_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.apply_rules()
            if self.rt.clock.wait(stop, self.cfg.check_s):
                return

    def apply_rules(self) -> None:
        """Shift outcomes and the duty state; a failure here is logged, never allowed to stop
        punches being captured (they are stored first; the rules run again soon)."""
        try:
            self.duty.update(self.known_until())
        except Exception:
            log.exception("the shift rules failed; trying again in %s s", self.cfg.check_s)

    # --- one connection ----------------------------------------------------------------------

    def _session(self, stop: threading.Event, backoff: Backoff) -> None:
        self.device.connect()
        self.serial = self.device.serial_number()
        self._link_up()
        while not stop.is_set():
            self.reconcile()
            backoff.reset()  # only a pull proves the link works, not a bare connect
            deadline = self.rt.clock.monotonic() + self.cfg.poll_s
            self._capture(_Until(stop, self.rt.clock, deadline))

    def reconcile(self) -> None:
        """Clock check and a pull of the whole log, on the connected machine."""
        assert self.serial is not None
        check = self.sync.check_clock(self.device, self._max_time)
        extra = self._clock_events(check)
        self._directory = self.sync.directory(self.device)
        started = self.rt.clock.now()
        took = time.monotonic()
        report = self.sync.pull(self.device, self.serial, self._directory, extra)
        took = time.monotonic() - took
        self.pulls += 1
        self._max_time = report.max_time
        self._known_until = started
        if report.new or took > 5:
            log.info("pulled the log of %s in %.1f s: %d punches looked at, %d new, %d "
                     "published", self.address, took, report.seen, report.new, report.published)
        self.apply_rules()

    def _capture(self, until: _Until) -> None:
        assert self.serial is not None
        self.live = True
        clean = False
        try:
            for punch in self.device.live_punches(until, _LIVE_POLL_S):
                self._on_live(punch)
            clean = True
        finally:
            self.live = False
            now = self.rt.clock.now()
            # A link that died silently is noticed only after keepalive + timeout: punches
            # of that stretch may not have come through, so they are not counted as known.
            blind = timedelta(seconds=0 if clean else self.cfg.keepalive_s + self.cfg.timeout_s)
            self._known_until = max(self._known_until, now - blind)

    def _on_live(self, punch: Punch) -> None:
        assert self.serial is not None
        guards = {g.user_id: g.name for g in self.roster.guards()}  # a guard linked just now
        directory = Directory(guards, self._directory.enrolled)
        report = self.store.ingest(self.serial, [punch], "live", directory, self._max_time,
                                   self.rt.clock.now())
        self._max_time = report.max_time
        if report.new_guard_punches:
            self.apply_rules()

    # --- link and clock ----------------------------------------------------------------------

    def _link_up(self) -> None:
        if self._link != "up":
            payload: dict[str, Any] = {"link": "up", "address": self.address,
                                       "device": self.serial}
            if self._link == "down":
                payload["down_s"] = round((self.rt.clock.now() - self._link_since)
                                          .total_seconds(), 1)
            self._set_link("up", None, payload)
            log.info("fingerprint machine %s (%s) is connected", self.address, self.serial)
        self._auth_alerted = False

    def _link_down(self, exc: DeviceError) -> None:
        self.live = False
        events: list[NewEvent] = []
        if isinstance(exc, DeviceAuthError) and not self._auth_alerted:
            self._auth_alerted = True
            events.append(self.store.alert("device_auth", self.serial or self.address,
                                           address=self.address))
        if self._link != "down":
            log.warning("fingerprint machine link down: %s", exc)
            self._set_link("down", str(exc), {"link": "down", "address": self.address,
                                              "device": self.serial, "error": str(exc)},
                           events)
        elif events:
            self.rt.events.record_many(events)
        else:
            log.debug("fingerprint machine still unreachable: %s", exc)

    def _set_link(self, link: str, error: str | None, payload: dict[str, Any],
                  extra: list[NewEvent] | None = None) -> None:
        self._link, self._link_error = link, error
        self._link_since = self.rt.clock.now()
        source = source_of(self.serial) if self.serial else f"zk:{self.address}"
        self.rt.events.record_many([NewEvent("attendance.device", source, payload)]
                                   + list(extra or []))
        self._publish_state()

    def _clock_events(self, check: ClockCheck) -> list[NewEvent]:
        log.debug("clock of %s: %+.1f s off the Pi (%s)", self.address, check.skew_s,
                  check.state)
        if check.state == self._clock_state:
            return []
        self._clock_state = check.state
        self._publish_state()
        if check.state == "ok":
            log.info("the clock of %s is back in step (%+.1f s)", self.address, check.skew_s)
            return []
        assert self.serial is not None
        return [self.sync.clock_alert(self.serial, check)]

    def _publish_state(self) -> None:
        self.rt.states.set(DEVICE_STATE, {
            "link": self._link, "address": self.address, "device": self.serial,
            "since": to_local_text(self._link_since, self.rt.config.site.zone),
            "error": self._link_error, "clock": self._clock_state})
