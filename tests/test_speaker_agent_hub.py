"""End to end: the real hub (web app on SQLite) and a real agent with a file sink. A red
warning sent in the grid plays on the agent within one poll, and its proof of play reaches
the hub."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from broadcasts.speakers import registry, urgent
from broadcasts.speakers.models import Play
from broadcasts.warnings import lifecycle as warnings
from cli.demo import load_demo
from hub import people
from hub.clock import FakeClock as HubClock
from hub.core import Hub
from speaker_agent.clock import FakeClock
from tests.conftest import make_settings
from tests.fakes.speaker_hub import AgentRun, free_port
from web.app import build_web_app

SPEAKER = "E2E1"


@pytest.fixture
async def served(tmp_path: Path, sqlite_url: str, clock: HubClock) -> AsyncIterator[tuple[Hub, str]]:
    """The hub on SQLite and its web app on a loopback port, with its public URL set to it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    hub = await Hub.open(make_settings(tmp_path / "hub", database_url=sqlite_url, public_url=url),
                         clock=clock, upgrade=False)
    runner = web.AppRunner(build_web_app(hub))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield hub, url
    await runner.cleanup()
    await hub.close()


async def test_a_red_warning_sent_plays_on_the_agent_within_one_poll(
        served: tuple[Hub, str], clock: HubClock, tmp_path: Path):
    hub, url = served
    await load_demo(hub)
    async with hub.db.session() as s:
        _, token = await registry.add(s, "test", registry.SpeakerSpec(SPEAKER, "村口大喇叭", "T1"),
                                      now=hub.now())
    poll = hub.settings.speaker_poll_seconds
    agent_clock = FakeClock(clock.now(), on_move=clock.set)  # one time for hub and agent
    async with AgentRun(url, agent_clock, tmp_path / "agent", speaker=SPEAKER, token=token) as run:
        await agent_clock.advance(poll / 2)
        assert run.agent.state.etag is not None  # it has polled: an empty schedule
        async with hub.db.session() as s:
            worker = await people.get(s, 5001)
            draft = await warnings.draft(s, hub, worker,
                                         warnings.parse_command("红 液化气站泄漏，请远离东门"))
            draft_id = draft.id
        async with hub.db.session() as s:
            worker = await people.get(s, 5001)
            sent = await warnings.send(s, hub, worker, draft_id)
        assert sent.speakers >= 1
        await urgent.settle(hub)  # the clip is rendered after the send commits
        took = await agent_clock.run_until(lambda: bool(run.starts()), within=poll)
        assert took <= poll
        start = run.starts()[0]
        assert start["item"].startswith("urgent:") and start["file_sha256"] == start["clip"]
        await agent_clock.run_until(lambda: run.playing() is None, within=600, step=5)
        await agent_clock.advance(1)
    async with hub.db.session() as s:
        plays = list(await s.scalars(select(Play)))
    assert [(p.item, p.result.value) for p in plays] == [(start["item"], "played")]
