"""Tables of the campaigns: where staff published or paused each one, what was released, and
how far the scheduler has released.

The campaigns themselves are files (content/campaigns); the database holds only what people
and the scheduler did with them.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import UTCDateTime
from hub.models import Base, enum_column

AUDIT_ENTITY = "campaign"


class PublishState(enum.StrEnum):
    PUBLISHED = "published"
    PAUSED = "paused"


class CampaignState(Base):
    """A campaign published or paused for a grid and everything below it; the deepest row
    above a grid decides for it, and no row means not published."""

    __tablename__ = "campaign_states"

    campaign_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[PublishState] = mapped_column(enum_column(PublishState, "campaign_state"))
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class CampaignRelease(Base):
    """One thing released: a chat post to a grid's chats, or a loudspeaker slot for a grid's
    speakers, in one window of one campaign. The key is unique, so whatever runs the release
    twice (a retry, a restart, a second scheduler) finds it taken and sends nothing again."""

    __tablename__ = "campaign_releases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(60))
    window: Mapped[str] = mapped_column(String(40))  # "<index>:<first day>", e.g. "0:2027-03-26"
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"))
    item: Mapped[str] = mapped_column(String(40))  # "post:<n>" or "slot:<n>"
    released_at: Mapped[datetime] = mapped_column(UTCDateTime())
    messages: Mapped[int] = mapped_column(Integer, default=0)  # chat posts queued
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("speaker_slots.id", ondelete="SET NULL"))

    __table_args__ = (
        UniqueConstraint("campaign_id", "window", "grid_id", "item", name="uq_campaign_releases_key"),
    )


class ReleaseCursor(Base):
    """How far releases have been made: the next pass looks at what fell due after `until`
    (None: no pass yet). One row, written in the same unit of work as the releases it
    accounts for, and locked by the pass that holds it."""

    __tablename__ = "campaign_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    instance: Mapped[str] = mapped_column(String(128))
