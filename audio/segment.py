"""Mono PCM in memory: the one shape audio takes between decoding and encoding.

Everything in between (speech, recordings, chimes, pauses, the assembled clip) is a float32
numpy array at one sample rate, so joining and measuring never converts formats, and the
only subprocess a render needs is the final encode.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np

# RMS windows for silence decisions: short enough to find the edge of a syllable.
WINDOW_S = 0.010
SILENCE_DBFS = -50.0


@dataclass(frozen=True, eq=False)
class Segment:
    samples: np.ndarray  # float32, mono, nominal range -1..1
    rate: int

    def __post_init__(self) -> None:
        if self.samples.ndim != 1:
            raise ValueError("a Segment is mono: samples must be one-dimensional")
        if self.samples.dtype != np.float32:
            object.__setattr__(self, "samples", self.samples.astype(np.float32))

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate

    def scaled(self, gain_db: float) -> Segment:
        return Segment(self.samples * np.float32(10 ** (gain_db / 20)), self.rate)

    def resampled(self, rate: int) -> Segment:
        if rate == self.rate:
            return self
        # Imported here: scipy.signal is seconds of every process's start, and only audio
        # being decoded or rendered is resampled.
        from scipy.signal import resample_poly

        common = gcd(rate, self.rate)
        out = resample_poly(self.samples, rate // common, self.rate // common)
        return Segment(out.astype(np.float32), rate)


def silence(duration_ms: int, rate: int) -> Segment:
    return Segment(np.zeros(round(rate * duration_ms / 1000), dtype=np.float32), rate)


def concat(parts: list[Segment]) -> Segment:
    if not parts:
        raise ValueError("nothing to join")
    rate = parts[0].rate
    if any(p.rate != rate for p in parts):
        raise ValueError("segments to join must share one sample rate")
    return Segment(np.concatenate([p.samples for p in parts]), rate)


def window_rms_db(samples: np.ndarray, rate: int, window_s: float = WINDOW_S) -> np.ndarray:
    """RMS level of consecutive windows in dBFS (a partial last window counts as one)."""
    size = max(1, round(rate * window_s))
    count = -(-len(samples) // size)
    padded = np.zeros(count * size, dtype=np.float32)
    padded[: len(samples)] = samples
    power = np.mean(np.square(padded.reshape(count, size), dtype=np.float64), axis=1)
    return 10 * np.log10(np.maximum(power, 1e-20))


def edge_silence_s(
    samples: np.ndarray, rate: int, threshold_dbfs: float = SILENCE_DBFS
) -> tuple[float, float]:
    """How long the signal stays below the threshold at its start and at its end."""
    levels = window_rms_db(samples, rate)
    loud = np.flatnonzero(levels > threshold_dbfs)
    total = len(samples) / rate
    if len(loud) == 0:
        return total, total
    size = round(rate * WINDOW_S)
    lead = float(loud[0] * size / rate)
    trail = max(0.0, total - float(loud[-1] + 1) * size / rate)
    return lead, trail


def trim_silence(segment: Segment, relative_db: float = -40.0, pad_ms: int = 20) -> Segment:
    """Cut the quiet before the first and after the last sound, keeping a short pad.

    Engines and people both leave room at the ends (espeak-ng appends a sentence pause, a
    recorder presses the button before speaking); pauses between segments are the clip's
    to set, so each segment arrives without its own. The threshold follows the segment's
    loudest window because a recording's noise floor is not known in advance.
    """
    levels = window_rms_db(segment.samples, segment.rate)
    if len(levels) == 0:
        return segment
    threshold = max(levels.max() + relative_db, SILENCE_DBFS - 20)
    loud = np.flatnonzero(levels > threshold)
    if len(loud) == 0:
        return segment
    size = round(segment.rate * WINDOW_S)
    pad = round(segment.rate * pad_ms / 1000)
    start = max(0, loud[0] * size - pad)
    end = min(len(segment.samples), (loud[-1] + 1) * size + pad)
    return Segment(segment.samples[start:end], segment.rate)


def read_wav(path: Path) -> Segment:
    """A 16-bit PCM WAV as written by `write_wav` (the segment cache's format)."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path.name}: expected 16-bit PCM")
        frames = wav.readframes(wav.getnframes())
        channels, rate = wav.getnchannels(), wav.getframerate()
    data = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1)
    return Segment(data, rate)


def to_int16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")


def write_wav(path: Path, segment: Segment) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(segment.rate)
        wav.writeframes(to_int16(segment.samples).tobytes())
