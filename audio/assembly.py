"""A loudspeaker clip from a script: chime, Mandarin, dialect, repeat, chime, with pauses.

The clip's file name is a hash of everything that shapes its sound (texts, engines and
voices, recording versions, chime definitions, loudness and encoder settings), so the hash
is known before any audio is produced: a second render of the same thing is a lookup, and
a clip served to a loudspeaker never changes under its name. Each part is normalised on
its own (a quiet recording must not vanish beside synthetic speech), then the whole clip
is brought to the target loudness under the true-peak ceiling and encoded once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from audio import tts
from audio.chimes import Chime, load_chime, synthesize_chime
from audio.ffmpeg import FORMATS, decode_file, encode
from audio.files import atomic_write_bytes
from audio.loudness import match_loudness, normalise
from audio.scripts import Dialect, Script, load_dialects
from audio.segment import Segment, concat, silence, trim_silence
from audio.settings import AudioSettings

log = logging.getLogger(__name__)

# Bump when the assembly itself changes how a clip sounds, to retire every cached clip.
ASSEMBLY_VERSION = 1


@dataclass(frozen=True)
class SegmentSpan:
    """Where one part sits in the rendered clip (seconds from its start)."""

    kind: str  # "chime_in", "mandarin", "dialect", "chime_out"
    source: str  # chime id, speech engine ("espeak-ng", "gtts") or "recording"
    start_s: float
    end_s: float


@dataclass(frozen=True)
class RenderedClip:
    clip_hash: str
    paths: dict[str, Path]  # format ("mp3", "ogg") -> file in the cache dir
    duration_s: float
    cache_hit: bool
    segments: tuple[SegmentSpan, ...]
    # "recording", "speech", "mandarin" (the dialect fell back to Mandarin only) or None
    # when no dialect was asked for.
    dialect_source: str | None


@dataclass(frozen=True)
class _Part:
    kind: str
    source: str
    key: tuple[str, ...]  # what makes this part sound as it does
    chime: Chime | None = None
    speech: tts.SpeechPlan | None = None
    recording: Path | None = None


@cache
def _shipped_dialects() -> dict[str, Dialect]:
    return load_dialects()


@cache
def _shipped_chime(chime_id: str) -> Chime:
    return load_chime(chime_id)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _speech_part(kind: str, text: str, lang: str, settings: AudioSettings) -> _Part:
    chosen = tts.plan(text, lang, settings)
    return _Part(kind, chosen.engine_label, ("speech", chosen.engine, chosen.key), speech=chosen)


def _dialect_part(
    script: Script,
    settings: AudioSettings,
    dialect: str,
    dialects: Mapping[str, Dialect],
    recording: Path | None,
    recording_version: str | None,
) -> tuple[_Part | None, str]:
    if dialect not in dialects:
        raise ValueError(f"unknown dialect {dialect!r} (known: {', '.join(sorted(dialects))})")
    if recording is not None:
        version = recording_version or _file_digest(recording)
        return _Part(
            "dialect", "recording", ("recording", version), recording=recording
        ), "recording"
    voice = dialects[dialect].voice
    if voice is not None:
        # Without a dialect text, the voice reads the Mandarin text in its own
        # pronunciation, as a Cantonese announcer reads standard written Chinese.
        text = script.speech_text_for(dialect) or script.mandarin
        return _speech_part("dialect", text, voice, settings), "speech"
    log.info("no recording of %s in %s yet: Mandarin only", script.id, dialect)
    return None, "mandarin"


def _sequence(
    script: Script,
    settings: AudioSettings,
    dialect: str | None,
    dialects: Mapping[str, Dialect],
    recording: Path | None,
    recording_version: str | None,
) -> tuple[list[_Part], str | None]:
    mandarin = _speech_part("mandarin", script.mandarin, "zh", settings)
    source: str | None = None
    spoken_dialect: _Part | None = None
    if dialect is not None:
        spoken_dialect, source = _dialect_part(
            script, settings, dialect, dialects, recording, recording_version
        )
    body = [mandarin] + ([spoken_dialect] if spoken_dialect else [])
    parts: list[_Part] = []
    if script.chime_in:
        chime = _shipped_chime(script.chime_in)
        parts.append(_Part("chime_in", chime.id, ("chime", chime.digest), chime=chime))
    parts += body * script.repeat
    if script.chime_out:
        chime = _shipped_chime(script.chime_out)
        parts.append(_Part("chime_out", chime.id, ("chime", chime.digest), chime=chime))
    return parts, source


def clip_hash(parts: Sequence[_Part], pause_ms: int, settings: AudioSettings) -> str:
    shape = {
        "version": ASSEMBLY_VERSION,
        "settings": settings.sound_fields(),
        "pause_ms": pause_ms,
        "parts": [[part.kind, *part.key] for part in parts],
    }
    encoded = json.dumps(shape, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()[:32]


def _part_audio(part: _Part, settings: AudioSettings) -> Segment:
    rate = settings.sample_rate
    if part.chime is not None:
        sound = synthesize_chime(part.chime, rate)
        return match_loudness(sound, settings.target_lufs + settings.chime_offset_lu)
    if part.speech is not None:
        sound = trim_silence(tts.load(part.speech, settings))
    elif part.recording is not None:
        sound = trim_silence(decode_file(part.recording, rate))
    else:
        raise AssertionError(f"part {part.kind} has nothing to play")
    return match_loudness(sound, settings.target_lufs)


def _assemble(
    parts: Sequence[_Part], pause_ms: int, settings: AudioSettings
) -> tuple[Segment, tuple[SegmentSpan, ...]]:
    rendered: dict[tuple[str, ...], Segment] = {}
    pieces: list[Segment] = []
    spans: list[SegmentSpan] = []
    gap = silence(pause_ms, settings.sample_rate)
    cursor = 0
    for index, part in enumerate(parts):
        if part.key not in rendered:
            rendered[part.key] = _part_audio(part, settings)
        sound = rendered[part.key]
        if index:
            pieces.append(gap)
            cursor += len(gap.samples)
        start = cursor
        pieces.append(sound)
        cursor += len(sound.samples)
        spans.append(
            SegmentSpan(
                part.kind, part.source, start / settings.sample_rate, cursor / settings.sample_rate
            )
        )
    clip = normalise(concat(pieces), settings.target_lufs, settings.limiter_ceiling_db)
    return clip, tuple(spans)


def _clip_paths(digest: str, formats: Sequence[str], settings: AudioSettings) -> dict[str, Path]:
    return {fmt: settings.cache_dir / f"{digest}.{fmt}" for fmt in formats}


def _read_meta(path: Path) -> dict[str, object] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _prepare(
    script: Script,
    settings: AudioSettings,
    dialect: str | None,
    recording: Path | None,
    recording_version: str | None,
    dialects: Mapping[str, Dialect] | None,
) -> tuple[list[_Part], str | None, int, str]:
    if recording is not None and dialect is None:
        raise ValueError("a recording needs the dialect it is in")
    dialects = dialects if dialects is not None else _shipped_dialects()
    pause_ms = script.pause_ms if script.pause_ms is not None else settings.pause_ms
    parts, source = _sequence(script, settings, dialect, dialects, recording, recording_version)
    return parts, source, pause_ms, clip_hash(parts, pause_ms, settings)


def clip_name(
    script: Script,
    settings: AudioSettings,
    dialect: str | None = None,
    recording: Path | None = None,
    recording_version: str | None = None,
    dialects: Mapping[str, Dialect] | None = None,
) -> str:
    """The hash `render_script` would name this clip by, without rendering it.

    With GRIDCAST_TTS_ENGINE=gtts this may fetch speech, because which engine will speak
    (and so what the clip sounds like) is only known once gTTS has answered or failed.
    """
    return _prepare(script, settings, dialect, recording, recording_version, dialects)[3]


def render_script(
    script: Script,
    settings: AudioSettings,
    dialect: str | None = None,
    recording: Path | None = None,
    recording_version: str | None = None,
    formats: Sequence[str] = ("mp3", "ogg"),
    dialects: Mapping[str, Dialect] | None = None,
) -> RenderedClip:
    """Render `script` (with `dialect` from `recording`, or spoken, or Mandarin only).

    `recording` is an approved recording of this script in this dialect and
    `recording_version` its content hash (computed from the file when not given). Files
    are `<clip_hash>.<format>` in the cache dir, beside `<clip_hash>.json` describing
    them. Blocking: call it through asyncio.to_thread from async code.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats must be some of {', '.join(FORMATS)}, got {list(formats)}")
    parts, source, pause_ms, digest = _prepare(
        script, settings, dialect, recording, recording_version, dialects
    )
    paths = _clip_paths(digest, formats, settings)
    meta_path = settings.cache_dir / f"{digest}.json"
    meta = _read_meta(meta_path)
    if meta is not None and all(p.exists() for p in paths.values()):
        return RenderedClip(
            clip_hash=digest,
            paths=paths,
            duration_s=float(meta["duration_s"]),  # type: ignore[arg-type]
            cache_hit=True,
            segments=tuple(SegmentSpan(**s) for s in meta["segments"]),  # type: ignore[attr-defined]
            dialect_source=source,
        )
    clip, spans = _assemble(parts, pause_ms, settings)
    missing = {fmt: path for fmt, path in paths.items() if not path.exists()}
    encode(clip, missing, settings.mp3_quality, settings.opus_bitrate_kbps)
    record = {
        "script": script.id,
        "dialect": dialect,
        "dialect_source": source,
        "duration_s": clip.duration_s,
        "segments": [asdict(s) for s in spans],
    }
    atomic_write_bytes(meta_path, json.dumps(record, ensure_ascii=False, indent=1).encode())
    log.info(
        "rendered %s (%s, %.1f s) as %s", script.id, dialect or "Mandarin", clip.duration_s, digest
    )
    return RenderedClip(digest, paths, clip.duration_s, False, spans, source)
