"""Speech for a text: engine chosen per language, fallback chain, per-segment cache.

The chain is gTTS then espeak-ng when GRIDCAST_TTS_ENGINE=gtts, espeak-ng alone otherwise;
espeak-ng is always last because it is bundled and offline. Each result is cached under a
key naming everything that shapes it (engine and its version, voice, spoken text, rate),
so the same sentence in a hundred clips is synthesised once. A segment file is written
only after its engine produced audible speech, and atomically, so a failure never leaves
a broken or empty file that a later render would trust.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio import espeak, gtts_engine
from audio.files import atomic_path
from audio.segment import SILENCE_DBFS, Segment, read_wav, window_rms_db, write_wav
from audio.settings import AudioSettings
from audio.spoken import spoken_text

log = logging.getLogger(__name__)

# Per language: the voice each engine uses.
VOICES: dict[str, dict[str, str]] = {
    "zh": {"espeak": "cmn", "gtts": "zh"},
    "zh-TW": {"espeak": "cmn", "gtts": "zh-TW"},
    "yue": {"espeak": "yue", "gtts": "yue"},
    "en": {"espeak": "en", "gtts": "en"},
}
LANGUAGES = tuple(VOICES)
# After gTTS fails, it is not asked again for this long: offline, every request would
# otherwise cost a failed connection per sentence of every render.
GTTS_RETRY_AFTER_S = 300.0
_MIN_SPEECH_S = 0.15


class TTSError(RuntimeError):
    """No engine in the chain could say the text."""


@dataclass(frozen=True)
class SpeechPlan:
    """Which engine and voice will say a text, and the cache key of the result."""

    text: str  # the spoken form
    lang: str
    engine: str  # "espeak" or "gtts"
    voice: str
    key: str

    @property
    def engine_label(self) -> str:
        return espeak.ENGINE if self.engine == "espeak" else gtts_engine.ENGINE


class _GttsAvailability:
    """Remembers a recent gTTS failure so an offline hub stops asking for a while."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failed_at: float | None = None
        self._reason = ""

    def failed(self, reason: str) -> None:
        with self._lock:
            self._failed_at, self._reason = time.monotonic(), reason

    def down_because(self) -> str | None:
        with self._lock:
            if self._failed_at is None:
                return None
            if time.monotonic() - self._failed_at > GTTS_RETRY_AFTER_S:
                self._failed_at = None
                return None
            return self._reason

    def reset(self) -> None:
        with self._lock:
            self._failed_at, self._reason = None, ""


gtts_availability = _GttsAvailability()


def engine_chain(settings: AudioSettings) -> tuple[str, ...]:
    return ("gtts", "espeak") if settings.tts_engine == "gtts" else ("espeak",)


def _plan_for(engine: str, text: str, lang: str, settings: AudioSettings) -> SpeechPlan:
    voice = VOICES[lang][engine]
    shape: dict[str, object] = {
        "engine": engine,
        "voice": voice,
        "text": text,
        "sample_rate": settings.sample_rate,
    }
    if engine == "espeak":
        shape |= {"version": espeak.library_version(), "rate_wpm": settings.speech_rate}
    digest = hashlib.sha256(json.dumps(shape, ensure_ascii=False, sort_keys=True).encode())
    return SpeechPlan(text, lang, engine, voice, digest.hexdigest()[:32])


def _cache_file(plan: SpeechPlan, settings: AudioSettings) -> Path:
    return settings.segments_dir / f"{plan.engine}-{plan.key}.wav"


def _audible(segment: Segment) -> bool:
    if segment.duration_s < _MIN_SPEECH_S:
        return False
    return bool(np.any(window_rms_db(segment.samples, segment.rate) > SILENCE_DBFS))


def _store(plan: SpeechPlan, segment: Segment, settings: AudioSettings) -> Segment:
    segment = segment.resampled(settings.sample_rate)
    if not _audible(segment):
        raise TTSError(f"{plan.engine_label} produced no audible speech for {plan.text[:30]!r}")
    with atomic_path(_cache_file(plan, settings)) as temp:
        write_wav(temp, segment)
    return segment


def plan(text: str, lang: str, settings: AudioSettings) -> SpeechPlan:
    """Choose the engine that will say `text`, falling back along the chain.

    espeak-ng is deterministic and offline, so choosing it needs no synthesis (that
    happens in `load`); gTTS can only be known to work by asking it, so a gTTS result is
    fetched and cached here, and a failure falls through to the next engine.
    """
    if lang not in VOICES:
        raise TTSError(f"no speech engine for language {lang!r} (one of {', '.join(LANGUAGES)})")
    spoken = spoken_text(text, lang)
    if not spoken:
        raise TTSError("nothing to say: the text is empty")
    chain = engine_chain(settings)
    for position, engine in enumerate(chain):
        candidate = _plan_for(engine, spoken, lang, settings)
        if _cache_file(candidate, settings).exists() or engine == "espeak":
            return candidate
        nxt = chain[position + 1] if position + 1 < len(chain) else None
        down = gtts_availability.down_because()
        if down is not None:
            log.info("gtts skipped (unavailable: %s), using %s", down, _label(nxt))
            continue
        try:
            segment = gtts_engine.synthesize(
                spoken, candidate.voice, settings.sample_rate, settings.gtts_timeout
            )
            _store(candidate, segment, settings)
            return candidate
        except (gtts_engine.GttsError, TTSError) as error:
            gtts_availability.failed(str(error))
            log.warning("gtts unavailable, falling back to %s: %s", _label(nxt), error)
    raise TTSError(f"no engine could say {spoken[:30]!r}")


def _label(engine: str | None) -> str:
    if engine is None:
        return "nothing"
    return espeak.ENGINE if engine == "espeak" else gtts_engine.ENGINE


def load(chosen: SpeechPlan, settings: AudioSettings) -> Segment:
    """The speech for a plan at the settings' sample rate, from the cache or synthesised."""
    path = _cache_file(chosen, settings)
    if path.exists():
        return read_wav(path)
    if chosen.engine != "espeak":
        raise TTSError(f"the {chosen.engine} segment {chosen.key} is no longer cached")
    try:
        raw = espeak.synthesize(
            chosen.text, chosen.voice, settings.speech_rate, settings.espeak_timeout
        )
    except espeak.EspeakError as error:
        raise TTSError(str(error)) from error
    return _store(chosen, raw, settings)


def synthesize(text: str, lang: str, settings: AudioSettings) -> Segment:
    """Speech for `text` in `lang` ("zh" Mandarin, "zh-TW", "yue" Cantonese, "en").

    Safe to call from several threads (asyncio.to_thread); espeak-ng serialises itself.
    """
    return load(plan(text, lang, settings), settings)
