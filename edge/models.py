"""The local store's tables (SQLAlchemy 2.x models). Alembic migrations mirror these."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from edge.timefmt import from_utc_text, to_utc_text


class UtcText(TypeDecorator[datetime]):
    """An aware datetime kept as fixed-width UTC text, so text order is time order."""

    impl = String(27)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> str | None:
        return None if value is None else to_utc_text(value)

    def process_result_value(self, value: str | None, dialect: object) -> datetime | None:
        return None if value is None else from_utc_text(value)


class Base(DeclarativeBase):
    pass


class EventRow(Base):
    """One recorded event; ``sent_at`` is set only once the broker acknowledged it."""

    __tablename__ = "events"
    # AUTOINCREMENT: a pruned seq is never handed out again, so seq order is recording order.
    __table_args__ = (
        Index("ix_events_unsent", "seq", sqlite_where=text("sent_at IS NULL")),
        Index("ix_events_recorded_at", "recorded_at"),
        Index("ix_events_kind_recorded_at", "kind", "recorded_at"),
        Index("ix_events_source_seq", "source", "seq"),
        Index("ix_events_clock_unfixed", "seq",
              sqlite_where=text("clock_synced = 0 AND clock_fix_s IS NULL")),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    site: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(UtcText)
    recorded_at: Mapped[datetime] = mapped_column(UtcText)
    payload: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UtcText, nullable=True)
    # Was the Pi's clock synchronised when this was stamped? (NULL: unknown, e.g. older rows.)
    # Unsynchronised stamps keep "<boot id> <monotonic s>" so they can be corrected once it is,
    # and the correction applied, in seconds (edge/timesync.py).
    clock_synced: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    clock_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    clock_fix_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class StateRow(Base):
    """The current value of a retained state; republished when ``version`` moves on."""

    __tablename__ = "states"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    payload: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcText)
    version: Mapped[int] = mapped_column(Integer)
    published_version: Mapped[int] = mapped_column(Integer, server_default=text("0"))
