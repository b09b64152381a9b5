"""What a warning refers to: the one an Update or Cancel changes, and our restatements of feed alerts.

A feed alert that staff edit before sending is no longer the upstream agency's words, so it
is never published under their identity: the edit becomes a warning of our own (our
`<sender>`, a new identifier) that references the feed alert it restates, and the feed alert
is set aside. Everything that follows a reference — sending an Update or Cancel, the feed's
own later Updates and Cancels, CAP out — goes through here, so a restatement stands for the
feed alert it replaced wherever that alert is named.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.warnings.models import MsgType, Source, Warning, WarningStatus

Identity = tuple[str, str, datetime]  # CAP's sender, identifier, sent


def restates(warning: Warning, referenced: Warning) -> bool:
    """Whether `warning` is staff's edit of the feed alert `referenced`, under our own sender.

    Feed alerts only ever reference alerts of their own sender (ingest refuses the rest, and
    refuses alerts claiming the hub's sender), so a feed-sourced warning whose sender differs
    from the one it references can only be a restatement.
    """
    return (warning.source is Source.CAP and referenced.source is Source.CAP
            and warning.sender != referenced.sender)


async def restatement_of(session: AsyncSession, warning: Warning) -> Warning | None:
    """Our restatement of this feed alert, if staff edited it (newest first)."""
    if warning.source is not Source.CAP or warning.status is not WarningStatus.DISCARDED:
        return None
    return await session.scalar(
        select(Warning)
        .where(Warning.references_id == warning.id, Warning.source == Source.CAP,
               Warning.sender != warning.sender)
        .order_by(Warning.id.desc())
        .limit(1)
    )


async def in_force(session: AsyncSession, warning: Warning) -> Warning:
    """What stands for `warning` now: itself, or the restatement that replaced it."""
    seen = {warning.id}
    while (replacement := await restatement_of(session, warning)) is not None and replacement.id not in seen:
        seen.add(replacement.id)
        warning = replacement
    return warning


async def target_of(session: AsyncSession, warning: Warning) -> Warning | None:
    """The warning an Update or Cancel changes (None for an Alert), as it stands now.

    A restatement changes what the feed alert it restates would have changed; the target,
    if staff restated it in turn, is their restatement.
    """
    current: Warning = warning
    referenced = await _referenced(session, current)
    while referenced is not None and restates(current, referenced):
        current, referenced = referenced, await _referenced(session, referenced)
    if referenced is None:
        return None
    return await in_force(session, referenced)


def identity(warning: Warning) -> Identity | None:
    """The CAP identity it was published (or received) under; None before it is sent."""
    if warning.sent_at is None:
        return None
    return (warning.sender, warning.identifier, warning.sent_at)


async def cap_references(session: AsyncSession, warning: Warning) -> tuple[list[Identity], bool]:
    """The `<references>` of a published warning, and whether it is ours to sign.

    A restatement names the feed alert it restates and what that alert named; an Update or
    Cancel names the warning it changes; an Alert names nothing.
    """
    referenced = await _referenced(session, warning)
    if referenced is not None and restates(warning, referenced):
        named = [*(await cap_references(session, referenced))[0], identity(referenced)]
        return [ref for ref in named if ref is not None], True
    ours = warning.source is not Source.CAP
    if referenced is None or warning.msg_type is MsgType.ALERT:
        return [], ours
    ref = identity(referenced)
    return ([ref] if ref is not None else []), ours


async def _referenced(session: AsyncSession, warning: Warning) -> Warning | None:
    if warning.references_id is None:
        return None
    return await session.get(Warning, warning.references_id)
