"""Tables of the dialect-recording library: recordings and the requests that ask for them.

A recording belongs to a script and a dialect, not to a grid: a Puxian reading recorded in
one village serves every loudspeaker that plays that script in Puxian. Requests do belong
to a grid, because they are how staff ask that grid's workers for a recording.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import UTCDateTime
from hub.models import Base, enum_column


class RecordingSource(enum.StrEnum):
    TELEGRAM = "telegram"
    CLI = "cli"
    DASHBOARD = "dashboard"


class RequestStatus(enum.StrEnum):
    OPEN = "open"
    FULFILLED = "fulfilled"


class RecordingRequest(Base):
    """Staff (or a worker) asking a grid's workers to record a script in a dialect."""

    __tablename__ = "recording_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    script_id: Mapped[str] = mapped_column(String(60))
    dialect: Mapped[str] = mapped_column(String(60))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"))
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )
    requested_by_label: Mapped[str] = mapped_column(String(100))
    status: Mapped[RequestStatus] = mapped_column(enum_column(RequestStatus, "request_status"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Which take fulfilled it is in the audit row; the take answering it names it back.
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_recording_requests_grid_status", "grid_id", "status"),
        Index("ix_recording_requests_script_dialect", "script_id", "dialect", "status"),
    )


class Recording(Base):
    """One take of a script in a dialect; `version` counts takes per (script, dialect).

    The file lives under the data dir at `path` (relative, so the data dir can move) and
    is named by `content_hash`, the sha256 of the uploaded bytes. Renders use the approved
    take with the highest version.
    """

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    script_id: Mapped[str] = mapped_column(String(60))
    dialect: Mapped[str] = mapped_column(String(60))
    version: Mapped[int] = mapped_column(Integer)
    speaker_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    speaker_name: Mapped[str] = mapped_column(String(200))
    source: Mapped[RecordingSource] = mapped_column(
        enum_column(RecordingSource, "recording_source")
    )
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="SET NULL"))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("recording_requests.id", ondelete="SET NULL")
    )
    content_hash: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500))
    duration_s: Mapped[float] = mapped_column(Float)
    loudness_lufs: Mapped[float] = mapped_column(Float)
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    approved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("script_id", "dialect", "version", name="uq_recordings_version"),
        UniqueConstraint("script_id", "dialect", "content_hash", name="uq_recordings_content"),
        Index("ix_recordings_best", "script_id", "dialect", "approved", "version"),
    )
