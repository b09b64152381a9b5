"""Speech engines: espeak-ng offline, gTTS with its fallback, the segment cache, `say`."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from audio import espeak, gtts_engine, tts
from audio.say import say
from audio.segment import Segment, trim_silence
from audio.settings import AudioSettings
from audio.spoken import spoken_text
from tests.audio_measure import RATE, VOICE_LIKE, active_fraction, decode, ebur128, make_audio

NOTICE = "请注意防火安全"


@pytest.fixture(autouse=True)
def _gtts_fresh() -> None:
    """Each test starts without a remembered gTTS failure."""
    tts.gtts_availability.reset()


@pytest.fixture
def settings(tmp_path: Path) -> AudioSettings:
    return AudioSettings(cache_dir=tmp_path / "cache", gtts_timeout=2.0)


def _cached(settings: AudioSettings) -> list[str]:
    return (
        sorted(p.name for p in settings.segments_dir.glob("*"))
        if settings.segments_dir.exists()
        else []
    )


def test_espeak_mandarin_is_speech_of_plausible_length(settings: AudioSettings) -> None:
    speech = trim_silence(tts.synthesize(NOTICE, "zh", settings))
    assert speech.rate == RATE
    # Seven syllables: about a third of a second each at the configured rate.
    assert 1.0 < speech.duration_s < 4.0
    assert active_fraction(speech.samples, 0, speech.duration_s) > 0.6
    triple = trim_silence(tts.synthesize("，".join([NOTICE] * 3), "zh", settings))
    assert 2.5 * speech.duration_s < triple.duration_s < 3.8 * speech.duration_s


def test_cantonese_voice_differs_from_mandarin(settings: AudioSettings) -> None:
    mandarin = tts.synthesize(NOTICE, "zh", settings)
    cantonese = tts.synthesize(NOTICE, "yue", settings)
    assert active_fraction(cantonese.samples, 0, cantonese.duration_s) > 0.4
    same_length = len(mandarin.samples) == len(cantonese.samples)
    assert not (same_length and np.allclose(mandarin.samples, cantonese.samples))


def test_segment_cache_reuses_the_synthesis(
    settings: AudioSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tts.synthesize(NOTICE, "zh", settings)
    assert len(_cached(settings)) == 1

    def no_engine(*_: object, **__: object) -> Segment:
        raise AssertionError("espeak-ng called for a cached sentence")

    monkeypatch.setattr(espeak, "synthesize", no_engine)
    again = tts.synthesize(NOTICE, "zh", settings)
    assert np.allclose(first.samples, again.samples, atol=1 / 32768)
    slower = AudioSettings(cache_dir=settings.cache_dir, speech_rate=120)
    assert tts.plan(NOTICE, "zh", slower).key != tts.plan(NOTICE, "zh", settings).key


def test_espeak_is_safe_from_several_threads(tmp_path: Path) -> None:
    """Concurrent syntheses each get their own sentence, whole and unmixed.

    espeak-ng's output length jitters between identical runs by a few 10 ms blocks (seen
    up to ~25 ms), so comparing lengths within 2% failed now and then on the shortest
    sentence. Interleaved callbacks would add or lose whole sentences' worth of audio, so
    each result must be within 80 ms of its own sentence and nearer to it than to any other.
    """
    texts = [NOTICE, "台风来了，请注意安全", "不要在楼道里给电动车充电", "发现火情请拨打119"]
    rate = AudioSettings(cache_dir=tmp_path).speech_rate
    expected = [
        espeak.synthesize(spoken_text(t, "zh"), "cmn", rate).resampled(22050).duration_s
        for t in texts
    ]
    gaps = [abs(a - b) for i, a in enumerate(expected) for b in expected[i + 1 :]]
    assert min(gaps) > 0.2  # the sentences are told apart by length
    results: dict[int, float] = {}
    errors: list[BaseException] = []

    def speak(index: int) -> None:
        own = AudioSettings(cache_dir=tmp_path / f"c{index}")
        text = texts[index % len(texts)]
        try:
            results[index] = tts.load(tts.plan(text, "zh", own), own).resampled(22050).duration_s
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=speak, args=(i,)) for i in range(2 * len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and sorted(results) == list(range(len(threads)))
    for index, duration in results.items():
        own = expected[index % len(texts)]
        assert duration == pytest.approx(own, abs=0.08), (index, duration, expected)
        nearest = min(range(len(texts)), key=lambda i: abs(expected[i] - duration))
        assert nearest == index % len(texts)


def test_gtts_offline_falls_back_to_espeak_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = AudioSettings(cache_dir=tmp_path / "cache", tts_engine="gtts", gtts_timeout=2.0)
    caplog.set_level(logging.INFO, logger="audio.tts")
    started = time.monotonic()
    speech = tts.synthesize(NOTICE, "zh", settings)
    assert time.monotonic() - started < 2.5  # fails fast: the machine has no network
    assert speech.duration_s > 1.0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].getMessage().startswith("gtts unavailable, falling back to espeak-ng: ")
    assert _cached(settings) == [f"espeak-{tts.plan(NOTICE, 'zh', settings).key}.wav"]


def test_gtts_that_hangs_is_abandoned_at_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def hang(text: str, lang: str, timeout: float) -> bytes:
        calls.append(lang)
        time.sleep(3)
        return b""

    monkeypatch.setattr(gtts_engine, "fetch_mp3", hang)
    settings = AudioSettings(cache_dir=tmp_path / "cache", tts_engine="gtts", gtts_timeout=0.3)
    caplog.set_level(logging.INFO, logger="audio.tts")
    started = time.monotonic()
    tts.synthesize(NOTICE, "yue", settings)
    assert time.monotonic() - started < 1.5
    assert calls == ["yue"]
    assert "no answer within 0.3 s" in caplog.text
    # Remembered: the next sentence goes straight to espeak-ng without another wait.
    tts.synthesize("台风来了", "yue", settings)
    assert calls == ["yue"]
    assert "gtts skipped" in caplog.text


def test_gtts_garbage_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gtts_engine, "fetch_mp3", lambda *_: b"<html>captcha</html>")
    settings = AudioSettings(cache_dir=tmp_path / "cache", tts_engine="gtts")
    tts.synthesize(NOTICE, "zh", settings)
    names = _cached(settings)
    assert len(names) == 1 and names[0].startswith("espeak-")


def test_gtts_answer_is_used_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mp3 = make_audio(tmp_path / "g.mp3", VOICE_LIKE, 1.5, "-c:a", "libmp3lame")
    asked: list[tuple[str, str]] = []

    def answer(text: str, lang: str, timeout: float) -> bytes:
        asked.append((text, lang))
        return mp3

    monkeypatch.setattr(gtts_engine, "fetch_mp3", answer)
    settings = AudioSettings(cache_dir=tmp_path / "cache", tts_engine="gtts")
    chosen = tts.plan("有火情请拨打119", "zh", settings)
    assert chosen.engine == "gtts" and chosen.engine_label == "gtts"
    assert asked == [("有火情请拨打幺幺九", "zh")]
    speech = tts.load(chosen, settings)
    assert abs(speech.duration_s - 1.5) < 0.1
    assert tts.plan("有火情请拨打119", "zh", settings) == chosen
    assert len(asked) == 1


def test_silent_engine_output_is_an_error_and_not_cached(
    settings: AudioSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        espeak, "synthesize", lambda *_a, **_k: Segment(np.zeros(22050, np.float32), 22050)
    )
    with pytest.raises(tts.TTSError, match="no audible speech"):
        tts.synthesize(NOTICE, "zh", settings)
    assert _cached(settings) == []


def test_unknown_language_and_empty_text_are_refused(settings: AudioSettings) -> None:
    with pytest.raises(tts.TTSError, match="language 'fr'"):
        tts.synthesize(NOTICE, "fr", settings)
    with pytest.raises(tts.TTSError, match="empty"):
        tts.synthesize("  \n ", "zh", settings)


def test_emergency_numbers_are_spoken_digit_by_digit() -> None:
    assert spoken_text("发现火情请拨打119", "zh") == "发现火情请拨打幺幺九"
    assert spoken_text("打119報警", "yue") == "打一一九報警"
    assert (
        spoken_text("举报电话12350，面积1190平方米", "zh") == "举报电话幺二三五零，面积1190平方米"
    )
    assert spoken_text("call 119", "en") == "call 119"
    assert spoken_text("第一行\n  第二行", "zh") == "第一行 第二行"


@pytest.mark.parametrize("suffix", ["mp3", "ogg"])
def test_say_writes_the_format_at_target_loudness(settings: AudioSettings, suffix: str) -> None:
    out = say(
        "各位居民请注意，秋冬季节天干物燥，请注意防火安全",
        "zh",
        settings.cache_dir / f"x.{suffix}",
        settings,
    )
    assert out.exists()
    r128 = ebur128(out)
    assert abs(r128.integrated_lufs - settings.target_lufs) <= 1.0
    assert r128.true_peak_db <= settings.true_peak_db
    samples = decode(out)
    assert active_fraction(samples, 0, len(samples) / RATE) > 0.6


def test_say_refuses_an_unknown_suffix_and_writes_nothing(settings: AudioSettings) -> None:
    target = settings.cache_dir / "x.txt"
    with pytest.raises(ValueError, match="suffix"):
        say(NOTICE, "zh", target, settings)
    assert not target.exists()
