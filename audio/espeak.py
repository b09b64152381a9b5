"""espeak-ng through ctypes, from the espeakng-loader wheel: offline speech, in-process.

The wheel's libespeak-ng 1.52 speaks Mandarin (`cmn`) and Cantonese (`yue`) correctly where
Debian's older CLI does not, and calling the library avoids a process per sentence. The
library keeps one global state (voice, parameters, callback), so every call holds a
process-wide lock; a synthesis may run in any thread, e.g. under asyncio.to_thread.
"""

from __future__ import annotations

import ctypes
import threading
import time
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version

import espeakng_loader
import numpy as np

from audio.segment import Segment

ENGINE = "espeak-ng"

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3
_BUFFER_MS = 200
_EE_OK = 0

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class EspeakError(RuntimeError):
    """espeak-ng could not say the text (no library, unknown voice, timeout, no sound)."""


@dataclass
class _Job:
    chunks: list[bytes]
    deadline: float
    timed_out: bool = False


class _Library:
    """The loaded library, its sample rate and the single callback it calls back into."""

    def __init__(self) -> None:
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS,
            _BUFFER_MS,
            espeakng_loader.get_data_path().encode(),
            _INITIALIZE_DONT_EXIT,
        )
        if rate <= 0:
            raise EspeakError(f"espeak-ng failed to initialise (code {rate})")
        self.lib = lib
        self.rate = rate
        self.job: _Job | None = None
        # Kept on the instance: ctypes does not hold a reference for the C side.
        self.callback = _SynthCallback(self._collect)
        lib.espeak_SetSynthCallback(self.callback)

    def _collect(self, wav: ctypes.POINTER(ctypes.c_short), count: int, _events: int) -> int:  # type: ignore[valid-type]
        job = self.job
        if job is None:
            return 1
        if time.monotonic() > job.deadline:
            job.timed_out = True
            return 1  # tells espeak-ng to stop synthesising
        if count > 0 and wav:
            job.chunks.append(ctypes.string_at(wav, count * 2))
        return 0


_lock = threading.Lock()
_library: _Library | None = None


def _loaded() -> _Library:
    global _library
    if _library is None:
        try:
            _library = _Library()
        except OSError as error:
            raise EspeakError(f"cannot load libespeak-ng: {error}") from None
    return _library


def synthesize(text: str, voice: str, rate_wpm: int = 150, timeout: float = 30.0) -> Segment:
    """Speak `text` with an espeak-ng voice (e.g. "cmn", "yue", "en") at its native rate.

    The timeout covers waiting for the lock as well as synthesis; synthesis is stopped
    from inside the audio callback when it runs out, so a pathological text cannot hold
    the library for ever.
    """
    deadline = time.monotonic() + timeout
    if not _lock.acquire(timeout=timeout):
        raise EspeakError(f"espeak-ng busy for more than {timeout:g} s")
    try:
        library = _loaded()
        lib = library.lib
        if lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
            raise EspeakError(f"espeak-ng has no voice {voice!r}")
        lib.espeak_SetParameter(_PARAM_RATE, rate_wpm, 0)
        lib.espeak_SetParameter(_PARAM_PITCH, 50, 0)
        job = _Job(chunks=[], deadline=deadline)
        library.job = job
        data = text.encode("utf-8") + b"\0"
        try:
            status = lib.espeak_Synth(
                data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
        finally:
            library.job = None
        if job.timed_out:
            raise EspeakError(f"espeak-ng took longer than {timeout:g} s")
        if status != _EE_OK:
            raise EspeakError(f"espeak-ng failed (code {status})")
        pcm = np.frombuffer(b"".join(job.chunks), dtype="<i2")
        return Segment(pcm.astype(np.float32) / 32768.0, library.rate)
    finally:
        _lock.release()


@cache
def library_version() -> str:
    """Part of every espeak segment's cache key: another library build sounds different."""
    try:
        return f"espeakng-loader {version('espeakng-loader')}"
    except PackageNotFoundError:
        return "espeakng-loader unknown"
