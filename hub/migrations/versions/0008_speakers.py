"""loudspeakers: the registry, areas' settings, slots, announcements, clips, proof of play

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('speaker_clips',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('bytes', sa.Integer(), nullable=False),
    sa.Column('ogg_bytes', sa.Integer(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('created_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_speaker_clips'))
    )
    op.create_table('speaker_sequence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_speaker_sequence'))
    )
    # The change sequence starts with its one row (see broadcasts.speakers.registry.next_version).
    op.bulk_insert(sa.table('speaker_sequence', sa.column('id', sa.Integer()), sa.column('value', sa.BigInteger())),
                   [{'id': 1, 'value': 0}])
    op.create_table('speaker_grid_settings',
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('quiet_start_min', sa.Integer(), nullable=True),
    sa.Column('quiet_end_min', sa.Integer(), nullable=True),
    sa.Column('dialect', sa.String(length=60), nullable=True),
    sa.Column('updated_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_speaker_grid_settings_grid_id_grids'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('grid_id', name=op.f('pk_speaker_grid_settings'))
    )
    op.create_table('speaker_script_clips',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('script_id', sa.String(length=60), nullable=False),
    sa.Column('dialect', sa.String(length=60), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('render_key', sa.String(length=64), nullable=False),
    sa.Column('clip_sha', sa.String(length=64), nullable=False),
    sa.Column('rendered_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['clip_sha'], ['speaker_clips.sha256'], name=op.f('fk_speaker_script_clips_clip_sha_speaker_clips'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_speaker_script_clips')),
    sa.UniqueConstraint('script_id', 'dialect', name='uq_speaker_script_clips_pair')
    )
    op.create_table('speaker_slots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('campaign', 'filler', name='speaker_slot_kind', native_enum=False, length=16), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('zone_tag', sa.String(length=40), nullable=True),
    sa.Column('script_id', sa.String(length=60), nullable=False),
    sa.Column('dialect', sa.String(length=60), nullable=True),
    sa.Column('times', sa.JSON(), nullable=False),
    sa.Column('window_minutes', sa.Integer(), nullable=True),
    sa.Column('every_minutes', sa.Integer(), nullable=True),
    sa.Column('weekdays', sa.JSON(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=100), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_speaker_slots_grid_id_grids'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_speaker_slots'))
    )
    op.create_index(op.f('ix_speaker_slots_grid_id'), 'speaker_slots', ['grid_id'], unique=False)
    op.create_table('speakers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('zone_tags', sa.JSON(), nullable=False),
    sa.Column('location', sa.String(length=255), nullable=True),
    sa.Column('volume', sa.Integer(), nullable=False),
    sa.Column('active_start_min', sa.Integer(), nullable=True),
    sa.Column('active_end_min', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('token_set_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('schedule_version', sa.BigInteger(), nullable=False),
    sa.Column('last_seen_at', hub.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('agent_status', sa.String(length=16), nullable=True),
    sa.Column('agent_version', sa.String(length=32), nullable=True),
    sa.Column('free_disk_bytes', sa.BigInteger(), nullable=True),
    sa.Column('clock_offset_seconds', sa.Float(), nullable=True),
    sa.Column('last_played', sa.JSON(), nullable=True),
    sa.Column('playing', sa.String(length=160), nullable=True),
    sa.Column('offline_alerted_at', hub.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_speakers_grid_id_grids'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_speakers')),
    sa.UniqueConstraint('code', name=op.f('uq_speakers_code')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_speakers_token_hash'))
    )
    op.create_index(op.f('ix_speakers_grid_id'), 'speakers', ['grid_id'], unique=False)
    op.create_index(op.f('ix_speakers_schedule_version'), 'speakers', ['schedule_version'], unique=False)
    op.create_table('speaker_announcements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('speaker_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('clip_sha', sa.String(length=64), nullable=False),
    sa.Column('start_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('every_minutes', sa.Integer(), nullable=True),
    sa.Column('until_at', hub.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', hub.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['clip_sha'], ['speaker_clips.sha256'], name=op.f('fk_speaker_announcements_clip_sha_speaker_clips'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_speaker_announcements_grid_id_grids'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['speaker_id'], ['speakers.id'], name=op.f('fk_speaker_announcements_speaker_id_speakers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_speaker_announcements'))
    )
    op.create_index(op.f('ix_speaker_announcements_grid_id'), 'speaker_announcements', ['grid_id'], unique=False)
    op.create_index(op.f('ix_speaker_announcements_speaker_id'), 'speaker_announcements', ['speaker_id'], unique=False)
    op.create_table('speaker_plays',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('speaker_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('item', sa.String(length=160), nullable=False),
    sa.Column('clip', sa.String(length=64), nullable=True),
    sa.Column('scheduled', hub.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended', hub.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('result', sa.Enum('played', 'failed', 'playing', 'interrupted', name='speaker_play_result', native_enum=False, length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('received_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['speaker_id'], ['speakers.id'], name=op.f('fk_speaker_plays_speaker_id_speakers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_speaker_plays')),
    sa.UniqueConstraint('speaker_id', 'client_id', name='uq_speaker_plays_client')
    )
    op.create_index('ix_speaker_plays_item', 'speaker_plays', ['item', 'speaker_id'], unique=False)
    op.create_index('ix_speaker_plays_speaker_started', 'speaker_plays', ['speaker_id', 'started'], unique=False)
    op.create_index('ix_speaker_plays_started', 'speaker_plays', ['started'], unique=False)
    op.create_table('speaker_urgent_clips',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warning_id', sa.Integer(), nullable=False),
    sa.Column('dialect', sa.String(length=60), nullable=False),
    sa.Column('clip_sha', sa.String(length=64), nullable=False),
    sa.Column('ready_at', hub.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['clip_sha'], ['speaker_clips.sha256'], name=op.f('fk_speaker_urgent_clips_clip_sha_speaker_clips'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['warning_id'], ['warnings.id'], name=op.f('fk_speaker_urgent_clips_warning_id_warnings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_speaker_urgent_clips')),
    sa.UniqueConstraint('warning_id', 'dialect', name='uq_speaker_urgent_clips_pair')
    )


def downgrade() -> None:
    op.drop_table('speaker_urgent_clips')
    op.drop_index('ix_speaker_plays_started', table_name='speaker_plays')
    op.drop_index('ix_speaker_plays_speaker_started', table_name='speaker_plays')
    op.drop_index('ix_speaker_plays_item', table_name='speaker_plays')
    op.drop_table('speaker_plays')
    op.drop_index(op.f('ix_speaker_announcements_speaker_id'), table_name='speaker_announcements')
    op.drop_index(op.f('ix_speaker_announcements_grid_id'), table_name='speaker_announcements')
    op.drop_table('speaker_announcements')
    op.drop_index(op.f('ix_speakers_schedule_version'), table_name='speakers')
    op.drop_index(op.f('ix_speakers_grid_id'), table_name='speakers')
    op.drop_table('speakers')
    op.drop_index(op.f('ix_speaker_slots_grid_id'), table_name='speaker_slots')
    op.drop_table('speaker_slots')
    op.drop_table('speaker_script_clips')
    op.drop_table('speaker_grid_settings')
    op.drop_table('speaker_sequence')
    op.drop_table('speaker_clips')
