"""Chimes described in content/chimes/*.yaml and synthesised with numpy.

No binary audio is committed: a chime is a few notes (frequency, length, decay, gap) with
a shared set of harmonics, which is small enough to review in a diff and cheap enough to
render on demand. Synthesised chimes are kept in memory per definition and sample rate.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from audio.segment import Segment
from hub import content
from hub.errors import ContentError

_ATTACK_S = 0.004
_RELEASE_S = 0.030


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    frequency_hz: float = Field(gt=50, lt=8000)
    duration_ms: int = Field(ge=40, le=5000)
    decay_ms: int = Field(ge=10, le=10_000)
    gap_ms: int = Field(default=0, ge=-5000, le=5000)

    @model_validator(mode="after")
    def _overlap(self) -> Note:
        if -self.gap_ms >= self.duration_ms:
            raise ValueError("a negative gap_ms must be shorter than the note")
        return self


class Chime(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,59}$")
    title: str = Field(min_length=1)
    partials: tuple[float, ...] = Field(default=(1.0,), min_length=1, max_length=12)
    notes: tuple[Note, ...] = Field(min_length=1, max_length=16)

    @property
    def digest(self) -> str:
        """What the chime sounds like, for the clip hash (titles and comments excluded)."""
        shape = {"partials": self.partials, "notes": [n.model_dump() for n in self.notes]}
        return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]


def load_chime(chime_id: str, directory: Path | None = None) -> Chime:
    """content/chimes/<id>.yaml, the county's file of that name, or the one in `directory`."""
    path = content.file(f"chimes/{chime_id}.yaml", directory)
    if not path.exists():
        raise ContentError(f"{content.shown(path)}: no such chime")
    doc = content.read(path)
    chime = doc.validate(Chime)
    if chime.id != chime_id:
        raise doc.error("id", f"{chime.id!r} differs from the file name {chime_id!r}", "id")
    return chime


def _note(note: Note, partials: tuple[float, ...], rate: int) -> np.ndarray:
    length = round(rate * note.duration_ms / 1000)
    t = np.arange(length, dtype=np.float64) / rate
    tone = np.zeros(length)
    nyquist = rate / 2
    for number, amplitude in enumerate(partials, start=1):
        if note.frequency_hz * number < nyquist:
            tone += amplitude * np.sin(2 * np.pi * note.frequency_hz * number * t)
    envelope = np.exp(-t / (note.decay_ms / 1000))
    envelope *= np.minimum(1.0, t / _ATTACK_S)
    release = min(length, round(rate * _RELEASE_S))
    envelope[length - release :] *= 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, release))
    return tone * envelope


@lru_cache(maxsize=32)
def _render(chime: Chime, rate: int) -> np.ndarray:
    starts: list[int] = []
    cursor = 0
    for note in chime.notes:
        starts.append(cursor)
        cursor += round(rate * (note.duration_ms + note.gap_ms) / 1000)
    end = max(
        s + round(rate * n.duration_ms / 1000) for s, n in zip(starts, chime.notes, strict=True)
    )
    mix = np.zeros(end)
    for start, note in zip(starts, chime.notes, strict=True):
        sound = _note(note, chime.partials, rate)
        mix[start : start + len(sound)] += sound
    peak = np.max(np.abs(mix))
    mix = mix / peak * 0.5 if peak > 0 else mix
    out = mix.astype(np.float32)
    out.setflags(write=False)
    return out


def synthesize_chime(chime: Chime, rate: int) -> Segment:
    """The chime's sound; its level is set later by loudness normalisation."""
    return Segment(_render(chime, rate), rate)
