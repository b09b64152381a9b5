"""The hazard ledger's tables and its lifecycle: states, card actions and allowed moves.

The ticket number a resident is given is the hazard's primary key, so it is unique across the
whole hub and never reused.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
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

AUDIT_ENTITY = "hazard"  # audit rows of hazards are their timeline


class HazardState(enum.StrEnum):
    REPORTED = "reported"
    ACCEPTED = "accepted"
    RECTIFIED = "rectified"
    CLOSED = "closed"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATES


OPEN_STATES = frozenset({HazardState.REPORTED, HazardState.ACCEPTED, HazardState.RECTIFIED})
# Past the deadline only these wait on the grid; a rectified hazard waits on verification.
OVERDUE_STATES = frozenset({HazardState.REPORTED, HazardState.ACCEPTED})


class Action(enum.StrEnum):
    """What a card button does: `hz:<id>:<action>`."""

    ACCEPT = "accept"
    REJECT = "reject"
    DUP = "dup"
    FIXED = "fixed"
    VERIFY = "verify"
    REOPEN = "reopen"


_S, _A = HazardState, Action
TRANSITIONS: Mapping[tuple[HazardState, Action], HazardState] = {
    (_S.REPORTED, _A.ACCEPT): _S.ACCEPTED,
    (_S.REPORTED, _A.REJECT): _S.REJECTED,
    (_S.REPORTED, _A.DUP): _S.DUPLICATE,
    (_S.ACCEPTED, _A.FIXED): _S.RECTIFIED,
    (_S.ACCEPTED, _A.REJECT): _S.REJECTED,
    (_S.ACCEPTED, _A.DUP): _S.DUPLICATE,
    (_S.RECTIFIED, _A.VERIFY): _S.CLOSED,
    (_S.RECTIFIED, _A.REOPEN): _S.ACCEPTED,  # verification found it not fixed
    (_S.CLOSED, _A.REOPEN): _S.ACCEPTED,
    (_S.REJECTED, _A.REOPEN): _S.ACCEPTED,
    (_S.DUPLICATE, _A.REOPEN): _S.ACCEPTED,
}


def actions_for(state: HazardState) -> tuple[Action, ...]:
    """The buttons a card in this state offers, in a stable order."""
    return tuple(a for a in Action if (state, a) in TRANSITIONS)


class AlertKind(enum.StrEnum):
    REMINDER = "reminder"
    ESCALATION = "escalation"
    FOLLOWUP = "followup"


class Hazard(Base):
    __tablename__ = "hazards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="RESTRICT"))
    category: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str | None] = mapped_column(String(200))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    photo: Mapped[str | None] = mapped_column(String(64))
    evidence_photo: Mapped[str | None] = mapped_column(String(64))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    reporter_named: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[HazardState] = mapped_column(enum_column(HazardState, "hazard_state"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    fixer_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    verifier_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("hazards.id", ondelete="SET NULL")
    )
    source_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_hazards_grid_state", "grid_id", "state"),
        Index("ix_hazards_reporter_reported", "reporter_id", "reported_at"),
        Index("ix_hazards_state_deadline", "state", "deadline_at"),
        Index("ix_hazards_duplicate_of", "duplicate_of_id"),
    )


def audit_state(hazard: Hazard) -> dict[str, Any]:
    """What a hazard's audit rows record of it, before and after each change."""
    return {
        "state": hazard.state.value,
        "assignee_id": hazard.assignee_id,
        "deadline_at": hazard.deadline_at.isoformat(),
        "duplicate_of_id": hazard.duplicate_of_id,
    }


class HazardAlert(Base):
    """One row per alert ever sent; the unique key is what makes each alert go out once.

    Two scheduler runs may race: both try to insert, one wins, and only the winner tells
    anyone. `level` counts up across rectification rounds (see hazards.sweeps.alert_level), so a
    reopened hazard is reminded again for its new deadline.
    """

    __tablename__ = "hazard_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id", ondelete="CASCADE"))
    kind: Mapped[AlertKind] = mapped_column(enum_column(AlertKind, "hazard_alert_kind"))
    level: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("hazard_id", "kind", "level"),)
