"""whether the Pi's clock was synchronised when each event was stamped

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns: SQLite adds them without rewriting the table, and every existing event
    # keeps its row (its clock state is unknown: NULL).
    op.add_column("events", sa.Column("clock_synced", sa.Boolean(), nullable=True))
    op.add_column("events", sa.Column("clock_ref", sa.String(64), nullable=True))
    op.add_column("events", sa.Column("clock_fix_s", sa.Float(), nullable=True))
    op.create_index("ix_events_clock_unfixed", "events", ["seq"],
                    sqlite_where=sa.text("clock_synced = 0 AND clock_fix_s IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_events_clock_unfixed", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("clock_fix_s")
        batch.drop_column("clock_ref")
        batch.drop_column("clock_synced")
