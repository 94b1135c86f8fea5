"""Alembic environment: runs on the connection the store hands over (see edge.db.migrate)."""
from __future__ import annotations

from alembic import context

from edge.models import Base
import edge.models_attendance  # noqa: F401,E402 - registers its tables on Base
import edge.models_records  # noqa: F401,E402 - registers its tables on Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
