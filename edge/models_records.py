"""Tables of the guest book, the equipment's current condition, handovers, the report upload
outbox and the records daemons' bookmarks (migration 0003 mirrors these).

Everything that happened is an event (docs/records.md); these tables hold only what must be
looked up fast or outlive event retention: who is inside now, each item's last check and next
inspection, a handover waiting for the incoming guard, reports still to be uploaded. A guest's
personal fields live here and nowhere else, so purging them is one UPDATE.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from edge.models import Base, UtcText


class GuestRow(Base):
    """One visit: signed in, signed out; personal fields NULL once purged."""

    __tablename__ = "guests"
    __table_args__ = (Index("ix_guests_signed_in_at", "signed_in_at"),
                      Index("ix_guests_inside", "id", sqlite_where=text("signed_out_at IS NULL")))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    badge: Mapped[str] = mapped_column(String(24), unique=True)
    name: Mapped[str | None] = mapped_column(String(80), nullable=True)
    organisation: Mapped[str | None] = mapped_column(String(80), nullable=True)
    purpose: Mapped[str | None] = mapped_column(String(200), nullable=True)
    host: Mapped[str] = mapped_column(String(80))  # whom they visit: a member of staff
    id_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    signed_in_at: Mapped[datetime] = mapped_column(UtcText)
    signed_in_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    signed_out_at: Mapped[datetime | None] = mapped_column(UtcText, nullable=True)
    signed_out_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    signed_out_via: Mapped[str | None] = mapped_column(String(16), nullable=True)
    purged_at: Mapped[datetime | None] = mapped_column(UtcText, nullable=True)


class EquipmentStatusRow(Base):
    """An inventory item's condition from its last check and its inspection dates."""

    __tablename__ = "equipment_status"

    item: Mapped[str] = mapped_column(String(32), primary_key=True)
    condition: Mapped[str] = mapped_column(String(16))  # unchecked, ok, broken, missing
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(UtcText, nullable=True)
    checked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    inspected_at: Mapped[datetime | None] = mapped_column(UtcText, nullable=True)
    inspection_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    next_inspection: Mapped[str | None] = mapped_column(String(10), nullable=True)
    alerts: Mapped[str] = mapped_column(Text, server_default=text("'[]'"))  # open, JSON list


class HandoverRow(Base):
    """A handover offered by the outgoing guard, confirmed by the incoming one."""

    __tablename__ = "handovers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # pending, confirmed, cancelled
    shift: Mapped[str] = mapped_column(String(64))
    outgoing: Mapped[str] = mapped_column(String(64))
    incoming: Mapped[str] = mapped_column(String(64))
    incoming_user_id: Mapped[str | None] = mapped_column(String(24), nullable=True)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UtcText)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcText, nullable=True)
    confirmed_via: Mapped[str | None] = mapped_column(String(16), nullable=True)


class ReportUploadRow(Base):
    """A daily report waiting to be sent to the HTTPS endpoint (the upload outbox)."""

    __tablename__ = "report_uploads"
    __table_args__ = (Index("ix_report_uploads_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10))
    language: Mapped[str] = mapped_column(String(2))
    report_id: Mapped[str] = mapped_column(String(36))
    body: Mapped[str] = mapped_column(Text)  # emptied once sent: it may hold guests' names
    created_at: Mapped[datetime] = mapped_column(UtcText)
    status: Mapped[str] = mapped_column(String(16))  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcText)
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcText, nullable=True)


class RecordMarkRow(Base):
    """Where the records and report daemons got to (a scan cursor, the last report built)."""

    __tablename__ = "record_marks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UtcText)
