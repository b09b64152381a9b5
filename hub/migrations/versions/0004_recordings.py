"""recordings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 20:24:52.361767
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('recording_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('script_id', sa.String(length=60), nullable=False),
    sa.Column('dialect', sa.String(length=60), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_by_label', sa.String(length=100), nullable=False),
    sa.Column('status', sa.Enum('open', 'fulfilled', name='request_status', native_enum=False, length=16), nullable=False),
    sa.Column('created_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fulfilled_at', hub.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_recording_requests_grid_id_grids'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['people.id'], name=op.f('fk_recording_requests_requested_by_id_people'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recording_requests'))
    )
    with op.batch_alter_table('recording_requests', schema=None) as batch_op:
        batch_op.create_index('ix_recording_requests_grid_status', ['grid_id', 'status'], unique=False)
        batch_op.create_index('ix_recording_requests_script_dialect', ['script_id', 'dialect', 'status'], unique=False)

    op.create_table('recordings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('script_id', sa.String(length=60), nullable=False),
    sa.Column('dialect', sa.String(length=60), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('speaker_id', sa.Integer(), nullable=True),
    sa.Column('speaker_name', sa.String(length=200), nullable=False),
    sa.Column('source', sa.Enum('telegram', 'cli', 'dashboard', name='recording_source', native_enum=False, length=16), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('loudness_lufs', sa.Float(), nullable=False),
    sa.Column('approved', sa.Boolean(), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', hub.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['approved_by_id'], ['people.id'], name=op.f('fk_recordings_approved_by_id_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_recordings_grid_id_grids'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['request_id'], ['recording_requests.id'], name=op.f('fk_recordings_request_id_recording_requests'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['speaker_id'], ['people.id'], name=op.f('fk_recordings_speaker_id_people'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recordings')),
    sa.UniqueConstraint('script_id', 'dialect', 'content_hash', name='uq_recordings_content'),
    sa.UniqueConstraint('script_id', 'dialect', 'version', name='uq_recordings_version')
    )
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index('ix_recordings_best', ['script_id', 'dialect', 'approved', 'version'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index('ix_recordings_best')

    op.drop_table('recordings')
    with op.batch_alter_table('recording_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_recording_requests_script_dialect')
        batch_op.drop_index('ix_recording_requests_grid_status')

    op.drop_table('recording_requests')
