"""Opening the local database: SQLite pragmas, write transactions and migrations.

Durability (see docs/storage.md): WAL journal with ``synchronous=FULL``, so a transaction that
returned from COMMIT survives a power cut (unless written with ``raw_write(durable=False)``); several processes may write at once, each writer
taking the lock up front with ``BEGIN IMMEDIATE`` and waiting up to ``busy_timeout`` for it.

Python 3.11's sqlite3 has no ``autocommit`` attribute and its default "legacy transaction
control" issues BEGIN behind our back, so SQLAlchemy's usual pragma recipe is not enough: we set
``isolation_level = None`` on every connection and emit BEGIN ourselves. A read-then-write in a
deferred transaction would otherwise fail at once with "database is locked" when another writer
slipped in between.
"""
from __future__ import annotations

import fcntl
import functools
import logging
import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).with_name("migrations")
WAL_AUTOCHECKPOINT_PAGES = 10_000  # 40 MB of WAL at 4 KiB pages


class StoreError(Exception):
    """The local database cannot be used; the message says which and why."""


class Database:
    """An engine for reads and one for writes (``BEGIN IMMEDIATE``), sharing one pool."""

    def __init__(self, url: str, busy_timeout_s: float = 10.0) -> None:
        self.url = url
        self.busy_timeout_s = busy_timeout_s
        self.engine = _make_engine(url, busy_timeout_s)
        self._writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        # Writers of this process queue here rather than in SQLite's busy handler, which
        # sleeps 1, 2, 5, 10 ... ms between tries (see _begin_immediate for other processes).
        self._write_lock = threading.Lock()

    @property
    def path(self) -> Path | None:
        return sqlite_path(self.url)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._write_lock, self._writer.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def raw_write(self, durable: bool = True) -> Iterator[sqlite3.Cursor]:
        """A DBAPI cursor inside ``BEGIN IMMEDIATE`` ... ``COMMIT``, for the event hot path
        (a few hundred microseconds per event matter there; see docs/benchmarks.md).

        ``durable=False`` commits without the fsync (``synchronous=NORMAL``): only for writes
        whose loss in a power cut is harmless, such as "sent" marks (the event is published
        again). The WAL is one sequential file, so the next durable commit's fsync also makes
        such a transaction durable; it can never outlive a durable one written before it."""
        with self._write_lock:
            yield from self._raw_transaction(durable)

    def _raw_transaction(self, durable: bool) -> Iterator[sqlite3.Cursor]:
        conn = self.engine.raw_connection()
        try:
            cur = conn.cursor()
            if not durable:
                cur.execute("PRAGMA synchronous=NORMAL")
            try:
                self._begin_immediate(cur)
                try:
                    yield cur
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
            finally:
                if not durable:
                    self._make_durable_again(conn, cur)
        finally:
            conn.close()

    @staticmethod
    def _make_durable_again(conn: Any, cur: sqlite3.Cursor) -> None:
        try:
            cur.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error:
            conn.invalidate()  # never hand a connection that skips the fsync to an event
            raise

    def checkpoint(self) -> tuple[int, int]:
        """Copy committed WAL pages into the database file without waiting for anyone
        (``PASSIVE``). Returns (frames in the WAL, frames copied).

        The uplink calls this off the daemons' path: left to SQLite, the commit that crosses
        the WAL's limit runs the checkpoint itself (two more fsyncs and a burst of writes),
        which was most of a daemon's slowest commits (docs/storage.md)."""
        with self.raw_read() as cur:
            busy, frames, copied = cur.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return (frames, copied) if not busy else (frames, 0)

    def _begin_immediate(self, cur: sqlite3.Cursor) -> None:
        """Take the write lock, waiting for another process's writer in steps of a fraction
        of a millisecond: SQLite's own busy handler sleeps 1, 2, 5, 10 ms between tries, which
        a daemon pays on every meeting with the uplink's "sent" marks."""
        cur.execute("PRAGMA busy_timeout = 0")
        try:
            deadline = time.monotonic() + self.busy_timeout_s
            pause = 0.0001
            while True:
                try:
                    cur.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        raise
                    if time.monotonic() >= deadline:
                        raise StoreError(f"{self.url}: another writer held the database for "
                                         f"over {self.busy_timeout_s:g} s") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.005)
        finally:
            cur.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")

    @contextmanager
    def raw_read(self) -> Iterator[sqlite3.Cursor]:
        conn = self.engine.raw_connection()
        try:
            yield conn.cursor()
        finally:
            conn.close()

    def migrate(self) -> None:
        """Bring the schema to the newest revision, keeping every row (safe to run each start)."""
        if self._at_head():
            return  # the usual start: no need to load alembic (~10 MB and 0.15 s on a Pi)
        from alembic import command
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with self._migration_lock(), self.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def _at_head(self) -> bool:
        head = head_revision()
        if head is None or self.path is None or not self.path.exists():
            return False
        try:
            with self.raw_read() as cur:
                rows = cur.execute("SELECT version_num FROM alembic_version").fetchall()
        except sqlite3.Error:
            return False
        return rows == [(head,)]

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        # Daemons starting together must not race to create the same tables.
        path = self.path
        if path is None:
            yield
            return
        with open(path.with_name(path.name + ".migrate-lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


@functools.cache
def head_revision() -> str | None:
    """The newest migration, read from the revision lines of the migration files; None when
    that is not plain (a merge, a branch), and then alembic itself decides."""
    revisions, parents = set(), set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        rev = re.search(r'^revision\s*=\s*"([^"]+)"', text, re.M)
        down = re.search(r'^down_revision\s*=\s*(None|"([^"]+)")\s*$', text, re.M)
        if rev is None or down is None:
            return None
        revisions.add(rev.group(1))
        if down.group(2):
            parents.add(down.group(2))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def sqlite_path(url: str) -> Path | None:
    """The database file of an SQLite URL; None for an in-memory database."""
    parsed = make_url(url)
    if parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _make_engine(url: str, busy_timeout_s: float) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.get_driver_name() != "pysqlite":
        raise StoreError(f"{url}: only SQLite databases are supported (sqlite:///PATH)")
    kwargs: dict[str, Any] = {"connect_args": {"timeout": busy_timeout_s}}
    if parsed.database in (None, "", ":memory:"):
        kwargs["poolclass"] = StaticPool
        kwargs["connect_args"]["check_same_thread"] = False
    else:
        _ensure_parent(Path(parsed.database))
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def _ensure_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{path}: cannot create its folder ({exc.strerror})") from None


def _on_connect(dbapi_conn: Any, record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see module docstring)
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        # The uplink checkpoints every second (Database.checkpoint); this is the fallback
        # for a store written while no uplink runs.
        cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cur.execute("PRAGMA foreign_keys=ON")
    finally:
        cur.close()


def _on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")
