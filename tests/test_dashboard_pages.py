"""The dashboard's pages and actions through the real web app (aiohttp test client), over the
world of tests/dashboard_world.py: each action is the service's, with its checks, its audit
row and the messages it owes."""

from __future__ import annotations

import csv
import io
import re

from openpyxl import load_workbook
from sqlalchemy import select

from audio.models import Recording
from broadcasts.campaigns.models import CampaignState, PublishState
from broadcasts.speakers.models import Announcement
from hazards.models import HazardState
from hub.models import AuditEntry, OutboxMessage
from knowledge.models import PromotedEntry, Question, QuestionState
from tests import dashboard_world as w
from tests.audio_measure import VOICE_LIKE, make_audio
from tests.dashboard_world import built_fixture, site_fixture  # noqa: F401 (the fixtures)


async def test_overview_counts_what_the_person_may_see(site: w.Site):
    assert await site.sign_in(w.STAFF) == 303
    body = await (await site.client.get("/")).text()
    assert "东岩村第一网格" in body and "南苑社区第一网格" in body  # the whole street
    assert "<svg" in body and body.count('class="reported"') >= 12  # the 12-week trend, drawn here
    assert "台风橙色预警" in body and "SPK2" in body  # this week's warnings, the silent speaker
    await site.client.post("/logout", data={"_csrf": await site.csrf()})
    assert await site.sign_in(w.WORKER) == 303
    body = await (await site.client.get("/?days=7")).text()
    assert "东岩村第一网格" not in body and "南苑社区第一网格" in body  # a worker: their grid
    assert "台风橙色预警" not in body  # a feed alert waiting for staff is staff's


async def test_the_export_is_exactly_what_is_filtered(site: w.Site):
    assert await site.sign_in(w.STAFF) == 303
    answer = await site.client.get("/hazards/export.xlsx?overdue=1&grid=T1")
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="ledger-')
    sheet = load_workbook(io.BytesIO(await answer.read())).active
    rows = list(sheet.values)
    assert {r[0] for r in rows[1:]} == {site.world.hazards["script"], site.world.hazards["overdue"]}
    assert sheet["D2"].number_format == "yyyy-mm-dd hh:mm"
    page = await (await site.client.get("/hazards?overdue=1&grid=T1")).text()
    assert {int(n) for n in re.findall(r'<a href="/hazards/(\d+)">#', page)} == {r[0] for r in rows[1:]}
    text = (await (await site.client.get("/hazards/export.csv?q=池塘")).read()).decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert [r[0] for r in table[1:]] == [str(site.world.hazards["village"])]
    assert table[1][10] == "村口池塘没有护栏，小孩经常在边上玩"
    assert (await site.client.get("/hazards?from=2026-13-01")).status == 400


async def test_a_bad_photo_is_refused_and_changes_nothing(site: w.Site):
    assert await site.sign_in(w.WORKER) == 303
    hazard_id = site.world.hazards["overdue"]
    token = await site.csrf(f"/hazards/{hazard_id}")
    form = {"action": "fixed", "_csrf": token}
    answer = await site.client.post(f"/hazards/{hazard_id}/act", data={
        **form, "photo": io.BytesIO(b"<html>not a photo</html>")})
    assert answer.status == 400 and "不是能识别的图片" in await answer.text()
    assert (await site.hazard("overdue")).state is HazardState.ACCEPTED
    fixed = await site.client.post(f"/hazards/{hazard_id}/act", data={**form, "photo": io.BytesIO(w.jpeg())},
                                   allow_redirects=False)
    assert fixed.status == 303
    hazard = await site.hazard("overdue")
    assert hazard.state is HazardState.RECTIFIED and hazard.evidence_photo
    async with site.hub.db.session() as s:
        audited = await s.scalar(select(AuditEntry).where(
            AuditEntry.entity == "hazard", AuditEntry.entity_id == str(hazard_id), AuditEntry.action == "fixed"))
        told = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.ref_id == str(hazard_id))))
    assert audited.actor_label.startswith("person:") and told  # the reporter and the card's chat


async def test_warnings_draft_send_and_report(site: w.Site):
    assert await site.sign_in(w.WORKER) == 303
    token = await site.csrf("/warnings")
    drafted = await site.client.post("/warnings", data={
        "_csrf": token, "level": "yellow", "text": "<b>明天</b>有大雾，开车请慢行"}, allow_redirects=False)
    assert drafted.status == 303
    path = drafted.headers["Location"]
    page = await (await site.client.get(path)).text()
    assert "&lt;b&gt;明天&lt;/b&gt;" in page and "草稿" in page
    sent = await site.client.post(path + "/send", data={"_csrf": token}, allow_redirects=False)
    assert sent.status == 303
    page = await (await site.client.get(path)).text()
    assert "南苑一网格居民群" in page and "待发送" in page and "已发布" in page
    # a worker cannot approve a feed alert: that is staff's
    pending = site.world.warnings["pending"]
    assert (await site.client.get(f"/warnings/{pending}")).status == 403
    refused = await site.client.post(f"/warnings/{pending}/send", data={"_csrf": token})
    assert refused.status == 403


async def test_the_loudspeaker_preview_of_an_orange_warning(site: w.Site):
    assert await site.sign_in(w.STAFF) == 303
    answer = await site.client.get(f"/warnings/{site.world.warnings['pending']}/preview.mp3")
    assert answer.status == 200 and answer.content_type == "audio/mpeg"
    data = await answer.read()
    assert data[:3] == b"ID3" or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")
    assert (await site.client.get(f"/warnings/{site.world.warnings['sent']}/preview.mp3")).status == 400


async def test_answer_a_question_and_promote_it(site: w.Site):
    assert await site.sign_in(w.STAFF) == 303
    question_id = site.world.questions["fire"]
    token = await site.csrf("/knowledge")
    answered = await site.client.post(f"/knowledge/{question_id}/answer", data={
        "_csrf": token, "answer": "过期的灭火器可能失效，请联系物业更换。"}, allow_redirects=False)
    assert answered.headers["Location"] == f"/knowledge/{question_id}"  # staff may promote it
    page = await (await site.client.get(f"/knowledge/{question_id}")).text()
    assert "加入知识库" in page or "知识库" in page
    await site.client.post(f"/knowledge/{question_id}/promote", data={"_csrf": token})
    async with site.hub.db.session() as s:
        question = await s.get(Question, question_id)
        entry = await s.scalar(select(PromotedEntry).where(PromotedEntry.question_id == question_id))
        told = await s.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == f"question:{question_id}:answer"))
    assert question.state is QuestionState.ANSWERED and entry is not None and told is not None
    assert "过期的灭火器" in told.payload["text"]


async def test_upload_a_take_and_have_it_approved(site: w.Site, tmp_path):
    assert await site.sign_in(w.WORKER) == 303
    voice = make_audio(tmp_path / "tip.ogg", VOICE_LIKE, 2.5, "-c:a", "libopus", "-b:a", "24k")
    token = await site.csrf("/recordings")
    answer = await site.client.post("/recordings", data={
        "_csrf": token, "script": "daily-safety-tip", "dialect": "putian",
        "audio": io.BytesIO(voice)}, allow_redirects=False)
    assert answer.status == 303
    page = await (await site.client.get("/recordings")).text()
    assert "等待审核" in page and "需由其他网格员或管理人员审核" in page  # not by its own maker
    async with site.hub.db.session() as s:
        take = await s.scalar(select(Recording).where(Recording.speaker_name == "王芳"))
    assert take is not None and not take.approved
    listened = await site.client.get(f"/recordings/{take.id}/audio")
    assert listened.status == 200 and (await listened.read())[:4] == b"fLaC"
    refused = await site.client.post(f"/recordings/{take.id}/approve", data={"_csrf": token})
    assert refused.status == 403
    await site.client.post("/logout", data={"_csrf": token})
    assert await site.sign_in(w.WORKER2) == 303  # another worker of the grid may
    token = await site.csrf("/recordings")
    approved = await site.client.post(f"/recordings/{take.id}/approve", data={"_csrf": token},
                                      allow_redirects=False)
    assert approved.status == 303
    async with site.hub.db.session() as s:
        assert (await s.get(Recording, take.id)).approved


async def test_campaigns_are_staff_s_to_pause_and_resume(site: w.Site):
    assert await site.sign_in(w.WORKER) == 303
    assert (await site.client.get("/campaigns")).status == 403
    await site.client.post("/logout", data={"_csrf": await site.csrf()})
    assert await site.sign_in(w.STAFF) == 303
    page = await (await site.client.get("/campaigns?year=2026")).text()
    assert "全国消防宣传月" in page and "进行中" in page
    token = await site.csrf("/campaigns/fire-month")
    paused = await site.client.post("/campaigns/fire-month/pause", data={"_csrf": token, "grid": "S1"},
                                    allow_redirects=False)
    assert paused.status == 303
    async with site.hub.db.session() as s:
        states = list(await s.scalars(select(CampaignState.state).where(CampaignState.campaign_id == "fire-month")))
    assert states == [PublishState.PAUSED]
    again = await site.client.post("/campaigns/fire-month/pause", data={"_csrf": token, "grid": "S1"})
    assert again.status == 409  # the service says how it stands
    other = await site.client.post("/campaigns/fire-month/publish", data={"_csrf": token, "grid": "S2"})
    assert other.status == 403  # another street is not this staff's


async def test_speakers_status_and_an_announcement(site: w.Site):
    assert await site.sign_in(w.STAFF) == 303
    page = await (await site.client.get("/speakers")).text()
    assert "SPK1" in page and "在线" in page and "离线" in page
    token = await site.csrf("/speakers")
    answer = await site.client.post("/speakers/announce", data={
        "_csrf": token, "target": "grid:T3", "text": "今晚八点在村部开安全会议"}, allow_redirects=False)
    assert answer.status == 303
    async with site.hub.db.session() as s:
        made = await s.scalar(select(Announcement))
    assert made is not None and made.text == "今晚八点在村部开安全会议"
    page = await (await site.client.get("/speakers")).text()
    assert "今晚八点在村部开安全会议" in page  # the next 24 hours of SPK1's schedule
    refused = await site.client.post("/speakers/announce", data={
        "_csrf": token, "target": "grid:T9", "text": "别的街道"})
    assert refused.status == 403
