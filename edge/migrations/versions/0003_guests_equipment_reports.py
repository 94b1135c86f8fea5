"""guest book, equipment condition, handovers, report uploads, record marks

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from edge.models import UtcText

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("badge", sa.String(24), nullable=False, unique=True),
        sa.Column("name", sa.String(80), nullable=True),
        sa.Column("organisation", sa.String(80), nullable=True),
        sa.Column("purpose", sa.String(200), nullable=True),
        sa.Column("host", sa.String(80), nullable=False),
        sa.Column("id_number", sa.String(40), nullable=True),
        sa.Column("signed_in_at", UtcText(), nullable=False),
        sa.Column("signed_in_by", sa.String(64), nullable=True),
        sa.Column("signed_out_at", UtcText(), nullable=True),
        sa.Column("signed_out_by", sa.String(64), nullable=True),
        sa.Column("signed_out_via", sa.String(16), nullable=True),
        sa.Column("purged_at", UtcText(), nullable=True),
    )
    op.create_index("ix_guests_signed_in_at", "guests", ["signed_in_at"])
    op.create_index("ix_guests_inside", "guests", ["id"],
                    sqlite_where=sa.text("signed_out_at IS NULL"))
    op.create_table(
        "equipment_status",
        sa.Column("item", sa.String(32), primary_key=True),
        sa.Column("condition", sa.String(16), nullable=False),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("checked_at", UtcText(), nullable=True),
        sa.Column("checked_by", sa.String(64), nullable=True),
        sa.Column("inspected_at", UtcText(), nullable=True),
        sa.Column("inspection_ok", sa.Boolean(), nullable=True),
        sa.Column("next_inspection", sa.String(10), nullable=True),
        sa.Column("alerts", sa.Text(), nullable=False, server_default=sa.text("'[]'")),
    )
    op.create_table(
        "handovers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("shift", sa.String(64), nullable=False),
        sa.Column("outgoing", sa.String(64), nullable=False),
        sa.Column("incoming", sa.String(64), nullable=False),
        sa.Column("incoming_user_id", sa.String(24), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("started_at", UtcText(), nullable=False),
        sa.Column("confirmed_at", UtcText(), nullable=True),
        sa.Column("confirmed_via", sa.String(16), nullable=True),
    )
    op.create_table(
        "report_uploads",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UtcText(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcText(), nullable=False),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("sent_at", UtcText(), nullable=True),
    )
    op.create_index("ix_report_uploads_due", "report_uploads", ["status", "next_attempt_at"])
    op.create_table(
        "record_marks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("updated_at", UtcText(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("record_marks")
    op.drop_index("ix_report_uploads_due", table_name="report_uploads")
    op.drop_table("report_uploads")
    op.drop_table("handovers")
    op.drop_table("equipment_status")
    op.drop_index("ix_guests_inside", table_name="guests")
    op.drop_index("ix_guests_signed_in_at", table_name="guests")
    op.drop_table("guests")
