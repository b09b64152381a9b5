"""Listening helpers for the audio tests, independent of the code under test.

Loudness and true peak are read with ffmpeg's own EBU R128 meter (`ebur128=peak=true`),
a separate implementation from the pyloudnorm + numpy path the renderer uses, so a test
cannot pass merely because the renderer agrees with itself. Test inputs are generated
with ffmpeg's signal sources: nothing binary is committed.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
RATE = 44100


@dataclass(frozen=True)
class R128:
    integrated_lufs: float
    true_peak_db: float


def ebur128(path: Path) -> R128:
    """Integrated loudness and true peak as ffmpeg's ebur128 filter reports them."""
    done = subprocess.run(
        [
            FFMPEG,
            "-nostdin",
            "-hide_banner",
            "-i",
            str(path),
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    log = done.stderr.decode("utf-8", "replace")
    summary = log[log.rindex("Summary:") :]
    integrated = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    assert integrated and peak, summary
    return R128(float(integrated.group(1)), float(peak.group(1)))


def decode(path: Path, rate: int = RATE) -> np.ndarray:
    """Mono float32 samples of a file, straight from ffmpeg."""
    done = subprocess.run(
        [
            FFMPEG,
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(path),
            "-ac",
            "1",
            "-ar",
            str(rate),
            "-f",
            "f32le",
            "-",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return np.frombuffer(done.stdout, dtype="<f4")


def rms_db(
    samples: np.ndarray, start_s: float = 0.0, end_s: float | None = None, rate: int = RATE
) -> float:
    part = samples[int(start_s * rate) : None if end_s is None else int(end_s * rate)]
    if len(part) == 0:
        return -np.inf
    return float(10 * np.log10(np.mean(np.square(part, dtype=np.float64)) + 1e-20))


def active_fraction(
    samples: np.ndarray, start_s: float, end_s: float, threshold_db: float = -45.0, rate: int = RATE
) -> float:
    """Share of 20 ms windows between start and end whose level is above the threshold."""
    part = samples[int(start_s * rate) : int(end_s * rate)]
    size = int(0.02 * rate)
    count = len(part) // size
    if count == 0:
        return 0.0
    windows = part[: count * size].reshape(count, size).astype(np.float64)
    levels = 10 * np.log10(np.mean(windows**2, axis=1) + 1e-20)
    return float(np.mean(levels > threshold_db))


def make_audio(path: Path, source: str, seconds: float, *codec_args: str) -> bytes:
    """Render an ffmpeg lavfi source expression to `path` and return the file's bytes."""
    subprocess.run(
        [
            FFMPEG,
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            source,
            "-t",
            f"{seconds}",
            *codec_args,
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path.read_bytes()


# A voice-like test signal: a 220 Hz tone with harmonics, rising and falling four times a
# second like syllables, at a speaking level.
VOICE_LIKE = (
    "aevalsrc='0.3*(sin(2*PI*220*t)+0.5*sin(2*PI*440*t)+0.25*sin(2*PI*660*t))"
    "*(0.6+0.4*sin(2*PI*4*t))':s=44100:c=mono"
)
