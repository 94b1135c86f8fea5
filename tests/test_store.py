"""The local store: durability settings, ordering, concurrency, pruning and migrations."""
from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from edge.clock import ManualClock, SystemClock
from edge.db import Database, StoreError
from edge.events import EventError, NewEvent
from edge.ids import uuid7_time_ms
from edge.models import Base
from edge.store import EventLog, StateTable

T0 = datetime(2026, 12, 4, 0, 0, tzinfo=timezone.utc)


def _head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parents[1] / "edge" / "migrations"))
    return ScriptDirectory.from_config(cfg).get_current_head()


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path}/store.db")
    database.migrate()
    yield database
    database.close()


def test_pragmas_are_durable_wal(db: Database) -> None:
    with db.raw_read() as cur:
        assert cur.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cur.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_only_sqlite_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="only SQLite"):
        Database("postgresql://x/y")


def test_record_keeps_device_time_and_pi_time_apart(db: Database) -> None:
    clock = ManualClock(T0)
    log = EventLog(db, "kpu-palu", "Asia/Makassar", clock)
    device = datetime(2026, 12, 3, 23, 58, tzinfo=timezone.utc)
    e = log.record("attendance.punch", "zk-1", {"user_id": "3"}, occurred_at=device)
    stored = next(log.query())
    assert stored.occurred_at == device and stored.recorded_at == T0
    assert stored.id == e.id and stored.seq == e.seq and stored.sent_at is None


def test_ids_unique_and_time_ordered_even_when_the_wall_clock_steps_back(db: Database) -> None:
    clock = ManualClock(T0)
    log = EventLog(db, "kpu-palu", "Asia/Makassar", clock)
    first = log.record_many([NewEvent("a.b", "s") for _ in range(5000)])
    clock.set_wall(T0 - timedelta(hours=1))  # NTP steps back
    second = log.record_many([NewEvent("a.b", "s") for _ in range(10)])
    ids = [e.id for e in first + second]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert uuid7_time_ms(ids[0]) == int(T0.timestamp() * 1000)


@pytest.mark.parametrize("kind,source,payload,fragment", [
    ("Punch", "s", {}, "branch.name"), ("attendance", "s", {}, "branch.name"),
    ("a.b", "", {}, "source"), ("a.b", "s\x00", {}, "source"),
    ("a.b", "s", {"x": float("nan")}, "plain JSON"), ("a.b", "s", {"x": object()}, "plain JSON"),
    ("a.b", "s", [1], "mapping"), ("a.b", "s", {"x": "y" * 70000}, "bytes"),
])
def test_malformed_events_are_refused_and_nothing_is_written(db, kind, source, payload,
                                                             fragment) -> None:
    log = EventLog(db, "kpu-palu", "Asia/Makassar", SystemClock())
    with pytest.raises(EventError, match=fragment):
        log.record_many([NewEvent("a.b", "ok"), NewEvent(kind, source, payload)])
    assert log.count() == 0  # the whole batch is refused


def test_naive_device_time_is_refused(db: Database) -> None:
    log = EventLog(db, "kpu-palu", "Asia/Makassar", SystemClock())
    with pytest.raises(EventError, match="zone"):
        log.record("a.b", "s", {}, occurred_at=datetime(2026, 1, 1))


def test_outbox_order_and_mark_sent(db: Database) -> None:
    log = EventLog(db, "kpu-palu", "Asia/Makassar", SystemClock())
    events = log.record_many([NewEvent("a.b", "s", {"n": i}) for i in range(10)])
    pending = log.pending(0, 100)
    assert [p.seq for p in pending] == [e.seq for e in events]
    log.mark_sent([pending[0].seq, pending[2].seq])
    assert [p.seq for p in log.pending(0, 100)] == [e.seq for e in events if e.seq not in
                                                   (pending[0].seq, pending[2].seq)]
    assert log.backlog() == 8
    assert log.pending(pending[5].seq, 2)[0].seq == pending[6].seq


def test_marks_commit_without_fsync_and_leave_every_connection_durable(db: Database) -> None:
    log = EventLog(db, "kpu-palu", "Asia/Makassar", SystemClock())
    events = log.record_many([NewEvent("a.b", "s", {"n": i}) for i in range(3)])
    with db.raw_write(durable=False) as cur:
        assert cur.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL: no fsync
    with pytest.raises(RuntimeError):
        with db.raw_write(durable=False):
            raise RuntimeError("a failing mark")
    log.mark_sent([e.seq for e in events])
    assert log.backlog() == 0
    with db.raw_write() as cur:  # the pooled connection is back to FULL for event commits
        assert cur.execute("PRAGMA synchronous").fetchone()[0] == 2


def _wal_frames(db: Database) -> int:
    with db.raw_read() as cur:  # (busy, frames in the WAL, frames copied): copies them too
        return cur.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]


def test_daemon_commits_leave_checkpoints_to_the_uplink_up_to_a_fallback(db: Database) -> None:
    log = EventLog(db, "kpu-palu", "Asia/Makassar", SystemClock())
    for i in range(150):  # each commit writes several pages: ~1 000 frames by now
        log.record("a.b", "s", {"n": i})
    frames = _wal_frames(db)
    assert frames > 1000  # SQLite's default would have checkpointed inside a commit by now
    assert db.checkpoint() == (frames, frames)
    log.record("a.b", "s")  # the first write after a full checkpoint starts the WAL afresh
    assert _wal_frames(db) < 50


def test_prune_removes_only_old_published_events(db: Database) -> None:
    clock = ManualClock(T0)
    log = EventLog(db, "kpu-palu", "Asia/Makassar", clock)
    old = log.record_many([NewEvent("a.b", "s") for _ in range(7)])
    log.mark_sent([e.seq for e in old[:5]])
    clock.advance(86400 * 100)
    new = log.record("a.b", "s")
    log.mark_sent([new.seq])
    assert log.prune(clock.now() - timedelta(days=90), batch=2) == 5
    remaining = {e.id for e in log.query()}
    assert remaining == {old[5].id, old[6].id, new.id}  # unsent stay, whatever their age


def test_seq_is_never_reused_after_pruning(db: Database) -> None:
    clock = ManualClock(T0)
    log = EventLog(db, "kpu-palu", "Asia/Makassar", clock)
    a = log.record("a.b", "s")
    log.mark_sent([a.seq])
    clock.advance(86400)
    log.prune(clock.now())
    b = log.record("a.b", "s")
    assert b.seq > a.seq


def test_threads_write_at_once_without_lock_errors(db: Database) -> None:
    log = EventLog(db, "kpu-palu", "Asia/Makassar", SystemClock())
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(200):
                log.record("a.b", f"w{n}", {"i": i})
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and log.count() == 800


def _process_writer(url: str, n: int, count: int) -> None:
    db = Database(url)
    log = EventLog(db, "kpu-palu", "Asia/Makassar", SystemClock())
    states = StateTable(db, SystemClock())
    for i in range(count):
        log.record("a.b", f"proc{n}", {"i": i})
        states.set(f"s{n}", {"i": i})  # a read-then-write transaction under contention


def test_processes_write_at_once_without_lock_errors(tmp_path: Path, db: Database) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_process_writer, args=(db.url, n, 150)) for n in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    log = EventLog(db, "kpu-palu", "Asia/Makassar", SystemClock())
    assert log.count() == 450
    per_source = {e.source: e.payload["i"] for e in log.last_per_source()}
    assert per_source == {"proc0": 149, "proc1": 149, "proc2": 149}


def test_states_version_and_publication(db: Database) -> None:
    states = StateTable(db, SystemClock())
    assert states.set("lamp", {"on": False})
    assert not states.set("lamp", {"on": False})
    assert states.set("lamp", {"on": True})
    (pending,) = states.unpublished()
    assert pending.version == 2 and pending.payload == {"on": True}
    states.mark_published("lamp", 2)
    assert states.unpublished() == []
    assert states.get("lamp").payload == {"on": True} and states.get("nope") is None


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_keeps_every_row_and_is_repeatable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/field.db"
    db = Database(url)
    db.migrate()
    log = EventLog(db, "kpu-palu", "Asia/Makassar", SystemClock())
    ids = [e.id for e in log.record_many([NewEvent("a.b", "s") for _ in range(100)])]
    db.close()
    again = Database(url)
    again.migrate()  # the second start, or an upgrade with nothing new
    assert again.current_revision() == _head()
    assert [e.id for e in EventLog(again, "kpu-palu", "Asia/Makassar",
                                   SystemClock()).query()] == ids
    again.close()


def test_concurrent_first_starts_migrate_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/race.db"
    errors: list[BaseException] = []

    def start() -> None:
        try:
            Database(url).migrate()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    con = sqlite3.connect(tmp_path / "race.db")
    assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [(_head(),)]
