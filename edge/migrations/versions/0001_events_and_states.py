"""events and retained states

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from edge.models import UtcText

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("site", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("occurred_at", UtcText(), nullable=False),
        sa.Column("recorded_at", UtcText(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("sent_at", UtcText(), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_unsent", "events", ["seq"], sqlite_where=sa.text("sent_at IS NULL"))
    op.create_index("ix_events_recorded_at", "events", ["recorded_at"])
    op.create_index("ix_events_kind_recorded_at", "events", ["kind", "recorded_at"])
    op.create_index("ix_events_source_seq", "events", ["source", "seq"])
    op.create_table(
        "states",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("updated_at", UtcText(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    op.drop_table("states")
    op.drop_index("ix_events_source_seq", table_name="events")
    op.drop_index("ix_events_kind_recorded_at", table_name="events")
    op.drop_index("ix_events_recorded_at", table_name="events")
    op.drop_index("ix_events_unsent", table_name="events")
    op.drop_table("events")
