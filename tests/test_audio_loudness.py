"""Loudness, true peak and the limiter on signals whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from audio.loudness import integrated_lufs, limit, normalise, true_peak_db
from audio.segment import Segment, edge_silence_s, trim_silence

RATE = 44100


def _tone(freq: float, seconds: float, amplitude: float, phase: float = 0.0) -> Segment:
    t = np.arange(round(RATE * seconds)) / RATE
    return Segment((amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32), RATE)


def test_true_peak_finds_the_peak_between_samples() -> None:
    # A quarter-sample-rate sine sampled 45 degrees off its crests: every sample sits at
    # 0.707 of a peak that lies between samples.
    tone = _tone(RATE / 4, 1.0, 1.0, phase=np.pi / 4)
    sample_peak = 20 * math.log10(float(np.max(np.abs(tone.samples))))
    assert sample_peak == pytest.approx(-3.01, abs=0.05)
    assert true_peak_db(tone) == pytest.approx(0.0, abs=0.3)


def test_loudness_of_a_reference_tone() -> None:
    # BS.1770: a 997 Hz sine at -20 dBFS peak reads about -23 LUFS on one channel.
    assert integrated_lufs(_tone(997, 2.0, 0.1)) == pytest.approx(-23.0, abs=0.2)
    assert integrated_lufs(Segment(np.zeros(RATE, np.float32), RATE)) == -math.inf
    # Shorter than one 400 ms gating block, still measured.
    assert integrated_lufs(_tone(997, 0.2, 0.1)) == pytest.approx(-23.0, abs=0.3)


def test_limiter_holds_the_ceiling_and_leaves_quiet_parts_alone() -> None:
    quiet, loud = _tone(440, 1.0, 0.1), _tone(440, 1.0, 1.5)
    out = limit(Segment(np.concatenate([quiet.samples, loud.samples]), RATE), -2.0)
    assert true_peak_db(out) <= -2.0 + 0.05
    assert np.allclose(out.samples[: RATE // 2], quiet.samples[: RATE // 2])
    assert limit(quiet, -2.0) is quiet


def test_normalise_reaches_target_under_the_ceiling_even_for_peaky_sound() -> None:
    rng = np.random.default_rng(5)
    clicks = np.zeros(RATE * 3, np.float32)
    clicks[rng.integers(0, len(clicks), 40)] = 0.9  # sharp peaks over a quiet bed
    bed = _tone(300, 3.0, 0.02).samples
    out = normalise(Segment(bed + clicks, RATE), -16.0, -2.0)
    assert integrated_lufs(out) == pytest.approx(-16.0, abs=0.2)
    assert true_peak_db(out) <= -2.0 + 0.1


def test_silence_edges_and_trimming() -> None:
    gap = np.zeros(RATE // 2, np.float32)
    body = _tone(440, 1.0, 0.3).samples
    segment = Segment(np.concatenate([gap, body, gap, gap]), RATE)
    lead, trail = edge_silence_s(segment.samples, RATE)
    assert lead == pytest.approx(0.5, abs=0.011) and trail == pytest.approx(1.0, abs=0.011)
    trimmed = trim_silence(segment, pad_ms=20)
    assert trimmed.duration_s == pytest.approx(1.04, abs=0.021)
