"""Orange and red warnings on the loudspeakers: the policy, the clip, and the hand-over.

`broadcasts.warnings.lifecycle` writes a `speaker_urgent` row per grid of a warning's area
when it sends an orange or red warning, and withdraws them when an Update or a Cancel is sent.
This module turns those rows into something a speaker can play:

- right after the send commits, a background task renders the warning (an attention chime,
  the warning in Mandarin, then the grid's dialect — its approved recording of the
  `urgent-warning` script, or its speech voice — said twice, a closing chime) for each dialect
  its speakers need, off the event loop; the `speaker_urgent_clips` job renders whatever a
  process that stopped early (the CLI) left undone;
- a speaker's schedule shows the item as soon as its clip exists, at once and in quiet hours
  too, repeating per level until the warning expires or is withdrawn;
- a withdrawal marks the area's speakers changed in the same unit of work, so the next poll
  no longer has the item.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.speakers import registry
from broadcasts.speakers.models import Speaker, UrgentClip
from broadcasts.warnings import targeting
from broadcasts.warnings.models import Level, UrgentItem, Warning
from hub.errors import HubError
from hub.models import Grid

log = logging.getLogger(__name__)

# The one policy of urgent items: how they rank (red outranks orange, both outrank anything
# else) and how often they play again until the warning expires or is withdrawn.
RANK = {Level.RED: 4, Level.ORANGE: 3}
REPEAT_SECONDS = {Level.RED: 10 * 60, Level.ORANGE: 30 * 60}

URGENT_SCRIPT = "urgent-warning"  # content/scripts: what a dialect recording of a warning says
ATTENTION_CHIME = "attention"
SPEECH_REPEAT = 2
RENDERS = "speakers.urgent_renders"  # hub.services: the render tasks still running


def speech_text(hub: Any, warning: Warning) -> str:
    """The warning as it is spoken: level, headline, text and instruction, once each."""
    lang = "zh-Hans"
    parts = [warning.headline.rstrip("…")]
    if warning.description.strip() and not warning.description.startswith(parts[0]):
        parts.append(warning.description)
    elif warning.description.strip():
        parts = [warning.description]
    if warning.instruction:
        parts.append(warning.instruction)
    body = "。".join(p.strip().rstrip("。.!！") for p in parts if p.strip())
    return hub.t(lang, "speakers.urgent_speech",
                 level_name=hub.t(lang, f"warn.level.{warning.level.value}"), body=body)


# --- after a send ------------------------------------------------------------------------------


async def render_after_commit(session: AsyncSession, hub: Any, warning: Warning) -> None:
    """Have the warning's clips rendered as soon as its send commits, if it has speakers.

    Called by `lifecycle.send` in its unit of work. Rendering takes seconds, so it runs in a
    task of this process after the commit (never for a send that rolled back), in a thread.
    """
    paths = await targeting.subtree_paths(session, warning.grid_codes)
    listening = await session.scalar(
        select(Speaker.id).where(registry.in_subtrees(paths), Speaker.active.is_(True)).limit(1)
    )
    if listening is None:
        return
    warning_id = warning.id

    def start(_session: object) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop to run it on: the scheduler's job renders it
        task = loop.create_task(_render_logged(hub, warning_id), name=f"urgent-render-{warning_id}")
        running: set[asyncio.Task[Any]] = hub.services.setdefault(RENDERS, set())
        running.add(task)
        task.add_done_callback(running.discard)

    event.listen(session.sync_session, "after_commit", start, once=True)


async def _render_logged(hub: Any, warning_id: int) -> None:
    try:
        await render_pending(hub, warning_id)
    except Exception:  # the scheduler's job tries again; nothing else is waiting on this task
        log.exception("rendering urgent warning %s for the loudspeakers failed", warning_id)


async def settle(hub: Any) -> None:
    """Wait for this process's urgent renders (tests; a command about to exit)."""
    running: set[asyncio.Task[Any]] = hub.services.get(RENDERS, set())
    if running:
        await asyncio.gather(*list(running), return_exceptions=True)


async def withdrawn(session: AsyncSession, warning_id: int) -> None:
    """Called by `lifecycle` when a warning's items are withdrawn (Update or Cancel): the
    area's speakers get a new schedule version, so the next poll no longer carries it."""
    paths = list(await session.scalars(
        select(Grid.path).join(UrgentItem, UrgentItem.grid_id == Grid.id)
        .where(UrgentItem.warning_id == warning_id)
    ))
    if paths:
        await registry.bump(session, registry.in_subtrees(paths))


# --- rendering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    warning: Warning
    dialect: str  # "" for Mandarin only
    paths: tuple[str, ...]  # the area's grid paths


async def pending(session: AsyncSession, now: datetime, warning_id: int | None = None) -> list[Need]:
    """Clips still missing: per warning in force, each dialect its active speakers carry."""
    query = (
        select(UrgentItem.warning_id, Grid.path)
        .join(Grid, Grid.id == UrgentItem.grid_id)
        .where(UrgentItem.withdrawn_at.is_(None), UrgentItem.expires > now)
    )
    if warning_id is not None:
        query = query.where(UrgentItem.warning_id == warning_id)
    areas: dict[int, set[str]] = defaultdict(set)
    for wid, path in (await session.execute(query)).tuples():
        areas[wid].add(path)
    if not areas:
        return []
    table = await registry.dialect_table(session)
    done = set((await session.execute(
        select(UrgentClip.warning_id, UrgentClip.dialect).where(UrgentClip.warning_id.in_(areas))
    )).tuples())
    needs: list[Need] = []
    for wid, paths in sorted(areas.items()):
        speakers = await session.scalars(
            select(Grid.path).join(Speaker, Speaker.grid_id == Grid.id)
            .where(registry.in_subtrees(paths), Speaker.active.is_(True))
        )
        dialects = {registry.dialect_for(path, table) for path in speakers}
        missing = sorted(d for d in dialects if (wid, d) not in done)
        if missing:
            warning = await session.get(Warning, wid)
            assert warning is not None
            needs.extend(Need(warning, d, tuple(sorted(paths))) for d in missing)
    return needs


async def _render(hub: Any, need: Need) -> Any:
    # audio/ (numpy, ffmpeg) is imported when a warning is rendered, not by every process that
    # imports the warnings' lifecycle.
    from audio import library
    from broadcasts.speakers import clips

    known = await library.catalogue(hub)
    dialect = need.dialect if need.dialect in known.dialects else None
    recording: Path | None = None
    version: str | None = None
    if dialect is not None and URGENT_SCRIPT in known.scripts:
        async with hub.db.session() as session:
            take = await library.best_recording(session, URGENT_SCRIPT, dialect)
        if take is not None and (Path(hub.settings.data_dir) / take.path).exists():
            recording = Path(hub.settings.data_dir) / take.path
            version = library.recording_version(take)
    script = clips.speech_script(
        f"warning-{need.warning.id}", speech_text(hub, need.warning),
        chime_in=ATTENTION_CHIME, repeat=SPEECH_REPEAT,
    )
    rendered = await asyncio.to_thread(
        clips.render, script, library.audio_settings(hub), dialect=dialect, recording=recording,
        recording_version=version, dialects=known.dialects,
    )
    return await clips.publish_rendered(hub, rendered)


async def render_pending(hub: Any, warning_id: int | None = None) -> int:
    """Render the missing clips (of one warning, or of all in force); returns how many."""
    from broadcasts.speakers import clips

    async with hub.db.session() as session:
        needs = await pending(session, hub.now(), warning_id)
    made = 0
    for need in needs:
        try:
            published = await _render(hub, need)
        except HubError as error:
            log.error("cannot render warning %s in %s: %s", need.warning.id, need.dialect or "Mandarin", error)
            continue
        async with hub.db.session() as session:
            clip = await clips.store(session, published, f"warning:{need.warning.id}:{need.dialect}",
                                     now=hub.now())
            try:
                async with session.begin_nested():
                    session.add(UrgentClip(warning_id=need.warning.id, dialect=need.dialect,
                                           clip_sha=clip.sha256, ready_at=hub.now().replace(microsecond=0)))
            except IntegrityError:
                continue  # another process rendered it at the same time
            await registry.bump(session, registry.in_subtrees(need.paths))
        made += 1
    return made
