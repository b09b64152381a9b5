"""Clip assembly, listened to: length, loudness, true peak, ends, every part audible, cache."""

from __future__ import annotations

import hashlib
import time
import wave
from pathlib import Path

import pytest

from audio import assembly, espeak
from audio.assembly import RenderedClip, clip_name, render_script
from audio.measure import measure
from audio.recordings import store_recording
from audio.scripts import DialectText, Script
from audio.settings import AudioSettings
from tests.audio_measure import VOICE_LIKE, active_fraction, decode, ebur128, make_audio, rms_db

SHORT = Script(
    id="test-short",
    title="测试",
    mandarin="请注意防火安全。",
    repeat=2,
    dialects={
        "cantonese": DialectText(text="請小心火燭。"),
        "putian": DialectText(reading="注意防火"),
    },
)
PAUSE_S = 0.6


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="module")
def settings(cache: Path) -> AudioSettings:
    return AudioSettings(cache_dir=cache, pause_ms=int(PAUSE_S * 1000))


@pytest.fixture(scope="module")
def spoken(settings: AudioSettings) -> tuple[RenderedClip, float]:
    """Mandarin and Cantonese speech, twice, between the chimes; and how long it took."""
    started = time.perf_counter()
    clip = render_script(SHORT, settings, dialect="cantonese")
    return clip, time.perf_counter() - started


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("rec")
    data = make_audio(folder / "voice.ogg", VOICE_LIKE, 2.5, "-c:a", "libopus", "-b:a", "32k")
    stored = store_recording(data, folder / "store", "voice.ogg")
    return stored.content_hash, stored.path


@pytest.mark.parametrize("fmt", ["mp3", "ogg"])
def test_clip_meets_loudness_peak_and_length(
    spoken: tuple[RenderedClip, float], settings: AudioSettings, fmt: str
) -> None:
    clip, _ = spoken
    path = clip.paths[fmt]
    assert path == settings.cache_dir / f"{clip.clip_hash}.{fmt}"
    r128 = ebur128(path)  # ffmpeg's meter, not ours
    assert abs(r128.integrated_lufs - settings.target_lufs) <= 1.0
    assert r128.true_peak_db <= settings.true_peak_db
    ours = measure(path)
    assert abs(ours.integrated_lufs - settings.target_lufs) <= 1.0
    assert ours.true_peak_db <= settings.true_peak_db
    assert abs(ours.duration_s - clip.duration_s) < 0.08
    assert ours.leading_silence_s <= PAUSE_S + 0.05
    assert ours.trailing_silence_s <= PAUSE_S + 0.05


def test_every_part_is_audible_and_the_pauses_are_quiet(spoken: tuple[RenderedClip, float]) -> None:
    clip, _ = spoken
    kinds = [s.kind for s in clip.segments]
    assert kinds == ["chime_in", "mandarin", "dialect", "mandarin", "dialect", "chime_out"]
    assert [s.source for s in clip.segments][1:3] == [espeak.ENGINE, espeak.ENGINE]
    assert clip.dialect_source == "speech"
    samples = decode(clip.paths["mp3"])
    for span in clip.segments:
        assert span.end_s - span.start_s > 0.5
        assert rms_db(samples, span.start_s, span.end_s) > -30, span
        if span.kind in ("mandarin", "dialect"):
            assert active_fraction(samples, span.start_s, span.end_s) > 0.6, span
    for before, after in zip(clip.segments, clip.segments[1:], strict=False):
        assert after.start_s - before.end_s == pytest.approx(PAUSE_S, abs=0.002)
        # The middle of each pause, clear of codec smear at its edges.
        assert rms_db(samples, before.end_s + 0.15, after.start_s - 0.15) < -55
    assert clip.segments[-1].end_s == pytest.approx(clip.duration_s)


def test_second_render_is_a_cache_hit(
    spoken: tuple[RenderedClip, float], settings: AudioSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip, _ = spoken
    before = {p: p.stat().st_mtime_ns for p in clip.paths.values()}

    def no_work(*_: object, **__: object) -> None:
        raise AssertionError("a cache hit must neither synthesise, assemble nor encode")

    # How fast a hit is belongs to bench/audio_render.py; here: that it does no work.
    for name in ("_assemble", "encode"):
        monkeypatch.setattr(assembly, name, no_work)
    monkeypatch.setattr(espeak, "synthesize", no_work)
    again = render_script(SHORT, settings, dialect="cantonese")
    assert again.cache_hit and not clip.cache_hit
    assert again.clip_hash == clip.clip_hash and again.paths == clip.paths
    assert again.segments == clip.segments and again.duration_s == clip.duration_s
    assert {p: p.stat().st_mtime_ns for p in again.paths.values()} == before
    assert not list(settings.cache_dir.glob(".*"))  # no temporary files left behind


def test_everything_that_shapes_the_sound_changes_the_name(
    settings: AudioSettings, recording: tuple[str, Path]
) -> None:
    version, path = recording
    base = clip_name(SHORT, settings, "putian", path, version)
    assert clip_name(SHORT, settings, "putian", path, version) == base
    assert clip_name(SHORT, settings, "putian", path, "another-version") != base
    assert (
        clip_name(
            SHORT.model_copy(update={"mandarin": "请注意用电安全。"}),
            settings,
            "putian",
            path,
            version,
        )
        != base
    )
    assert (
        clip_name(SHORT.model_copy(update={"repeat": 1}), settings, "putian", path, version) != base
    )
    assert clip_name(SHORT, settings) != base
    assert clip_name(SHORT, settings, "cantonese") != clip_name(SHORT, settings)
    louder = AudioSettings(cache_dir=settings.cache_dir, target_lufs=-14.0)
    assert clip_name(SHORT, louder, "putian", path, version) != base
    slower = AudioSettings(cache_dir=settings.cache_dir, speech_rate=140)
    assert clip_name(SHORT, slower, "putian", path, version) != base
    elsewhere = AudioSettings(cache_dir=settings.cache_dir / "other", pause_ms=settings.pause_ms)
    assert clip_name(SHORT, elsewhere, "putian", path, version) == base
    # Without a version, the file's own hash is the version.
    own = hashlib.sha256(path.read_bytes()).hexdigest()
    assert clip_name(SHORT, settings, "putian", path) == clip_name(
        SHORT, settings, "putian", path, own
    )


def test_recording_is_the_dialect_part(
    settings: AudioSettings, recording: tuple[str, Path]
) -> None:
    version, path = recording
    script = SHORT.model_copy(update={"repeat": 1})
    clip = render_script(script, settings, "putian", path, version, formats=("mp3",))
    assert clip.dialect_source == "recording"
    assert [s.kind for s in clip.segments] == ["chime_in", "mandarin", "dialect", "chime_out"]
    dialect = clip.segments[2]
    assert dialect.source == "recording"
    assert dialect.end_s - dialect.start_s == pytest.approx(2.5, abs=0.1)
    samples = decode(clip.paths["mp3"])
    assert active_fraction(samples, dialect.start_s, dialect.end_s) > 0.9
    assert abs(ebur128(clip.paths["mp3"]).integrated_lufs - settings.target_lufs) <= 1.0
    assert not (settings.cache_dir / f"{clip.clip_hash}.ogg").exists()


def test_dialect_without_recording_or_voice_falls_back_to_mandarin(settings: AudioSettings) -> None:
    script = SHORT.model_copy(update={"repeat": 1})
    clip = render_script(script, settings, "putian", formats=("mp3",))
    assert clip.dialect_source == "mandarin"
    assert [s.kind for s in clip.segments] == ["chime_in", "mandarin", "chime_out"]
    assert clip.clip_hash == clip_name(script, settings)  # the same sound as Mandarin only


def test_bad_requests_are_refused(settings: AudioSettings, recording: tuple[str, Path]) -> None:
    with pytest.raises(ValueError, match="unknown dialect 'klingon'"):
        render_script(SHORT, settings, "klingon")
    with pytest.raises(ValueError, match="needs the dialect"):
        render_script(SHORT, settings, None, recording[1])
    with pytest.raises(ValueError, match="formats"):
        render_script(SHORT, settings, formats=("aiff",))


def test_sample_rate_setting_is_honoured(tmp_path: Path) -> None:
    settings = AudioSettings(cache_dir=tmp_path, sample_rate=22050, pause_ms=300)
    script = SHORT.model_copy(update={"repeat": 1, "chime_out": None})
    clip = render_script(script, settings, formats=("wav",))
    assert [s.kind for s in clip.segments] == ["chime_in", "mandarin"]
    with wave.open(str(clip.paths["wav"])) as wav:
        assert wav.getframerate() == 22050
        assert wav.getnframes() / 22050 == pytest.approx(clip.duration_s, abs=0.01)
