"""`gridcast audio …` in-process, listened to: speech, clips, imports, requests, the library."""

import json
from pathlib import Path

import pytest

from audio import tts
from audio.library import Catalogue
from audio.scripts import DialectText, Script, load_dialects
from audio.settings import AudioSettings
from cli.main import main
from tests.audio_measure import RATE, VOICE_LIKE, active_fraction, decode, ebur128, make_audio

TARGET_LUFS = -16.0
SCRIPTS = {
    "drill-a": Script(id="drill-a", title="演练一", mandarin="今天上午十点进行消防演练。",
                      dialects={"putian": DialectText(reading="十点演练")}),
    "drill-b": Script(id="drill-b", title="演练二", mandarin="请不要在楼道里充电。", repeat=1),
}


def _runner(tmp_path, monkeypatch, url):
    monkeypatch.setenv("GRIDCAST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GRIDCAST_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    return lambda *argv: main(list(argv))


@pytest.fixture
def cli(tmp_path, monkeypatch, db_url):
    return _runner(tmp_path, monkeypatch, db_url)


@pytest.fixture
def sqlite_cli(tmp_path, monkeypatch, sqlite_url):
    return _runner(tmp_path, monkeypatch, sqlite_url)


@pytest.fixture
def short_scripts(monkeypatch):
    """Two short scripts instead of content/scripts, so rendering them all stays quick. The
    demo's campaigns need the bundled scripts, so the demo here is the district alone."""
    monkeypatch.setattr(Catalogue, "load", classmethod(lambda cls: cls(SCRIPTS, load_dialects())))

    async def no_campaigns(_hub):
        return []

    monkeypatch.setattr("cli.demo.load_demo_campaigns", no_campaigns)


@pytest.fixture(autouse=True)
def _gtts_fresh():
    tts.gtts_availability.reset()


def test_say_writes_mandarin_at_the_target_loudness_offline(sqlite_cli, tmp_path, capsys):
    out = tmp_path / "notice.mp3"
    assert sqlite_cli("audio", "say", "请注意防火安全", "--lang", "zh", "--out", str(out)) == 0
    assert capsys.readouterr().out.strip() == str(out)
    head = out.read_bytes()[:3]
    assert head == b"ID3" or head[0] == 0xFF  # an MP3, as the suffix asked
    r128 = ebur128(out)
    assert abs(r128.integrated_lufs - TARGET_LUFS) <= 1.0 and r128.true_peak_db <= -1.0
    samples = decode(out)
    assert 1.0 < len(samples) / RATE < 4.0  # seven syllables
    assert active_fraction(samples, 0, len(samples) / RATE) > 0.6


def test_say_with_gtts_offline_falls_back_and_says_so(sqlite_cli, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRIDCAST_TTS_ENGINE", "gtts")
    out = tmp_path / "notice.ogg"
    assert sqlite_cli("audio", "say", "请注意防火安全", "--lang", "zh", "--out", str(out)) == 0
    err = capsys.readouterr().err
    fallback = [line for line in err.splitlines() if "gtts unavailable" in line]
    assert len(fallback) == 1
    assert "WARNING audio.tts: gtts unavailable, falling back to espeak-ng: " in fallback[0]
    assert out.read_bytes()[:4] == b"OggS"
    assert abs(ebur128(out).integrated_lufs - TARGET_LUFS) <= 1.0


@pytest.mark.parametrize("lang", ["zh-Hant", "yue", "en"])
def test_say_in_other_languages(sqlite_cli, tmp_path, lang):
    out = tmp_path / f"{lang}.mp3"
    text = "Please mind fire safety" if lang == "en" else "請注意防火安全"
    assert sqlite_cli("audio", "say", text, "--lang", lang, "--out", str(out)) == 0
    samples = decode(out)
    assert active_fraction(samples, 0, len(samples) / RATE) > 0.5


def test_say_refuses_other_formats_and_writes_nothing(sqlite_cli, tmp_path, capsys):
    assert sqlite_cli("audio", "say", "你好", "--out", str(tmp_path / "x.txt")) == 2
    assert "--out must end in .mp3 or .ogg" in capsys.readouterr().err
    assert not (tmp_path / "x.txt").exists()


def test_import_request_and_list(cli, tmp_path, capsys, short_scripts):
    assert cli("demo") == 0
    capsys.readouterr()
    assert cli("audio", "request", "drill-a", "--dialect", "putian", "--grid", "T1") == 0
    assert capsys.readouterr().out.startswith("request 1: drill-a in putian for grid T1")
    take = tmp_path / "take.wav"
    make_audio(take, VOICE_LIKE, 2.0)
    assert cli("audio", "import", str(take), "--script", "drill-a", "--dialect", "putian",
               "--speaker", "林阿公") == 0
    out = capsys.readouterr().out
    assert "version 1, 2.0 s" in out and "fulfilled request(s) 1" in out
    assert cli("audio", "recordings", "--json") == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["script"], row["dialect"], row["version"], row["approved"]) == ("drill-a", "putian", 1, True)
    assert (row["speaker"], row["source"]) == ("林阿公", "cli")
    assert row["duration_s"] == pytest.approx(2.0, abs=0.05)
    assert (tmp_path / row["path"]).exists()
    assert cli("audio", "recordings") == 0
    assert "\tv1\tapproved\t" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("source", "args", "said"),
    [
        ("anullsrc=r=44100:cl=mono", (), "听不到声音"),
        (VOICE_LIKE, ("-af", "volume=12"), "削顶"),
    ],
)
def test_rejected_import_exits_non_zero_with_the_reason(cli, tmp_path, capsys, short_scripts,
                                                        source, args, said):
    take = tmp_path / "take.wav"
    make_audio(take, source, 2.0, *args)
    assert cli("audio", "import", str(take), "--script", "drill-a", "--dialect", "putian",
               "--speaker", "X") == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the INFO log line
    assert last.startswith("gridcast: ") and said in last
    cli("audio", "recordings", "--json")
    assert json.loads(capsys.readouterr().out) == []


def test_import_mistakes_are_one_line(cli, tmp_path, capsys, short_scripts, monkeypatch):
    monkeypatch.setenv("GRIDCAST_DEFAULT_LANGUAGE", "en")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a recording\n" * 50, encoding="utf-8")
    base = ("--dialect", "putian", "--speaker", "X")
    assert cli("audio", "import", str(notes), "--script", "drill-a", *base) == 1
    assert "not an audio file" in capsys.readouterr().err
    assert cli("audio", "import", str(tmp_path / "missing.ogg"), "--script", "drill-a", *base) == 2
    assert "cannot read" in capsys.readouterr().err
    make_audio(take := tmp_path / "t.wav", VOICE_LIKE, 1.0)
    assert cli("audio", "import", str(take), "--script", "nope", *base) == 1
    assert "no announcement script nope" in capsys.readouterr().err
    assert cli("audio", "request", "drill-a", "--dialect", "klingon", "--grid", "T1") == 1
    assert 'no dialect "klingon"' in capsys.readouterr().err


def test_render_all_with_progress_then_with_an_imported_take(sqlite_cli, tmp_path, capsys,
                                                            short_scripts):
    out_dir = tmp_path / "clips"
    assert sqlite_cli("audio", "render", "all", "--dialect", "putian", "--out", str(out_dir)) == 0
    captured = capsys.readouterr()
    assert "2/2" in captured.err  # tqdm's bar, on stderr
    lines = [line.split("\t") for line in captured.out.strip().splitlines()]
    assert [(cols[0], cols[2]) for cols in lines] == [("drill-a", "mandarin"), ("drill-b", "mandarin")]
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["drill-a.putian.mp3", "drill-a.putian.ogg", "drill-b.putian.mp3", "drill-b.putian.ogg"]
    for path in out_dir.iterdir():
        assert abs(ebur128(path).integrated_lufs - TARGET_LUFS) <= 1.0
    before = len(decode(out_dir / "drill-a.putian.mp3")) / RATE

    take = tmp_path / "take.ogg"
    make_audio(take, VOICE_LIKE, 2.0, "-c:a", "libopus")
    assert sqlite_cli("audio", "import", str(take), "--script", "drill-a", "--dialect", "putian",
                      "--speaker", "林阿公") == 0
    capsys.readouterr()
    assert sqlite_cli("audio", "render", "drill-a", "--dialect", "putian", "--out", str(out_dir)) == 0
    captured = capsys.readouterr()
    assert "/1" not in captured.err  # one clip: no progress bar
    cols = captured.out.strip().split("\t")
    assert cols[2] == "recording" and cols[4] != lines[0][4]
    samples = decode(out_dir / "drill-a.putian.mp3")
    pause = AudioSettings.for_data_dir(tmp_path).pause_ms / 1000
    assert len(samples) / RATE == pytest.approx(before + 2.0 + pause, abs=0.15)
    meta = json.loads((tmp_path / "audio" / f"{cols[4]}.json").read_text(encoding="utf-8"))
    [span] = [s for s in meta["segments"] if s["kind"] == "dialect"]
    assert span["end_s"] - span["start_s"] == pytest.approx(2.0, abs=0.1)
    assert active_fraction(samples, span["start_s"], span["end_s"]) > 0.9


def test_render_refuses_unknown_script_and_dialect(sqlite_cli, capsys, short_scripts):
    assert sqlite_cli("audio", "render", "nope") == 1
    assert "nope" in capsys.readouterr().err
    assert sqlite_cli("audio", "render", "all", "--dialect", "klingon") == 1
    assert "klingon" in capsys.readouterr().err


def test_audio_files_are_where_the_data_dir_says(sqlite_cli, tmp_path, short_scripts, capsys):
    assert sqlite_cli("audio", "render", "drill-b") == 0
    paths = [Path(p) for p in capsys.readouterr().out.strip().split("\t")[-1].split()]
    assert {p.suffix for p in paths} == {".mp3", ".ogg"}
    assert all(p.parent == tmp_path / "audio" and p.exists() for p in paths)
