"""Urgent items on a running agent: they arrive within one poll and interrupt, a Cancel
withdraws them within one poll, the interrupted item is replayed once while its window is
open, and a new schedule takes over only when its files are here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from speaker_agent.clock import FakeClock
from tests.fakes.speaker_hub import POLL_SECONDS, AgentRun, FakeSpeakerHub, at

pytest_plugins = ["tests.fakes.speaker_fixtures"]


@pytest.fixture
async def run(fake_hub: FakeSpeakerHub, agent_clock: FakeClock,
              tmp_path: Path) -> AsyncIterator[AgentRun]:
    async with AgentRun(fake_hub.url, agent_clock, tmp_path) as running:
        yield running


def events(run: AgentRun) -> list[tuple[str, str, bool]]:
    return [(e["event"], e["item"], e["resumed"]) for e in run.sink.events]


async def test_a_red_warning_reaches_a_running_agent_within_one_poll_and_interrupts(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, run: AgentRun):
    fake_hub.add(fake_hub.item("camp", "campaign", at(100), at(3600), duration=120))
    await agent_clock.advance(130)
    assert run.playing() == "camp"
    fake_hub.add(fake_hub.item("urgent:42:red", "urgent", agent_clock.now(), at(3600),
                               level="red", repeat=600, duration=40))
    took = await agent_clock.run_until(lambda: run.playing() == "urgent:42:red", within=POLL_SECONDS)
    assert took <= POLL_SECONDS
    # the hub hears at once that the warning sounds, not only once it has ended
    assert [p["item"] for p in fake_hub.played("playing")] == ["urgent:42:red"]
    await agent_clock.advance(300)
    # cut, the warning, then the campaign again from its start, once
    assert events(run) == [("start", "camp", False), ("stop", "camp", False),
                           ("start", "urgent:42:red", False), ("end", "urgent:42:red", False),
                           ("start", "camp", True), ("end", "camp", True)]
    results = sorted((p["item"], p["result"]) for p in fake_hub.played())
    assert results == [("camp", "interrupted"), ("camp", "played"), ("urgent:42:red", "played")]
    cut = fake_hub.played("interrupted")[0]
    assert cut["error"] == "interrupted by urgent:42:red" and cut["ended"] is not None


async def test_the_warning_repeats_until_a_cancel_withdraws_it_within_one_poll(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, run: AgentRun):
    fake_hub.add(fake_hub.item("urgent:7:orange", "urgent", at(20), at(7200), level="orange",
                               repeat=600, duration=90))
    await agent_clock.advance(1230)
    assert [e["scheduled"][11:19] for e in run.starts()] == ["09:00:20", "09:10:20", "09:20:20"]
    assert run.playing() == "urgent:7:orange"
    fake_hub.remove("urgent:7:orange")  # a Cancel: it disappears from the next schedule
    took = await agent_clock.run_until(lambda: run.playing() is None, within=POLL_SECONDS)
    assert took <= POLL_SECONDS
    assert events(run)[-1] == ("stop", "urgent:7:orange", False)
    await agent_clock.advance(3600)
    assert len(run.starts()) == 3  # withdrawn: not replayed, not repeated
    withdrawn = fake_hub.played("interrupted")
    assert [p["error"] for p in withdrawn] == ["withdrawn"]


async def test_an_update_replaces_the_warning_within_one_poll(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, run: AgentRun):
    fake_hub.add(fake_hub.item("urgent:7:orange", "urgent", at(20), at(7200), level="orange",
                               repeat=1800, duration=30))
    await agent_clock.advance(100)
    fake_hub.remove("urgent:7:orange")
    fake_hub.add(fake_hub.item("urgent:8:red", "urgent", agent_clock.now(), at(7200),
                               level="red", repeat=600, duration=30))
    took = await agent_clock.run_until(lambda: run.playing() == "urgent:8:red", within=POLL_SECONDS)
    assert took <= POLL_SECONDS
    await agent_clock.advance(1800)
    assert {e["item"] for e in run.starts()} - {"urgent:7:orange"} == {"urgent:8:red"}
    assert len(run.starts("urgent:7:orange")) == 1


async def test_the_same_level_queues_and_a_lower_one_waits(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, run: AgentRun):
    fake_hub.add(fake_hub.item("red1", "urgent", at(20), at(3600), level="red", duration=60))
    await agent_clock.advance(30)
    fake_hub.add(fake_hub.item("red2", "urgent", agent_clock.now(), at(3600), level="red", duration=60),
                 fake_hub.item("orange", "urgent", agent_clock.now(), at(3600), level="orange",
                               duration=60))
    await agent_clock.advance(300)
    assert events(run) == [("start", "red1", False), ("end", "red1", False),
                           ("start", "red2", False), ("end", "red2", False),
                           ("start", "orange", False), ("end", "orange", False)]


async def test_red_interrupts_orange_and_orange_gets_its_replay(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, run: AgentRun):
    fake_hub.add(fake_hub.item("orange", "urgent", at(20), at(3600), level="orange",
                               repeat=1800, duration=60))
    await agent_clock.advance(30)
    fake_hub.add(fake_hub.item("red", "urgent", agent_clock.now(), at(3600), level="red", duration=60))
    await agent_clock.advance(200)
    assert events(run) == [("start", "orange", False), ("stop", "orange", False),
                           ("start", "red", False), ("end", "red", False),
                           ("start", "orange", True), ("end", "orange", True)]


async def test_an_interrupted_item_is_replayed_once_only(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, run: AgentRun):
    fake_hub.add(fake_hub.item("ann", "announcement", at(20), at(3600), duration=100))
    await agent_clock.advance(30)
    fake_hub.add(fake_hub.item("red1", "urgent", agent_clock.now(), at(3600), level="red", duration=20))
    await agent_clock.run_until(lambda: run.playing() == "ann" and len(run.starts("ann")) == 2,
                                within=60)
    fake_hub.add(fake_hub.item("red2", "urgent", agent_clock.now(), at(3600), level="red", duration=20))
    await agent_clock.advance(600)
    assert events(run) == [("start", "ann", False), ("stop", "ann", False),
                           ("start", "red1", False), ("end", "red1", False),
                           ("start", "ann", True), ("stop", "ann", True),
                           ("start", "red2", False), ("end", "red2", False)]


async def test_no_replay_once_the_window_has_closed(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, run: AgentRun):
    fake_hub.add(fake_hub.item("ann", "announcement", at(20), at(60), duration=30))
    await agent_clock.advance(30)
    fake_hub.add(fake_hub.item("red", "urgent", agent_clock.now(), at(3600), level="red", duration=60))
    await agent_clock.advance(600)
    assert events(run) == [("start", "ann", False), ("stop", "ann", False),
                           ("start", "red", False), ("end", "red", False)]


async def test_a_new_schedule_takes_over_only_once_its_files_are_here(
        fake_hub: FakeSpeakerHub, agent_clock: FakeClock, run: AgentRun):
    fake_hub.add(fake_hub.item("old", "campaign", at(300), at(3600)))
    await agent_clock.advance(20)
    missing = fake_hub.clip("new-campaign")
    held_back = fake_hub.clips.pop(missing["sha256"])  # the hub cannot serve it yet: 404
    fake_hub.items = [fake_hub.item("new", "campaign", at(100), at(3600), clip=missing)]
    await agent_clock.advance(400)
    assert [e["item"] for e in run.starts()] == ["old"]  # the old schedule plays meanwhile
    # ...except an urgent item whose clip is here: it takes effect at once
    fake_hub.add(fake_hub.item("red", "urgent", agent_clock.now(), at(3600), level="red"))
    await agent_clock.run_until(lambda: run.playing() == "red", within=POLL_SECONDS)
    fake_hub.clips[missing["sha256"]] = held_back
    await agent_clock.advance(120)
    assert [e["item"] for e in run.starts()] == ["old", "red", "new"]
