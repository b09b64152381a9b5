"""Dialect recordings: check an upload, then keep a normalised copy by content hash.

Most dialects (Puxian, Minnan, Hakka, ...) have no usable speech engine, so grid workers
record them, usually as Telegram voice messages (OGG/Opus) or phone files (M4A, MP3, WAV).
An upload is refused, with a reason code a transport can translate, when it is not audio,
is damaged, is too long for a loudspeaker slot, holds only silence, or is badly clipped;
a refusal says why so the worker can record again instead of guessing.
"""

from __future__ import annotations

import hashlib
import math
import mimetypes
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from audio.ffmpeg import decode, encode
from audio.loudness import integrated_lufs, normalise, true_peak_db
from audio.segment import Segment, window_rms_db

MAX_SECONDS = 300.0
MIN_SECONDS = 0.5
# Samples at (or, after lossy coding, beyond) full scale: 1% of them is audible distortion.
CLIPPED_FRACTION = 0.01
_FULL_SCALE = 0.999
# Nothing in the recording rises above this: a pocket, a muted microphone.
SILENCE_DBFS = -45.0
DECODE_RATE = 44100
STORE_LUFS = -16.0
STORE_CEILING_DB = -2.0

REASONS = ("empty", "not_audio", "corrupt", "too_long", "too_short", "silence", "clipped")

_MIME_SUFFIXES = {
    "audio/ogg": ".ogg",
    "audio/opus": ".opus",
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/m4a": ".m4a",
    "audio/aac": ".aac",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/flac": ".flac",
    "audio/webm": ".webm",
    "audio/amr": ".amr",
}


class RecordingRejected(Exception):
    """An upload that cannot become a recording; `reason_code` is one of REASONS.

    `params` carries the figures behind the reason (e.g. the limit in minutes, the share
    of clipped samples) so a transport can say it in the uploader's language.
    """

    def __init__(self, reason_code: str, message: str, **params: object) -> None:
        if reason_code not in REASONS:
            raise ValueError(f"unknown reason code {reason_code!r}")
        self.reason_code = reason_code
        self.message = message
        self.params = params
        super().__init__(f"{reason_code}: {message}")


@dataclass(frozen=True)
class RecordingInfo:
    duration_s: float
    lufs: float  # integrated loudness as uploaded
    peak: float  # sample peak, dBFS
    true_peak_db: float
    sample_rate: int  # of the upload
    container: str
    codec: str
    channels: str
    clipped_fraction: float


class StoredRecording(NamedTuple):
    content_hash: str  # sha256 of the uploaded bytes: the recording's version
    path: Path  # the normalised FLAC


def _suffix(filename_or_mime: str | None) -> str:
    """A file suffix for the upload, which helps ffmpeg's probing of headerless formats."""
    if not filename_or_mime:
        return ".bin"
    hint = filename_or_mime.strip().lower()
    if "/" in hint and "." not in hint.rsplit("/", 1)[-1]:
        mime = hint.split(";", 1)[0].strip()
        suffix = _MIME_SUFFIXES.get(mime) or mimetypes.guess_extension(mime) or ".bin"
    else:
        suffix = Path(hint).suffix or ".bin"
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ".bin"


def _examine(data: bytes, filename_or_mime: str | None) -> tuple[Segment, RecordingInfo]:
    if not data:
        raise RecordingRejected("empty", "the upload is empty")
    with tempfile.TemporaryDirectory(prefix="gridcast-rec-") as folder:
        # A file, not a pipe: M4A from phones keeps its index at the end, which ffmpeg
        # can only reach by seeking.
        upload = Path(folder) / f"upload{_suffix(filename_or_mime)}"
        upload.write_bytes(data)
        decoded = decode(upload, DECODE_RATE, max_seconds=MAX_SECONDS + 1.0)
    if decoded.codec is None:
        raise RecordingRejected("not_audio", "this is not an audio file (no sound track found)")
    samples = decoded.segment.samples
    if decoded.errors:
        raise RecordingRejected(
            "corrupt", f"the {decoded.codec} data is damaged: {decoded.errors[0].split('] ')[-1]}"
        )
    if len(samples) == 0:
        raise RecordingRejected(
            "corrupt", f"no sound could be decoded from the {decoded.codec} data"
        )
    duration = decoded.segment.duration_s
    if duration > MAX_SECONDS:
        raise RecordingRejected(
            "too_long",
            f"longer than {MAX_SECONDS / 60:.0f} minutes; please record a shorter version",
            minutes=round(MAX_SECONDS / 60),
        )
    if duration < MIN_SECONDS:
        raise RecordingRejected(
            "too_short", f"only {duration:.1f} s long", seconds=round(duration, 1)
        )
    levels = window_rms_db(samples, DECODE_RATE)
    if levels.max() < SILENCE_DBFS:
        raise RecordingRejected("silence", "nothing can be heard in this recording")
    clipped = float(np.mean(np.abs(samples) >= _FULL_SCALE))
    if clipped > CLIPPED_FRACTION:
        raise RecordingRejected(
            "clipped",
            f"{clipped:.1%} of the recording is distorted (too loud); "
            "please hold the phone further away and record again",
            percent=round(clipped * 100, 1),
        )
    peak = float(np.max(np.abs(samples)))
    info = RecordingInfo(
        duration_s=duration,
        lufs=integrated_lufs(decoded.segment),
        peak=20 * math.log10(peak) if peak > 0 else -math.inf,
        true_peak_db=true_peak_db(decoded.segment),
        sample_rate=decoded.source_rate or DECODE_RATE,
        container=decoded.container or "unknown",
        codec=decoded.codec,
        channels=decoded.channels or "unknown",
        clipped_fraction=clipped,
    )
    return decoded.segment, info


def validate_recording(data: bytes, filename_or_mime: str | None = None) -> RecordingInfo:
    """What the upload holds, or RecordingRejected with the reason it cannot be used.

    Blocking (runs ffmpeg): call it through asyncio.to_thread from async code.
    """
    return _examine(data, filename_or_mime)[1]


def store_recording(
    data: bytes, recordings_dir: Path, filename_or_mime: str | None = None
) -> StoredRecording:
    """Check the upload and keep it as `<sha256>.flac`, loudness-normalised, mono 44.1 kHz.

    The name is the hash of the uploaded bytes, so storing the same upload twice is a
    no-op and the hash doubles as the version a rendered clip's name depends on. The file
    appears atomically. Raises RecordingRejected like validate_recording.
    """
    content_hash = hashlib.sha256(data).hexdigest()
    path = Path(recordings_dir) / f"{content_hash}.flac"
    if path.exists():
        return StoredRecording(content_hash, path)
    return keep_recording(data, recordings_dir, filename_or_mime)[0]


def keep_recording(
    data: bytes, recordings_dir: Path, filename_or_mime: str | None = None
) -> tuple[StoredRecording, RecordingInfo]:
    """Like store_recording, and also what the upload holds (one decode for both).

    The library records the duration and loudness of every recording it keeps, so it
    examines the upload even when the same bytes are already stored.
    """
    content_hash = hashlib.sha256(data).hexdigest()
    path = Path(recordings_dir) / f"{content_hash}.flac"
    segment, info = _examine(data, filename_or_mime)
    if not path.exists():
        encode(normalise(segment, STORE_LUFS, STORE_CEILING_DB), {"flac": path})
    return StoredRecording(content_hash, path), info
