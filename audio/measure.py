"""Listening to a rendered file: length, loudness, true peak, silence at the ends.

The same figures the renderer aims for, read back from the encoded file as a loudspeaker
would play it, so a codec's overshoot or an encoder's padding shows up in the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from audio.ffmpeg import decode_file
from audio.loudness import integrated_lufs, true_peak_db
from audio.segment import SILENCE_DBFS, Segment, edge_silence_s


@dataclass(frozen=True)
class Measurement:
    duration_s: float
    integrated_lufs: float
    true_peak_db: float
    leading_silence_s: float
    trailing_silence_s: float


def measure(
    source: Path | Segment, rate: int = 44100, silence_dbfs: float = SILENCE_DBFS
) -> Measurement:
    """Measure a file (decoded with ffmpeg at `rate`) or PCM already in memory."""
    segment = source if isinstance(source, Segment) else decode_file(Path(source), rate)
    lead, trail = edge_silence_s(segment.samples, segment.rate, silence_dbfs)
    return Measurement(
        duration_s=segment.duration_s,
        integrated_lufs=integrated_lufs(segment),
        true_peak_db=true_peak_db(segment),
        leading_silence_s=lead,
        trailing_silence_s=trail,
    )
