"""The release pass over a simulated year, on SQLite and PostgreSQL, with a fake clock: every
campaign fires once per window, in the right grids and language; the speakers' schedules carry
its clips at the slot times; a restart, a second pass or a second hub sends nothing twice; an
outage catches up what is still live and skips what went stale."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from audio import library
from audio.assembly import RenderedClip
from audio.models import RecordingRequest
from broadcasts.campaigns import release, states
from broadcasts.campaigns.models import CampaignRelease
from broadcasts.campaigns.plan import Planner
from broadcasts.speakers import registry, schedule
from broadcasts.speakers import slots as speaker_slots
from broadcasts.speakers.models import Slot
from broadcasts.speakers.timing import at_local
from hub.core import Hub
from hub.models import Chat, ChatKind, Grid, OutboxMessage
from tests.conftest import make_settings
from tests.test_grids import tree

START = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 1 January 2027, midnight in Shanghai
END = datetime(2027, 12, 31, 16, 0, tzinfo=UTC)
CHATS = {-101: "T1", -102: "T2", -103: "T3", -110: "S1", -120: "C2"}  # -120: C2's workers' group
IN_VILLAGES = {-101, -102, -103, -120}  # below a community: what `grids: {level: community}` reaches


async def world(hub: Hub, *, speakers: bool = False) -> None:
    """The grid tree of tests.test_grids, five bound chats, and (optionally) two speakers with
    C2's in Puxian Min."""
    await tree(hub)
    async with hub.db.session() as session:
        ids = {g.code: g.id for g in await session.scalars(select(Grid))}
        for chat_id, code in CHATS.items():
            kind = ChatKind.WORKERS if chat_id == -120 else ChatKind.GROUP
            session.add(Chat(telegram_chat_id=chat_id, grid_id=ids[code], kind=kind, active=True, created_at=hub.now()))
        if speakers:
            for code, grid in (("SPK1", "T1"), ("SPK3", "T3")):
                await registry.add(session, "test", registry.SpeakerSpec(code, f"喇叭{grid}", grid), now=hub.now())
            await registry.set_dialect(session, "test", "C2", "putian", ["putian"], now=hub.now())


async def publish_all(hub: Hub) -> None:
    known = await release.catalogue(hub)
    async with hub.db.session() as session:
        for campaign_id in known.campaigns:
            await states.publish(session, known, "test", campaign_id, now=hub.now())


@pytest.fixture
def fake_audio(monkeypatch):
    """Rendering a script takes seconds of speech synthesis: a clip of a few bytes instead."""
    async def render(hub, script_id, dialect=None, formats=("mp3", "ogg")):
        folder = Path(hub.settings.data_dir) / "fake-audio"
        folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(f"{script_id}:{dialect}".encode()).hexdigest()[:32]
        paths = {}
        for suffix in formats:
            paths[suffix] = folder / f"{name}.{suffix}"
            paths[suffix].write_bytes(f"{suffix}:{script_id}:{dialect}".encode())
        return RenderedClip(name, paths, 12.0, False, (), "mandarin" if dialect else None)

    monkeypatch.setattr(library, "render", render)


def ticks(hub: Hub, planner: Planner, start: datetime, end: datetime) -> list[datetime]:
    """Every instant something falls due, and 03:00 each day: what the minute job would see."""
    due = {d.at for d in planner.around(hub.local(start).date(), hub.local(end).date()) if start < d.at <= end}
    daily = {start + timedelta(days=n, hours=3) for n in range((end - start).days)}
    return sorted(due | {t for t in daily if t <= end})


def expected(hub: Hub, planner: Planner, start: datetime, end: datetime) -> Counter:
    """(campaign, chat) -> posts owed: every post falling due in (start, end], and those still
    live at `start` (the first pass, when they were published)."""
    owed: Counter = Counter()
    for due in planner.around(hub.local(start).date(), hub.local(end).date()):
        if due.kind == "post" and (start < due.at <= end or due.live(start)):
            chats = IN_VILLAGES if due.campaign_id == "straw-burning" else CHATS
            for chat_id in chats:
                owed[(due.campaign_id, chat_id)] += 1
    return owed


async def sent(hub: Hub) -> list[OutboxMessage]:
    async with hub.db.session() as session:
        return list(await session.scalars(
            select(OutboxMessage).where(OutboxMessage.ref_type == "campaign").order_by(OutboxMessage.id)))


def first_plays(hub: Hub, planner: Planner, start: datetime, end: datetime) -> dict[tuple, datetime]:
    """Each slot of each window: 00:30 on the first day it plays (its window's first day, or
    the first of its weekdays in the window)."""
    found = {}
    for due in planner.around(hub.local(start).date(), hub.local(end).date()):
        spec = due.occasion.campaign.campaign.speakers[due.index] if due.kind == "slot" else None
        if spec is None:
            continue
        day = due.occasion.span.start
        while spec.weekdays and day.isoweekday() not in spec.weekdays:
            day += timedelta(days=1)
        when = at_local(day, 30, hub.tz)
        if start < when <= end and day <= due.occasion.span.end:
            found[due.key] = when
    return found


async def check_schedules(hub: Hub, planner: Planner, now: datetime, keys: set[tuple]) -> set[tuple]:
    """SPK3's schedule at `now` carries the slots `keys` (each playing today) at their times."""
    await speaker_slots.render_ahead(hub)
    async with hub.db.session() as session:
        built = await schedule.build(session, hub, "SPK3", now)
    playing = {(item.title, item.start) for item in built.items if item.kind == "campaign"}
    today = hub.local(now).date()
    checked = set()
    for due in planner.around(today, today):
        if due.key in keys:
            spec = due.occasion.campaign.campaign.speakers[due.index]
            title = planner.catalogue.scripts[spec.script].title
            for minute in spec.minutes:
                assert (title, at_local(today, minute, hub.tz)) in playing, (due.key, minute)
            checked.add(due.key)
    return checked


async def test_a_simulated_year_fires_every_campaign_once_per_window(hub, clock, fake_audio, tmp_path):
    clock.set(START)
    await world(hub, speakers=True)
    await publish_all(hub)
    planner = Planner(await release.catalogue(hub), hub.tz)
    plays = first_plays(hub, planner, START, END)
    await release.release(hub)
    current, checked, restarted = hub, set(), None
    for tick in sorted(set(ticks(hub, planner, START, END)) | set(plays.values())):
        clock.set(tick)
        if restarted is None and tick >= datetime(2027, 7, 1, tzinfo=UTC):
            # A restart mid-year: a new process, nothing kept in memory, the same database.
            restarted = current = await Hub.open(make_settings(tmp_path, database_url=hub.db.url),
                                                 clock=clock, upgrade=False)
        await release.release(current)
        await release.release(current)  # the job run twice
        if tick in plays.values():
            checked |= await check_schedules(current, planner, tick, {k for k, t in plays.items() if t == tick})
    if restarted is not None:
        await restarted.close()

    messages = await sent(hub)
    got = Counter((m.ref_id, m.chat_id) for m in messages)
    assert got == expected(hub, planner, START, END)
    # nothing twice (the same text may come back in a later window, never on the same day)
    assert len({(m.chat_id, m.payload["text"], hub.local(m.created_at).date()) for m in messages}) == len(messages)
    assert all("—— " in m.payload["text"] for m in messages)  # in zh-Hans, the hub's language
    by_text = {m.payload["text"].splitlines()[0]: m for m in messages if m.chat_id == -103}
    qingming = by_text["【清明节当天提醒】"]
    assert hub.local(qingming.created_at) == datetime(2027, 4, 5, 7, 30, tzinfo=hub.tz)
    assert hub.local(by_text["【除夕燃放提醒】"].created_at) == datetime(2027, 2, 5, 15, 0, tzinfo=hub.tz)
    assert "straw-burning" not in {m.ref_id for m in messages if m.chat_id == -110}
    # every campaign's slots, at their times, on the first day each plays
    assert checked == set(plays) and {key[0] for key in checked} == set(planner.catalogue.campaigns)

    async with hub.db.session() as session:
        requests = list(await session.scalars(select(RecordingRequest)))
        campaign_slots = list(await session.scalars(select(Slot).where(Slot.source.like("campaign:%"))))
    # One request per script in Puxian Min, to the grid whose speaker plays it; Cantonese and
    # the others are wanted too, but no speaker here uses them.
    assert sorted(r.script_id for r in requests) == sorted({
        s.script for loaded in planner.catalogue.campaigns.values() for s in loaded.campaign.speakers})
    assert {r.dialect for r in requests} == {"putian"} and {r.grid_id for r in requests} == {
        await _grid_id(hub, "T3")}
    # One slot covers the tree; straw burning's covers the villages, one slot each.
    where = Counter((s.source, s.grid_id) for s in campaign_slots)
    villages = {await _grid_id(hub, "C1"), await _grid_id(hub, "C2")}
    assert {grid for source, grid in where if source == "campaign:straw-burning"} == villages
    assert {grid for source, grid in where if source != "campaign:straw-burning"} == {await _grid_id(hub, "D1")}


async def _grid_id(hub: Hub, code: str) -> int:
    async with hub.db.session() as session:
        return await session.scalar(select(Grid.id).where(Grid.code == code))


async def test_a_three_day_outage_catches_up_what_is_live_and_skips_what_went_stale(hub, clock, caplog):
    clock.set(datetime(2027, 3, 20, tzinfo=UTC))
    await world(hub)
    await publish_all(hub)
    await release.release(hub)
    clock.set(at_local(datetime(2027, 3, 26).date(), 17 * 60, hub.tz))  # the last pass before the outage
    await release.release(hub)
    before = len(await sent(hub))
    clock.set(at_local(datetime(2027, 3, 29).date(), 17 * 60, hub.tz))  # three days later
    with caplog.at_level(logging.WARNING, logger="broadcasts.campaigns.release"):
        report = await release.release(hub)
    new = (await sent(hub))[before:]
    heads = Counter(m.payload["text"].splitlines()[0] for m in new)
    # School safety day: Friday's post went stale when Monday's fell due; Monday's is still live.
    assert heads["【今天是全国中小学生安全教育日】"] == len(CHATS)
    assert not any("下周一" in m.payload["text"] for m in new)
    # Qingming's first post (Monday 09:00) is live until Qingming Day's: caught up.
    assert heads["【清明文明祭扫 严防山林火灾】"] == len(CHATS)
    assert report.skipped == ["school-safety-day 0:2027-03-26 post:0"]
    assert "school-safety-day: post:0 of window 0:2027-03-26 fell due" in caplog.text and "skipped" in caplog.text
    assert all(m.expires_at is not None and m.expires_at > hub.now() for m in new)


async def test_two_hubs_releasing_at_once_send_once(hub, clock, tmp_path):
    clock.set(at_local(datetime(2027, 4, 5).date(), 8 * 60, hub.tz))
    await world(hub)
    await publish_all(hub)
    other = await Hub.open(make_settings(tmp_path, database_url=hub.db.url), clock=clock, upgrade=False)
    try:
        await asyncio.gather(release.release(hub), release.release(other), release.release(hub))
    finally:
        await other.close()
    messages = await sent(hub)
    assert messages and len({(m.chat_id, m.payload["text"]) for m in messages}) == len(messages)
    async with hub.db.session() as session:
        keys = list((await session.execute(select(CampaignRelease.campaign_id, CampaignRelease.window,
                                                  CampaignRelease.grid_id, CampaignRelease.item))).tuples())
    assert len(keys) == len(set(keys))


async def test_pause_withdraws_and_resume_catches_up(hub, clock, fake_audio):
    clock.set(at_local(datetime(2027, 3, 28).date(), 12 * 60, hub.tz))
    await world(hub, speakers=True)
    known = await release.catalogue(hub)
    async with hub.db.session() as session:
        await states.publish(session, known, "test", "qingming", now=hub.now())
    await release.release(hub)

    async def active_slots() -> set[str]:
        async with hub.db.session() as session:
            return set(await session.scalars(select(Grid.code).join(Slot, Slot.grid_id == Grid.id)
                                             .where(Slot.active.is_(True), Slot.source == "campaign:qingming")))

    assert await active_slots() == {"D1"}
    clock.advance(timedelta(hours=1))
    async with hub.db.session() as session:
        await states.pause(session, known, "test", "qingming", "C2", now=hub.now())
    await release.release(hub)
    assert await active_slots() == {"C1"}  # C2 out: the rest of the tree is C1 alone

    clock.set(at_local(datetime(2027, 3, 29).date(), 9 * 60 + 5, hub.tz))  # the first post is due
    await release.release(hub)
    assert {m.chat_id for m in await sent(hub)} == {-101, -102, -110}  # C2's and T3's wait
    async with hub.db.session() as session:
        await speaker_slots.render_ahead(hub)
        built = await schedule.build(session, hub, "SPK3", hub.now())
        assert not [i for i in built.items if i.kind == "campaign"]

    clock.advance(timedelta(hours=2))
    async with hub.db.session() as session:
        await states.resume(session, known, "test", "qingming", "C2", now=hub.now())
    await release.release(hub)
    assert await active_slots() == {"D1"}  # the first slot back, C1's withdrawn
    assert Counter(m.chat_id for m in await sent(hub)) == Counter(dict.fromkeys(CHATS, 1))
    await speaker_slots.render_ahead(hub)  # the speakers' job: SPK3's clip, in Puxian Min
    async with hub.db.session() as session:
        built = await schedule.build(session, hub, "SPK3", hub.now())
        assert [i.start for i in built.items if i.kind == "campaign"][:1] == [
            at_local(datetime(2027, 3, 29).date(), 12 * 60, hub.tz)]


async def test_posts_go_out_in_the_hubs_language(tmp_path, sqlite_url, clock):
    english = await Hub.open(make_settings(tmp_path, database_url=sqlite_url, default_language="en"),
                             clock=clock, upgrade=False)
    try:
        clock.set(at_local(datetime(2027, 11, 9).date(), 9 * 60, english.tz))
        await world(english)
        await publish_all(english)
        await release.release(english)
        texts = [m.payload["text"] for m in await sent(english) if m.chat_id == -101]
    finally:
        await english.close()
    assert "Today, 9 November, is Fire Safety Day (119)\n" in "\n".join(texts) + "\n"
    assert any(text.endswith("— 第一网格") for text in texts)


async def test_a_group_with_a_language_of_its_own_gets_its_posts_in_it(hub, clock):
    clock.set(at_local(datetime(2027, 11, 9).date(), 9 * 60, hub.tz))
    await world(hub)
    async with hub.db.session() as session:
        chat = await session.scalar(select(Chat).where(Chat.telegram_chat_id == -102))
        chat.language = "en"
    await publish_all(hub)
    await release.release(hub)
    english = [m.payload["text"] for m in await sent(hub) if m.chat_id == -102]
    chinese = [m.payload["text"] for m in await sent(hub) if m.chat_id == -101]
    assert "Today, 9 November, is Fire Safety Day (119)" in "\n".join(english)
    assert "11月9日" in "\n".join(chinese) and "Fire Safety Day" not in "\n".join(chinese)
    assert len(english) == len(chinese)  # the same posts, one language each
