"""Early warnings: drafted, previewed, sent to every chat of an area, updated and cancelled.

Every path that makes a warning — a worker's `/warn`, a CAP feed, the CLI — ends in `send`,
which owes one message per chat (through `hub.notify`) in the same unit of work as the status
change, so a warning marked sent is a warning whose messages will go out, crash or not.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.speakers import urgent as speaker_urgent
from broadcasts.warnings import references, targeting
from broadcasts.warnings.models import (
    AUDIT_ENTITY,
    Level,
    MsgType,
    Source,
    UrgentItem,
    Warning,
    WarningStatus,
)
from hub import access, audit, notify, outbox
from hub.core import Hub
from hub.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hub.models import Grid, Person, Role

OUTBOX_REF = "warning"
MAX_TEXT = 1000
HEADLINE_CHARS = 60
CHAT_EVENT = "community safety warning"

LEVEL_WORDS: dict[str, Level] = {
    **{level.value: level for level in Level},
    "蓝": Level.BLUE, "蓝色": Level.BLUE, "藍": Level.BLUE, "藍色": Level.BLUE,
    "黄": Level.YELLOW, "黄色": Level.YELLOW, "黃": Level.YELLOW, "黃色": Level.YELLOW,
    "橙": Level.ORANGE, "橙色": Level.ORANGE,
    "红": Level.RED, "红色": Level.RED, "紅": Level.RED, "紅色": Level.RED,
}
_AREA_TOKEN = re.compile(r"^#([A-Za-z0-9_-]{1,32})$")
_UNSENT = (WarningStatus.DRAFT, WarningStatus.PENDING)
PUBLISHED = (WarningStatus.SENT, WarningStatus.SUPERSEDED, WarningStatus.CANCELLED)


@dataclass(frozen=True)
class Command:
    """What a worker wrote after /warn: a level, grid codes to target, and the text."""

    level: Level | None
    grid_codes: tuple[str, ...]
    text: str


def parse_command(args: str) -> Command:
    """`[level] [#GRID ...] text`; the level in English or Chinese, grids as #CODE."""
    level: Level | None = None
    codes: list[str] = []
    rest = args.strip()
    while rest:
        head, *tail = rest.split(None, 1)
        if level is None and head.lower() in LEVEL_WORDS:
            level = LEVEL_WORDS[head.lower()]
        elif match := _AREA_TOKEN.match(head):
            codes.append(match.group(1))
        else:
            break
        rest = tail[0] if tail else ""
    return Command(level, tuple(codes), rest.strip())


def _clean(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput("warn.empty")
    if len(text) > MAX_TEXT:
        raise InvalidInput("warn.too_long", limit=MAX_TEXT, length=len(text))
    if not any(ch.isalnum() for ch in text):
        raise InvalidInput("warn.no_words")
    return text


def shorten(text: str) -> str:
    """A headline: the first line, cut to what fits a notification."""
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    return first if len(first) <= HEADLINE_CHARS else first[: HEADLINE_CHARS - 1] + "…"


def _state(warning: Warning) -> dict[str, Any]:
    return {
        "status": warning.status.value, "level": warning.level.value,
        "msg_type": warning.msg_type.value, "grids": list(warning.grid_codes),
        "headline": warning.headline,
    }


async def get(session: AsyncSession, warning_id: int, *, lock: bool = False) -> Warning:
    query = select(Warning).where(Warning.id == warning_id)
    if lock and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    warning = await session.scalar(query)
    if warning is None:
        raise NotFound("warn.not_found", id=warning_id)
    return warning


async def _require_over(session: AsyncSession, actor: Person, codes: list[str]) -> None:
    """A worker warns their own grid; staff any grid of their subtree. Residents never."""
    await access.require_over(session, actor, Role.WORKER, codes)


async def _actor_area(session: AsyncSession, actor: Person) -> list[str]:
    return [(await access.home_grid(session, actor, Role.WORKER)).code]


def new_identifier() -> str:
    return f"gridcast-{uuid.uuid4().hex}"


async def draft(
    session: AsyncSession,
    hub: Hub,
    actor: Person,
    command: Command,
    *,
    source: Source = Source.CHAT,
) -> Warning:
    """A preview only the author sees; nothing reaches a chat until `send`."""
    text = _clean(command.text)
    codes = list(command.grid_codes) or await _actor_area(session, actor)
    await _require_over(session, actor, codes)
    now = hub.now()
    warning = Warning(
        source=source, sender=hub.settings.cap_sender, identifier=new_identifier(),
        msg_type=MsgType.ALERT, status=WarningStatus.DRAFT, level=command.level or Level.BLUE,
        event=CHAT_EVENT, headline=shorten(text), description=text, instruction=None,
        language=hub.settings.default_language, area_desc=", ".join(codes), grid_codes=codes,
        geometry=None, effective=now, expires=now + timedelta(hours=hub.settings.warning_hours),
        author_id=actor.id, created_at=now, updated_at=now,
    )
    session.add(warning)
    await session.flush()
    audit.record(session, at=now, actor=actor, entity=AUDIT_ENTITY, entity_id=warning.id,
                 action="draft", after=_state(warning))
    return warning


# An author who no longer holds what it takes is told so, not that the warning is not theirs.
_AUTHOR_NOW = access.Refusals(role="warn.no_longer_worker", scope="warn.no_longer_in_area")


async def _require_author(session: AsyncSession, actor: Person, warning: Warning) -> None:
    """Its author, or staff over its area, may change a warning — judged at this moment.

    Having written it is not enough: the author must still be an active worker (or more)
    whose scope covers every grid of the warning, so someone made a resident, deactivated or
    moved to another grid keeps no power over what they wrote before. A feed alert (staff's
    edit of one included) is staff's alone.
    """
    if warning.author_id == actor.id and warning.source is not Source.CAP:
        await access.require(session, actor, Role.WORKER, refusals=_AUTHOR_NOW, id=warning.id)
        for grid in await access.grids_named(session, list(warning.grid_codes)):
            await access.require(session, actor, Role.WORKER, grid, refusals=_AUTHOR_NOW, id=warning.id)
        return
    try:
        await access.require_over(session, actor, Role.STAFF, list(warning.grid_codes))
    except PermissionDenied:
        raise PermissionDenied("warn.not_yours", id=warning.id) from None


async def require_editable(session: AsyncSession, actor: Person, warning: Warning) -> None:
    await _require_author(session, actor, warning)
    if warning.status not in _UNSENT:
        raise Conflict("warn.not_draft", id=warning.id)


async def editable(session: AsyncSession, actor: Person, warning_id: int) -> Warning:
    """The warning, if `actor` may edit it now (the preview's "edit" button asks this first)."""
    warning = await get(session, warning_id)
    await require_editable(session, actor, warning)
    return warning


async def edit(session: AsyncSession, hub: Hub, actor: Person, warning_id: int, text: str) -> Warning:
    """New text (and level) for an unsent warning. A feed alert's edit is restated as ours:
    the returned warning is then a new one, referencing the feed alert it replaces."""
    warning = await get(session, warning_id, lock=True)
    await require_editable(session, actor, warning)
    command = parse_command(text)
    body = _clean(command.text)
    if warning.source is Source.CAP and warning.sender != hub.settings.cap_sender:
        warning = await _restate(session, hub, actor, warning)
    before = _state(warning)
    if command.level is not None and warning.msg_type is not MsgType.CANCEL:
        warning.level = command.level
    warning.headline, warning.description = shorten(body), body
    warning.updated_at = hub.now()
    audit.record(session, at=hub.now(), actor=actor, entity=AUDIT_ENTITY, entity_id=warning.id,
                 action="edit", before=before, after=_state(warning))
    return warning


async def _restate(session: AsyncSession, hub: Hub, actor: Person, upstream: Warning) -> Warning:
    """Staff's edit of a feed alert: the same alert under our sender, waiting to be sent."""
    now = hub.now()
    copied = {name: getattr(upstream, name) for name in (
        "msg_type", "level", "event", "category", "urgency", "certainty", "headline", "description",
        "instruction", "language", "area_desc", "geometry", "effective", "expires", "decided_by")}
    warning = Warning(
        **copied, source=Source.CAP, sender=hub.settings.cap_sender, identifier=new_identifier(),
        status=WarningStatus.PENDING, grid_codes=list(upstream.grid_codes), references_id=upstream.id,
        author_id=actor.id, created_at=now, updated_at=now,
    )
    session.add(warning)
    before = _state(upstream)
    upstream.status, upstream.updated_at = WarningStatus.DISCARDED, now
    await session.flush()
    audit.record(session, at=now, actor=actor, entity=AUDIT_ENTITY, entity_id=upstream.id,
                 action="restate", before=before, after={**_state(upstream), "restated_as": warning.id})
    audit.record(session, at=now, actor=actor, entity=AUDIT_ENTITY, entity_id=warning.id,
                 action="draft_restatement", after=_state(warning))
    return warning


async def discard(session: AsyncSession, hub: Hub, actor: Person, warning_id: int) -> Warning:
    warning = await get(session, warning_id, lock=True)
    await _require_author(session, actor, warning)
    if warning.status not in _UNSENT:
        raise Conflict("warn.not_draft", id=warning.id)
    before = _state(warning)
    warning.status = WarningStatus.DISCARDED
    warning.updated_at = hub.now()
    audit.record(session, at=hub.now(), actor=actor, entity=AUDIT_ENTITY, entity_id=warning.id,
                 action="discard", before=before, after=_state(warning))
    return warning


async def follow_up(
    session: AsyncSession, hub: Hub, actor: Person, original_id: int, msg_type: MsgType, text: str
) -> Warning:
    """A draft Update or Cancel of a sent warning: same area, referencing the original."""
    original = await get(session, original_id)
    await _require_author(session, actor, original)
    _require_in_force(original, hub.now())
    command = parse_command(text)
    if msg_type is MsgType.CANCEL and not command.text:
        command = Command(None, (), hub.t(hub.settings.default_language, "warn.cancelled_default"))
    body = _clean(command.text)
    now = hub.now()
    warning = Warning(  # ours, whoever sent the original: never under a feed's identity
        source=Source.CHAT if original.source is Source.CAP else original.source,
        sender=hub.settings.cap_sender, identifier=new_identifier(),
        msg_type=msg_type, status=WarningStatus.DRAFT,
        level=command.level if command.level and msg_type is MsgType.UPDATE else original.level,
        event=original.event, headline=shorten(body), description=body, instruction=None,
        language=original.language, area_desc=original.area_desc, grid_codes=list(original.grid_codes),
        geometry=original.geometry, effective=now,
        expires=max(original.expires, now + timedelta(hours=1)) if msg_type is MsgType.CANCEL
        else now + timedelta(hours=hub.settings.warning_hours),
        references_id=original.id, author_id=actor.id, created_at=now, updated_at=now,
    )
    session.add(warning)
    await session.flush()
    audit.record(session, at=now, actor=actor, entity=AUDIT_ENTITY, entity_id=warning.id,
                 action=f"draft_{msg_type.value.lower()}", after=_state(warning))
    return warning


def _require_in_force(original: Warning, now: datetime) -> None:
    """An Update or Cancel changes a warning that is sent and has not yet expired."""
    if original.status is not WarningStatus.SENT:
        raise Conflict("warn.not_active", id=original.id)
    if original.expires <= now:
        raise Conflict("warn.follow_up_expired", id=original.id)


def _level_name(hub: Hub, lang: str, level: Level) -> str:
    return hub.t(lang, f"warn.level.{level.value}")


def render(hub: Hub, warning: Warning, lang: str, *, preview: bool = False) -> str:
    """The text of a warning as chats see it (or, with `preview`, as its author checks it)."""
    params: dict[str, Any] = {
        "kind": warning.msg_type.value.lower(), "level": warning.level.value,
        "level_name": _level_name(hub, lang, warning.level), "headline": warning.headline,
        "text": warning.description if warning.description != warning.headline else "",
        "instruction": warning.instruction or "",
        "expires": hub.local(warning.expires).strftime("%Y-%m-%d %H:%M"),
        "area": warning.area_desc, "id": warning.id, "ref": warning.references_id or "",
    }
    message = hub.t(lang, "warn.message", **params).strip()
    if not preview:
        return message
    return hub.t(lang, "warn.preview", message=message, **params).strip()


async def _reached(session: AsyncSession, warning_id: int) -> set[int]:
    rows = await session.scalars(
        select(outbox.OutboxMessage.chat_id)
        .where(outbox.OutboxMessage.ref_type == OUTBOX_REF,
               outbox.OutboxMessage.ref_id == str(warning_id))
    )
    return set(rows)


@dataclass(frozen=True)
class Sent:
    warning: Warning
    chats: int
    speakers: int


async def send(session: AsyncSession, hub: Hub, actor: Person | str, warning_id: int) -> Sent:
    """Publish a draft or pending warning to every active chat of its area.

    An update or cancellation also reaches every chat the original reached, so nobody who was
    warned misses the all-clear. `actor` is a person, or a label ("cap:<rule>") for a feed.
    """
    warning = await get(session, warning_id, lock=True)
    if isinstance(actor, Person):
        if warning.status is WarningStatus.PENDING:
            await access.require_over(session, actor, Role.STAFF, list(warning.grid_codes))
        else:
            await _require_author(session, actor, warning)
    if warning.status not in _UNSENT:
        raise Conflict("warn.already_sent" if warning.status is WarningStatus.SENT else "warn.not_draft",
                       id=warning.id)
    now = hub.now()
    if warning.expires <= now:
        raise Conflict("warn.expired", id=warning.id)
    original = await references.target_of(session, warning)
    if original is not None:
        _require_in_force(original, now)

    chat_ids = {c.telegram_chat_id for c in await targeting.chats_in_area(session, warning.grid_codes)}
    if original is not None:
        chat_ids |= await _reached(session, original.id)
    text = render(hub, warning, hub.settings.default_language)
    urgent = warning.level.urgent and warning.msg_type is not MsgType.CANCEL
    message = notify.Message(text, pin=urgent)
    for chat_id in sorted(chat_ids):
        await notify.to_chat(
            session, hub, chat_id, message, now=now,
            priority=1 if warning.level.urgent else 3, ref=(OUTBOX_REF, warning.id),
            dedupe_key=f"{OUTBOX_REF}:{warning.id}:{chat_id}", expires_at=warning.expires,
        )
    speakers = 0
    if original is not None:
        original.status = (WarningStatus.CANCELLED if warning.msg_type is MsgType.CANCEL
                           else WarningStatus.SUPERSEDED)
        original.updated_at = now
        await _withdraw_urgent(session, original.id, now)
    if urgent:
        speakers = await _hand_to_speakers(session, warning, text, now)
        await speaker_urgent.render_after_commit(session, hub, warning)
    before = _state(warning)
    warning.status, warning.updated_at = WarningStatus.SENT, now
    warning.sent_at = warning.sent_at or now  # a CAP alert keeps the time its sender gave it
    audit.record(session, at=now, actor=actor, entity=AUDIT_ENTITY, entity_id=warning.id,
                 action="send", before=before, after={**_state(warning), "chats": len(chat_ids)})
    return Sent(warning, len(chat_ids), speakers)


async def retract(session: AsyncSession, hub: Hub, warning: Warning, actor: Person | str) -> None:
    """Mark a sent warning cancelled without a message of its own (another one carried it)."""
    before = _state(warning)
    warning.status, warning.updated_at = WarningStatus.CANCELLED, hub.now()
    await _withdraw_urgent(session, warning.id, hub.now())
    audit.record(session, at=hub.now(), actor=actor, entity=AUDIT_ENTITY, entity_id=warning.id,
                 action="cancel", before=before, after=_state(warning))


async def _hand_to_speakers(session: AsyncSession, warning: Warning, text: str, now: datetime) -> int:
    grids = await targeting.grids_under(session, warning.grid_codes)
    for grid in grids:
        session.add(UrgentItem(warning_id=warning.id, grid_id=grid.id, text=text,
                               expires=warning.expires, created_at=now))
    return len(grids)


async def _withdraw_urgent(session: AsyncSession, warning_id: int, now: datetime) -> None:
    items = await session.scalars(
        select(UrgentItem).where(UrgentItem.warning_id == warning_id, UrgentItem.withdrawn_at.is_(None))
    )
    for item in items:
        item.withdrawn_at = now
    await speaker_urgent.withdrawn(session, warning_id)


async def urgent_items(session: AsyncSession, grid: Grid, now: datetime) -> list[UrgentItem]:
    """What a grid's loudspeakers must play now: orange and red warnings still in force."""
    ancestors = [code for code in grid.path.strip("/").split("/") if code]
    query = (
        select(UrgentItem)
        .join(Grid, UrgentItem.grid_id == Grid.id)
        .where(Grid.code.in_(ancestors), UrgentItem.withdrawn_at.is_(None), UrgentItem.expires > now)
        .order_by(UrgentItem.created_at)
    )
    return list(await session.scalars(query))


@dataclass(frozen=True)
class Report:
    warning: Warning
    counts: dict[str, int]
    chats: list[tuple[int, str, str | None]]  # chat id, status, error


async def delivery_report(session: AsyncSession, actor: Person | None, warning_id: int) -> Report:
    """Delivered, failed and pending per chat; for the author, staff over the area, or the CLI."""
    warning = await get(session, warning_id)
    if actor is not None:
        await _require_author(session, actor, warning)
    rows = await outbox.per_chat(session, OUTBOX_REF, warning.id)
    return Report(
        warning, await outbox.report(session, OUTBOX_REF, warning.id),
        [(row.chat_id, row.status.value, row.error) for row in rows],
    )


async def list_warnings(
    session: AsyncSession, *, limit: int = 50, published_only: bool = False
) -> list[Warning]:
    query = select(Warning).order_by(Warning.id.desc()).limit(limit)
    if published_only:
        query = query.where(Warning.status.in_(PUBLISHED))
    return list(await session.scalars(query))
