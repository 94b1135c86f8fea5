"""The local durable log of events and the table of retained states.

Every event is committed here before anything is published; the uplink marks it sent only when
the broker acknowledged it. A process killed at any moment therefore loses nothing that was
committed: what was not acknowledged is simply published again (subscribers drop repeats by id).
"""
from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from sqlalchemy import delete, func, select, update

from edge.clock import Clock
from edge.db import Database
from edge.events import Event, NewEvent, envelope_text, validate_new
from edge.ids import UuidV7Factory
from edge.models import EventRow, StateRow
from edge.timefmt import from_utc_text, to_utc_text

_INSERT = ("INSERT INTO events (id, site, kind, source, occurred_at, recorded_at, payload, "
           "clock_synced, clock_ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
_PENDING = ("SELECT seq, id, site, kind, source, occurred_at, recorded_at, payload, "
            "clock_synced, clock_fix_s FROM events "
            "WHERE sent_at IS NULL AND seq > ? ORDER BY seq LIMIT ?")
_UNFIXED = ("SELECT seq, occurred_at, recorded_at, clock_ref FROM events "
            "WHERE clock_synced = 0 AND clock_fix_s IS NULL")
_FIX = "UPDATE events SET recorded_at = ?, occurred_at = ?, clock_fix_s = ? WHERE seq = ?"
_MARK_SENT = ("UPDATE events SET sent_at = ? WHERE seq BETWEEN ? AND ? "
              "AND sent_at IS NULL")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An unsent event ready for the wire."""

    seq: int
    kind: str
    body: str


class EventBatch:
    """Events recorded inside a caller's transaction (see ``EventLog.writing``)."""

    def __init__(self, log: "EventLog", cursor: sqlite3.Cursor) -> None:
        self.cursor = cursor
        self.outgoing: list[Outgoing] = []
        self.recorded = 0
        self._log = log

    def record_many(self, items: Iterable[NewEvent]) -> list[Event]:
        events, outgoing = self._log._insert(self.cursor, list(items))
        self.outgoing.extend(outgoing)
        self.recorded += len(events)
        return events


class EventLog:
    def __init__(self, db: Database, site: str, tz: str, clock: Clock) -> None:
        self.db = db
        self.site = site
        self.tz = tz
        self.clock = clock
        self._ids = UuidV7Factory()
        # The clock says whether NTP synchronised it (edge/timesync.py); a clock that cannot
        # tell (a test's, the demo's fast one) leaves the flag unknown.
        self._synced: Callable[[], bool | None] = getattr(clock, "synced", lambda: None)
        self._boot: str | None = None
        self._listeners: list[Callable[[list[Outgoing]], None]] = []
        self._hooks: list[Callable[[], None]] = []
        self._listeners_lock = threading.Lock()

    # --- writing ---------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[list[Outgoing]], None]) -> None:
        """Call ``listener`` with each committed batch, ready for the wire, from the writer's
        thread (so it must be cheap); events written by other processes are not announced."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def on_commit(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` (cheaply) after each commit that recorded events; unlike
        ``subscribe`` it gets no envelopes, so a process without an uplink builds none."""
        with self._listeners_lock:
            self._hooks.append(hook)

    def record(self, kind: str, source: str, payload: Mapping[str, Any] | None = None,
               occurred_at: datetime | None = None) -> Event:
        return self.record_many([NewEvent(kind, source, payload or {}, occurred_at)])[0]

    def record_many(self, items: Iterable[NewEvent]) -> list[Event]:
        """Commit all of ``items`` in one durable transaction, then wake the uplink."""
        items = list(items)
        if not items:
            return []
        with self.writing() as batch:
            return batch.record_many(items)

    @contextmanager
    def writing(self) -> Iterator["EventBatch"]:
        """One durable transaction for a caller's own rows and its events together (a punch
        and its event): ``batch.cursor`` runs the caller's SQL, ``batch.record_many`` adds
        events. Listeners hear of the events after COMMIT, and of nothing if the block raises."""
        with self.db.raw_write() as cur:
            batch = EventBatch(self, cur)
            yield batch
        if batch.recorded:
            self._notify(batch.outgoing)

    def _insert(self, cur: sqlite3.Cursor, items: list[NewEvent]
                ) -> tuple[list[Event], list[Outgoing]]:
        if not items:
            return [], []
        recorded_at = self.clock.now()
        rec_text = to_utc_text(recorded_at)
        ids = self._ids.batch(recorded_at, len(items))
        payloads = [validate_new(item) for item in items]  # first: refuses naive times too
        synced = self._synced()
        ref = self._clock_ref() if synced is False else None
        rows = [(event_id, self.site, item.kind, item.source,
                 rec_text if item.occurred_at is None else to_utc_text(item.occurred_at),
                 rec_text, payload, synced, ref)
                for event_id, item, payload in zip(ids, items, payloads)]
        cur.executemany(_INSERT, rows)
        # We hold the write lock and seq is AUTOINCREMENT: this batch's seqs are consecutive.
        first = cur.execute("SELECT last_insert_rowid()").fetchone()[0] - len(rows) + 1
        # Envelopes only for an uplink in this process: a daemon writing for another
        # process's uplink would build them for nothing.
        outgoing = [Outgoing(first + i, row[2], envelope_text(*row[:6], self.tz, row[6], synced))
                    for i, row in enumerate(rows)] if self._listeners else []
        return [Event(row[0], self.site, item.kind, item.source,
                      item.occurred_at or recorded_at, recorded_at, item.payload, first + i,
                      clock_synced=synced)
                for i, (row, item) in enumerate(zip(rows, items))], outgoing

    def _clock_ref(self) -> str:
        if self._boot is None:
            from edge.timesync import boot_id
            self._boot = boot_id()
        return f"{self._boot} {self.clock.monotonic():.6f}"

    def correct_clock(self, boot: str, now: datetime, monotonic: float) -> int:
        """Correct the events this boot stamped before the clock was synchronised, from the
        monotonic clock (edge/timesync.py); ``now`` must be a synchronised time. ``recorded_at``
        is corrected, and ``occurred_at`` too where it was the same stamp; times a device or a
        service gave stay as they were. Events of earlier boots cannot be corrected and stay
        flagged. One transaction, recording ``system.clock_synced`` when it fixed anything, so
        processes racing to do it do it once. Returns the number of events corrected."""
        with self.writing() as batch:
            fixes, earlier = [], 0
            for seq, occurred, recorded, ref in batch.cursor.execute(_UNFIXED).fetchall():
                ref_boot, _, stamped = (ref or "").partition(" ")
                if ref_boot != boot or not stamped:
                    earlier += 1
                    continue
                true = to_utc_text(now - timedelta(seconds=monotonic - float(stamped)))
                step = (from_utc_text(true) - from_utc_text(recorded)).total_seconds()
                fixes.append((true, true if occurred == recorded else occurred,
                              round(step, 6), seq))
            if not fixes:
                return 0
            batch.cursor.executemany(_FIX, fixes)
            steps = sorted(f[2] for f in fixes)
            batch.record_many([NewEvent("system.clock_synced", "posjaga", {
                "corrected": len(fixes), "first_seq": min(f[3] for f in fixes),
                "last_seq": max(f[3] for f in fixes), "step_s": steps[len(steps) // 2],
                "step_min_s": steps[0], "step_max_s": steps[-1], "not_corrected": earlier})])
        return len(fixes)

    def _notify(self, batch: list[Outgoing]) -> None:
        with self._listeners_lock:
            listeners, hooks = list(self._listeners), list(self._hooks)
        for listener in listeners:
            listener(batch)
        for hook in hooks:
            hook()

    # --- the outbox ------------------------------------------------------------------------

    def pending(self, after_seq: int, limit: int) -> list[Outgoing]:
        """Unsent events after ``after_seq`` in recording order, as envelope JSON."""
        with self.db.raw_read() as cur:
            rows = cur.execute(_PENDING, (after_seq, limit)).fetchall()
        return [Outgoing(seq, kind, envelope_text(eid, site, kind, source, occ, rec, self.tz,
                                                  payload, synced, fix))
                for seq, eid, site, kind, source, occ, rec, payload, synced, fix in rows]

    def mark_sent(self, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        at = to_utc_text(self.clock.now())
        # Not fsynced: a mark lost in a power cut only means the event is published again.
        with self.db.raw_write(durable=False) as cur:
            cur.executemany(_MARK_SENT, [(at, lo, hi) for lo, hi in _runs(seqs)])

    def backlog(self) -> int:
        with self.db.read() as conn:
            return conn.scalar(select(func.count()).select_from(EventRow)
                               .where(EventRow.sent_at.is_(None))) or 0

    def oldest_unsent(self) -> datetime | None:
        with self.db.read() as conn:
            return conn.scalar(select(EventRow.recorded_at).where(EventRow.sent_at.is_(None))
                               .order_by(EventRow.seq).limit(1))

    def prune(self, older_than: datetime, batch: int = 5000) -> int:
        """Delete published events recorded before ``older_than``; unsent ones always stay."""
        total = 0
        while True:
            victims = (select(EventRow.seq).where(EventRow.sent_at.is_not(None),
                                                  EventRow.recorded_at < older_than)
                       .limit(batch).scalar_subquery())
            with self.db.write() as conn:
                deleted = conn.execute(delete(EventRow).where(EventRow.seq.in_(victims))).rowcount
            total += deleted
            if deleted < batch:
                return total

    # --- reading ---------------------------------------------------------------------------

    def query(self, since: datetime | None = None, until: datetime | None = None,
              kind: str | None = None, source: str | None = None, after_seq: int = 0,
              limit: int | None = None) -> Iterator[Event]:
        """Events in recording order; ``kind`` matches exactly or as a branch ('patrol')."""
        stmt = select(EventRow).where(EventRow.seq > after_seq).order_by(EventRow.seq)
        if since is not None:
            stmt = stmt.where(EventRow.recorded_at >= since)
        if until is not None:
            stmt = stmt.where(EventRow.recorded_at < until)
        if kind:
            stmt = stmt.where((EventRow.kind == kind) | EventRow.kind.startswith(kind + ".",
                                                                                 autoescape=True))
        if source:
            stmt = stmt.where(EventRow.source == source)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.db.read() as conn:
            for row in conn.execute(stmt):
                yield _to_event(row)

    def last_per_source(self) -> list[Event]:
        newest = select(func.max(EventRow.seq)).group_by(EventRow.source).scalar_subquery()
        stmt = select(EventRow).where(EventRow.seq.in_(newest)).order_by(EventRow.source)
        with self.db.read() as conn:
            return [_to_event(row) for row in conn.execute(stmt)]

    def last_seq(self) -> int:
        """The newest event's ``seq``; 0 for an empty log."""
        with self.db.read() as conn:
            return conn.scalar(select(func.max(EventRow.seq))) or 0

    def count(self) -> int:
        with self.db.read() as conn:
            return conn.scalar(select(func.count()).select_from(EventRow)) or 0


def _runs(seqs: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive runs of seqs as (first, last): acknowledgements mostly come in order, so a
    window of them is usually a single UPDATE."""
    runs: list[tuple[int, int]] = []
    for seq in sorted(seqs):
        if runs and seq == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs


def _to_event(row: Any) -> Event:
    return Event(id=row.id, site=row.site, kind=row.kind, source=row.source,
                 occurred_at=row.occurred_at, recorded_at=row.recorded_at,
                 payload=json.loads(row.payload), seq=row.seq, sent_at=row.sent_at,
                 clock_synced=row.clock_synced, clock_fix_s=row.clock_fix_s)


@dataclass(frozen=True, slots=True)
class State:
    name: str
    payload: Mapping[str, Any]
    updated_at: datetime
    version: int


class StateTable:
    """Current states (on-duty guard, lamp, round, device links), kept so they survive a
    restart and are published retained again whenever the broker link comes back."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def set(self, name: str, payload: Mapping[str, Any]) -> bool:
        """Store a state; True if it changed (an unchanged state is not published again)."""
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        now = self.clock.now()
        with self.db.write() as conn:
            old = conn.execute(select(StateRow.payload, StateRow.version)
                               .where(StateRow.name == name)).first()
            if old is not None and old.payload == text:
                return False
            if old is None:
                conn.execute(StateRow.__table__.insert().values(
                    name=name, payload=text, updated_at=now, version=1, published_version=0))
            else:
                conn.execute(update(StateRow).where(StateRow.name == name)
                             .values(payload=text, updated_at=now, version=old.version + 1))
        for listener in list(self._listeners):
            listener()
        return True

    def get(self, name: str) -> State | None:
        with self.db.read() as conn:
            row = conn.execute(select(StateRow).where(StateRow.name == name)).first()
        return None if row is None else _to_state(row)

    def all(self) -> list[State]:
        with self.db.read() as conn:
            return [_to_state(r) for r in conn.execute(select(StateRow).order_by(StateRow.name))]

    def unpublished(self) -> list[State]:
        with self.db.read() as conn:
            rows = conn.execute(select(StateRow).where(StateRow.version
                                                       > StateRow.published_version))
            return [_to_state(r) for r in rows]

    def mark_published(self, name: str, version: int) -> None:
        with self.db.write() as conn:
            conn.execute(update(StateRow).where(StateRow.name == name,
                                                StateRow.published_version < version)
                         .values(published_version=version))


def _to_state(row: Any) -> State:
    return State(row.name, json.loads(row.payload), row.updated_at, row.version)


__all__ = ["EventBatch", "EventLog", "StateTable", "Outgoing", "State", "from_utc_text"]
