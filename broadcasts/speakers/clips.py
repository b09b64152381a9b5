"""Clips as speakers fetch them: named by the SHA-256 of their bytes, kept in one folder.

audio/ names a rendered clip by what shaped it (so a second render is a lookup); a speaker
needs the name of what it downloads (so it can check the bytes before it ever plays them, and
so a name never changes its content). `publish` bridges the two: it hashes the MP3 a render
made and places it, with the Ogg/Opus of the same sound, under `<data dir>/speaker_clips/` as
`<sha256>.mp3` and `<sha256>.ogg`. Files there are never rewritten, only added, which is what
lets `/audio/…` answer with a year's cache lifetime.

All the blocking work (rendering, hashing, copying) runs in threads, from the scheduler or
from staff's commands; a speaker's poll only reads rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from audio.files import atomic_path
from broadcasts.speakers.models import Clip
from hub.errors import InvalidInput

if TYPE_CHECKING:  # audio's numpy and ffmpeg are imported by the functions that make sound,
    # so the web process, which only serves clips, starts without them
    from audio.assembly import RenderedClip
    from audio.scripts import Script
    from audio.settings import AudioSettings

CLIPS_DIR = "speaker_clips"
NAME_RE = re.compile(r"\A([0-9a-f]{64})\.(mp3|ogg)\Z")
TITLE_CHARS = 60
MAX_TEXT = 1000


@dataclass(frozen=True)
class Published:
    sha256: str
    bytes: int
    ogg_bytes: int | None
    duration_s: float


def store_dir(data_dir: Path) -> Path:
    return Path(data_dir) / CLIPS_DIR


def file_for(data_dir: Path, name: str) -> Path | None:
    """The stored file a clip name stands for; None for anything that is not a clip name
    (so `../`, other suffixes and upper-case hashes never reach the file system)."""
    if not NAME_RE.match(name):
        return None
    return store_dir(data_dir) / name


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _place(source: Path, target: Path) -> int:
    if not target.exists():
        with atomic_path(target) as temp:
            shutil.copyfile(source, temp)
    return target.stat().st_size


def publish(data_dir: Path, paths: Mapping[str, Path], duration_s: float) -> Published:
    """Put a rendered clip's MP3 (and Ogg) in the store under the MP3's hash. Blocking."""
    folder = store_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    sha = _sha256(paths["mp3"])
    size = _place(paths["mp3"], folder / f"{sha}.mp3")
    ogg = _place(paths["ogg"], folder / f"{sha}.ogg") if "ogg" in paths else None
    return Published(sha, size, ogg, round(duration_s, 3))


async def publish_rendered(hub: Any, rendered: RenderedClip) -> Published:
    return await asyncio.to_thread(publish, hub.settings.data_dir, rendered.paths, rendered.duration_s)


async def store(session: AsyncSession, published: Published, source: str, *, now: datetime) -> Clip:
    """The clip's row, added unless another render got there first."""
    clip = await session.get(Clip, published.sha256)
    if clip is not None:
        return clip
    clip = Clip(sha256=published.sha256, bytes=published.bytes, ogg_bytes=published.ogg_bytes,
                duration_s=published.duration_s, source=source[:200], created_at=now)
    try:
        async with session.begin_nested():
            session.add(clip)
    except IntegrityError:
        found = await session.get(Clip, published.sha256)
        assert found is not None
        return found
    return clip


def title_of(text: str) -> str:
    first = " ".join(text.split())
    return first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1] + "…"


def speech_script(
    script_id: str, text: str, *, chime_in: str | None = "ding-dong-in",
    chime_out: str | None = "ding-dong-out", repeat: int = 1,
) -> Script:
    """A one-off script for text that is not in content/scripts (an announcement, a warning)."""
    from audio.scripts import Script

    text = text.strip()
    if not text:
        raise InvalidInput("speakers.empty_text")
    if len(text) > MAX_TEXT:
        raise InvalidInput("speakers.text_too_long", limit=MAX_TEXT, length=len(text))
    return Script(id=script_id, title=title_of(text), mandarin=text, repeat=repeat,
                  chime_in=chime_in, chime_out=chime_out)


def render(script: Script, settings: AudioSettings, **kwargs: Any) -> RenderedClip:
    """render_script, with an engine's or encoder's failure as the caller's refusal. Blocking."""
    from audio.assembly import render_script
    from audio.ffmpeg import FFmpegError
    from audio.tts import TTSError

    try:
        return render_script(script, settings, **kwargs)
    except (TTSError, FFmpegError) as error:
        raise InvalidInput("speakers.render_failed", detail=str(error)) from None


def import_file(data: bytes, hint: str | None, settings: AudioSettings, data_dir: Path) -> Published:
    """An audio file staff give (MP3, OGG, WAV, M4A…), checked like a recording, brought to
    broadcast loudness and published. Blocking."""
    from audio.ffmpeg import FFmpegError, decode_file, encode
    from audio.loudness import normalise
    from audio.recordings import RecordingRejected, keep_recording

    with tempfile.TemporaryDirectory(prefix="gridcast-clip-") as folder:
        try:
            stored, _ = keep_recording(data, Path(folder) / "checked", hint)
            sound = normalise(decode_file(stored.path, settings.sample_rate),
                              settings.target_lufs, settings.limiter_ceiling_db)
            out = {"mp3": Path(folder) / "clip.mp3", "ogg": Path(folder) / "clip.ogg"}
            encode(sound, out, settings.mp3_quality, settings.opus_bitrate_kbps)
        except RecordingRejected as refused:
            raise InvalidInput(f"record.rejected_{refused.reason_code}", **refused.params) from None
        except FFmpegError as error:
            raise InvalidInput("speakers.render_failed", detail=str(error)) from None
        return publish(data_dir, out, sound.duration_s)
