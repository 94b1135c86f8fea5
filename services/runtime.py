"""What every daemon of one process shares: configuration, clock, store, topics, commands."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edge.clock import Clock
from edge.commands import CommandRouter
from edge.config import Config
from edge.db import Database
from edge.store import EventLog, StateTable
from edge.topics import Topics


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
    return Runtime(config=config, clock=clock, db=db,
                   events=EventLog(db, site.id, site.timezone, clock),
                   states=StateTable(db, clock),
                   topics=Topics(config.mqtt.base_topic, site.id),
                   router=CommandRouter())
