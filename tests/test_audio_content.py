"""Scripts, dialects and chimes in content/: what ships is valid, and mistakes are named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from audio.chimes import load_chime, synthesize_chime
from audio.loudness import integrated_lufs
from audio.scripts import load_dialects, load_scripts
from audio.spoken import spoken_text
from hub.errors import ContentError

TOPICS = {
    "autumn-winter-fire",
    "qingming-no-burning",
    "ebike-charging",
    "flood-season",
    "typhoon",
    "gas-safety",
    "safety-month-june",
    "fire-day-119",
}


def test_shipped_scripts_cover_the_season_topics() -> None:
    scripts = load_scripts()
    assert set(scripts) >= TOPICS
    dialects = load_dialects()
    for script in scripts.values():
        assert len(script.mandarin) > 40
        assert set(script.dialects) <= set(dialects)
        # Every script can be spoken in Cantonese and read out for the Min dialects.
        assert script.speech_text_for("cantonese")
        assert script.reading_for("putian") != script.mandarin
    assert "幺幺九" in spoken_text(scripts["fire-day-119"].mandarin, "zh")


def test_dialect_registry_says_which_need_recordings() -> None:
    dialects = load_dialects()
    assert {"putian", "minnan", "hakka", "cantonese"} <= set(dialects)
    assert dialects["cantonese"].voice == "yue"
    assert all(dialects[d].voice is None for d in ("putian", "minnan", "hakka"))
    assert dialects["putian"].name.zh_hans == "莆仙话"
    assert {d.fallback for d in dialects.values()} == {"mandarin"}


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """\
id: drill
title: 演练
mandarin: 今天上午十点进行消防演练。
repeat: 1
"""


def test_a_valid_script_in_another_folder_loads(tmp_path: Path) -> None:
    _write(tmp_path, "drill.yaml", GOOD + "dialects:\n  minnan:\n    reading: 十点演练\n")
    scripts = load_scripts(tmp_path)
    assert list(scripts) == ["drill"]
    assert scripts["drill"].reading_for("minnan") == "十点演练"
    assert scripts["drill"].reading_for("hakka") == "今天上午十点进行消防演练。"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (GOOD.replace("repeat: 1", "repeat: 0"), "repeat"),
        (GOOD.replace("mandarin: 今天上午十点进行消防演练。", "mandarin: ''"), "mandarin"),
        (GOOD + "dialects:\n  klingon:\n    reading: x\n", "dialects.klingon"),
        (GOOD + "dialects:\n  putian: {}\n", "dialects.putian"),
        (GOOD.replace("id: drill", "id: other"), "id"),
        (GOOD + "chime_in: gong\n", "chime_in"),
        (GOOD + "volume: 11\n", "volume"),
        ("id: drill\ntitle: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_broken_script_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    _write(tmp_path, "drill.yaml", text)
    with pytest.raises(ContentError) as caught:
        load_scripts(tmp_path)
    message = str(caught.value)
    assert "drill.yaml" in message and field in message


def test_a_broken_dialect_registry_is_named(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "dialects.yaml",
        "dialects:\n  - id: teochew\n    name: {zh-Hans: 潮汕话, en: Teochew}\n    voice: nan\n",
    )
    with pytest.raises(ContentError, match=r"dialects.yaml: .*voice 'nan'"):
        load_dialects(path)


@pytest.mark.parametrize("chime_id", ["ding-dong-in", "ding-dong-out"])
def test_chimes_ring_at_their_notes(chime_id: str) -> None:
    chime = load_chime(chime_id)
    sound = synthesize_chime(chime, 44100)
    first, second = chime.notes
    expected = (first.duration_ms + first.gap_ms + second.duration_ms) / 1000
    assert sound.duration_s == pytest.approx(expected, abs=0.01)
    assert np.isfinite(integrated_lufs(sound))
    assert abs(sound.samples[0]) < 0.01 and abs(sound.samples[-1]) < 0.01  # no clicks
    # The loudest frequency of each half is that half's note.
    for half, note in (
        (sound.samples[: len(sound.samples) // 4], first),
        (sound.samples[-len(sound.samples) // 3 :], second),
    ):
        spectrum = np.abs(np.fft.rfft(half))
        peak_hz = np.argmax(spectrum) * 44100 / len(half)
        assert peak_hz == pytest.approx(note.frequency_hz, rel=0.02)


def test_a_broken_chime_names_the_field(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "beep.yaml",
        "id: beep\ntitle: b\nnotes:\n  - {frequency_hz: -5, duration_ms: 100, decay_ms: 50}\n",
    )
    with pytest.raises(ContentError, match=r"beep.yaml: notes.0.frequency_hz"):
        load_chime("beep", tmp_path)
