"""Warnings as the hub keeps them: CAP 1.2's alert/info/area, flattened to one row each.

A warning made in chat and one read from a CAP feed are the same row, so both are targeted,
delivered, reported and published again as CAP the same way. An update or a cancellation is
a warning of its own that references the one it changes, as CAP does.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
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

AUDIT_ENTITY = "warning"


class Level(enum.StrEnum):
    """China's four warning colours, each tied to one CAP severity."""

    BLUE = "blue"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"

    @property
    def severity(self) -> str:
        return _SEVERITY[self]

    @property
    def urgent(self) -> bool:
        """Orange and red are pinned in groups and go to the loudspeakers at once."""
        return self in (Level.ORANGE, Level.RED)

    @classmethod
    def from_severity(cls, severity: str) -> Level | None:
        return next((level for level, s in _SEVERITY.items() if s == severity), None)


_SEVERITY = {Level.BLUE: "Minor", Level.YELLOW: "Moderate", Level.ORANGE: "Severe", Level.RED: "Extreme"}


class MsgType(enum.StrEnum):
    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"


class WarningStatus(enum.StrEnum):
    DRAFT = "draft"  # a worker's preview, not yet sent
    PENDING = "pending"  # a feed alert waiting for staff approval
    SENT = "sent"  # delivered to the area's chats (or being delivered)
    SUPERSEDED = "superseded"  # an update replaced it
    CANCELLED = "cancelled"  # retracted by a Cancel
    DISCARDED = "discarded"  # a draft or pending alert nobody sent


class Source(enum.StrEnum):
    CHAT = "chat"
    CAP = "cap"
    CLI = "cli"


class Warning(Base):
    __tablename__ = "warnings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[Source] = mapped_column(enum_column(Source, "warning_source"))
    # CAP identity: (sender, identifier, sent). Ours are filled in when the warning is sent.
    sender: Mapped[str] = mapped_column(String(255))
    identifier: Mapped[str] = mapped_column(String(255))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    msg_type: Mapped[MsgType] = mapped_column(enum_column(MsgType, "warning_msg_type"))
    status: Mapped[WarningStatus] = mapped_column(enum_column(WarningStatus, "warning_status"))
    level: Mapped[Level] = mapped_column(enum_column(Level, "warning_level"))
    event: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(16), default="Safety")
    urgency: Mapped[str] = mapped_column(String(16), default="Immediate")
    certainty: Mapped[str] = mapped_column(String(16), default="Observed")
    headline: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    instruction: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16))
    area_desc: Mapped[str] = mapped_column(String(500))
    grid_codes: Mapped[list[str]] = mapped_column(JSON)  # the grids (with their subtrees) it covers
    # CAP area shapes as read: {"polygons": [[[lat, lon], ...]], "circles": [[lat, lon, km]],
    # "geocodes": [[name, value]]}; None for a warning targeted by grid.
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    effective: Mapped[datetime] = mapped_column(UTCDateTime())
    expires: Mapped[datetime] = mapped_column(UTCDateTime())
    references_id: Mapped[int | None] = mapped_column(ForeignKey("warnings.id", ondelete="SET NULL"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    decided_by: Mapped[str | None] = mapped_column(String(64))  # the rule that published or held it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("sender", "identifier", "sent_at", name="uq_warnings_cap_identity"),
        Index("ix_warnings_status_expires", "status", "expires"),
        Index("ix_warnings_identifier", "sender", "identifier"),
    )


class FeedState(Base):
    """What a CAP feed said last time, so the next poll can ask 'anything new?' cheaply."""

    __tablename__ = "cap_feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(1000), unique=True)
    etag: Mapped[str | None] = mapped_column(String(255))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[str | None] = mapped_column(String(255))


class UrgentItem(Base):
    """An orange or red warning handed to a grid's loudspeakers, to be played before the schedule."""

    __tablename__ = "speaker_urgent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id", ondelete="CASCADE"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    expires: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("warning_id", "grid_id", name="uq_speaker_urgent_item"),)
