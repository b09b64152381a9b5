"""断网续播: an agent whose hub goes away keeps playing its cached schedule, keeps its state
across its own restart, and reports every play once the hub is back — none twice."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime
from pathlib import Path

from speaker_agent.clock import FakeClock
from tests.fakes.speaker_hub import AgentRun, FakeSpeakerHub, at

pytest_plugins = ["tests.fakes.speaker_fixtures"]


def schedule_requests(hub: FakeSpeakerHub) -> list[datetime]:
    return [when for when, path, _ in hub.requests if path.endswith("/schedule")]


async def test_the_cached_schedule_plays_on_while_the_hub_is_down_and_across_a_restart(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, tmp_path: Path):
    ends = at(3 * 3600)
    fake_hub.add(fake_hub.item("ann1", "announcement", at(60), ends),
                 fake_hub.item("camp1", "campaign", at(600), ends),
                 fake_hub.item("ann2", "announcement", at(1200), ends),
                 fake_hub.item("filler", "filler", at(1500), ends, repeat=600, duration=20))
    async with AgentRun(fake_hub.url, agent_clock, tmp_path) as first:
        await agent_clock.advance(20)
        await fake_hub.down()
        await agent_clock.advance(700 - 20)
        assert [e["item"] for e in first.starts()] == ["ann1", "camp1"]
        assert fake_hub.played() == []
    # the agent itself restarts, still without its hub
    async with AgentRun(fake_hub.url, agent_clock, tmp_path) as second:
        await agent_clock.advance(2300 - 700)
        assert [e["item"] for e in second.starts()] == ["ann2", "filler", "filler"]
        await fake_hub.up()
        await agent_clock.advance(130)  # the longest backoff, and a little
        assert fake_hub.requests, "the agent came back to its hub"
    sink = [e for e in second.sink.events + first.sink.events if e["event"] == "start"]
    assert len(sink) == 5
    plays = fake_hub.played()
    assert Counter((p["item"], p["scheduled"]) for p in plays) == Counter(
        {(e["item"], e["scheduled"]): 1 for e in sink})
    assert {p["result"] for p in plays} == {"played"}
    assert fake_hub.duplicates == 0
    assert fake_hub.completed == 0  # offline, each outcome replaced its "playing" in the queue
    by_item = {(p["item"], p["scheduled"]): p for p in plays}
    ann1 = by_item[("ann1", "2026-11-30T09:01:00.000Z")]
    assert (ann1["started"], ann1["ended"]) == ("2026-11-30T09:01:00.000Z", "2026-11-30T09:01:30.000Z")


async def test_a_restart_sends_nothing_twice_and_replays_nothing_played(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, tmp_path: Path):
    fake_hub.add(fake_hub.item("ann", "announcement", at(30), at(3600)))
    async with AgentRun(fake_hub.url, agent_clock, tmp_path) as run:
        await agent_clock.advance(120)
        assert len(run.starts("ann")) == 1
    assert [p["result"] for p in fake_hub.played()] == ["played"]
    assert (fake_hub.play_posts, fake_hub.completed) == (2, 1)  # "playing" at 09:00:30, then its end
    async with AgentRun(fake_hub.url, agent_clock, tmp_path) as again:
        await agent_clock.advance(600)
        assert again.starts() == []
    assert len(fake_hub.played()) == 1 and fake_hub.duplicates == 0
    assert fake_hub.play_posts == 2  # nothing sent again after the restart


async def test_a_restart_in_mid_play_reports_it_interrupted_and_replays_it_once(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, tmp_path: Path):
    fake_hub.add(fake_hub.item("ann", "announcement", at(30), at(3600), duration=60))
    async with AgentRun(fake_hub.url, agent_clock, tmp_path) as run:
        await agent_clock.advance(40)
        assert run.playing() == "ann"
    async with AgentRun(fake_hub.url, agent_clock, tmp_path) as again:
        await agent_clock.advance(200)
        assert [(e["event"], e["resumed"]) for e in again.sink.events] == [
            ("start", True), ("end", True)]
    results = sorted(p["result"] for p in fake_hub.played())
    assert results == ["interrupted", "played"]


async def test_a_crash_in_mid_play_is_an_interruption_after_the_restart(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, tmp_path: Path):
    fake_hub.add(fake_hub.item("ann", "announcement", at(30), at(3600), duration=60))
    run = AgentRun(fake_hub.url, agent_clock, tmp_path)
    await run.__aenter__()
    await agent_clock.advance(40)
    for task in run.agent.tasks:  # killed: no goodbye, no state written on the way out
        task.cancel()
    async with AgentRun(fake_hub.url, agent_clock, tmp_path) as again:
        await agent_clock.advance(120)
        assert [e["resumed"] for e in again.starts("ann")] == [True]
    interrupted = fake_hub.played("interrupted")
    assert len(interrupted) == 1 and interrupted[0]["error"] == "agent restarted"
    assert interrupted[0]["ended"] is None
    assert len(fake_hub.played("played")) == 1
    await run.agent.stop()


async def test_it_backs_off_30_60_120_while_the_hub_is_away(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, tmp_path: Path):
    async with AgentRun(fake_hub.url, agent_clock, tmp_path):
        await agent_clock.advance(10)
        fake_hub.fail_status = 503
        await agent_clock.advance(15 + 30 + 60 + 120 + 120)
        fake_hub.fail_status = None
        await agent_clock.advance(120 + 15 + 15)
    polls = schedule_requests(fake_hub)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(polls)]
    assert gaps == [15, 30, 60, 120, 120, 120, 15, 15]
    statuses = [s for _, p, s in fake_hub.requests if p.endswith("/schedule")]
    assert statuses[1:6] == [503] * 5 and statuses[6] in (200, 304)


async def test_an_unreachable_hub_is_backed_off_too_and_found_again(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, tmp_path: Path, caplog):
    async with AgentRun(fake_hub.url, agent_clock, tmp_path):
        await agent_clock.advance(10)
        await fake_hub.down()
        await agent_clock.advance(5 + 30 + 60 + 1)
        await fake_hub.up()
        await agent_clock.advance(120)
        assert len(schedule_requests(fake_hub)) == 2  # the first poll, and the one after 120 s
    waits = [r.getMessage().rsplit("next poll in ", 1)[1] for r in caplog.records
             if "next poll in" in r.getMessage()]
    assert waits == ["30 s", "60 s", "120 s"]
