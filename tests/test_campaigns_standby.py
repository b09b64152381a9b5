"""Two `gridcast scheduler` processes on PostgreSQL: kill -9 the active one, and the standby
leads within a minute and sends nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from broadcasts.campaigns import states
from broadcasts.campaigns.files import load_campaigns
from broadcasts.campaigns.models import CampaignRelease
from hub.core import Hub
from hub.heartbeats import JobRun
from hub.models import OutboxMessage
from tests.conftest import _truncate, make_settings
from tests.test_campaigns_release import CHATS, world

CAMPAIGN = """\
id: {id}
title: {{zh-Hans: 演练{id}, en: Drill {id}}}
windows:
  - date: '{day}'
    after: 1
posts:
  - day: 0
    at: '00:00'
    text: {{zh-Hans: "{{{{ grid }}}}：{id}", en: "{{{{ grid }}}}: {id}"}}
"""


def start_scheduler(tmp_path: Path, url: str, content: Path) -> subprocess.Popen:
    env = {"PATH": os.environ["PATH"], "GRIDCAST_DATA_DIR": str(tmp_path / "var"),
           "GRIDCAST_DATABASE_URL": url, "GRIDCAST_CONTENT_DIR": str(content)}
    return subprocess.Popen([sys.executable, "-m", "cli", "scheduler"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


async def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what} did not happen within {timeout} s")


async def test_a_killed_scheduler_is_replaced_within_a_minute_and_nothing_goes_twice(tmp_path, postgres_url):
    await _truncate(postgres_url)
    hub = await Hub.open(make_settings(tmp_path / "var", database_url=postgres_url), upgrade=False)
    county = tmp_path / "county"
    (county / "campaigns").mkdir(parents=True)
    today = hub.local(hub.now()).date()
    for campaign_id in ("drill-a", "drill-b"):
        (county / "campaigns" / f"{campaign_id}.yaml").write_text(
            CAMPAIGN.format(id=campaign_id, day=today.strftime("%m-%d")), encoding="utf-8")
    known = load_campaigns(county / "campaigns")
    first = second = None

    async def released(campaign_id: str) -> int:
        async with hub.db.session() as session:
            return await session.scalar(select(func.count()).select_from(CampaignRelease)
                                        .where(CampaignRelease.campaign_id == campaign_id)) or 0

    async def campaign_runner() -> str | None:
        async with hub.db.session() as session:
            run = await session.get(JobRun, "campaign_release", populate_existing=True)
            return run.instance if run is not None and run.last_success_at is not None else None

    try:
        await world(hub)
        async with hub.db.session() as session:
            await states.publish(session, known, "test", "drill-a", now=hub.now())
        first = start_scheduler(tmp_path, postgres_url, county)
        await wait_for(lambda: released("drill-a"), 60, "the first scheduler's release")
        second = start_scheduler(tmp_path, postgres_url, county)
        await asyncio.sleep(3)
        assert second.poll() is None and await released("drill-b") == 0
        # Published while the leader waits for its next minute: only a leader releases it.
        async with hub.db.session() as session:
            await states.publish(session, known, "test", "drill-b", now=hub.now() - timedelta(seconds=1))
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed = time.monotonic()
        await wait_for(lambda: released("drill-b"), 60, "the standby's release")
        assert time.monotonic() - killed < 60
        assert await campaign_runner() == f"{socket.gethostname()}:{second.pid}"
        async with hub.db.session() as session:
            rows = list((await session.execute(select(OutboxMessage.chat_id, OutboxMessage.payload)
                                               .where(OutboxMessage.ref_type == "campaign"))).tuples())
        texts = sorted((chat, payload["text"].split("：")[-1]) for chat, payload in rows)
        assert texts == sorted((chat, drill) for chat in CHATS for drill in ("drill-a", "drill-b"))
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        outputs = [process.communicate(timeout=20)[0] for process in (first, second) if process is not None]
        await hub.close()
    assert "now the active scheduler" in outputs[1]
    assert "Traceback" not in outputs[1]
