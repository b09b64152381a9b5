"""Tables of the loudspeakers: speakers, their areas' settings, slots, announcements, clips,
the clips of scripts and urgent warnings, proof of play, and the change sequence.

Times of day are minutes after local midnight (0..1439) in the hub's zone; instants are UTC.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import UTCDateTime
from hub.models import Base, enum_column

AUDIT_ENTITY = "speaker"


class SlotKind(enum.StrEnum):
    """What a recurring slot carries; campaigns will fill `campaign` slots of their own."""

    CAMPAIGN = "campaign"
    FILLER = "filler"


class PlayResult(enum.StrEnum):
    PLAYED = "played"
    FAILED = "failed"
    PLAYING = "playing"
    INTERRUPTED = "interrupted"


class Speaker(Base):
    """A loudspeaker: where it stands, what it may play when, and what it last told us.

    `schedule_version` is the change sequence's value at the last change of anything this
    speaker plays (see `registry.bump`), so an unchanged schedule is known from this row alone.
    """

    __tablename__ = "speakers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"), index=True)
    zone_tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    location: Mapped[str | None] = mapped_column(String(255))
    volume: Mapped[int] = mapped_column(Integer, default=80)
    # Routine items (not urgent ones) start only inside these hours; None: all day.
    active_start_min: Mapped[int | None] = mapped_column(Integer)
    active_end_min: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_set_at: Mapped[datetime] = mapped_column(UTCDateTime())
    schedule_version: Mapped[int] = mapped_column(BigInteger, index=True)
    # What the agent said in its last heartbeat.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    agent_status: Mapped[str | None] = mapped_column(String(16))
    agent_version: Mapped[str | None] = mapped_column(String(32))
    free_disk_bytes: Mapped[int | None] = mapped_column(BigInteger)
    clock_offset_seconds: Mapped[float | None] = mapped_column(Float)
    last_played: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    playing: Mapped[str | None] = mapped_column(String(160))
    # Set when the workers were told it went silent; cleared with the recovery note.
    offline_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GridSettings(Base):
    """A grid's loudspeaker settings, inherited by the grids below it that set none."""

    __tablename__ = "speaker_grid_settings"

    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"), primary_key=True)
    quiet_start_min: Mapped[int | None] = mapped_column(Integer)
    quiet_end_min: Mapped[int | None] = mapped_column(Integer)
    dialect: Mapped[str | None] = mapped_column(String(60))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Slot(Base):
    """A recurring slot: a script at times of day, on ISO weekdays, between dates.

    Each time opens a window of `window_minutes` (default: a short grace), which may run past
    midnight; with `every_minutes` the script plays again inside it. Weekdays and dates are
    those of the day the window opens, in the hub's zone.
    """

    __tablename__ = "speaker_slots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[SlotKind] = mapped_column(enum_column(SlotKind, "speaker_slot_kind"))
    priority: Mapped[int] = mapped_column(Integer, default=0)  # order among slots of one kind
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"), index=True)
    zone_tag: Mapped[str | None] = mapped_column(String(40))
    script_id: Mapped[str] = mapped_column(String(60))
    dialect: Mapped[str | None] = mapped_column(String(60))  # else the grid's
    times: Mapped[list[int]] = mapped_column(JSON)
    window_minutes: Mapped[int | None] = mapped_column(Integer)
    every_minutes: Mapped[int | None] = mapped_column(Integer)
    weekdays: Mapped[list[int]] = mapped_column(JSON, default=list)  # ISO 1..7; [] = every day
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(String(100))  # e.g. "campaign:<id>"
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Clip(Base):
    """A clip as speakers fetch it: `/audio/<sha256>.mp3` (and the Ogg/Opus of the same sound
    as `<sha256>.ogg`), the hash being that of the MP3's bytes."""

    __tablename__ = "speaker_clips"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    bytes: Mapped[int] = mapped_column(Integer)
    ogg_bytes: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Announcement(Base):
    """Staff's one-off (or repeated until a time) announcement to a grid or one speaker."""

    __tablename__ = "speaker_announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"), index=True)
    speaker_id: Mapped[int | None] = mapped_column(ForeignKey("speakers.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text)
    clip_sha: Mapped[str] = mapped_column(ForeignKey("speaker_clips.sha256", ondelete="RESTRICT"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    every_minutes: Mapped[int | None] = mapped_column(Integer)
    until_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ScriptClip(Base):
    """The clip a script renders to in a dialect ("" for Mandarin only), rendered ahead."""

    __tablename__ = "speaker_script_clips"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    script_id: Mapped[str] = mapped_column(String(60))
    dialect: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(200))
    render_key: Mapped[str] = mapped_column(String(64))  # audio's clip name: what shaped it
    clip_sha: Mapped[str] = mapped_column(ForeignKey("speaker_clips.sha256", ondelete="RESTRICT"))
    rendered_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("script_id", "dialect", name="uq_speaker_script_clips_pair"),)


class UrgentClip(Base):
    """An urgent warning rendered for the speakers of one dialect; it plays from `ready_at`."""

    __tablename__ = "speaker_urgent_clips"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id", ondelete="CASCADE"))
    dialect: Mapped[str] = mapped_column(String(60))
    clip_sha: Mapped[str] = mapped_column(ForeignKey("speaker_clips.sha256", ondelete="RESTRICT"))
    ready_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("warning_id", "dialect", name="uq_speaker_urgent_clips_pair"),)


class Play(Base):
    """One play a speaker reported; `client_id` is the agent's own id, so a resend is a no-op."""

    __tablename__ = "speaker_plays"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    speaker_id: Mapped[int] = mapped_column(ForeignKey("speakers.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    item: Mapped[str] = mapped_column(String(160))
    clip: Mapped[str | None] = mapped_column(String(64))
    scheduled: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started: Mapped[datetime] = mapped_column(UTCDateTime())
    ended: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[PlayResult] = mapped_column(enum_column(PlayResult, "speaker_play_result"))
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("speaker_id", "client_id", name="uq_speaker_plays_client"),
        Index("ix_speaker_plays_speaker_started", "speaker_id", "started"),
        Index("ix_speaker_plays_item", "item", "speaker_id"),
        Index("ix_speaker_plays_started", "started"),
    )


class ChangeCounter(Base):
    """One row counting changes to what speakers play (see `registry.bump`)."""

    __tablename__ = "speaker_sequence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
