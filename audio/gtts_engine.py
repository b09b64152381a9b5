"""gTTS: Google Translate's speech, online only, bounded by a hard deadline.

Google is unreachable from mainland China and from offline sites, so this engine is only
ever a first choice with espeak-ng behind it. gTTS's own timeout covers each HTTP read but
not name resolution or its retries, so the whole request runs in a daemon thread that is
abandoned at the deadline; its result is written to memory, never to a file, so an
abandoned or failed request leaves nothing behind.
"""

from __future__ import annotations

import io
import threading

from gtts import gTTS

from audio.ffmpeg import decode
from audio.segment import Segment

ENGINE = "gtts"


class GttsError(RuntimeError):
    """gTTS gave no usable speech: no network, refused, timed out or undecodable."""


def fetch_mp3(text: str, lang: str, timeout: float) -> bytes:
    """The MP3 that Google returns for `text` (network I/O, may hang or raise)."""
    buffer = io.BytesIO()
    gTTS(text, lang=lang, timeout=timeout).write_to_fp(buffer)
    return buffer.getvalue()


def synthesize(text: str, lang: str, rate: int, timeout: float) -> Segment:
    """Speech for `text` in a gTTS language ("zh-CN", "zh-TW", "yue", "en") at `rate`."""
    result: dict[str, bytes | BaseException] = {}

    def run() -> None:
        try:
            result["mp3"] = fetch_mp3(text, lang, timeout)
        except BaseException as error:  # reported to the caller below, whatever it is
            result["error"] = error

    worker = threading.Thread(target=run, name="gtts-request", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise GttsError(f"no answer within {timeout:g} s")
    error = result.get("error")
    if isinstance(error, BaseException):
        raise GttsError(f"{type(error).__name__}: {error}") from error
    mp3 = result.get("mp3")
    if not isinstance(mp3, bytes) or not mp3:
        raise GttsError("empty answer")
    decoded = decode(mp3, rate)
    if decoded.codec is None or decoded.errors or len(decoded.segment.samples) == 0:
        raise GttsError("the answer is not playable MP3")
    return decoded.segment
