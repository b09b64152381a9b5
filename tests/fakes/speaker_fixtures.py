"""Fixtures for the agent's tests, as a pytest plugin: `pytest_plugins =
["tests.fakes.speaker_fixtures"]` in a test module gives it `agent_clock` (the agent's fake
clock, at T0) and `fake_hub` (a FakeSpeakerHub on that clock, up)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from speaker_agent.clock import FakeClock
from tests.fakes.speaker_hub import T0, FakeSpeakerHub


@pytest.fixture
def agent_clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def fake_hub(agent_clock: FakeClock) -> AsyncIterator[FakeSpeakerHub]:
    hub = FakeSpeakerHub(agent_clock)
    await hub.up()
    yield hub
    await hub.down()
