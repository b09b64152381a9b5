"""A schedule as speakers read it: the pull contract's JSON, and the M3U playlist.

The JSON of the items a village's speakers share is written once per version and reused for
each of them (only the head — the speaker's id, its volume, the time — is theirs), so a change
that sends a hundred speakers a new schedule costs one serialisation.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from broadcasts.speakers import timing
from broadcasts.speakers.directory import Entry
from broadcasts.speakers.schedule import ClipRef, Item, Schedule, parts_of
from hub.settings import Settings


def _clip_json(clip: ClipRef, base_url: str) -> dict[str, Any]:
    return {
        "name": f"{clip.sha256}.mp3", "url": f"{base_url}/audio/{clip.sha256}.mp3",
        "sha256": clip.sha256, "bytes": clip.bytes, "duration_seconds": clip.duration_s,
    }


def _item_json(item: Item, base_url: str) -> dict[str, Any]:
    return {
        "id": item.id, "kind": item.kind, "priority": item.priority, "level": item.level,
        "rank": item.rank, "start": timing.iso(item.start), "end": timing.iso(item.end),
        "repeat_seconds": item.repeat_seconds, "interrupt": item.interrupt, "title": item.title,
        "clip": _clip_json(item.clip, base_url),
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def items_json(items: tuple[Item, ...], settings: Settings) -> str:
    return _dumps([_item_json(item, settings.public_url) for item in items])


def body(code: str, volume: int, horizon_until: datetime, items: str, settings: Settings, now: datetime) -> str:
    """The schedule document (every time ISO 8601 UTC with "Z"), around items already written."""
    head = _dumps({
        "speaker": code,
        "generated_at": timing.iso(now),
        "horizon_until": timing.iso(horizon_until),
        "poll_seconds": settings.speaker_poll_seconds,
        "timezone": settings.timezone,
        "volume": volume,
    })
    return f'{head[:-1]},"items":{items}}}'


def document(schedule: Schedule, settings: Settings, now: datetime) -> dict[str, Any]:
    """The schedule as the pull contract's JSON, as a value (for the CLI and tests)."""
    text = body(schedule.speaker, schedule.volume, schedule.horizon_until,
                items_json(schedule.items, settings), settings, now)
    return json.loads(text)


async def answer(hub: Any, speaker: Entry, now: datetime) -> tuple[int, str]:
    """The version and the JSON text of `speaker`'s schedule: what a 200 carries."""
    made = await parts_of(hub, speaker, now)
    if made.personal:
        items = items_json(made.items(), hub.settings)
    else:
        if made.shared.rendered is None:
            made.shared.rendered = items_json(made.shared.items, hub.settings)
        items = made.shared.rendered
    return made.version, body(made.code, made.volume, made.until, items, hub.settings, now)


def playlist(schedule: Schedule, settings: Settings) -> str:
    """The schedule as an extended M3U playlist, in start order."""
    lines = ["#EXTM3U"]
    for item in schedule.items:
        title = " ".join(item.title.split())
        lines.append(f"#EXTINF:{round(item.clip.duration_s)},{title}")
        lines.append(f"{settings.public_url}/audio/{item.clip.sha256}.mp3")
    return "\n".join(lines) + "\n"
