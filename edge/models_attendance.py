"""Tables of the duty roster and of fingerprint attendance (migration 0002 mirrors these).

Local days are ``YYYY-MM-DD`` text and device times the machine's own naive local time as
``YYYY-MM-DDTHH:MM:SS`` text (exactly what it stored, so a re-pull compares equal); instants
are UTC (UtcText).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from edge.models import Base, UtcText


class GuardRow(Base):
    """A guard, linked to their user id on the fingerprint machine."""

    __tablename__ = "guards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(String(24), unique=True)
    updated_at: Mapped[datetime] = mapped_column(UtcText)


class RosterRow(Base):
    """A roster for a run of days: a draft, then approved (who, when)."""

    __tablename__ = "rosters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # draft, approved, discarded
    first_day: Mapped[str] = mapped_column(String(10))
    last_day: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcText)
    approved_at: Mapped[datetime | None] = mapped_column(UtcText, nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class RosterEntryRow(Base):
    """One guard on one shift of one day of a roster."""

    __tablename__ = "roster_entries"
    __table_args__ = (Index("ix_roster_entries_day", "day"),)

    roster_id: Mapped[int] = mapped_column(ForeignKey("rosters.id", ondelete="CASCADE"),
                                           primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    shift: Mapped[str] = mapped_column(String(32), primary_key=True)
    guard_id: Mapped[int] = mapped_column(ForeignKey("guards.id"), primary_key=True)


class PunchRow(Base):
    """A punch read from a machine, once: the unique key is what identifies it across pulls."""

    __tablename__ = "attendance_punches"
    __table_args__ = (
        UniqueConstraint("device", "device_time", "user_id", "punch",
                         name="uq_attendance_punches_key"),
        Index("ix_attendance_punches_user_occurred", "user_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device: Mapped[str] = mapped_column(String(32))  # the machine's serial number
    user_id: Mapped[str] = mapped_column(String(24))
    device_time: Mapped[str] = mapped_column(String(19))
    punch: Mapped[int] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer)  # verify method
    occurred_at: Mapped[datetime] = mapped_column(UtcText)
    recorded_at: Mapped[datetime] = mapped_column(UtcText)
    kind: Mapped[str] = mapped_column(String(8))  # guard, staff, unknown
    via: Mapped[str] = mapped_column(String(8))  # live, pull
    trusted: Mapped[bool] = mapped_column(Boolean)  # false: dated before a clock reset
    historical: Mapped[bool] = mapped_column(Boolean)  # stored without an event of its own
    event_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class SyncMarkRow(Base):
    """Where the last pull of a machine's log ended, so the next one reads only what is new."""

    __tablename__ = "attendance_sync"

    device: Mapped[str] = mapped_column(String(32), primary_key=True)
    records: Mapped[int] = mapped_column(Integer)  # raw records in the log at the last pull
    last_index: Mapped[int] = mapped_column(Integer)  # of the last readable record, or -1
    last_key: Mapped[str] = mapped_column(String(64))  # its user|time|punch, to spot a rewrite
    max_time: Mapped[str] = mapped_column(String(19))  # latest device time in log order
    updated_at: Mapped[datetime] = mapped_column(UtcText)


class OutcomeRow(Base):
    """The last published value of one attendance fact (on time, late, absent ...)."""

    __tablename__ = "attendance_outcomes"
    __table_args__ = (Index("ix_attendance_outcomes_anchor", "anchor"),)

    user_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    anchor: Mapped[datetime] = mapped_column(UtcText, primary_key=True)  # block start or punch
    slot: Mapped[str] = mapped_column(String(48), primary_key=True)
    signature: Mapped[str] = mapped_column(String(96))  # kind|minutes|punch time
    event_id: Mapped[str] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(UtcText)
