"""What speakers report: heartbeats, and proof of play (断网续播 means plays arrive late, in
batches, and sometimes twice).

A play carries an id its agent made; (speaker, id) is unique, so a batch sent again after a
lost answer counts nothing twice. A play first reported as "playing" may be reported again
with its outcome under the same id: the row is completed, and still counted once.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.speakers import registry, timing
from broadcasts.speakers.models import Play, PlayResult, Speaker
from hub.errors import InvalidInput

MAX_PLAYS = 500


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class LastPlayed(_In):
    item: str = Field(max_length=160)
    started: AwareDatetime


class HeartbeatIn(_In):
    status: Literal["idle", "playing", "offline"]
    version: str = Field(max_length=32)
    free_disk_bytes: int | None = Field(default=None, ge=0)
    clock_offset_seconds: float | None = None
    last_played: LastPlayed | None = None
    playing: str | None = Field(default=None, max_length=160)


class PlayIn(_In):
    id: str = Field(min_length=1, max_length=64)
    item: str = Field(min_length=1, max_length=160)
    clip: str | None = Field(default=None, max_length=64)
    scheduled: AwareDatetime | None = None
    started: AwareDatetime
    ended: AwareDatetime | None = None
    result: PlayResult
    error: str | None = Field(default=None, max_length=2000)


class PlaysIn(_In):
    plays: list[PlayIn] = Field(max_length=MAX_PLAYS)


def _parse(model: type[_In], payload: Any) -> Any:
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "body"
        raise InvalidInput("speakers.api.invalid", field=where, detail=first.get("msg", "invalid")) from None


async def heartbeat(session: AsyncSession, speaker_id: int, payload: Any, *, now: datetime) -> None:
    """Record a speaker's heartbeat: one UPDATE of its row, nothing that changes its schedule."""
    beat: HeartbeatIn = _parse(HeartbeatIn, payload)
    await session.execute(
        update(Speaker).where(Speaker.id == speaker_id).values(
            last_seen_at=now, agent_status=beat.status, agent_version=beat.version,
            free_disk_bytes=beat.free_disk_bytes, clock_offset_seconds=beat.clock_offset_seconds,
            last_played=(
                {"item": beat.last_played.item, "started": timing.iso(beat.last_played.started)}
                if beat.last_played else None
            ),
            playing=beat.playing,
        ).execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class Recorded:
    accepted: int
    duplicates: int


async def record_plays(session: AsyncSession, speaker_id: int, payload: Any, *, now: datetime) -> Recorded:
    """Keep a batch of plays; an id seen before is a duplicate (its outcome may complete a
    "playing" row, nothing more)."""
    batch: PlaysIn = _parse(PlaysIn, payload)
    plays: dict[str, PlayIn] = {}
    for play in batch.plays:
        plays[play.id] = play  # the last word on an id within one batch wins
    known = {
        row.client_id: row for row in await session.scalars(
            select(Play).where(Play.speaker_id == speaker_id, Play.client_id.in_(plays))
        )
    } if plays else {}
    for client_id, row in known.items():
        play = plays[client_id]
        if row.result is PlayResult.PLAYING and play.result is not PlayResult.PLAYING:
            row.result, row.ended, row.error = play.result, play.ended, play.error
    new = [
        {"speaker_id": speaker_id, "client_id": client_id, "item": play.item, "clip": play.clip,
         "scheduled": play.scheduled, "started": play.started, "ended": play.ended,
         "result": play.result, "error": play.error, "received_at": now}
        for client_id, play in plays.items() if client_id not in known
    ]
    accepted = 0
    if new:
        # A concurrent resend of the same batch may insert first: "do nothing" then, not fail.
        insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        inserted = await session.execute(
            insert(Play).values(new)
            .on_conflict_do_nothing(index_elements=["speaker_id", "client_id"])
            .returning(Play.client_id)
        )
        accepted = len(inserted.all())
    return Recorded(accepted, len(batch.plays) - accepted)


# --- the proof-of-play log -------------------------------------------------------------------


@dataclass(frozen=True)
class PlayRow:
    speaker: str
    grid: str
    item: str
    scheduled: datetime | None
    started: datetime
    ended: datetime | None
    result: str
    error: str | None

    def as_dict(self, tz: Any) -> dict[str, Any]:
        def local(when: datetime | None) -> str | None:
            return when.astimezone(tz).isoformat(timespec="seconds") if when else None

        return {"speaker": self.speaker, "grid": self.grid, "item": self.item,
                "scheduled": local(self.scheduled), "started": local(self.started),
                "ended": local(self.ended), "result": self.result, "error": self.error}


async def log_rows(
    session: AsyncSession, actor: registry.Actor | None, *, since: datetime | None = None,
    under: str | None = None,
) -> list[PlayRow]:
    """The plays of the speakers the actor may see, oldest first."""
    visible = await registry.speakers_in_scope(session, actor, under)
    ids = {speaker.id: (speaker.code, grid.code) for speaker, grid in visible}
    if not ids:
        return []
    query = select(Play).where(Play.speaker_id.in_(ids)).order_by(Play.started, Play.id)
    if since is not None:
        query = query.where(Play.started >= since)
    return [
        PlayRow(*ids[p.speaker_id], p.item, p.scheduled, p.started, p.ended, p.result.value, p.error)
        for p in await session.scalars(query)
    ]


FIELDS = ("speaker", "grid", "item", "scheduled", "started", "ended", "result", "error")


def export(rows: list[PlayRow], fmt: Literal["csv", "json"], tz: Any) -> bytes:
    records = [row.as_dict(tz) for row in rows]
    if fmt == "json":
        return (json.dumps(records, ensure_ascii=False, indent=1) + "\n").encode()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode("utf-8-sig")


async def played_since(session: AsyncSession, speaker_ids: list[int], since: datetime) -> dict[int, dict[str, int]]:
    """Per speaker, how many plays of each kind it reported since `since`, and how many failed."""
    counts: dict[int, dict[str, int]] = {}
    if not speaker_ids:
        return counts
    rows = await session.execute(
        select(Play.speaker_id, Play.item, Play.result)
        .where(Play.speaker_id.in_(speaker_ids), Play.started >= since)
    )
    for speaker_id, item, result in rows.tuples():
        tally = counts.setdefault(speaker_id, {})
        key = "failed" if result is PlayResult.FAILED else item.split(":", 1)[0]
        tally[key] = tally.get(key, 0) + 1
    return counts

