"""Loudness (ITU-R BS.1770 via pyloudnorm), true peak, and a true-peak limiter in numpy.

Normalising here rather than in ffmpeg's `loudnorm` is both exact and fast: the gain is
measured, not estimated by a dynamic one-pass filter, and only the blocks whose sample
peaks come near the ceiling are oversampled to find their inter-sample peaks.
"""

from __future__ import annotations

import math
import warnings
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from audio.segment import Segment

if TYPE_CHECKING:
    import pyloudnorm

# pyloudnorm and scipy are imported where they are used: they take nearly as long to import as
# all the rest of the bot, which loads this module for recordings but measures audio only when
# a recording or a render arrives.

OVERSAMPLE = 4
_BLOCK = 4096
_PAD = 32  # samples of context each side of a block, more than the interpolator's reach
# Inter-sample peaks of band-limited audio stay well within this of the sample peaks, so
# blocks quieter than (ceiling - margin) cannot reach the ceiling and are not oversampled.
_CANDIDATE_MARGIN_DB = 3.0
_LIMITER_HOLD_S = 0.008


@cache
def _meter(rate: int) -> pyloudnorm.Meter:
    import pyloudnorm

    return pyloudnorm.Meter(rate)


def integrated_lufs(segment: Segment) -> float:
    """Integrated loudness in LUFS; -inf for silence.

    BS.1770 gates in 400 ms blocks, so a shorter sound (a chime note) is measured by
    repeating it, which leaves its loudness as a steady signal unchanged.
    """
    samples = segment.samples
    if len(samples) == 0 or not np.any(samples):
        return -math.inf
    block = round(0.4 * segment.rate) + 1
    if len(samples) < block:
        samples = np.tile(samples, -(-block // len(samples)))
    with warnings.catch_warnings(), np.errstate(divide="ignore"):
        warnings.simplefilter("ignore")
        return float(_meter(segment.rate).integrated_loudness(samples))


def _oversampled_peaks(samples: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per original sample, the largest magnitude among its oversampled points.

    The chosen blocks are interpolated together as rows of one array: a single vectorised
    resample_poly call instead of a Python loop over blocks.
    """
    from scipy.signal import resample_poly

    padded = np.zeros(len(samples) + 2 * _PAD + _BLOCK, dtype=np.float32)
    padded[_PAD : _PAD + len(samples)] = samples
    index = starts[:, None] + np.arange(_BLOCK + 2 * _PAD)[None, :]
    frames = padded[index]
    up = resample_poly(frames, OVERSAMPLE, 1, axis=1)
    up = up[:, _PAD * OVERSAMPLE : (_PAD + _BLOCK) * OVERSAMPLE]
    return np.abs(up).reshape(len(starts), _BLOCK, OVERSAMPLE).max(axis=2)


def peak_envelope(samples: np.ndarray, floor: float) -> np.ndarray:
    """|x| per sample, raised to the true (inter-sample) peak wherever |x| comes near `floor`.

    `floor` is a linear level below which exact inter-sample peaks do not matter.
    """
    envelope = np.abs(samples).astype(np.float32)
    count = -(-len(samples) // _BLOCK)
    if count == 0:
        return envelope
    block_peaks = np.zeros(count * _BLOCK, dtype=np.float32)
    block_peaks[: len(samples)] = envelope
    block_peaks = block_peaks.reshape(count, _BLOCK).max(axis=1)
    chosen = np.flatnonzero(block_peaks >= floor * 10 ** (-_CANDIDATE_MARGIN_DB / 20))
    if len(chosen) == 0:
        return envelope
    starts = chosen * _BLOCK
    peaks = _oversampled_peaks(samples, starts)
    for row, start in zip(peaks, starts, strict=True):
        end = min(start + _BLOCK, len(samples))
        np.maximum(envelope[start:end], row[: end - start], out=envelope[start:end])
    return envelope


def true_peak_db(segment: Segment) -> float:
    """True peak in dBTP (4x oversampling, as BS.1770 annex 2); -inf for silence."""
    if len(segment.samples) == 0:
        return -math.inf
    sample_peak = float(np.max(np.abs(segment.samples)))
    if sample_peak == 0.0:
        return -math.inf
    peak = float(peak_envelope(segment.samples, sample_peak).max())
    return 20 * math.log10(peak)


def _limiter_gain(envelope: np.ndarray, ceiling: float, rate: int) -> np.ndarray | None:
    """The smooth gain that keeps `envelope` under `ceiling`; None when none is needed.

    The gain each sample needs is spread by a minimum filter (the look-ahead and hold)
    and then smoothed by a moving average no wider than that spread, so the smoothed gain
    is never above what any sample needs: no peak escapes, and the gain has no steps.
    """
    if len(envelope) == 0 or envelope.max() <= ceiling:
        return None
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    need = np.minimum(1.0, ceiling / np.maximum(envelope, 1e-12)).astype(np.float32)
    hold = max(1, round(rate * _LIMITER_HOLD_S))
    gain = minimum_filter1d(need, size=2 * hold + 1, mode="nearest")
    gain = uniform_filter1d(gain, size=hold + 1 if hold % 2 == 0 else hold, mode="nearest")
    return np.minimum(gain, need)


def limit(segment: Segment, ceiling_db: float) -> Segment:
    """Bring every true peak down to `ceiling_db` with a smooth, look-ahead gain."""
    ceiling = 10 ** (ceiling_db / 20)
    gain = _limiter_gain(peak_envelope(segment.samples, ceiling), ceiling, segment.rate)
    if gain is None:
        return segment
    return Segment(segment.samples * gain, segment.rate)


def match_loudness(segment: Segment, target_lufs: float) -> Segment:
    """Plain gain to `target_lufs` (peaks are left to the limiter of the whole clip)."""
    loudness = integrated_lufs(segment)
    if not math.isfinite(loudness):
        return segment
    return segment.scaled(target_lufs - loudness)


def normalise(
    segment: Segment, target_lufs: float, ceiling_db: float, tolerance_lu: float = 0.1
) -> Segment:
    """Gain to `target_lufs` with true peaks limited to `ceiling_db`.

    Limiting takes a little loudness away, so the gain is raised until the limited result
    meets the target. The oversampled peak envelope is computed once, for the signal as
    given; each round only rescales it, so a round costs a filter and a loudness reading.
    """
    loudness = integrated_lufs(segment)
    if not math.isfinite(loudness):
        return segment
    ceiling = 10 ** (ceiling_db / 20)
    gain_db = target_lufs - loudness
    # Later rounds may add a few dB of make-up gain: look for peaks that far down too.
    floor = ceiling * 10 ** (-(gain_db + 6.0) / 20)
    envelope = peak_envelope(segment.samples, floor)
    out = segment
    previous: tuple[float, float] | None = None  # (gain_db, loudness) of the last round
    for _ in range(6):
        scale = np.float32(10 ** (gain_db / 20))
        limiter = _limiter_gain(envelope * scale, ceiling, segment.rate)
        samples = segment.samples * scale
        if limiter is not None:
            samples *= limiter
        out = Segment(samples, segment.rate)
        measured = integrated_lufs(out)
        miss = target_lufs - measured
        if abs(miss) <= tolerance_lu:
            break
        # Limiting makes loudness grow slower than gain; the slope seen between two
        # rounds (a secant step) reaches the target in fewer rounds than adding the miss.
        slope = 1.0
        if previous is not None and gain_db != previous[0]:
            slope = min(1.0, max(0.2, (measured - previous[1]) / (gain_db - previous[0])))
        previous = (gain_db, measured)
        gain_db += miss / slope
    return out
