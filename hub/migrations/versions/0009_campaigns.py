"""seasonal campaigns: publication states, release keys, the release cursor; job runs

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaign_states',
    sa.Column('campaign_id', sa.String(length=60), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('published', 'paused', name='campaign_state', native_enum=False, length=16), nullable=False),
    sa.Column('updated_by', sa.String(length=100), nullable=False),
    sa.Column('updated_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_campaign_states_grid_id_grids'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'grid_id', name=op.f('pk_campaign_states'))
    )
    op.create_index(op.f('ix_campaign_states_updated_at'), 'campaign_states', ['updated_at'], unique=False)
    op.create_table('campaign_releases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.String(length=60), nullable=False),
    sa.Column('window', sa.String(length=40), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=40), nullable=False),
    sa.Column('released_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_campaign_releases_grid_id_grids'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['slot_id'], ['speaker_slots.id'], name=op.f('fk_campaign_releases_slot_id_speaker_slots'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_releases')),
    sa.UniqueConstraint('campaign_id', 'window', 'grid_id', 'item', name='uq_campaign_releases_key')
    )
    op.create_table('campaign_cursor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('until', hub.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('instance', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_cursor'))
    )
    op.create_table('job_runs',
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('last_success_at', hub.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_failure_at', hub.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('instance', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('job', name=op.f('pk_job_runs'))
    )


def downgrade() -> None:
    op.drop_table('job_runs')
    op.drop_table('campaign_cursor')
    op.drop_table('campaign_releases')
    op.drop_index(op.f('ix_campaign_states_updated_at'), table_name='campaign_states')
    op.drop_table('campaign_states')
