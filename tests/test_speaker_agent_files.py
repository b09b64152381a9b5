"""What the agent keeps on disk and checks: clips verified by SHA-256 before they may ever
play, the state file, the clock offset in the heartbeat, the player command."""

from __future__ import annotations

import hashlib
import json
import logging
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from speaker_agent import state as store
from speaker_agent.clock import FakeClock, SystemClock
from speaker_agent.hubapi import clock_offset
from speaker_agent.main import build_parser
from speaker_agent.plan import Occurrence
from speaker_agent.players import PlayerError, ProcessPlayer, parse_command
from tests.fakes.speaker_hub import T0, AgentRun, FakeSpeakerHub, at

pytest_plugins = ["tests.fakes.speaker_fixtures"]


def cached(tmp_path: Path) -> dict[str, str]:
    """name -> SHA-256 of every clip in the agent's cache."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in (tmp_path / "clips").iterdir() if not p.name.startswith(".")}


async def test_a_clip_that_fails_its_hash_is_never_played_and_is_fetched_again(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, tmp_path: Path, caplog):
    red = fake_hub.item("urgent:1:red", "urgent", at(0), at(3600), level="red", repeat=600)
    sha = red["clip"]["sha256"]
    fake_hub.corrupt[sha] = 3  # both tries of the first poll, and the first of the next
    fake_hub.add(red)
    async with AgentRun(fake_hub.url, agent_clock, tmp_path) as run:
        assert run.starts() == [] and cached(tmp_path) == {}
        assert fake_hub.downloads[sha] == 2
        await agent_clock.advance(15)
        assert fake_hub.downloads[sha] == 4
        assert cached(tmp_path) == {f"{sha}.mp3": sha}
        assert [e["item"] for e in run.starts()] == ["urgent:1:red"]
        assert [e["file_sha256"] for e in run.starts()] == [sha]
    assert sum("does not match" in r.getMessage() or "hashing to" in r.getMessage()
               for r in caplog.records) == 3


async def test_a_clip_rotted_on_disk_is_not_played_but_deleted_and_fetched_again(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, tmp_path: Path):
    ann = fake_hub.item("ann", "announcement", at(60), at(3600))
    sha = ann["clip"]["sha256"]
    fake_hub.add(ann)
    async with AgentRun(fake_hub.url, agent_clock, tmp_path) as run:
        path = tmp_path / "clips" / f"{sha}.mp3"
        assert path.exists()
        path.write_bytes(b"\0" * path.stat().st_size)  # the SD card lost it
        await agent_clock.advance(60)
        # refused at 09:01, fetched again at once, and only then played
        assert fake_hub.downloads[sha] == 2
        assert [(e["item"], e["at"]) for e in run.starts()] == [("ann", "2026-11-30T09:01:00.000Z")]
        assert [e["file_sha256"] for e in run.starts()] == [sha]
        await agent_clock.advance(60)
    assert sorted(p["result"] for p in fake_hub.played()) == ["failed", "played"]
    assert fake_hub.played("failed")[0]["error"] == "checksum mismatch"
    assert fake_hub.downloads[sha] == 2


async def test_the_clock_offset_is_reported_and_a_drift_is_warned_about_once(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, tmp_path: Path, caplog):
    fake_hub.date_skew = timedelta(seconds=-42)
    async with AgentRun(fake_hub.url, agent_clock, tmp_path):
        await agent_clock.advance(45)
    offsets = [h["clock_offset_seconds"] for h in fake_hub.heartbeats if h["status"] != "offline"]
    assert len(offsets) == 4
    assert all(abs(o + 42) <= 1 for o in offsets)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "off the hub" in r.getMessage()]
    assert len(warnings) == 1


async def test_the_heartbeat_says_what_plays(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, tmp_path: Path):
    fake_hub.add(fake_hub.item("ann", "announcement", at(20), at(3600), duration=60))
    async with AgentRun(fake_hub.url, agent_clock, tmp_path):
        await agent_clock.advance(35)
        beat = fake_hub.heartbeats[-1]
        assert (beat["status"], beat["playing"], beat["version"]) == ("playing", "ann", "0.1.0")
        assert beat["free_disk_bytes"] > 0 and abs(beat["clock_offset_seconds"]) <= 1
        await agent_clock.advance(60)
        beat = fake_hub.heartbeats[-1]
        assert (beat["status"], beat["playing"]) == ("idle", None)
        assert beat["last_played"] == {"item": "ann", "started": "2026-11-30T09:00:20.000Z"}
    assert fake_hub.heartbeats[-1]["status"] == "offline"


def test_the_offset_comes_from_the_date_header():
    sent = datetime(2026, 11, 30, 9, 0, 0, 200000, tzinfo=UTC)
    received = sent + timedelta(milliseconds=600)
    assert clock_offset("Mon, 30 Nov 2026 09:00:10 GMT", sent, received) == 10.0
    assert clock_offset(None, sent, received) is None
    assert clock_offset("yesterday", sent, received) is None


async def test_a_wrong_token_is_backed_off_and_logged_as_an_error(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, tmp_path: Path, caplog):
    fake_hub.token = "another"
    async with AgentRun(fake_hub.url, agent_clock, tmp_path):
        await agent_clock.advance(40)
    assert [s for _, _, s in fake_hub.requests] == [401, 401]
    assert any(r.levelno == logging.ERROR and "HTTP 401" in r.getMessage() for r in caplog.records)


def test_the_state_file_is_replaced_whole_and_a_broken_one_is_set_aside(tmp_path: Path):
    state = store.AgentState(etag='"x"', unsent=[{"id": "1"}])
    store.save(tmp_path, store.dump(state))
    assert store.load(tmp_path).etag == '"x"'
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary left behind
    (tmp_path / "state.json").write_text("{not json", encoding="utf-8")
    assert store.load(tmp_path).etag is None
    assert (tmp_path / "state.bad").exists()


def test_unsent_plays_are_capped_oldest_first(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(store, "MAX_UNSENT", 3)
    state = store.AgentState()
    for n in range(5):
        state.add_unsent({"id": str(n)})
    assert [r["id"] for r in state.unsent] == ["2", "3", "4"]


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "player.sh"
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _occurrence() -> Occurrence:
    from speaker_agent.plan import Item

    return Occurrence(Item.from_json({
        "id": "ann", "kind": "announcement", "rank": 2, "start": "2026-11-30T09:00:00Z",
        "end": "2026-11-30T10:00:00Z", "clip": {"sha256": "ab" * 32, "url": "/audio/x.mp3",
                                                 "duration_seconds": 1}}), T0)


async def test_the_player_command_gets_the_clip_path_last(tmp_path: Path):
    seen = tmp_path / "argv.txt"
    script = _script(tmp_path, f'echo "$@" > {seen}\n')
    player = ProcessPlayer(parse_command(f"{script} --gain {{volume}}"), SystemClock())
    playback = await player.start(tmp_path / "clip.mp3", _occurrence(), 80)
    await playback.finished.wait()
    assert playback.error is None
    assert seen.read_text().split() == ["--gain", "80", str(tmp_path / "clip.mp3")]


async def test_a_player_that_fails_or_hangs_is_a_failed_play(tmp_path: Path):
    script = _script(tmp_path, 'echo "cannot open audio device" >&2\nexit 3\n')
    playback = await ProcessPlayer([str(script)], SystemClock()).start(tmp_path / "c.mp3",
                                                                      _occurrence(), 80)
    await playback.finished.wait()
    assert playback.error == "player exited with 3: cannot open audio device"
    sleeper = _script(tmp_path, "exec sleep 30\n")
    playback = await ProcessPlayer([str(sleeper)], SystemClock()).start(tmp_path / "c.mp3",
                                                                       _occurrence(), 80)
    await playback.stop()
    assert playback.finished.is_set() and playback.error is None
    with pytest.raises(PlayerError):
        parse_command("no-such-player-here --x")


def test_the_agent_is_started_as_the_contract_says(tmp_path: Path, monkeypatch, capsys):
    for name in ("SPEAKER_AGENT_HUB", "SPEAKER_AGENT_ID", "SPEAKER_AGENT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    args = build_parser().parse_args(["--hub", "http://h", "--id", "SPK1", "--token", "t",
                                      "--cache", str(tmp_path), "--sink", str(tmp_path / "s")])
    assert (args.hub, args.speaker_id, args.token, args.sink) == ("http://h", "SPK1", "t",
                                                                  str(tmp_path / "s"))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--hub", "http://h"])
    assert "--token" in capsys.readouterr().err
    monkeypatch.setenv("SPEAKER_AGENT_TOKEN", "from-env")
    args = build_parser().parse_args(["--hub", "http://h", "--id", "SPK1"])
    assert args.token == "from-env"


def test_gridcast_speaker_agent_hands_its_arguments_to_the_agent(monkeypatch):
    from cli.main import build_parser as gridcast_parser

    handed = {}
    monkeypatch.setattr("speaker_agent.main.run", lambda args: handed.setdefault("args", args) and 0)
    args = gridcast_parser().parse_args(["speaker-agent", "--hub", "http://h", "--id", "SPK1",
                                         "--token", "t", "--player", "mpv --no-video"])
    assert args.run(None, args) == 0
    assert (handed["args"].speaker_id, handed["args"].player) == ("SPK1", "mpv --no-video")


def test_the_agent_imports_nothing_of_the_hub():
    import subprocess

    code = ("import sys, speaker_agent.main, speaker_agent.agent; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'hub','hazards','knowledge','audio','broadcasts','bot','web','cli','content',"
            "'sqlalchemy','telegram'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.replace("'", '"')) == []
