"""What every daemon of one process shares: configuration, clock, store, topics, commands."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edge.clock import Clock
from edge.commands import CommandRouter
from edge.config import Config
from edge.db import Database, StoreError, sqlite_path
from edge.store import EventLog, StateTable
from edge.topics import Topics
from edge.wakeup import EVENTS, STATES, WakeSender


@dataclass
class Runtime:
    config: Config
    clock: Clock
    db: Database
    events: EventLog
    states: StateTable
    topics: Topics
    router: CommandRouter

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.config.site.zone)

    def close(self) -> None:
        self.db.close()


def open_runtime(config: Config, clock: Clock, migrate: bool = True) -> Runtime:
    db = Database(config.store.url, config.store.busy_timeout_s)
    if migrate:
        db.migrate()
    site = config.site
    rt = Runtime(config=config, clock=clock, db=db,
                 events=EventLog(db, site.id, site.timezone, clock),
                 states=StateTable(db, clock),
                 topics=Topics(config.mqtt.base_topic, site.id),
                 router=CommandRouter())
    # Wake the uplink, which may be another process, as soon as anything is committed.
    waker = WakeSender(config.store.url)
    rt.events.on_commit(lambda: waker.send(EVENTS))
    rt.states.subscribe(lambda: waker.send(STATES))
    return rt


def open_existing(config: Config, clock: Clock) -> Runtime:
    """For readers (events, status): never create or migrate a database, say so instead."""
    rt = open_runtime(config, clock, migrate=False) if _exists(config) else None
    if rt is None or rt.db.current_revision() is None:
        if rt is not None:
            rt.close()
        raise StoreError(f"{config.store.url}: no posjaga store there yet; start the service "
                         "or run 'posjaga db upgrade'")
    return rt


def _exists(config: Config) -> bool:
    path = sqlite_path(config.store.url)
    return path is None or path.exists()
