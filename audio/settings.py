"""What shapes a rendered sound, in one frozen value.

Every field that changes the audio is part of the clip hash (see `sound_fields`), so a
clip rendered under other settings can never be served from the cache by mistake.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.settings import Settings

TTS_ENGINES = ("espeak", "gtts")


@dataclass(frozen=True)
class AudioSettings:
    cache_dir: Path
    tts_engine: str = "espeak"
    target_lufs: float = -16.0
    true_peak_db: float = -1.0
    pause_ms: int = 600
    sample_rate: int = 44100
    gtts_timeout: float = 10.0
    # espeak-ng words per minute: its default of 175 is brisk for a voice carried across a
    # village square by a horn loudspeaker, so announcements go a little slower.
    speech_rate: int = 170
    espeak_timeout: float = 30.0
    # Chimes sit a little under the speech so they announce rather than startle.
    chime_offset_lu: float = -3.0
    # Lossy encoders overshoot the PCM peaks; the limiter leaves this much room for them.
    codec_headroom_db: float = 1.5
    mp3_quality: int = 4
    opus_bitrate_kbps: int = 32

    def __post_init__(self) -> None:
        if self.tts_engine not in TTS_ENGINES:
            raise ValueError(f"tts_engine must be one of {TTS_ENGINES}, not {self.tts_engine!r}")
        if not -40.0 <= self.target_lufs <= -5.0:
            raise ValueError(f"target_lufs {self.target_lufs} is outside -40..-5 LUFS")
        if not -9.0 <= self.true_peak_db <= 0.0:
            raise ValueError(f"true_peak_db {self.true_peak_db} is outside -9..0 dBTP")
        if not 0 <= self.pause_ms <= 10_000:
            raise ValueError(f"pause_ms {self.pause_ms} is outside 0..10000")
        if self.sample_rate not in (22050, 32000, 44100, 48000):
            raise ValueError(f"sample_rate {self.sample_rate} is not 22050/32000/44100/48000")
        if self.gtts_timeout <= 0 or self.espeak_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if not 80 <= self.speech_rate <= 450:
            raise ValueError(f"speech_rate {self.speech_rate} is outside 80..450 words/minute")

    @classmethod
    def of(cls, settings: Settings) -> AudioSettings:
        """The hub's: its engine, and its clip cache (`GRIDCAST_AUDIO_CACHE_DIR`, else in the
        data dir)."""
        return cls.for_data_dir(settings.data_dir, settings.tts_engine, settings.audio_cache_dir)

    @classmethod
    def for_data_dir(
        cls, data_dir: Path, tts_engine: str = "espeak", cache_dir: Path | None = None, **overrides: Any
    ) -> AudioSettings:
        """The settings the hub uses: clips cached in `cache_dir`, by default `<data dir>/audio`."""
        return cls(cache_dir=Path(cache_dir or Path(data_dir) / "audio"), tts_engine=tts_engine, **overrides)

    @property
    def segments_dir(self) -> Path:
        return self.cache_dir / "segments"

    @property
    def limiter_ceiling_db(self) -> float:
        return self.true_peak_db - self.codec_headroom_db

    def sound_fields(self) -> dict[str, Any]:
        """The fields that shape the rendered sound (not where it is kept, nor timeouts)."""
        fields = asdict(self)
        for name in ("cache_dir", "gtts_timeout", "espeak_timeout", "tts_engine"):
            fields.pop(name)
        return fields
