"""dashboard: indexes for the ledger's filters and the overview's trend

The ledger page filters by category in ticket order and by the day a hazard was reported; the
overview counts the open hazards of the last days and the hazards reported and closed per
week: each reads a range of its own index instead of the whole table (hazards/ledger.py
declares them on the model's table).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 18:30:00
"""

from __future__ import annotations

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_hazards_reported_at", "hazards", ["reported_at"])
    op.create_index("ix_hazards_closed_at", "hazards", ["closed_at"])
    op.create_index("ix_hazards_category", "hazards", ["category"])
    op.create_index("ix_hazards_state_reported", "hazards", ["state", "reported_at"])


def downgrade() -> None:
    op.drop_index("ix_hazards_state_reported", table_name="hazards")
    op.drop_index("ix_hazards_category", table_name="hazards")
    op.drop_index("ix_hazards_closed_at", table_name="hazards")
    op.drop_index("ix_hazards_reported_at", table_name="hazards")
