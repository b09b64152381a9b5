"""`gridcast campaigns …`, staff's publish/pause/resume through the service (roles, scope,
audit), `/campaign` in the bot, and each job's last run on /healthz."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

import scheduler
from broadcasts.campaigns import release, states
from hub import audit
from hub.errors import Conflict, NotFound, PermissionDenied
from hub.models import Role
from tests.test_campaigns_release import fake_audio, publish_all, world  # noqa: F401 - a fixture
from tests.test_grids import appoint, tree


def test_list_show_and_errors(cli, capsys):
    assert cli("campaigns", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) >= 12 and {"qingming", "flood-season", "fire-month"} <= {r["id"] for r in listed}
    assert all(r["next_start"] <= r["next_end"] for r in listed) and listed[0]["states"] == {}
    assert cli("campaigns", "show", "qingming") == 0
    shown = capsys.readouterr().out
    assert "qingming: 清明文明祭扫 严防山林火灾" in shown and '{"solar_term": "清明", "before": 7, "after": 2}' in shown
    assert "speakers 0: qingming-no-burning at 08:00, 12:00, 17:00 (every)" in shown
    assert cli("campaigns", "show", "nope") == 2
    assert "no campaign 'nope'" in capsys.readouterr().err


def test_publish_pause_resume_and_preview(cli, capsys):
    for code, parent in (("D1", None), ("S1", "D1"), ("C1", "S1"), ("T1", "C1"), ("C2", "S1")):
        assert cli("grids", "add", code, "--name", f"网格{code}", *(["--parent", parent] if parent else [])) == 0
    capsys.readouterr()
    assert cli("campaigns", "publish", "qingming") == 0
    assert capsys.readouterr().out.strip() == "qingming: published in D1"
    assert cli("campaigns", "publish", "qingming", "--grid", "C1") == 1
    assert capsys.readouterr().err.strip() == "gridcast: 宣传活动 qingming 已在 C1 开展。"
    assert cli("campaigns", "pause", "qingming", "--grid", "C2") == 0
    assert cli("campaigns", "resume", "qingming", "--grid", "C1") == 1
    assert "尚未" not in capsys.readouterr().err  # C1 runs: "already running"
    assert cli("campaigns", "preview", "--date", "2027-04-05", "--grid", "T1") == 0
    preview = capsys.readouterr().out
    assert preview.startswith("2027-04-05 (Asia/Shanghai)\n\nT1 网格T1 — 0 chat(s), 0 speaker(s)")
    assert "qingming [running] 清明文明祭扫 严防山林火灾" in preview
    assert "post 07:30: 【清明节当天提醒】" in preview and "—— 网格T1" in preview
    assert "plays qingming-no-burning at 08:00, 12:00, 17:00" in preview
    assert cli("campaigns", "preview", "--date", "2027-04-05", "--grid", "C2", "--json") == 0
    [grid] = json.loads(capsys.readouterr().out)
    [qingming] = [c for c in grid["campaigns"] if c["id"] == "qingming"]
    assert qingming["state"] == "paused" and qingming["posts"][0]["at"] == "2027-04-05T07:30:00+08:00"
    assert cli("campaigns", "resume", "qingming", "--grid", "C2") == 0
    assert cli("campaigns", "list", "--json") == 0
    states_of = {r["id"]: r["states"] for r in json.loads(capsys.readouterr().out.split("\n", 1)[1])}
    assert states_of["qingming"] == {"D1": "published", "C2": "published"}
    assert cli("campaigns", "preview", "--date", "2027-13-01") == 2


async def test_staff_act_for_their_subtree_and_each_change_is_audited(sqlite_hub):
    hub = sqlite_hub
    await tree(hub)
    known = await release.catalogue(hub)
    staff = await appoint(hub, 1, Role.STAFF, "S1")
    village = await appoint(hub, 2, Role.STAFF, "C2")
    worker = await appoint(hub, 3, Role.WORKER, "T1")
    async with hub.db.session() as session:
        change = await states.publish(session, known, staff, "qingming", now=hub.now())  # their own grid
    assert change.grids == ("S1",)
    for actor, grid, error in ((staff, "D1", PermissionDenied), (worker, "T1", PermissionDenied),
                               (village, "C1", PermissionDenied)):
        with pytest.raises(error):
            async with hub.db.session() as session:
                await states.pause(session, known, actor, "qingming", grid, now=hub.now())
    with pytest.raises(NotFound):
        async with hub.db.session() as session:
            await states.publish(session, known, staff, "no-such-campaign", now=hub.now())
    async with hub.db.session() as session:
        await states.pause(session, known, village, "qingming", now=hub.now())
    with pytest.raises(Conflict) as refused:
        async with hub.db.session() as session:
            await states.pause(session, known, village, "qingming", now=hub.now())
    assert refused.value.key == "campaigns.is_paused"
    async with hub.db.session() as session:
        await states.pause(session, known, staff, "qingming", now=hub.now())  # the whole street
        await states.resume(session, known, staff, "qingming", now=hub.now())
        rows = await audit.history(session, "campaign", "qingming")
        found = await states.states_of(session, "qingming")
    assert [r.action for r in rows] == ["publish", "pause", "pause", "resume"]
    assert rows[2].before == {"grid": "S1", "states": {"S1": "published", "C2": "paused"}}
    assert rows[3].actor_id == staff.id and rows[3].after == {"grid": "S1", "state": "published"}
    assert found == {"/D1/S1/": states.PublishState.PUBLISHED}  # the street's state governs all of it


async def test_campaign_command_shows_my_area_with_the_audio(bot, bot_hub, telegram, clock, fake_audio):  # noqa: F811
    clock.set(datetime(2027, 4, 4, 2, 0, tzinfo=UTC))  # 10:00 the day before Qingming
    await world(bot_hub)
    await publish_all(bot_hub)
    async with bot_hub.db.session() as session:
        await states.pause(session, await release.catalogue(bot_hub), "test", "flood-season", "S1", now=bot_hub.now())
    await appoint(bot_hub, 7001, Role.STAFF, "S1")
    await appoint(bot_hub, 7002, Role.WORKER, "T1")
    staff, worker = telegram.user(7001, "林主任"), telegram.user(7002, "王芳")
    mark = len(telegram.calls)
    telegram.send_message(telegram.private(staff), staff, "/campaign")
    reply = (await telegram.reply_to(7001, since=mark)).params["text"]
    assert reply.startswith("📅 南苑街道：现在和未来一周的宣传活动")
    assert "▶️ 清明文明祭扫 严防山林火灾（3月29日—4月7日，进行中）" in reply
    assert "群消息：4月5日 07:30" in reply and "大喇叭：08:00、12:00、17:00（每天）" in reply
    assert "⏭ 汛期安全（4月24日—9月30日，已暂停）" not in reply  # not within the week
    voices = await telegram.wait_for("sendVoice", since=mark)
    assert voices[0].chat_id == 7001 and "清明文明祭扫" in voices[0].params["caption"]
    mark = len(telegram.calls)
    telegram.send_message(telegram.private(worker), worker, "/campaign")
    assert (await telegram.reply_to(7002, since=mark)).params["text"] == "只有管理人员才能这样做。"


async def test_healthz_shows_each_jobs_last_successful_run(sqlite_hub, web_client, clock):
    async def broken(hub):
        raise RuntimeError("feed down")

    broken.__name__ = "broken_job"
    await scheduler.recorded(scheduler.campaign_release, sqlite_hub)
    await scheduler.recorded(broken, sqlite_hub)
    client = await web_client(sqlite_hub)
    health = await (await client.get("/healthz")).json()
    assert health["jobs"]["campaign_release"] == {"last_success": clock.now().isoformat(), "last_failure": None}
    assert health["jobs"]["broken_job"]["last_success"] is None
    assert health["jobs"]["broken_job"]["last_failure"] == clock.now().isoformat()
    assert "campaign_release" in {job.func.__name__ for job in scheduler.jobs(sqlite_hub)}
