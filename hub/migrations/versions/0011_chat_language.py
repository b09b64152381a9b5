"""chats: a group's own language, for what the hub posts to the whole group

Posts to a group (a campaign's) are written in the group's language when a worker has set one
(`/lang en` in the group), else in the hub's. NULL keeps the hub's.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 00:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.drop_column("language")
