"""The dashboard's doors, through the real web app (aiohttp test client): signing in and its
throttle, sessions that lapse, CSRF on every form, scope on every page, and text that is
shown, never run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hazards.models import HazardState
from hub import people
from hub.models import AuditEntry
from tests import dashboard_world as w
from tests.dashboard_world import built_fixture, site_fixture  # noqa: F401 (the fixtures)
from web.dashboard.session import IDLE


async def test_every_page_needs_sign_in_and_comes_back_after(site: w.Site):
    for path in ("/", "/hazards", f"/hazards/{site.world.hazards['overdue']}", "/warnings", "/recordings",
                 "/knowledge", "/hazards/export.csv"):
        answer = await site.client.get(path, allow_redirects=False)
        assert answer.status == 303 and answer.headers["Location"].startswith("/login?next="), path
    page = await site.client.get("/login")
    token = w.CSRF.search(await page.text()).group(1)
    answer = await site.client.post("/login?", data={"who": "陈建国", "password": w.PASSWORD, "_csrf": token,
                                                     "next": "/hazards?overdue=1"}, allow_redirects=False)
    assert answer.status == 303 and answer.headers["Location"] == "/hazards?overdue=1"
    page = await site.client.get("/hazards?overdue=1")
    assert page.status == 200 and "陈建国" in await page.text()


async def test_a_script_in_a_report_shows_as_text(site: w.Site):
    assert await site.sign_in(w.STAFF) == 303
    for path in ("/hazards", f"/hazards/{site.world.hazards['script']}", "/?days=90"):
        body = await (await site.client.get(path)).text()
        assert "<script>alert(" not in body, path
    body = await (await site.client.get(f"/hazards/{site.world.hazards['script']}")).text()
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in body


async def test_a_post_without_the_csrf_token_is_refused(site: w.Site):
    assert await site.sign_in(w.WORKER) == 303
    hazard_id = site.world.hazards["script"]
    for headers, data in (({}, {"action": "accept"}), ({}, {"action": "accept", "_csrf": "forged"}),
                          ({"X-CSRF-Token": "forged"}, {"action": "accept"})):
        answer = await site.client.post(f"/hazards/{hazard_id}/act", data=data, headers=headers,
                                        allow_redirects=False)
        assert answer.status == 403
    assert (await site.hazard("script")).state is HazardState.REPORTED
    # with the page's token (as a field, or as htmx's header) it goes through, once
    token = await site.csrf(f"/hazards/{hazard_id}")
    answer = await site.client.post(f"/hazards/{hazard_id}/act", data={"action": "accept", "_csrf": token},
                                    allow_redirects=False)
    assert answer.status == 303 and answer.headers["Location"] == f"/hazards/{hazard_id}"
    assert (await site.hazard("script")).state is HazardState.ACCEPTED
    # the sign-in form and the language switch are forms too
    assert (await site.client.post("/lang", data={"lang": "en"}, allow_redirects=False)).status == 403


async def test_staff_of_another_street_cannot_open_a_hazard(site: w.Site):
    assert await site.sign_in(w.OTHER_STAFF) == 303
    hazard_id = site.world.hazards["overdue"]
    page = await site.client.get(f"/hazards/{hazard_id}")
    assert page.status == 403
    assert "消防通道被杂物堵塞" not in await page.text()
    photo = await site.client.get(f"/hazards/{hazard_id}/photo/report")
    assert photo.status == 403 and photo.content_type != "image/jpeg"
    ledger = await (await site.client.get("/hazards")).text()
    assert f"#{hazard_id}<" not in ledger and "南苑" not in ledger
    assert (await site.client.get("/hazards?grid=T1")).status == 403
    export = await site.client.get("/hazards/export.csv")
    assert export.status == 200 and (await export.read()).decode("utf-8-sig").count("\r\n") == 1  # header only
    token = await site.csrf()
    acted = await site.client.post(f"/hazards/{hazard_id}/act", data={"action": "reject", "_csrf": token})
    assert acted.status == 403
    assert (await site.hazard("overdue")).state is HazardState.ACCEPTED
    # a worker sees their own grid only: the village's hazard is not theirs
    await site.client.post("/logout", data={"_csrf": token})
    assert await site.sign_in(w.WORKER) == 303
    assert (await site.client.get(f"/hazards/{site.world.hazards['village']}")).status == 403
    assert (await site.client.get(f"/hazards/{hazard_id}/photo/report")).status == 200


async def test_an_expired_session_is_refused(site: w.Site):
    assert await site.sign_in(w.STAFF) == 303
    assert (await site.client.get("/", allow_redirects=False)).status == 200
    site.hub.clock.advance(IDLE - timedelta(minutes=1))
    assert (await site.client.get("/", allow_redirects=False)).status == 200  # use keeps it alive
    site.hub.clock.advance(IDLE + timedelta(minutes=1))
    answer = await site.client.get("/hazards", allow_redirects=False)
    assert answer.status == 303 and answer.headers["Location"].startswith("/login")
    token = await site.csrf("/login")
    acted = await site.client.post(f"/hazards/{site.world.hazards['fresh']}/act",
                                   data={"action": "accept", "_csrf": token}, allow_redirects=False)
    assert acted.status == 303 and acted.headers["Location"] == "/login"
    assert (await site.hazard("fresh")).state is HazardState.REPORTED


async def test_sign_in_is_throttled_and_audited(site: w.Site, monkeypatch: pytest.MonkeyPatch):
    assert await site.sign_in(w.STAFF, "wrong password!") == 401
    page = await site.client.get("/login")
    assert "账号或密码不对" not in await page.text()
    for _ in range(5):
        assert await site.sign_in("陈建国", "still wrong") == 401
    # five failures for one name: even the right password is refused now, and says why
    page = await site.client.get("/login")
    token = w.CSRF.search(await page.text()).group(1)
    answer = await site.client.post("/login", data={"who": "陈建国", "password": w.PASSWORD, "_csrf": token})
    assert answer.status == 429 and "登录失败次数太多" in await answer.text()
    async with site.hub.db.session() as s:
        failed = await s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.entity == "sign-in", AuditEntry.action == "failed"))
    assert failed == 12  # six tries, each under the name and under the address
    assert await site.sign_in(w.WORKER) == 303  # a colleague at the same address is not locked out
    await site.client.post("/logout", data={"_csrf": await site.csrf()})
    assert people.SIGN_IN_FAILURES["address"] == 20
    monkeypatch.setitem(people.SIGN_IN_FAILURES, "address", 9)  # fewer guesses to the same end
    for n in range(4):  # an address that keeps guessing is stopped too, whatever the names
        assert await site.sign_in(f"guess{n}", "nope") == (401 if n < 3 else 429)
    site.hub.clock.advance(timedelta(minutes=16))
    assert await site.sign_in("陈建国") == 303


async def test_residents_and_unknown_names_get_the_same_refusal(site: w.Site):
    for who in (w.RESIDENT, "nobody", "张阿姨"):
        assert await site.sign_in(who, w.PASSWORD) == 401
    page = await site.client.post("/login", data={"who": "x", "password": "y",
                                                  "_csrf": await site.csrf("/login")})
    assert "账号或密码不对，或此账号不能登录工作台" in await page.text()


async def test_the_language_switch_and_english_pages(site: w.Site):
    assert await site.sign_in(w.STAFF) == 303
    token = await site.csrf()
    answer = await site.client.post("/lang", data={"lang": "en", "next": "/hazards", "_csrf": token},
                                    allow_redirects=False)
    assert answer.headers["Location"] == "/hazards"
    body = await (await site.client.get("/hazards")).text()
    assert "Hazard ledger" in body and "Description" in body and 'lang="en"' in body
    await site.client.post("/lang", data={"lang": "zh-Hant", "_csrf": token})
    assert "隱患臺賬" in await (await site.client.get("/hazards")).text()
