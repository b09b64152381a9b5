"""Watching the speakers: which are silent, which are back, which missed an urgent warning,
and the overview workers and staff see with /speakers and `gridcast speakers list`.

Alerts go to the workers' chat of the speaker's grid (the nearest grid above it that has one)
through `hub.notify`, each with a dedupe key, so a sweep run twice — or by two processes —
tells nobody anything twice: one message when a speaker falls silent, one when it is back,
one per urgent warning a speaker did not report playing within two polls. A speaker that has
never sent a heartbeat is "not yet seen", not offline: it may not be installed yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.speakers import registry, reports, timing
from broadcasts.speakers.models import AUDIT_ENTITY, Clip, Play, PlayResult, Speaker, UrgentClip
from broadcasts.warnings.models import UrgentItem, Warning
from hub import audit, notify
from hub.models import Chat, ChatKind, Grid

ACTOR = "scheduler"
OUTBOX_REF = "speaker"
HEARD = (PlayResult.PLAYED, PlayResult.PLAYING, PlayResult.INTERRUPTED)
LOCAL_TIME = "%m-%d %H:%M"


async def workers_chats(session: AsyncSession, grid: Grid) -> list[int]:
    """The workers' chats of the nearest grid at or above `grid` that has any."""
    rows = await session.execute(
        select(Chat.telegram_chat_id, Grid.path).join(Grid, Grid.id == Chat.grid_id)
        .where(Chat.kind == ChatKind.WORKERS, Chat.active.is_(True),
               Grid.code.in_(registry.ancestor_codes(grid)))
    )
    found = list(rows.tuples())
    if not found:
        return []
    deepest = max(len(path) for _, path in found)
    return sorted(chat for chat, path in found if len(path) == deepest)


async def _tell(session: AsyncSession, hub: Any, grid: Grid, speaker: Speaker, key: str,
                dedupe: str, **params: Any) -> int:
    """Queue `key` to the speaker's workers' group; how many messages are new (a repeat of
    one already owed is not)."""
    lang = hub.settings.default_language
    text = hub.t(lang, key, code=speaker.code, name=speaker.name, grid=grid.name,
                 grid_code=grid.code, location=speaker.location or "", **params)
    queued = 0
    for chat_id in await workers_chats(session, grid):
        queued += await notify.to_chat(session, hub, chat_id, notify.Message(text), ref=(OUTBOX_REF, speaker.id),
                                       dedupe_key=f"{dedupe}:{chat_id}", priority=2)
    return queued


@dataclass(frozen=True)
class Swept:
    offline: int
    back: int
    missed: int


async def _offline(session: AsyncSession, hub: Any, now: datetime) -> tuple[int, int]:
    limit = now - timedelta(minutes=hub.settings.speaker_offline_minutes)
    rows = list((await session.execute(
        select(Speaker, Grid).join(Grid, Grid.id == Speaker.grid_id).where(
            Speaker.active.is_(True), Speaker.last_seen_at.is_not(None),
            ((Speaker.offline_alerted_at.is_(None) & (Speaker.last_seen_at < limit))
             | (Speaker.offline_alerted_at.is_not(None) & (Speaker.last_seen_at > Speaker.offline_alerted_at))),
        )
    )).tuples())
    silent = back = 0
    for speaker, grid in rows:
        assert speaker.last_seen_at is not None
        since = timing.iso(speaker.last_seen_at)
        if speaker.offline_alerted_at is None:
            await _tell(session, hub, grid, speaker, "speakers.offline_alert", f"speaker-offline:{speaker.id}:{since}",
                        since=hub.local(speaker.last_seen_at).strftime(LOCAL_TIME),
                        minutes=hub.settings.speaker_offline_minutes)
            speaker.offline_alerted_at = now
            action, silent = "offline", silent + 1
        else:
            gone = hub.local(speaker.offline_alerted_at).strftime(LOCAL_TIME)
            await _tell(session, hub, grid, speaker, "speakers.back_note",
                        f"speaker-back:{speaker.id}:{timing.iso(speaker.offline_alerted_at)}", since=gone)
            speaker.offline_alerted_at = None
            action, back = "back", back + 1
        await audit.change(session, speaker, at=now, actor=ACTOR, entity=AUDIT_ENTITY,
                           entity_id=speaker.code, action=action, after={"last_seen": since})
    return silent, back


async def _missed(session: AsyncSession, hub: Any, now: datetime) -> int:
    """Urgent items not reported played within two polls of being ready (plus their length)."""
    polls = timedelta(seconds=2 * hub.settings.speaker_poll_seconds)
    clips = list((await session.execute(
        select(UrgentClip, Clip.duration_s, Warning.level, Warning.headline)
        .join(Clip, Clip.sha256 == UrgentClip.clip_sha).join(Warning, Warning.id == UrgentClip.warning_id)
        .where(UrgentClip.ready_at < now - polls)
    )).tuples())
    clips = [c for c in clips if c[0].ready_at + polls + timedelta(seconds=c[1]) < now]
    if not clips:
        return 0
    table = await registry.dialect_table(session)
    told = 0
    for urgent_clip, _, level, headline in clips:
        paths = list(await session.scalars(
            select(Grid.path).join(UrgentItem, UrgentItem.grid_id == Grid.id).where(
                UrgentItem.warning_id == urgent_clip.warning_id, UrgentItem.withdrawn_at.is_(None),
                UrgentItem.expires > now)
        ))
        if not paths:
            continue
        candidates = [
            (speaker, grid) for speaker, grid in (await session.execute(
                select(Speaker, Grid).join(Grid, Grid.id == Speaker.grid_id).where(
                    registry.in_subtrees(paths), Speaker.active.is_(True), Speaker.last_seen_at.is_not(None),
                    Speaker.offline_alerted_at.is_(None), Speaker.created_at < urgent_clip.ready_at)
            )).tuples()
            if registry.dialect_for(grid.path, table) == urgent_clip.dialect
        ]
        item = f"urgent:{urgent_clip.warning_id}:{level.value}"
        heard = set(await session.scalars(select(Play.speaker_id).where(
            Play.item == item, Play.speaker_id.in_([s.id for s, _ in candidates]), Play.result.in_(HEARD))))
        for speaker, grid in candidates:
            if speaker.id in heard:
                continue
            if await _tell(
                session, hub, grid, speaker, "speakers.urgent_missed",
                f"speaker-urgent-missed:{speaker.id}:{urgent_clip.warning_id}", headline=headline,
                level_name=hub.t(hub.settings.default_language, f"warn.level.{level.value}"),
                ready=hub.local(urgent_clip.ready_at).strftime(LOCAL_TIME),
            ):
                told += 1
    return told


async def sweep(hub: Any) -> Swept:
    """One round of watching (the scheduler's `speaker_monitor` job)."""
    now = hub.now()
    async with hub.db.session() as session:
        silent, back = await _offline(session, hub, now)
        missed = await _missed(session, hub, now)
    return Swept(silent, back, missed)


# --- the overview ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    speaker: Speaker
    grid: Grid
    state: str  # "offline", "unseen", "online", "inactive"
    played_today: dict[str, int]


ORDER = {"offline": 0, "unseen": 1, "online": 2, "inactive": 3}


def state_of(speaker: Speaker, now: datetime, offline_minutes: int) -> str:
    if not speaker.active:
        return "inactive"
    if speaker.last_seen_at is None:
        return "unseen"
    return "online" if now - speaker.last_seen_at < timedelta(minutes=offline_minutes) else "offline"


async def overview(
    session: AsyncSession, hub: Any, actor: registry.Actor | None, under: str | None = None,
    *, include_inactive: bool = False,
) -> Sequence[Status]:
    """The speakers the actor may see, offline ones first, each with what it played today."""
    now = hub.now()
    visible = await registry.speakers_in_scope(session, actor, under, active_only=not include_inactive)
    today = timing.local_day_start(now, hub.tz)
    played = await reports.played_since(session, [s.id for s, _ in visible], today)
    found = [
        Status(speaker, grid, state_of(speaker, now, hub.settings.speaker_offline_minutes),
               played.get(speaker.id, {}))
        for speaker, grid in visible
    ]
    return sorted(found, key=lambda s: (ORDER[s.state], s.speaker.code))
