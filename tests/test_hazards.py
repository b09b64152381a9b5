import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hazards import categories, duplicates, intake, lifecycle, sweeps, views
from hazards.intake import Draft, RateLimited
from hazards.models import Action, Hazard, HazardAlert, HazardState, actions_for
from hazards.notices import NoticeKind, render, render_notice
from hub import audit
from hub.errors import Conflict, ContentError, InvalidInput, NotFound, PermissionDenied
from hub.models import Role
from tests.test_grids import appoint, bind, tree

PHOTO = "ab" * 32
LANGS = ("zh-Hans", "zh-Hant", "en")


async def setup(hub, *, second_worker=True, chat=True):
    """T1 with one or two workers, a bound group, staff at S1, residents 100 and 101."""
    await tree(hub)
    people = {
        "w1": await appoint(hub, 1, Role.WORKER, "T1"),
        "other": await appoint(hub, 3, Role.WORKER, "T2"),
        "staff": await appoint(hub, 5, Role.STAFF, "S1"),
        "r1": await appoint(hub, 100, Role.RESIDENT, "T1"),
        "r2": await appoint(hub, 101, Role.RESIDENT, "T1"),
    }
    if second_worker:
        people["w2"] = await appoint(hub, 2, Role.WORKER, "T1")
    if chat:
        await bind(hub, people["w1"], "T1")
    return people


async def file(hub, reporter, text="3号楼楼道堆满纸箱", **kw):
    async with hub.db.session() as s:
        return await intake.report(
            s, reporter, Draft(text=text, **kw), grid_id=None, now=hub.now()
        )


async def act(hub, actor, hazard_id, action, **kw):
    async with hub.db.session() as s:
        return await lifecycle.act(s, actor, hazard_id, action, now=hub.now(), **kw)


async def load(hub, hazard_id):
    async with hub.db.session() as s:
        return await s.get(Hazard, hazard_id)


async def actions(hub, hazard_id):
    async with hub.db.session() as s:
        return [e.action for e in await audit.history(s, "hazard", hazard_id)]


def rendered(hub, notices):
    """Every notice must render in every language (no missing template or parameter)."""
    return [render_notice(hub.texts, n, hub.tz, lang) for n in notices for lang in LANGS]


def private(notices, key=None):
    return sorted(n.telegram_id for n in notices if n.telegram_id and key in (None, n.key))


async def test_full_lifecycle_is_audited_and_tells_the_reporter(hub):
    p = await setup(hub)
    filed = await file(hub, p["r1"], "楼道里有电动车在充电", source_chat_id=-100)
    hazard = filed.hazard
    assert hazard.state is HazardState.REPORTED
    assert hazard.category == "ebike-indoor-charging"
    assert hazard.deadline_at == hub.now() + timedelta(hours=24)
    assert filed.receipt.telegram_id == 100 and filed.receipt.params["id"] == hazard.id
    [card] = filed.notices
    assert (card.chat_id, card.kind, card.actions) == (
        -100,
        NoticeKind.CARD,
        ("accept", "reject", "dup"),
    )
    assert card.params["reporter"] is None  # not named: not shown in the group
    assert "#1" in render_notice(hub.texts, filed.receipt, hub.tz)

    accepted = await act(hub, p["w1"], hazard.id, "accept")
    assert accepted.hazard.assignee_id == p["w1"].id
    assert private(accepted.notices) == [100]
    assert [n.chat_id for n in accepted.notices if n.kind is NoticeKind.CARD] == [-100]
    fixed = await act(hub, p["w1"], hazard.id, "fixed", photo=PHOTO)
    assert fixed.hazard.evidence_photo == PHOTO and fixed.hazard.fixer_id == p["w1"].id
    closed = await act(hub, p["w2"], hazard.id, "verify")
    assert closed.hazard.state is HazardState.CLOSED and closed.hazard.closed_at == hub.now()
    assert private(closed.notices, "hazard.notice.verify") == [100]
    assert "已验收销号" in rendered(hub, closed.notices)[0]
    rendered(hub, [filed.receipt, *filed.notices, *accepted.notices, *fixed.notices])

    assert await actions(hub, hazard.id) == ["report", "accept", "fixed", "verify"]
    async with hub.db.session() as s:
        rows = await audit.history(s, "hazard", hazard.id)
    assert rows[3].before["state"] == "rectified" and rows[3].after["state"] == "closed"
    assert rows[3].actor_id == p["w2"].id
    report = rows[0]  # written with the batch it was filed in (audit.record_many)
    assert (report.actor_id, report.actor_label) == (p["r1"].id, f"person:{p['r1'].id} tg:100")
    assert report.entity_id == str(hazard.id) and report.before is None
    assert report.after["state"] == "reported" and report.after["category"] == "ebike-indoor-charging"
    assert report.after["urgent"] is False and report.after["located"] is False


async def test_cards_go_to_workers_without_a_chat_and_name_only_who_chose(hub):
    p = await setup(hub, chat=False)
    filed = await file(hub, p["r1"])
    assert private(filed.notices, "hazard.card") == [1, 2]
    assert filed.notices[0].params["reporter"] == "p100"  # workers may contact the reporter
    await bind(hub, p["w1"], "T1")
    urgent = await file(hub, p["r1"], "闻到很浓的煤气味", named=True, urgent=True)
    assert [(n.chat_id, n.params["reporter"]) for n in urgent.notices] == [(-100, "p100")]
    assert urgent.hazard.category == "gas-leak" and urgent.hazard.urgent
    assert urgent.hazard.deadline_at == hub.now() + timedelta(hours=2)
    assert urgent.receipt.params["emergency_number"] == "119"
    assert "119" in render_notice(hub.texts, urgent.receipt, hub.tz, "en")
    slow = await file(hub, p["r2"], "5号楼自建房墙体开裂", urgent=True)
    assert slow.hazard.deadline_at == hub.now() + lifecycle.URGENT_DEADLINE


async def test_only_workers_of_the_grid_or_staff_above_may_act(hub):
    p = await setup(hub)
    hazard = (await file(hub, p["r1"])).hazard
    for who, key in (("r2", "hazard.refused_not_worker"), ("other", "hazard.refused_out_of_scope")):
        with pytest.raises(PermissionDenied) as raised:
            await act(hub, p[who], hazard.id, "accept")
        assert raised.value.key == key
    assert (await load(hub, hazard.id)).state is HazardState.REPORTED
    assert await actions(hub, hazard.id) == ["report"]
    await act(hub, p["staff"], hazard.id, "accept")  # staff of S1 is above T1
    assert (await load(hub, hazard.id)).assignee_id == p["staff"].id


async def test_fixed_needs_a_photo_and_the_fixer_verifies_only_when_alone(hub):
    p = await setup(hub)
    hazard = (await file(hub, p["r1"])).hazard
    await act(hub, p["w1"], hazard.id, "accept")
    for photo in (None, "../../etc/passwd"):
        with pytest.raises(InvalidInput) as raised:
            await act(hub, p["w1"], hazard.id, "fixed", photo=photo)
        assert raised.value.key == "hazard.needs_photo"
    assert (await load(hub, hazard.id)).state is HazardState.ACCEPTED

    await act(hub, p["w1"], hazard.id, "fixed", photo=PHOTO)
    with pytest.raises(PermissionDenied) as raised:
        await act(hub, p["w1"], hazard.id, "verify")
    assert raised.value.key == "hazard.verify_needs_other"
    assert (await load(hub, hazard.id)).state is HazardState.RECTIFIED

    lone = await appoint(hub, 102, Role.RESIDENT, "T2")
    t2 = (await file(hub, lone, "村口池塘没有护栏")).hazard
    await act(hub, p["other"], t2.id, "accept")
    await act(hub, p["other"], t2.id, "fixed", photo=PHOTO)
    done = await act(hub, p["other"], t2.id, "verify")
    assert done.hazard.state is HazardState.CLOSED and done.hazard.verifier_id == p["other"].id


async def test_dup_links_to_the_original_and_tells_both_reporters(hub):
    p = await setup(hub)
    first = (await file(hub, p["r1"], "3号楼楼道堆满纸箱")).hazard
    second = (await file(hub, p["r2"], "3号楼楼道全是纸箱")).hazard
    with pytest.raises(InvalidInput) as raised:
        await act(hub, p["w1"], second.id, "dup")
    assert raised.value.key == "hazard.dup_needs_original"
    with pytest.raises(InvalidInput):
        await act(hub, p["w1"], second.id, "dup", duplicate_of=second.id)
    with pytest.raises(NotFound):
        await act(hub, p["w1"], second.id, "dup", duplicate_of=999)
    out = await act(hub, p["w1"], second.id, "dup", duplicate_of=first.id)
    assert out.hazard.state is HazardState.DUPLICATE and out.hazard.duplicate_of_id == first.id
    assert private(out.notices, "hazard.notice.dup") == [101]
    assert private(out.notices, "hazard.notice.dup_original") == [100]
    texts = rendered(hub, out.notices)
    assert any(f"#{second.id}" in t and f"#{first.id}" in t for t in texts)
    accepted = await act(hub, p["w1"], first.id, "accept")
    assert private(accepted.notices, "hazard.notice.accept") == [100, 101]  # the follower hears too

    same = await file(hub, p["r2"], "3号楼的楼道里堆了好多纸箱", same_as=second.id)
    assert same.hazard.state is HazardState.DUPLICATE and same.hazard.duplicate_of_id == first.id
    assert same.notices == [] and same.receipt.params["original"] == first.id
    assert f"#{first.id}" in render_notice(hub.texts, same.receipt, hub.tz, "en")


async def test_reopen_illegal_transitions_and_unknown_hazards(hub):
    p = await setup(hub)
    hazard = (await file(hub, p["r1"])).hazard
    with pytest.raises(Conflict) as raised:
        await act(hub, p["w1"], hazard.id, "verify")
    assert raised.value.key == "hazard.illegal.reported"
    with pytest.raises(InvalidInput) as raised:
        await act(hub, p["w1"], hazard.id, "explode")
    assert raised.value.key == "hazard.unknown_action"
    with pytest.raises(NotFound) as raised:
        await act(hub, p["w1"], 4242, "accept")
    assert (raised.value.key, raised.value.params) == ("hazard.not_found", {"id": 4242})
    for error in (Conflict("hazard.illegal.reported", id=1), raised.value):
        assert hub.t("en", error.key, **error.params)

    await act(hub, p["w1"], hazard.id, "reject", reason="现场核实无此情况")
    hub.clock.advance(timedelta(hours=30))
    out = await act(hub, p["w2"], hazard.id, "reopen")
    assert out.hazard.state is HazardState.ACCEPTED and out.hazard.reopened_count == 1
    assert out.hazard.closed_at is None and out.hazard.assignee_id == p["w2"].id
    assert out.hazard.deadline_at == hub.now() + timedelta(hours=48)
    assert actions_for(HazardState.CLOSED) == (Action.REOPEN,)
    assert await actions(hub, hazard.id) == ["report", "reject", "reopen"]


async def test_the_eleventh_report_in_an_hour_is_refused(hub):
    p = await setup(hub)
    for i in range(10):
        await file(hub, p["r1"], f"{i}号楼楼道堆满纸箱")
        hub.clock.advance(timedelta(minutes=5))
    with pytest.raises(RateLimited) as raised:
        await file(hub, p["r1"], "又发现一处杂物")
    assert raised.value.params == {"limit": 10, "minutes": 10}  # the first leaves the hour at 60
    async with hub.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Hazard)) == 10
    await file(hub, p["w1"], "巡查发现楼道杂物")  # workers inspecting are not limited
    hub.clock.advance(timedelta(minutes=10))
    assert (await file(hub, p["r1"], "又发现一处杂物")).hazard.id

    async def limited(limit):  # Settings.report_limit_per_hour reaches the service as this
        async with hub.db.session() as s:
            draft = Draft(text="楼道堆满纸箱")
            return await intake.report(
                s, p["r2"], draft, grid_id=None, now=hub.now(), limit_per_hour=limit
            )

    await limited(1)
    with pytest.raises(RateLimited):
        await limited(1)
    await limited(2)


async def test_similar_reports_are_found_by_place_and_by_text(hub):
    p = await setup(hub)
    here = (25.4310, 119.0070)
    located = (
        await file(hub, p["r1"], "车棚旁有人拉线给电瓶车充电", lat=here[0], lon=here[1])
    ).hazard
    worded = (await file(hub, p["r1"], "3号楼楼道堆满纸箱")).hazard

    async def similar(text, category, lat=None, lon=None):
        async with hub.db.session() as s:
            found = await duplicates.find_similar(
                s,
                grid_id=located.grid_id,
                category=category,
                text=text,
                lat=lat,
                lon=lon,
                now=hub.now(),
            )
        return [h.id for h in found]

    assert await similar("有车在充电", "ebike-indoor-charging", 25.4313, 119.0070) == [
        located.id
    ]  # ~33 m
    assert await similar("有车在充电", "ebike-indoor-charging", 25.4318, 119.0070) == []  # ~90 m
    assert await similar("有车在充电", "corridor-clutter", 25.4310, 119.0070) == []
    assert await similar("3号楼的楼道里堆了好多纸箱", "corridor-clutter") == [worded.id]
    assert await similar("5号楼电动车在楼道充电", "ebike-indoor-charging") == []
    hub.clock.advance(timedelta(days=8))
    assert await similar("3号楼的楼道里堆了好多纸箱", "corridor-clutter") == []
    assert await similar("有车在充电", "ebike-indoor-charging", 25.4313, 119.0070) == [located.id]


async def test_bad_reports_are_refused_and_write_nothing(hub):
    p = await setup(hub)
    cases = [
        ("险" * 5000, None, "hazard.text_too_long"),
        ("🔥🔥🔥!!!", None, "hazard.no_text"),
        ("   ", None, "hazard.no_text"),
        ("楼道", "not-a-hash", "hazard.photo_unknown"),
    ]
    for text, photo, key in cases:
        with pytest.raises(InvalidInput) as raised:
            await file(hub, p["r1"], text, photo=photo)
        assert raised.value.key == key
    with pytest.raises(InvalidInput) as raised:
        await file(hub, p["r1"], "楼道", lat=95.0, lon=119.0)
    assert raised.value.key == "hazard.bad_location"
    async with hub.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Hazard)) == 0
        assert await audit.history(s, "hazard", 1) == []
    filed = await file(hub, p["r1"], "🔥", photo=PHOTO)  # a photo speaks for itself
    assert filed.hazard.category == "other" and filed.hazard.photo == PHOTO


async def test_overdue_reminder_then_escalation_exactly_once(hub):
    p = await setup(hub)
    await appoint(hub, 6, Role.STAFF, "C1")
    accepted = (await file(hub, p["r1"])).hazard  # corridor clutter: 48 h
    await act(hub, p["w1"], accepted.id, "accept")
    orphan = (await file(hub, p["r2"], "楼道里有电动车在充电")).hazard  # 24 h, nobody accepts

    async def sweep():
        async with hub.db.session() as s:
            return await sweeps.overdue_sweep(s, hub.now())

    assert await sweep() == []
    hub.clock.advance(timedelta(hours=25))
    first = await sweep()
    assert [(n.key, n.telegram_id) for n in first] == [
        ("hazard.reminder", 1),
        ("hazard.reminder", 2),
    ]
    assert await sweep() == []
    hub.clock.advance(timedelta(hours=12))  # orphan: 37 h > 24 h + 12 h
    second = await sweep()
    assert {(n.key, n.hazard_id) for n in second} == {("hazard.escalation", orphan.id)}
    assert private(second) == [5, 6]  # staff of S1 and C1, the grids above T1
    hub.clock.advance(timedelta(hours=12))  # accepted: 49 h > 48 h
    third = await sweep()
    assert [(n.key, n.telegram_id) for n in third] == [("hazard.reminder", 1)]
    hub.clock.advance(timedelta(hours=24))  # accepted: 48 h + 25 h > 48 h + 24 h
    assert [(n.key, n.hazard_id) for n in await sweep()] == [
        ("hazard.escalation", accepted.id),
        ("hazard.escalation", accepted.id),
    ]
    hub.clock.advance(timedelta(days=3))
    assert await sweep() == []
    rendered(hub, first + second + third)
    assert await actions(hub, orphan.id) == ["report", "reminder", "escalation"]


async def test_concurrent_sweeps_alert_once(hub):
    p = await setup(hub)
    ids = [(await file(hub, p["w1"], f"{i}号楼楼道堆满纸箱")).hazard.id for i in range(6)]
    hub.clock.advance(timedelta(days=5))

    async def sweep():
        async with hub.db.session() as s:
            return await sweeps.overdue_sweep(s, hub.now())

    results = await asyncio.gather(sweep(), sweep(), sweep())
    sent = [(n.key, n.hazard_id) for result in results for n in result]
    reminders = sorted(h for k, h in sent if k == "hazard.reminder")
    assert reminders == sorted(ids * 2)  # one reminder per hazard, to each of T1's two workers
    assert sorted(h for k, h in sent if k == "hazard.escalation") == sorted(ids)  # to staff of S1
    async with hub.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(HazardAlert)) == 12


async def test_followup_asks_once_and_no_reopens(hub):
    p = await setup(hub)
    hazard = (await file(hub, p["r1"])).hazard
    await act(hub, p["w1"], hazard.id, "accept")
    await act(hub, p["w1"], hazard.id, "fixed", photo=PHOTO)
    await act(hub, p["w2"], hazard.id, "verify")

    async def sweep():
        async with hub.db.session() as s:
            return await sweeps.followup_sweep(s, hub.now())

    async def answer(person, fixed):
        async with hub.db.session() as s:
            return await lifecycle.answer_followup(s, person, hazard.id, fixed, now=hub.now())

    hub.clock.advance(timedelta(days=2))
    assert await sweep() == []
    hub.clock.advance(timedelta(days=1, minutes=1))
    [ask] = await sweep()
    assert (ask.telegram_id, ask.kind, ask.key) == (100, NoticeKind.FOLLOWUP, "hazard.followup")
    assert await sweep() == []
    with pytest.raises(PermissionDenied):
        await answer(p["r2"], False)
    out = await answer(p["r1"], False)
    assert out.hazard.state is HazardState.ACCEPTED and out.hazard.reopened_count == 1
    assert private(out.notices, "hazard.followup_reopened") == [100]
    assert private(out.notices, "hazard.notice.reopened_by_reporter") == [1]
    rendered(hub, [ask, *out.notices])
    with pytest.raises(Conflict):
        await answer(p["r1"], False)
    assert (await actions(hub, hazard.id))[-2:] == ["followup", "not_fixed"]

    await act(hub, p["w1"], hazard.id, "fixed", photo=PHOTO)
    await act(hub, p["w2"], hazard.id, "verify")
    hub.clock.advance(timedelta(days=3, minutes=1))
    [again] = await sweep()  # a new closing, a new question
    assert again.params["id"] == hazard.id
    thanks = await answer(p["r1"], True)
    assert thanks.hazard.state is HazardState.CLOSED and private(thanks.notices) == [100]


async def test_a_reopened_hazard_is_reminded_for_its_new_deadline(hub):
    p = await setup(hub)
    hazard = (await file(hub, p["r1"])).hazard
    await act(hub, p["w1"], hazard.id, "accept")
    hub.clock.advance(timedelta(hours=49))
    async with hub.db.session() as s:
        assert len(await sweeps.overdue_sweep(s, hub.now())) == 1
    await act(hub, p["w1"], hazard.id, "fixed", photo=PHOTO)
    await act(hub, p["w2"], hazard.id, "reopen", reason="照片看不出已清理")
    hub.clock.advance(timedelta(hours=49))
    async with hub.db.session() as s:
        notices = await sweeps.overdue_sweep(s, hub.now())
    assert [(n.key, n.telegram_id) for n in notices] == [("hazard.reminder", 1)]


async def test_detail_timeline_and_my_reports(hub):
    p = await setup(hub)
    hazard = (await file(hub, p["r1"])).hazard
    await act(hub, p["w1"], hazard.id, "accept")
    async with hub.db.session() as s:
        as_worker = await views.detail(s, p["w1"], hazard.id, now=hub.now())
        as_reporter = await views.detail(s, p["r1"], hazard.id, now=hub.now())
        with pytest.raises(PermissionDenied):
            await views.detail(s, p["r2"], hazard.id, now=hub.now())
        mine = await views.my_reports(s, p["r1"])
        theirs = await views.my_reports(s, p["r2"])
    assert [(i.action, i.actor) for i in as_worker.timeline] == [
        ("report", "p100"),
        ("accept", "p1"),
    ]
    assert [(i.action, i.actor) for i in as_reporter.timeline] == [
        ("report", None),
        ("accept", None),
    ]
    assert as_worker.params["assignee"] == "p1" and as_reporter.params["assignee"] is None
    assert [h.id for h in mine] == [hazard.id] and theirs == []
    for lang in LANGS:
        assert "p1" in render(hub.texts, lang, "hazard.detail", as_worker.params, hub.tz)
        for item in as_worker.timeline:
            key, params = views.timeline_params(item)
            assert render(hub.texts, lang, key, params, hub.tz)


def test_categories_cover_the_issue_and_suggest_from_text():
    catalogue = categories.catalogue()
    assert len(catalogue.categories) >= 12
    for required in (
        "fire-exit-blocked",
        "extinguisher-missing",
        "corridor-clutter",
        "ebike-indoor-charging",
        "wiring-overload",
        "gas-leak",
        "living-in-workplace",
        "house-cracks",
        "hazardous-chemicals",
        "work-at-height",
        "open-water",
        "open-burning",
        "other",
    ):
        category = catalogue.get(required)
        assert category.label("en") and category.question("zh-Hant")
        assert category.emergency_number in {"119", "110", "120"}
    assert catalogue.get("gas-leak").deadline_hours < catalogue.get("other").deadline_hours
    assert categories.suggest_category("楼道里有电动车在充电") == "ebike-indoor-charging"
    assert categories.suggest_category("消防通道被上锁了") == "fire-exit-blocked"
    assert categories.suggest_category("今天天气不错") == "other"


def test_bad_category_files_name_the_file_and_field(tmp_path: Path):
    path = tmp_path / "categories.yaml"
    path.write_text(
        "categories:\n"
        "  - {id: other, name: {zh-Hans: 其他, en: Other}, deadline_hours: 72,\n"
        "     emergency_number: '110', danger_question: {zh-Hans: 有危险吗, en: In danger}}\n"
        "  - {id: gas, name: {zh-Hans: 燃气, en: Gas}, deadline_hours: 0,\n"
        "     emergency_number: '119', danger_question: {zh-Hans: 有危险吗, en: In danger}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ContentError, match=r"categories\.yaml: categories\.1\.deadline_hours"):
        categories.load_categories(path)
    path.write_text("categories: [\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"categories\.yaml"):
        categories.load_categories(path)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("3号楼楼道堆满纸箱", "3号楼的楼道里堆了好多纸箱", True),
        ("3号楼楼道堆满纸箱", "5号楼电动车在楼道充电", False),
        ("3号楼楼道堆满纸箱", "5号楼楼道堆满纸箱", False),
        ("3号楼楼道堆满纸箱", "3号楼楼道有人给电动车充电", False),
        ("村口池塘没有护栏", "村口的池塘没护栏，小孩经常去玩", True),
        ("fire exit blocked at building 3", "Building 3 fire exit is blocked", True),
        ("🔥", "🔥", False),
    ],
)
def test_similar_text(a, b, same):
    assert duplicates.similar_text(a, b) is same


def test_distance():
    assert duplicates.distance_m(25.4310, 119.0070, 25.4310, 119.0070) == 0
    assert 30 < duplicates.distance_m(25.4310, 119.0070, 25.4313, 119.0070) < 36


async def test_submit_asks_before_filing_a_likely_repeat(hub):
    p = await setup(hub)
    first = (await file(hub, p["r1"], "3号楼楼道堆满纸箱")).hazard

    async def submit(draft, **kw):
        async with hub.db.session() as s:
            return await intake.submit(s, p["r2"], draft, grid_id=None, now=hub.now(), **kw)

    asked = await submit(Draft(text="3号楼的楼道里堆了好多纸箱"))
    assert isinstance(asked, intake.Similar)
    assert [h.id for h in asked.candidates] == [first.id] and asked.params[0]["id"] == first.id
    assert asked.draft.category == "corridor-clutter"  # the checked draft, ready to file
    async with hub.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Hazard)) == 1

    same = await submit(replace(asked.draft, same_as=first.id))
    assert same.hazard.state is HazardState.DUPLICATE and same.hazard.duplicate_of_id == first.id
    separate = await submit(asked.draft, offer_similar=False)
    assert separate.hazard.state is HazardState.REPORTED and separate.notices
    unrelated = await submit(Draft(text="河边护栏断了"))
    assert isinstance(unrelated, intake.Filed)


async def test_submit_counts_the_hour_exactly_with_or_without_similar_reports(hub):
    """The rate limit's count comes back with the similarity search, alike reports or none."""
    p = await setup(hub)

    async def submit(text, **kw):
        async with hub.db.session() as s:
            draft = Draft(text=text)
            return await intake.submit(
                s, p["r1"], draft, grid_id=None, now=hub.now(), limit_per_hour=3, **kw
            )

    for i in range(3):  # nothing alike: the count alone comes back
        assert isinstance(await submit(f"{i}号楼楼道堆满纸箱"), intake.Filed)
        hub.clock.advance(timedelta(minutes=10))
    for text in ("9号楼配电间私拉电线", "0号楼楼道堆满纸箱"):  # unrelated, then alike to #1
        with pytest.raises(RateLimited) as raised:
            await submit(text)
        assert raised.value.params == {"limit": 3, "minutes": 30}
    with pytest.raises(RateLimited):
        await submit("0号楼楼道堆满纸箱", offer_similar=False)
    hub.clock.advance(timedelta(minutes=31))  # the first has left the hour
    asked = await submit("0号楼楼道堆满纸箱")
    assert isinstance(asked, intake.Similar) and asked.params[0]["text"] == "0号楼楼道堆满纸箱"


async def test_check_act_refuses_like_act_and_changes_nothing(hub):
    p = await setup(hub)
    hazard = (await file(hub, p["r1"])).hazard
    async with hub.db.session() as s:
        with pytest.raises(PermissionDenied):
            await lifecycle.check_act(s, p["r2"], hazard.id, "fixed")
        with pytest.raises(PermissionDenied):
            await lifecycle.check_act(s, p["other"], hazard.id, "dup")
        with pytest.raises(Conflict):
            await lifecycle.check_act(s, p["w1"], hazard.id, "fixed")  # not accepted yet
        with pytest.raises(NotFound):
            await lifecycle.check_act(s, p["w1"], 999, "dup")
        assert (await lifecycle.check_act(s, p["w1"], hazard.id, "dup")).id == hazard.id
    assert (await load(hub, hazard.id)).state is HazardState.REPORTED
    assert await actions(hub, hazard.id) == ["report"]


async def test_a_location_attaches_to_the_report_just_sent(hub):
    p = await setup(hub)

    async def locate(person, lat=25.43, lon=119.01):
        async with hub.db.session() as s:
            return await intake.attach_location(s, person, lat, lon, now=hub.now())

    with pytest.raises(InvalidInput) as raised:
        await locate(p["r1"])
    assert raised.value.key == "hazard.no_pending_report"
    hazard = (await file(hub, p["r1"])).hazard
    with pytest.raises(InvalidInput) as raised:
        await locate(p["r1"], lat=123.0)
    assert raised.value.key == "hazard.bad_location"
    with pytest.raises(InvalidInput):
        await locate(p["r2"])  # someone else's report is not theirs to place
    located = await locate(p["r1"])
    assert (located.id, located.lat, located.lon) == (hazard.id, 25.43, 119.01)
    assert await actions(hub, hazard.id) == ["report", "locate"]
    with pytest.raises(InvalidInput):
        await locate(p["r1"], 25.44, 119.02)  # once located, a later location is not a correction
    later = (await file(hub, p["r1"], "河边护栏断了")).hazard
    hub.clock.advance(intake.LOCATE_WINDOW + timedelta(seconds=1))
    with pytest.raises(InvalidInput):
        await locate(p["r1"])
    assert (await load(hub, later.id)).lat is None


async def submit_many(hub, submissions, **kw):
    async with hub.db.session() as s:
        return await intake.submit_many(s, submissions, now=hub.now(), **kw)


async def test_a_batch_gives_each_report_the_outcome_it_would_have_had_alone(hub):
    """Refusals stay with their sender; a repeat within the batch is asked about the earlier one."""
    p = await setup(hub)
    r1, r2, w1 = p["r1"], p["r2"], p["w1"]
    outcomes = await submit_many(hub, [
        intake.Submission(r1, Draft(text="3号楼楼道堆满纸箱"), None),
        intake.Submission(r2, Draft(text="🔥🔥🔥"), None),  # nothing to go on
        intake.Submission(r2, Draft(text="3号楼的楼道里堆了好多纸箱"), None),  # repeats the first
        intake.Submission(w1, Draft(text="5号楼配电间私拉电线", urgent=True), None),
        intake.Submission(p["other"], Draft(text="x" * 5000), None),  # too long
        intake.Submission(r1, Draft(text="3号楼的楼道里堆了好多纸箱"), None, offer_similar=False),
    ])
    first, emoji, repeat, urgent, too_long, separate = outcomes
    assert isinstance(first, intake.Filed) and isinstance(urgent, intake.Filed)
    assert isinstance(separate, intake.Filed)
    assert isinstance(emoji, InvalidInput) and isinstance(too_long, InvalidInput)
    # Asked once the earlier ones are written: about the first, and the one filed regardless.
    assert isinstance(repeat, intake.Similar)
    assert {h.id for h in repeat.candidates} == {first.hazard.id, separate.hazard.id}
    assert urgent.hazard.urgent and urgent.hazard.reporter_id == w1.id
    assert first.notices and first.receipt.telegram_id == r1.telegram_id
    async with hub.db.session() as s:
        filed = list(await s.scalars(select(Hazard).order_by(Hazard.id)))
        trail = [await actions(hub, h.id) for h in filed]
    assert [h.text for h in filed] == ["3号楼楼道堆满纸箱", "5号楼配电间私拉电线", "3号楼的楼道里堆了好多纸箱"]
    assert trail == [["report"]] * 3  # one audit row each, nothing for the refused


async def test_a_batch_counts_its_own_reports_against_the_rate_limit(hub):
    p = await setup(hub)
    texts = ["1号楼楼道堆满纸箱", "2号楼消防通道被锁", "3号楼灭火器过期了", "4号楼有人给电动车充电"]
    outcomes = await submit_many(
        hub, [intake.Submission(p["r1"], Draft(text=t), None) for t in texts], limit_per_hour=2
    )
    assert [type(o).__name__ for o in outcomes] == ["Filed", "Filed", "RateLimited", "RateLimited"]
    async with hub.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Hazard)) == 2
    workers = await submit_many(  # workers and staff inspect freely
        hub, [intake.Submission(p["w1"], Draft(text=t), None, offer_similar=False) for t in texts], limit_per_hour=2
    )
    assert [type(o).__name__ for o in workers] == ["Filed"] * 4


async def test_a_refusal_in_a_batch_says_when_to_retry_as_it_would_alone(hub):
    """The minutes count the reports accepted earlier in the same batch, not only those written."""
    p = await setup(hub)
    await file(hub, p["r1"], "1号楼楼道堆满纸箱")
    hub.clock.advance(timedelta(minutes=30))
    texts = ["2号楼消防通道被锁", "3号楼灭火器过期了"]
    _, refused = await submit_many(
        hub, [intake.Submission(p["r1"], Draft(text=t), None) for t in texts], limit_per_hour=2
    )
    assert isinstance(refused, RateLimited) and refused.params == {"limit": 2, "minutes": 30}
    _, _, refused = await submit_many(
        hub,
        [intake.Submission(p["r2"], Draft(text=t), None, offer_similar=False) for t in [*texts, "4号楼天台"]],
        limit_per_hour=2,
    )
    assert isinstance(refused, RateLimited) and refused.params == {"limit": 2, "minutes": 60}
