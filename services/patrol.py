"""The patrol daemon (SOP step 7): checkpoint taps from serial readers become patrol rounds.

Each configured reader runs on a ``drivers.tags.TagReader`` thread of its own, which only puts
taps and link changes into a queue and wakes this daemon. This daemon's thread alone applies the
rules (edge/patrol.py), records events and keeps the retained states ``patrol`` (the current
round, the last one, the day's tally) and ``reader/<name>`` (link and frame counters).

Times: readers stamp taps with the injected clock's monotonic time, turned into wall time once,
here. Restarts: the round is taken from the stored ``patrol`` state, never from memory; what fell
due while the service was down is settled at start and says so (docs/patrol.md).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from drivers.tags import LinkEvent, ReaderStats, Tap, TagReader, TagReaderConfig
from edge.config import ConfigError, PatrolReaderConfig
from edge.events import Event, NewEvent
from edge.patrol import PatrolBook, Ref, TapIn, guards_on_duty, tap_source
from edge.patrol_text import say
from edge.timefmt import to_utc_text
from services.runtime import Runtime

log = logging.getLogger(__name__)

STATE = "patrol"
_STATS_EVERY_S = 60.0  # reader frame counters are republished this often when they changed
_LONGEST_PAUSE_S = 60.0  # look again at least this often (a stepped wall clock, for one)
# Real seconds. The patrol state is written once taps pause this long, so the write does not
# compete for the GIL and the disk with the uplink publishing the tap just committed; under a
# stream of taps it is written at least this often. Events are never deferred.
_STATE_QUIET_S = 0.02
_STATE_AT_LEAST_S = 0.25


def reader_state(name: str) -> str:
    return f"reader/{name}"


@dataclass
class _Link:
    up: bool
    since: datetime


class PatrolService:
    name = "patrol"

    def __init__(self, rt: Runtime, reader_options: Mapping[str, Any] | None = None) -> None:
        """``reader_options`` go to every TagReaderConfig (tests and benches shorten the
        reconnect backoff with them)."""
        cfg = rt.config.patrol
        for table, items in (("checkpoints", cfg.checkpoints), ("readers", cfg.readers)):
            if not items:
                raise ConfigError(f"{rt.config.source}: the patrol service needs at least one "
                                  f"[[patrol.{table}]] table (see posjaga.example.toml)")
        self.rt = rt
        self.cfg = cfg
        self.book = PatrolBook(cfg, rt.config.site.zone, rt.config.site.language)
        self._reader_cfgs = {r.name: r for r in cfg.readers}
        self._driver_cfgs = {r.name: _driver_config(r, reader_options or {}, rt.config.source)
                             for r in cfg.readers}
        self._readers: dict[str, TagReader] = {}
        self._links: dict[str, _Link] = {}
        self._inbox: queue.SimpleQueue[Tap | LinkEvent] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stats_due = 0.0
        self._dirty_since: float | None = None  # time.monotonic() of the first unsaved change
        self._log_seq = 0  # the newest event the book's state includes (see _logged_since)

    # --- life cycle ----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        # The clock waits on one event: taps, link changes and the stop request all set it.
        threading.Thread(target=self._wake_when, args=(stop,), name="patrol-stop",
                         daemon=True).start()
        self.open()
        try:
            while not stop.is_set():
                self._wake.clear()
                self.step()
                if self._save_when_quiet():
                    continue
                pause = self._pause_s()
                if pause > 0:  # else something fell due meanwhile: handle it first
                    self.rt.clock.wait(self._wake, pause)
        finally:
            self.close()

    def _wake_when(self, stop: threading.Event) -> None:
        stop.wait()
        self._wake.set()

    def open(self) -> None:
        """Settle what fell due since the stored state, then start listening."""
        stored = self.rt.states.get(STATE)
        payload = stored.payload if stored else None
        since = self._logged_since(payload)
        events = self.book.start(payload, self.rt.clock.now(), since)
        self._record(events)
        self._save_state()
        for name, config in self._driver_cfgs.items():
            self._readers[name] = TagReader(config, on_tap=self._arrived, on_link=self._arrived,
                                            clock=self.rt.clock.monotonic).start()
        log.info("patrol: %d checkpoints, %d readers; waiting for round %s",
                 len(self.cfg.checkpoints), len(self._readers), self.book.round.slot.id)

    def close(self) -> None:
        """Stop the readers, then handle what they delivered before stopping and publish
        their final counters."""
        for reader in self._readers.values():
            reader.close()
        self._stats_due = float("-inf")
        self.step()
        self._readers = {}
        if self._dirty_since is not None:
            self._save_state()

    def readers_up(self) -> dict[str, bool]:
        """Which readers of this run have their port open now; empty before ``open``."""
        return {name: reader.link_up for name, reader in list(self._readers.items())}

    def reader_stats(self) -> dict[str, ReaderStats]:
        """Each reader of this run as it is now (the stored reader states may still describe
        a previous run, and their counters are published once a minute)."""
        return {name: reader.stats() for name, reader in list(self._readers.items())}

    def _arrived(self, item: Tap | LinkEvent) -> None:
        # On a reader's thread: hand over and return at once.
        self._inbox.put(item)
        self._wake.set()

    # --- the daemon's thread -----------------------------------------------------------------

    def step(self) -> None:
        """Handle everything that arrived, then whatever fell due; record; publish."""
        now, mono = self.rt.clock.now(), self.rt.clock.monotonic()
        events: list[NewEvent] = []
        links_changed = False
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, LinkEvent):
                events += self._link(item, now, mono)
                links_changed = True
            else:
                events += self.book.tap(self._tap_in(item, now, mono), self._on_duty)
        events += self.book.tick(now)
        self._record(events)
        if (events or links_changed) and self._dirty_since is None:
            self._dirty_since = time.monotonic()
        if links_changed or mono >= self._stats_due:
            self._publish_readers()
            self._stats_due = mono + _STATS_EVERY_S

    def _pause_s(self) -> float:
        """Clock seconds until the next thing falls due (a step leaves nothing due now)."""
        until = (self.book.next_wakeup() - self.rt.clock.now()).total_seconds()
        stats = self._stats_due - self.rt.clock.monotonic()
        return min(until, stats, _LONGEST_PAUSE_S)

    def _logged_since(self, stored: Mapping[str, Any] | None) -> list[Event]:
        """The patrol events logged after the stored state was written (a power cut while
        taps came in); the state then says up to which event it includes."""
        log_seq = stored.get("log_seq") if isinstance(stored, Mapping) else None
        if not isinstance(log_seq, int) or isinstance(log_seq, bool):
            self._log_seq = self.rt.events.last_seq()  # none stored: start from here
            return []
        since = [e for e in self.rt.events.query(kind="patrol", after_seq=log_seq)
                 if e.kind in PatrolBook.REPLAYED]
        if since:
            log.warning("patrol: the stored round was %d events behind the log (a crash or "
                        "power cut while taps came in); caught up from the log", len(since))
        self._log_seq = max([log_seq] + [e.seq or 0 for e in since])
        return since

    def _record(self, events: list[NewEvent]) -> None:
        if events:
            recorded = self.rt.events.record_many(events)
            self._log_seq = recorded[-1].seq or self._log_seq

    def _save_when_quiet(self) -> bool:
        """Write the patrol state once taps pause; True if one arrived meanwhile (handle it
        first). The events are committed already: a crash in this window leaves the stored
        round up to one batch of taps behind its own log (docs/patrol.md)."""
        if self._dirty_since is None:
            return False
        waited = time.monotonic() - self._dirty_since
        if waited < _STATE_AT_LEAST_S and self._wake.wait(_STATE_QUIET_S):
            return True
        self._save_state()
        return False

    def _save_state(self) -> None:
        down = sorted(name for name, link in self._links.items() if not link.up)
        self.rt.states.set(STATE, {**self.book.state(), "readers_down": down,
                                   "log_seq": self._log_seq})
        self._dirty_since = None

    def _tap_in(self, tap: Tap, now: datetime, mono: float) -> TapIn:
        at = now - timedelta(seconds=max(0.0, mono - tap.monotonic_ts))
        fixed = self._reader_cfgs[tap.reader].checkpoint or None
        return TapIn(reader=tap.reader, code=tap.code, tag_kind=tap.kind, at=at,
                     mono=tap.monotonic_ts, location=tap.location, fixed_checkpoint=fixed,
                     card_number=tap.card_number, raw_hex=tap.raw.hex())

    def _on_duty(self) -> list[Ref]:
        duty = self.rt.states.get(self.cfg.duty_state)
        return guards_on_duty(duty.payload if duty else None, self.book.catalog.guards)

    # --- readers -----------------------------------------------------------------------------

    def _link(self, event: LinkEvent, now: datetime, mono: float) -> list[NewEvent]:
        at = now - timedelta(seconds=max(0.0, mono - event.monotonic_ts))
        first = event.reader not in self._links
        self._links[event.reader] = _Link(event.up, at)
        if first and event.up:
            return []  # the port opened at start: the state says so, no need for an event
        cfg = self._reader_cfgs[event.reader]
        language = self.rt.config.site.language
        message = say("reader_up" if event.up else "reader_down", language, reader=cfg.name)
        return [NewEvent("patrol.reader", tap_source(cfg.name), {
            "reader": cfg.name, "up": event.up, "url": cfg.url, "framing": cfg.framing,
            "location": cfg.location or None, "detail": event.reason, "message": message}, at)]

    def _publish_readers(self) -> None:
        for name, reader in self._readers.items():
            link = self._links.get(name)
            if link is None:
                continue  # not opened nor failed yet: nothing true to say
            cfg, stats = self._reader_cfgs[name], reader.stats()
            self.rt.states.set(reader_state(name), {
                "reader": name, "url": cfg.url, "framing": cfg.framing,
                "location": cfg.location or None, "checkpoint": cfg.checkpoint or None,
                "up": link.up, "since": to_utc_text(link.since),
                "reason": None if link.up else stats.down_reason,
                # Not the accepted-frame count: a PN532 answers a poll every 150 ms, so it
                # would change (and be republished) every minute for nothing.
                "opens": stats.opens, "taps": stats.taps, "folded": stats.frames.folded,
                "rejected": stats.frames.rejected,
                "rejected_total": stats.frames.rejected_total, "driver": stats.driver})


def _driver_config(cfg: PatrolReaderConfig, options: Mapping[str, Any],
                   source: str) -> TagReaderConfig:
    try:
        return TagReaderConfig(url=cfg.url, framing=cfg.framing, baudrate=cfg.baudrate or None,
                               hold_s=cfg.hold_s, location=cfg.location or None, name=cfg.name,
                               **options)
    except ValueError as exc:
        raise ConfigError(f"{source}: [[patrol.readers]] '{cfg.name}': {exc}") from None
