"""duty roster, guards and fingerprint attendance

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from edge.models import UtcText

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guards",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.String(24), nullable=False, unique=True),
        sa.Column("updated_at", UtcText(), nullable=False),
    )
    op.create_table(
        "rosters",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_day", sa.String(10), nullable=False),
        sa.Column("last_day", sa.String(10), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("created_at", UtcText(), nullable=False),
        sa.Column("approved_at", UtcText(), nullable=True),
        sa.Column("approved_by", sa.String(64), nullable=True),
    )
    op.create_table(
        "roster_entries",
        sa.Column("roster_id", sa.Integer(), sa.ForeignKey("rosters.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("shift", sa.String(32), primary_key=True),
        sa.Column("guard_id", sa.Integer(), sa.ForeignKey("guards.id"), primary_key=True),
    )
    op.create_index("ix_roster_entries_day", "roster_entries", ["day"])
    op.create_table(
        "attendance_punches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("device", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(24), nullable=False),
        sa.Column("device_time", sa.String(19), nullable=False),
        sa.Column("punch", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("occurred_at", UtcText(), nullable=False),
        sa.Column("recorded_at", UtcText(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("via", sa.String(8), nullable=False),
        sa.Column("trusted", sa.Boolean(), nullable=False),
        sa.Column("historical", sa.Boolean(), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=True),
        sa.UniqueConstraint("device", "device_time", "user_id", "punch",
                            name="uq_attendance_punches_key"),
    )
    op.create_index("ix_attendance_punches_user_occurred", "attendance_punches",
                    ["user_id", "occurred_at"])
    op.create_table(
        "attendance_sync",
        sa.Column("device", sa.String(32), primary_key=True),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("last_index", sa.Integer(), nullable=False),
        sa.Column("last_key", sa.String(64), nullable=False),
        sa.Column("max_time", sa.String(19), nullable=False),
        sa.Column("updated_at", UtcText(), nullable=False),
    )
    op.create_table(
        "attendance_outcomes",
        sa.Column("user_id", sa.String(24), primary_key=True),
        sa.Column("anchor", UtcText(), primary_key=True),
        sa.Column("slot", sa.String(48), primary_key=True),
        sa.Column("signature", sa.String(96), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("updated_at", UtcText(), nullable=False),
    )
    op.create_index("ix_attendance_outcomes_anchor", "attendance_outcomes", ["anchor"])


def downgrade() -> None:
    op.drop_index("ix_attendance_outcomes_anchor", table_name="attendance_outcomes")
    op.drop_table("attendance_outcomes")
    op.drop_table("attendance_sync")
    op.drop_index("ix_attendance_punches_user_occurred", table_name="attendance_punches")
    op.drop_table("attendance_punches")
    op.drop_index("ix_roster_entries_day", table_name="roster_entries")
    op.drop_table("roster_entries")
    op.drop_table("rosters")
    op.drop_table("guards")
