"""Dialect recordings: real uploads accepted, bad ones refused with their reason, storage."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from audio import recordings
from audio.recordings import RecordingRejected, store_recording, validate_recording
from tests.audio_measure import VOICE_LIKE, decode, ebur128, make_audio

ACCEPTED = [
    ("voice.ogg", ("-c:a", "libopus", "-b:a", "24k"), "ogg", "opus"),
    ("narrow.ogg", ("-ar", "8000", "-c:a", "libopus", "-b:a", "8k"), "ogg", "opus"),
    ("voice.mp3", ("-c:a", "libmp3lame", "-b:a", "64k"), "mp3", "mp3"),
    ("voice.m4a", ("-c:a", "aac", "-b:a", "64k"), "mov,mp4,m4a,3gp,3g2,mj2", "aac"),
    ("voice.wav", ("-c:a", "pcm_s16le"), "wav", "pcm_s16le"),
]


@pytest.mark.parametrize(("name", "codec_args", "container", "codec"), ACCEPTED)
def test_phone_and_telegram_formats_are_accepted(
    tmp_path: Path, name: str, codec_args: tuple[str, ...], container: str, codec: str
) -> None:
    data = make_audio(tmp_path / name, VOICE_LIKE, 3.0, *codec_args)
    info = validate_recording(data, name)
    assert (info.container, info.codec, info.channels) == (container, codec, "mono")
    assert info.duration_s == pytest.approx(3.0, abs=0.05)
    assert -25 < info.lufs < -5
    assert info.peak < 0 and info.clipped_fraction == 0


def test_m4a_with_its_index_at_the_end_is_read(tmp_path: Path) -> None:
    """Phones write the MP4 index after the audio; reading from a pipe would fail."""
    data = make_audio(tmp_path / "late.m4a", VOICE_LIKE, 2.0, "-c:a", "aac")
    assert data.find(b"moov") > data.find(b"mdat") > 0
    assert validate_recording(data, "audio/mp4").codec == "aac"


def _refused(data: bytes, hint: str | None) -> RecordingRejected:
    with pytest.raises(RecordingRejected) as caught:
        validate_recording(data, hint)
    assert caught.value.message
    return caught.value


def test_silence_is_refused(tmp_path: Path) -> None:
    data = make_audio(tmp_path / "s.wav", "anullsrc=r=44100:cl=mono", 3.0)
    assert _refused(data, "s.wav").reason_code == "silence"
    hiss = make_audio(tmp_path / "h.wav", "anoisesrc=a=0.002:r=44100", 3.0)
    assert _refused(hiss, "h.wav").reason_code == "silence"


def test_heavily_clipped_audio_is_refused(tmp_path: Path) -> None:
    data = make_audio(tmp_path / "c.mp3", VOICE_LIKE, 3.0, "-af", "volume=12", "-c:a", "libmp3lame")
    refused = _refused(data, "c.mp3")
    assert refused.reason_code == "clipped"
    assert "%" in refused.message


def test_over_five_minutes_is_refused(tmp_path: Path) -> None:
    data = make_audio(tmp_path / "long.wav", "sine=f=300:r=8000", 301.0, "-c:a", "pcm_u8")
    assert _refused(data, "long.wav").reason_code == "too_long"


def test_empty_and_too_short_are_refused(tmp_path: Path) -> None:
    assert _refused(b"", "voice.ogg").reason_code == "empty"
    blip = make_audio(tmp_path / "b.wav", VOICE_LIKE, 0.2)
    assert _refused(blip, "b.wav").reason_code == "too_short"


def test_non_audio_is_refused() -> None:
    assert (
        _refused(b"this is a note, not a voice message\n" * 50, "note.txt").reason_code
        == "not_audio"
    )
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(picture, format="PNG")
    assert _refused(picture.getvalue(), "image/png").reason_code == "not_audio"
    assert _refused(bytes(range(256)) * 40, None).reason_code == "not_audio"


def test_corrupt_mp3_is_refused(tmp_path: Path) -> None:
    data = bytearray(
        make_audio(tmp_path / "v.mp3", VOICE_LIKE, 4.0, "-c:a", "libmp3lame", "-b:a", "64k")
    )
    for start in range(3000, len(data) - 3000, 2500):
        data[start : start + 600] = bytes((i * 37 + 11) % 256 for i in range(600))
    refused = _refused(bytes(data), "audio/mpeg")
    assert refused.reason_code == "corrupt"


def test_unknown_reason_code_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        RecordingRejected("meh", "x")


def test_store_keeps_a_normalised_flac_by_content_hash(tmp_path: Path) -> None:
    data = make_audio(tmp_path / "v.ogg", VOICE_LIKE, 3.0, "-af", "volume=0.1", "-c:a", "libopus")
    folder = tmp_path / "store"
    stored = store_recording(data, folder, "voice.ogg")
    content_hash, path = stored  # unpacks as a pair
    assert content_hash == hashlib.sha256(data).hexdigest()
    assert path == folder / f"{content_hash}.flac"
    assert path.read_bytes()[:4] == b"fLaC"
    r128 = ebur128(path)
    assert abs(r128.integrated_lufs - recordings.STORE_LUFS) <= 1.0
    assert r128.true_peak_db <= recordings.STORE_CEILING_DB + 0.5
    assert len(decode(path)) / 44100 == pytest.approx(3.0, abs=0.05)
    before = path.stat().st_mtime_ns
    assert store_recording(data, folder) == stored
    assert path.stat().st_mtime_ns == before
    assert sorted(p.name for p in folder.iterdir()) == [path.name]


def test_refused_upload_stores_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    silent = make_audio(tmp_path / "s.wav", "anullsrc=r=44100:cl=mono", 2.0)
    with pytest.raises(RecordingRejected):
        store_recording(silent, folder, "s.wav")
    assert not folder.exists() or not any(folder.iterdir())


def test_refusals_carry_the_figures_a_transport_translates(tmp_path: Path) -> None:
    clipped = make_audio(tmp_path / "c.wav", VOICE_LIKE, 2.0, "-af", "volume=12")
    refused = _refused(clipped, "c.wav")
    assert 1.0 < refused.params["percent"] <= 100.0
    blip = make_audio(tmp_path / "b.wav", VOICE_LIKE, 0.2)
    assert _refused(blip, "b.wav").params == {"seconds": 0.2}
    long = make_audio(tmp_path / "long.wav", "sine=f=300:r=8000", 301.0, "-c:a", "pcm_u8")
    assert _refused(long, "long.wav").params == {"minutes": 5}


def test_keep_reports_what_it_stored_even_when_already_stored(tmp_path: Path) -> None:
    data = make_audio(tmp_path / "v.ogg", VOICE_LIKE, 2.0, "-c:a", "libopus")
    folder = tmp_path / "store"
    first, info = recordings.keep_recording(data, folder, "voice.ogg")
    again, info_again = recordings.keep_recording(data, folder, "voice.ogg")
    assert first == again == store_recording(data, folder)
    assert info == info_again and info.duration_s == pytest.approx(2.0, abs=0.05)
