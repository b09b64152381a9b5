"""One sentence to one file, at broadcast loudness: `gridcast audio say`."""

from __future__ import annotations

from pathlib import Path

from audio import tts
from audio.ffmpeg import FORMATS, encode
from audio.loudness import normalise
from audio.segment import trim_silence
from audio.settings import AudioSettings


def say(text: str, lang: str, out: Path, settings: AudioSettings) -> Path:
    """Speak `text` in `lang` into `out`; the format follows the suffix (.mp3, .ogg, .wav).

    The speech is normalised like a clip (target loudness, true-peak ceiling), so a
    sentence tried out here sounds as it will on the loudspeakers. The file appears
    atomically, or not at all. Blocking: use asyncio.to_thread from async code.
    """
    out = Path(out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"{out.name}: the suffix must be one of .{', .'.join(FORMATS)}")
    speech = trim_silence(tts.synthesize(text, lang, settings))
    encode(
        normalise(speech, settings.target_lufs, settings.limiter_ceiling_db),
        {fmt: out},
        settings.mp3_quality,
        settings.opus_bitrate_kbps,
    )
    return out
