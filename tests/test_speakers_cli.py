"""`gridcast speakers …` as staff type it, on both databases: add (the token once), list,
rotate-token, deactivate, slots, quiet hours, dialect, schedule, announce (text and file),
plays, and the demo's loudspeakers."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.audio_measure import VOICE_LIKE, make_audio

SHANGHAI = ZoneInfo("Asia/Shanghai")


def out(capsys) -> str:
    return capsys.readouterr().out


def token_of(text: str) -> str:
    line = next(line for line in text.splitlines() if "token" in line)
    return line.rsplit(" ", 1)[-1]


def listing(cli, capsys, *args: str) -> list[dict]:
    out(capsys)
    assert cli("speakers", "list", "--json", *args) == 0
    return json.loads(out(capsys))


def test_add_list_rotate_and_deactivate(cli, capsys):
    assert cli("demo") == 0
    out(capsys)
    assert cli("speakers", "add", "GATE1", "--grid", "T2", "--name", "南门喇叭", "--zone", "market",
               "--location", "南门菜市场", "--volume", "65", "--active-hours", "06:00-21:30") == 0
    added = out(capsys)
    token = token_of(added)
    assert "shown only now" in added and len(token) >= 40
    assert "speaker-agent --hub http://127.0.0.1:8080 --id GATE1" in added
    [gate] = [s for s in listing(cli, capsys) if s["code"] == "GATE1"]
    assert gate | {"last_seen": ""} == gate and gate["state"] == "unseen"
    assert (gate["grid"], gate["volume"], gate["zones"], gate["active_hours"]) == ("T2", 65, "market", "06:00-21:30")
    assert token not in json.dumps(listing(cli, capsys))

    assert cli("speakers", "add", "GATE1", "--grid", "T2", "--name", "again") == 1
    assert "已经登记过了" in capsys.readouterr().err
    assert cli("speakers", "add", "../x", "--grid", "T2", "--name", "x") == 1

    assert cli("speakers", "rotate-token", "GATE1") == 0
    assert token_of(out(capsys)) != token
    assert cli("speakers", "deactivate", "GATE1") == 0
    assert [s["code"] for s in listing(cli, capsys)] == ["SPK1", "SPK2", "SPK3"]
    assert "GATE1" in [s["code"] for s in listing(cli, capsys, "--all")]
    assert [s["code"] for s in listing(cli, capsys, "--under", "C2")] == ["SPK1", "SPK2"]


def test_the_demos_speakers_have_schedules_at_once(cli, capsys, tmp_path, shared_audio_cache):
    assert cli("demo") == 0
    first = out(capsys)
    assert first.count("token (shown only now)") == 3
    assert cli("demo") == 0
    assert "token" not in out(capsys)  # a second run adds nothing, and shows no token
    assert cli("speakers", "schedule", "SPK1", "--json") == 0
    document = json.loads(out(capsys))
    assert document["speaker"] == "SPK1" and document["items"]
    # The demo's slots, and the season's campaign the demo published for the street.
    assert {i["kind"] for i in document["items"]} == {"filler", "campaign"}
    assert all(i["clip"]["sha256"] for i in document["items"])  # every clip rendered before any poll
    assert cli("speakers", "schedule", "SPK3") == 0
    table = out(capsys)
    assert "每日安全提示" in table and "filler" in table and "campaign" in table
    assert cli("speakers", "slots", "list", "--json") == 0
    assert [s["kind"] for s in json.loads(out(capsys))].count("filler") == 2
    assert cli("campaigns", "list", "--json") == 0
    assert all(c["states"] == {"S1": "published"} for c in json.loads(out(capsys)))
    # GRIDCAST_AUDIO_CACHE_DIR holds the rendered clips, not the data dir.
    assert not (tmp_path / "audio").exists() and list(shared_audio_cache.glob("*.mp3"))


def test_slots_quiet_hours_and_dialect(cli, capsys):
    assert cli("demo") == 0
    out(capsys)
    assert cli("speakers", "slots", "add", "--grid", "T1", "--script", "gas-safety", "--at", "20:00",
               "--to", "01:00", "--every", "60", "--days", "1-5", "--kind", "campaign") == 0
    assert re.match(r"slot #\d+: gas-safety on grid T1 at 20:00 until 01:00 every 60 min", out(capsys))
    assert cli("speakers", "slots", "list", "--json") == 0
    [slot] = [s for s in json.loads(out(capsys)) if s["script"] == "gas-safety"]
    assert (slot["times"], slot["window_minutes"], slot["every_minutes"], slot["days"]) == ("20:00", 300, 60, "1,2,3,4,5")
    assert cli("speakers", "slots", "add", "--grid", "T1", "--script", "no-such", "--at", "08:00") == 1
    assert cli("speakers", "slots", "add", "--grid", "T1", "--script", "gas-safety", "--at", "8点") == 2
    assert cli("speakers", "quiet", "T1", "23:00-05:00") == 0
    assert cli("speakers", "quiet", "T1") == 2
    assert cli("speakers", "dialect", "T2", "cantonese") == 0  # no speaker there: nothing to render
    assert cli("speakers", "dialect", "T2", "klingon") == 1
    out(capsys)
    assert cli("speakers", "schedule", "SPK3", "--at", "2026-11-09 19:00", "--json") == 0  # a Monday
    items = json.loads(out(capsys))["items"]
    campaign = [i["start"] for i in items if i["kind"] == "campaign"]
    assert campaign == ["2026-11-09T12:00:00Z", "2026-11-09T13:00:00Z", "2026-11-09T14:00:00Z"]  # 20-22h; quiet at 23
    assert cli("speakers", "slots", "remove", str(slot["id"])) == 0
    assert cli("speakers", "slots", "remove", str(slot["id"])) == 1


def test_announce_a_text_and_a_file(cli, capsys, tmp_path):
    """The CLI runs on the real clock: the announcement is for tomorrow evening."""
    assert cli("demo") == 0
    out(capsys)
    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).date().isoformat()
    assert cli("speakers", "announce", "--grid", "C2", "--text", "今晚八点村部开会，请各户派一人参加。",
               "--at", f"{tomorrow} 19:30", "--every", "20", "--until", "20:00") == 0
    said = out(capsys)
    assert said.startswith(f"announcement #1 on grid C2: 2 play(s) from {tomorrow} 19:30")
    take = tmp_path / "notice.wav"
    make_audio(take, VOICE_LIKE, 3.0)
    assert cli("speakers", "announce", "--speaker", "SPK3", "--clip", str(take), "--title", "停电通知",
               "--at", f"{tomorrow} 10:00") == 0
    assert "announcement #2 on speaker SPK3: 1 play(s)" in out(capsys)
    assert cli("speakers", "schedule", "SPK1", "--at", f"{tomorrow} 19:00", "--json") == 0
    texts = [i for i in json.loads(out(capsys))["items"] if i["kind"] == "announcement"]
    assert [i["start"] for i in texts] == [f"{tomorrow}T11:30:00Z", f"{tomorrow}T11:50:00Z"]
    assert texts[0]["title"].startswith("今晚八点村部开会") and texts[0]["clip"]["duration_seconds"] > 3
    assert cli("speakers", "schedule", "SPK3", "--at", f"{tomorrow} 09:30", "--json") == 0
    [notice] = [i for i in json.loads(out(capsys))["items"] if i["kind"] == "announcement"]
    assert notice["title"] == "停电通知" and 2.5 < notice["clip"]["duration_seconds"] < 3.5

    # the street's quiet hours (22:00-06:00 in the demo) hold for announcements: staff are told
    assert cli("speakers", "announce", "--speaker", "SPK3", "--clip", str(take), "--at", f"{tomorrow} 23:00") == 0
    assert "quiet hours 22:00-06:00" in capsys.readouterr().err

    # refusals, before anything is rendered
    assert cli("speakers", "announce", "--grid", "NOPE", "--text", "x") == 1
    assert cli("speakers", "announce", "--grid", "C2", "--text", "x", "--every", "10") == 1
    assert cli("speakers", "announce", "--grid", "C2", "--text", "x", "--at", "2020-11-08 10:00") == 1
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"not audio at all")
    assert cli("speakers", "announce", "--grid", "C2", "--clip", str(bad)) == 1
    assert "不是音频文件" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli("speakers", "announce", "--grid", "C2", "--speaker", "SPK1", "--text", "x")


def test_plays_export(cli, capsys):
    assert cli("demo") == 0
    out(capsys)
    assert cli("speakers", "plays", "--format", "json") == 0
    assert json.loads(out(capsys)) == []
    assert cli("speakers", "plays") == 0
    header = next(csv.reader(io.StringIO(out(capsys).lstrip("\ufeff"))))
    assert header == ["speaker", "grid", "item", "scheduled", "started", "ended", "result", "error"]
    assert cli("speakers", "plays", "--since", datetime(2026, 11, 1, tzinfo=UTC).date().isoformat()) == 0
    assert cli("speakers", "plays", "--since", "last week") == 2
