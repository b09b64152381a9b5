"""The ffmpeg binary from imageio-ffmpeg: decode anything to PCM, encode PCM once.

There is no ffprobe in that wheel, so what a decode learns about its input (container,
codec, rate, decode errors) is read from ffmpeg's own log, with each line tagged by level
(`-loglevel level+info`) so errors can be told from chatter. Samples travel through pipes
as raw float32; nothing touches the disk except the final, atomically renamed outputs.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from audio.files import atomic_path
from audio.segment import Segment

DECODE_TIMEOUT_S = 120.0
ENCODE_TIMEOUT_S = 300.0

_INPUT_RE = re.compile(r"Input #0, ([\w,]+), from")
_AUDIO_RE = re.compile(r"Stream #0:\d+[^:]*: Audio: (\w+)[^,]*, (\d+) Hz, ([^,]+)")
_ERROR_RE = re.compile(r"\[(error|fatal|panic)\]")
# Complaints of our own raw output muxer (e.g. ffmpeg's duplicate-timestamp notice after
# resampling some Opus files) say nothing about the input, so they are not decode errors.
_OUTPUT_SIDE_RE = re.compile(r"^\[(f32le|out#\d+/f32le) @|to muxer")


class FFmpegError(RuntimeError):
    """ffmpeg could not do what was asked; the message carries its last error lines."""


@cache
def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class Decoded:
    segment: Segment
    container: str | None  # e.g. "ogg", "mp3", "wav", "mov,mp4,m4a,3gp,3g2,mj2"
    codec: str | None  # e.g. "opus", "mp3", "aac", "pcm_s16le"; None: no audio stream
    source_rate: int | None
    channels: str | None  # as ffmpeg names the layout: "mono", "stereo", ...
    errors: tuple[str, ...]  # decoder errors; empty for an intact file


def decode(source: Path | bytes, rate: int, max_seconds: float | None = None) -> Decoded:
    """Decode the first audio stream to mono float32 at `rate`.

    Never raises for bad input: a file with no audio stream comes back with `codec=None`
    and a damaged one with `errors`, so callers decide what is fatal. `max_seconds` stops
    decoding early, which bounds the work an over-long upload can cause.
    """
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "level+info"]
    cmd += ["-i", "pipe:0" if isinstance(source, bytes) else str(source)]
    cmd += ["-map", "0:a:0?", "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(rate)]
    if max_seconds is not None:
        cmd += ["-t", f"{max_seconds:.3f}"]
    cmd += ["-f", "f32le", "pipe:1"]
    try:
        done = subprocess.run(
            cmd,
            input=source if isinstance(source, bytes) else None,
            stdin=None if isinstance(source, bytes) else subprocess.DEVNULL,
            capture_output=True,
            timeout=DECODE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise FFmpegError(f"decoding took longer than {DECODE_TIMEOUT_S:.0f} s") from None
    log = done.stderr.decode("utf-8", "replace")
    container = _INPUT_RE.search(log)
    audio = _AUDIO_RE.search(log)
    errors = [
        line
        for line in log.splitlines()
        if _ERROR_RE.search(line) and not _OUTPUT_SIDE_RE.search(line)
    ]
    if done.returncode != 0 and not errors:
        errors = log.strip().splitlines()[-1:]
    usable = len(done.stdout) // 4 * 4
    samples = np.frombuffer(done.stdout[:usable], dtype="<f4").astype(np.float32)
    return Decoded(
        segment=Segment(samples, rate),
        container=container.group(1) if container else None,
        codec=audio.group(1) if audio else None,
        source_rate=int(audio.group(2)) if audio else None,
        channels=audio.group(3).strip() if audio else None,
        errors=tuple(errors),
    )


def decode_file(path: Path, rate: int) -> Segment:
    """Decode a file that is expected to be good (a stored recording, a cached clip)."""
    decoded = decode(path, rate)
    if decoded.codec is None or decoded.errors or len(decoded.segment.samples) == 0:
        reason = "; ".join(decoded.errors[-2:]) or "no audio stream"
        raise FFmpegError(f"cannot decode {path.name}: {reason}")
    return decoded.segment


FORMATS = ("mp3", "ogg", "wav", "flac")


def _codec_args(fmt: str, rate: int, mp3_quality: int, opus_kbps: int) -> list[str]:
    if fmt == "mp3":
        return ["-c:a", "libmp3lame", "-q:a", str(mp3_quality), "-ar", str(rate), "-f", "mp3"]
    if fmt == "ogg":
        # Opus runs at 48 kHz whatever the input; Telegram plays it as a voice message.
        return ["-c:a", "libopus", "-b:a", f"{opus_kbps}k", "-ar", "48000", "-f", "ogg"]
    if fmt == "wav":
        return ["-c:a", "pcm_s16le", "-ar", str(rate), "-f", "wav"]
    if fmt == "flac":
        return ["-c:a", "flac", "-sample_fmt", "s16", "-ar", str(rate), "-f", "flac"]
    raise ValueError(f"unknown audio format {fmt!r} (one of {', '.join(FORMATS)})")


def encode(
    segment: Segment, targets: dict[str, Path], mp3_quality: int = 4, opus_kbps: int = 32
) -> None:
    """Encode one segment to every target format with a single ffmpeg run.

    One process reads the PCM once and feeds all encoders, which ffmpeg runs in parallel;
    each output is renamed into place only if the whole run succeeded.
    """
    if not targets:
        return
    if len(segment.samples) == 0:
        raise FFmpegError("refusing to encode an empty segment")
    with contextlib.ExitStack() as stack:
        temps = [stack.enter_context(atomic_path(path)) for path in targets.values()]
        cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
        cmd += ["-f", "f32le", "-ar", str(segment.rate), "-ac", "1", "-i", "pipe:0"]
        for (fmt, _), temp in zip(targets.items(), temps, strict=True):
            cmd += ["-map", "0:a", "-map_metadata", "-1", "-ac", "1"]
            cmd += _codec_args(fmt, segment.rate, mp3_quality, opus_kbps)
            cmd.append(str(temp))
        try:
            done = subprocess.run(
                cmd,
                input=segment.samples.astype("<f4").tobytes(),
                capture_output=True,
                timeout=ENCODE_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise FFmpegError(f"encoding took longer than {ENCODE_TIMEOUT_S:.0f} s") from None
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-2:]
            raise FFmpegError(f"encoding failed: {' '.join(tail) or done.returncode}")
