"""Alembic environment: always handed a live connection by `hub.migrate`.

Migrations run inside the hub's own event loop (`gridcast run` upgrades on start), so the
connection comes from the async engine via `run_sync` instead of alembic opening its own.
"""

from __future__ import annotations

from alembic import context

from hub.models import Base

# Upgrades replay the revisions and need no metadata; `target_metadata` serves comparisons
# (tests/test_storage_schema.py imports every product module first, so every table that
# registered itself on Base is compared: there is no list of model modules to keep).
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `gridcast db upgrade`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
