"""A small district for the dashboard's tests: grids, people with passwords, bound chats, hazards
in every state (some overdue, one whose text is a <script>), a sent warning and a CAP alert
waiting for approval, a take waiting for review, and residents' open questions.

Built through the services (hazards.intake, hazards.lifecycle, people, audio.library…) on
the hub's fake clock, which it leaves at `NOW`: the hazards' history spans three weeks.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from audio import library
from audio.models import RecordingSource
from broadcasts.campaigns import release as campaign_release
from broadcasts.campaigns import states as campaign_states
from broadcasts.speakers import registry, reports
from broadcasts.warnings import lifecycle as warnings
from broadcasts.warnings.models import Level, MsgType, Source, Warning, WarningStatus
from cli.demo import GRIDS
from hazards import intake, lifecycle, photos
from hazards.intake import Draft
from hazards.models import Hazard
from hub import grids, people
from hub.clock import FakeClock
from hub.core import Hub
from hub.models import ChatKind, Role
from hub.settings import Settings, load_settings
from knowledge import questions
from tests.audio_measure import VOICE_LIKE, make_audio
from web.app import build_web_app

PASSWORD = "correct horse battery"  # every dashboard user's password here
START = datetime(2026, 10, 19, 1, 0, tzinfo=FakeClock().now().tzinfo)
SCRIPT_TEXT = "<script>alert('pwned')</script> 楼道堆满纸箱"

STAFF, WORKER, WORKER2, VILLAGE_WORKER, OTHER_STAFF = 5901, 5001, 5002, 5004, 5902
RESIDENT, VILLAGER = 6001, 6003
CHAT_T1, CHAT_T3 = -1001, -1003


@dataclass
class World:
    hub: Hub
    hazards: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    takes: dict[str, int] = field(default_factory=dict)
    questions: dict[str, int] = field(default_factory=dict)
    speakers: dict[str, str] = field(default_factory=dict)


def jpeg(color: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    """A small real photo, as a phone would send."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), color).save(buffer, format="JPEG")
    return buffer.getvalue()


async def _people(hub: Hub) -> None:
    async with hub.db.session() as s:
        await grids.import_specs(s, [*GRIDS, grids.GridSpec("S2", "东城街道", "D1"),
                                     grids.GridSpec("T9", "东城第一网格", "S2")], actor="test", now=hub.now())
        for tid, name, role, grid in [
            (STAFF, "陈建国", Role.STAFF, "S1"), (WORKER, "王芳", Role.WORKER, "T1"),
            (WORKER2, "李强", Role.WORKER, "T1"), (VILLAGE_WORKER, "林秀英", Role.WORKER, "T3"),
            (OTHER_STAFF, "赵东城", Role.STAFF, "S2"),
            (RESIDENT, "张阿姨", Role.RESIDENT, "T1"), (VILLAGER, "林大伯", Role.RESIDENT, "T3"),
        ]:
            await people.appoint(s, telegram_id=tid, name=name, role=role, grid_code=grid,
                                 actor="test", now=hub.now())
        for tid in (STAFF, WORKER, WORKER2, VILLAGE_WORKER, OTHER_STAFF):
            await people.set_password(s, tid, PASSWORD, actor="test", now=hub.now())
        worker = await people.get(s, WORKER)
        staff = await people.get(s, STAFF)
        await grids.bind_chat(s, actor=worker, telegram_chat_id=CHAT_T1, title="南苑一网格居民群",
                              code="T1", kind=ChatKind.GROUP, now=hub.now())
        await grids.bind_chat(s, actor=staff, telegram_chat_id=CHAT_T3, title="东岩村村民群",
                              code="T3", kind=ChatKind.GROUP, now=hub.now())


async def _file(hub: Hub, tid: int, draft: Draft) -> int:
    async with hub.db.session() as s:
        filed = await intake.report(s, await people.get(s, tid), draft, grid_id=None, now=hub.now())
        return filed.hazard.id


async def _act(hub: Hub, tid: int, hazard_id: int, action: str, **kw: object) -> None:
    async with hub.db.session() as s:
        await lifecycle.act(s, await people.get(s, tid), hazard_id, action, now=hub.now(), **kw)


async def _hazards(world: World) -> None:
    hub = world.hub
    clock = hub.clock
    assert isinstance(clock, FakeClock)
    photo = photos.store_photo(jpeg(), hub.settings.data_dir).hash
    fixed_photo = photos.store_photo(jpeg((40, 160, 60)), hub.settings.data_dir).hash
    clock.set(START)
    # three weeks of history: reported, fixed and verified week by week
    for week in range(3):
        for n in range(2 + week):
            hazard_id = await _file(hub, RESIDENT, Draft(text=f"楼道里有电动车在充电（第{week + 1}周 {n + 1}）"))
            await _act(hub, WORKER, hazard_id, "accept")
            clock.advance(timedelta(hours=3))
            await _act(hub, WORKER, hazard_id, "fixed", photo=fixed_photo)
            await _act(hub, WORKER2, hazard_id, "verify")
        clock.advance(timedelta(days=7))
    world.hazards["script"] = await _file(hub, RESIDENT, Draft(text=SCRIPT_TEXT, address="南苑小区3号楼"))
    world.hazards["overdue"] = await _file(hub, RESIDENT, Draft(
        text="消防通道被杂物堵塞，车辆进不去", photo=photo, address="南苑小区东门消防通道",
        lat=25.4312, lon=119.0087))
    await _act(hub, WORKER, world.hazards["overdue"], "accept")
    world.hazards["village"] = await _file(hub, VILLAGER, Draft(text="村口池塘没有护栏，小孩经常在边上玩"))
    clock.advance(timedelta(days=4))  # past every deadline above
    world.hazards["fresh"] = await _file(hub, RESIDENT, Draft(text="安全出口指示灯不亮", address="南苑小区5号楼"))
    world.hazards["gas"] = await _file(hub, RESIDENT, Draft(text="闻到煤气味，在2单元楼下", urgent=True))


async def _warnings(world: World) -> None:
    hub = world.hub
    async with hub.db.session() as s:
        worker = await people.get(s, WORKER)
        draft = await warnings.draft(s, hub, worker, warnings.parse_command("黄 明天有大风，请收好阳台杂物"))
        world.warnings["sent"] = draft.id
    async with hub.db.session() as s:
        await warnings.send(s, hub, await people.get(s, WORKER), world.warnings["sent"])
    async with hub.db.session() as s:
        now = hub.now()
        held = Warning(
            source=Source.CAP, sender="weather@example.gov.cn", identifier="cap-typhoon-1", sent_at=now,
            msg_type=MsgType.ALERT, status=WarningStatus.PENDING, level=Level.ORANGE, event="台风",
            headline="台风橙色预警", description="预计今夜台风登陆，请做好防范。", instruction=None,
            language="zh-CN", area_desc="南苑街道", grid_codes=["S1"], geometry=None, effective=now,
            expires=now + timedelta(hours=24), created_at=now, updated_at=now, decided_by="test:approve",
        )
        s.add(held)
        await s.flush()
        world.warnings["pending"] = held.id


async def _recordings_and_questions(world: World, folder: Path) -> None:
    hub = world.hub
    voice = make_audio(folder / "take.ogg", VOICE_LIKE, 2.0, "-c:a", "libopus", "-b:a", "32k")
    known = await library.catalogue(hub)
    async with hub.db.session() as s:
        added = await library.add_recording(
            s, known, hub.settings.data_dir, actor=await people.get(s, VILLAGE_WORKER), data=voice,
            hint="take.ogg", source=RecordingSource.TELEGRAM, now=hub.now(),
            script_id="daily-safety-tip", dialect="putian",
        )
        world.takes["waiting"] = added.recording.id
    async with hub.db.session() as s:
        for key, tid, text in (("fire", RESIDENT, "家里的灭火器过期了还能用吗？"),
                               ("pond", VILLAGER, "村里池塘边能不能装个救生圈？")):
            routed = await questions.file_question(
                s, asker=await people.get(s, tid), text=text, lang="zh-Hans", chat_id=None, grid_id=None,
                now=hub.now())
            world.questions[key] = routed.question.id


async def _speakers_and_campaigns(world: World) -> None:
    """Two loudspeakers (one heard from a minute ago, one silent for an hour), and the
    fire-prevention month published for the street."""
    hub = world.hub
    clock = hub.clock
    assert isinstance(clock, FakeClock)
    async with hub.db.session() as s:
        staff = await people.get(s, STAFF)
        village, _ = await registry.add(s, staff, registry.SpeakerSpec("SPK1", "东岩村村口大喇叭", "T3"), now=hub.now())
        square, _ = await registry.add(s, staff, registry.SpeakerSpec("SPK2", "南苑广场喇叭", "T1"), now=hub.now())
        world.speakers.update({"village": village.code, "square": square.code})
        await reports.heartbeat(s, square.id, {"status": "idle", "version": "1.0"}, now=hub.now() - timedelta(hours=1))
        await reports.heartbeat(s, village.id, {"status": "idle", "version": "1.0"}, now=hub.now() - timedelta(minutes=1))
        known = await campaign_release.catalogue(hub)
        await campaign_states.publish(s, known, staff, "fire-month", "S1", now=hub.now())


async def build(hub: Hub, folder: Path) -> World:
    """The whole world, in about two seconds."""
    world = World(hub)
    await _people(hub)
    await _hazards(world)
    await _warnings(world)
    await _recordings_and_questions(world, folder)
    await _speakers_and_campaigns(world)
    return world


# --- one world per test module, a copy of it per test ---------------------------------------

CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


@dataclass(frozen=True)
class Built:
    """A world made once in `folder` (database and data dir), with its ids and its clock."""

    folder: Path
    hazards: dict[str, int]
    warnings: dict[str, int]
    takes: dict[str, int]
    questions: dict[str, int]
    now: datetime


def _settings(folder: Path) -> Settings:
    return load_settings(_env_file=None, data_dir=folder, database_url=f"sqlite+aiosqlite:///{folder / 'gridcast.db'}")


def built(folder: Path) -> Built:
    async def make() -> Built:
        hub = await Hub.open(_settings(folder), clock=FakeClock())
        try:
            world = await build(hub, folder)
            return Built(folder, world.hazards, world.warnings, world.takes, world.questions, hub.now())
        finally:
            await hub.close()

    return asyncio.run(make())


@dataclass
class Site:
    """The web app over a copy of a built world, with a client that signs in as people do."""

    hub: Hub
    client: TestClient
    world: Built

    async def sign_in(self, who: str | int, password: str = PASSWORD) -> int:
        token = CSRF.search(await (await self.client.get("/login")).text()).group(1)  # type: ignore[union-attr]
        answer = await self.client.post("/login", data={"who": str(who), "password": password, "_csrf": token},
                                        allow_redirects=False)
        return answer.status

    async def csrf(self, path: str = "/") -> str:
        return CSRF.search(await (await self.client.get(path)).text()).group(1)  # type: ignore[union-attr]

    async def hazard(self, key: str) -> Hazard:
        async with self.hub.db.session() as s:
            found = await s.get(Hazard, self.world.hazards[key])
            assert found is not None
            return found


@asynccontextmanager
async def site(world: Built, folder: Path) -> AsyncIterator[Site]:
    shutil.copytree(world.folder, folder)
    hub = await Hub.open(_settings(folder), clock=FakeClock(world.now), upgrade=False)
    client = TestClient(TestServer(build_web_app(hub)))
    await client.start_server()
    try:
        yield Site(hub, client, world)
    finally:
        await client.close()
        await hub.close()


# The fixtures every dashboard test module uses (imported there by name): one world built per
# module, a fresh copy of it served for each test.
@pytest.fixture(scope="module", name="built")
def built_fixture(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return built(tmp_path_factory.mktemp("dashboard-world"))


@pytest.fixture(name="site")
async def site_fixture(built: Built, tmp_path: Path) -> AsyncIterator[Site]:
    async with site(built, tmp_path / "hub") as opened:
        yield opened
