"""hazards

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 02:33:42.485919
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hazards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('photo', sa.String(length=64), nullable=True),
    sa.Column('evidence_photo', sa.String(length=64), nullable=True),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('reporter_named', sa.Boolean(), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('state', sa.Enum('reported', 'accepted', 'rectified', 'closed', 'rejected', 'duplicate', name='hazard_state', native_enum=False, length=16), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('fixer_id', sa.Integer(), nullable=True),
    sa.Column('verifier_id', sa.Integer(), nullable=True),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.Column('source_chat_id', sa.BigInteger(), nullable=True),
    sa.Column('reported_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', hub.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rectified_at', hub.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', hub.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reopened_count', sa.Integer(), nullable=False),
    sa.Column('updated_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['people.id'], name=op.f('fk_hazards_assignee_id_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['hazards.id'], name=op.f('fk_hazards_duplicate_of_id_hazards'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['fixer_id'], ['people.id'], name=op.f('fk_hazards_fixer_id_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_hazards_grid_id_grids'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reporter_id'], ['people.id'], name=op.f('fk_hazards_reporter_id_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['verifier_id'], ['people.id'], name=op.f('fk_hazards_verifier_id_people'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazards'))
    )
    with op.batch_alter_table('hazards', schema=None) as batch_op:
        batch_op.create_index('ix_hazards_duplicate_of', ['duplicate_of_id'], unique=False)
        batch_op.create_index('ix_hazards_grid_state', ['grid_id', 'state'], unique=False)
        batch_op.create_index('ix_hazards_reporter_reported', ['reporter_id', 'reported_at'], unique=False)
        batch_op.create_index('ix_hazards_state_deadline', ['state', 'deadline_at'], unique=False)

    op.create_table('hazard_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('reminder', 'escalation', 'followup', name='hazard_alert_kind', native_enum=False, length=16), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('sent_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazards.id'], name=op.f('fk_hazard_alerts_hazard_id_hazards'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazard_alerts')),
    sa.UniqueConstraint('hazard_id', 'kind', 'level', name=op.f('uq_hazard_alerts_hazard_id'))
    )


def downgrade() -> None:
    op.drop_table('hazard_alerts')
    with op.batch_alter_table('hazards', schema=None) as batch_op:
        batch_op.drop_index('ix_hazards_state_deadline')
        batch_op.drop_index('ix_hazards_reporter_reported')
        batch_op.drop_index('ix_hazards_grid_state')
        batch_op.drop_index('ix_hazards_duplicate_of')

    op.drop_table('hazards')
