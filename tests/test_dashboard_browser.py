"""The dashboard in a real browser: Playwright driving Debian's chromium against a real web
server on 127.0.0.1 (the hub on SQLite, seeded with tests/dashboard_world.py), at a desk's
width and a phone's.

One browser and one server (with its world) for the module. The tests
run in order over that one world, as a worker and staff would: each acts on its own hazards.
Every page is also saved as a screenshot under tests/output/screenshots/.
"""

from __future__ import annotations

import asyncio
import io
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, expect, sync_playwright

from hub.clock import FakeClock
from hub.core import Hub
from tests import dashboard_world as w
from tests.conftest import make_settings
from web.app import build_web_app

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "output" / "screenshots"
DESK = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


class Server(threading.Thread):
    """`gridcast web` as a test runs it: the real app on a loopback port, in a thread of its own."""

    def __init__(self, folder: Path) -> None:
        super().__init__(daemon=True, name="dashboard-server")
        self.folder = folder
        self.ready = threading.Event()
        self.world: w.World | None = None
        self.url = ""
        self.failed: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # the test reports it instead of waiting for nothing
            self.failed = error
            self.ready.set()

    async def _serve(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        settings = make_settings(self.folder, database_url=f"sqlite+aiosqlite:///{self.folder / 'gridcast.db'}")
        hub = await Hub.open(settings, clock=FakeClock())
        runner = web.AppRunner(build_web_app(hub), access_log=None)
        try:
            self.world = await w.build(hub, self.folder)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = f"http://127.0.0.1:{port}"
            self.ready.set()
            await self._stopping.wait()
        finally:
            await runner.cleanup()
            await hub.close()

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One browser for every test here. Not for the session: Playwright's sync API runs its
    event loop on the main thread while it is open, and later modules call asyncio.run."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("dashboard-browser"))
    running.start()
    assert running.ready.wait(60), "the dashboard server did not start"
    if running.failed is not None:
        raise running.failed
    yield running
    running.stop()


def signed_in(browser: Browser, server: Server, who: int | str, viewport: dict[str, int] = DESK) -> Page:
    page = browser.new_context(viewport=viewport, accept_downloads=True, locale="zh-CN").new_page()
    page.set_default_timeout(10_000)
    page.goto(server.url + "/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("input[name=who]", str(who))
    page.fill("input[name=password]", w.PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    expect(page.locator("h1")).to_have_text("概览")
    return page


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def test_fix_an_overdue_hazard_verify_it_and_export_the_ledger(browser: Browser, server: Server):
    assert server.world is not None
    hazard_id = server.world.hazards["overdue"]
    worker = signed_in(browser, server, "王芳")
    worker.click("nav.wide a[href='/hazards']")
    worker.check("input[name=overdue]")  # htmx filters in place and keeps the URL
    expect(worker).to_have_url(f"{server.url}/hazards?grid=&category=&state=&from=&to=&q=&overdue=1")
    row = worker.locator("tr.is-overdue", has_text="消防通道被杂物堵塞")
    expect(row).to_contain_text("南苑小区东门消防通道")  # the place travels with the row
    row.locator(f"a[href='/hazards/{hazard_id}']").click()
    expect(worker.locator("h1")).to_contain_text("整改中")
    expect(worker.locator(".photos img")).to_have_count(1)
    worker.set_input_files("form.act-fixed input[name=photo]", files=[
        {"name": "fixed.jpg", "mimeType": "image/jpeg", "buffer": w.jpeg((30, 140, 60))}])
    worker.click("form.act-fixed button[type=submit]")
    expect(worker.locator(".flash")).to_contain_text(f"#{hazard_id}")
    expect(worker.locator("h1")).to_contain_text("待验收")
    expect(worker.locator(".photos img")).to_have_count(2)  # the evidence beside the report
    expect(worker.locator("form.act-verify")).to_have_count(1)

    staff = signed_in(browser, server, w.STAFF)
    staff.goto(f"{server.url}/hazards/{hazard_id}")
    staff.click("form.act-verify button[type=submit]")
    expect(staff.locator("h1")).to_contain_text("已销号")
    expect(staff.locator(".timeline")).to_contain_text("验收销号（陈建国）")

    staff.goto(f"{server.url}/hazards?state=closed&q=消防通道")
    with staff.expect_download() as download:
        staff.click("a[href^='/hazards/export.xlsx']")
    sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    rows = list(sheet.values)
    assert rows[0][0] == "编号" and rows[0][10:] == ("隐患描述", "位置")
    assert [r[0] for r in rows[1:]] == [hazard_id]  # exactly what is filtered
    assert rows[1][5] == "已销号" and rows[1][10] == "消防通道被杂物堵塞，车辆进不去"
    assert rows[1][11] == "南苑小区东门消防通道"
    with staff.expect_download() as download:
        staff.click("a[href^='/hazards/export.csv']")
    text = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    assert text.count("\r\n") == 2 and "南苑小区东门消防通道" in text
    worker.context.close()
    staff.context.close()


def test_compose_and_send_a_warning_and_see_its_delivery(browser: Browser, server: Server):
    page = signed_in(browser, server, w.STAFF)
    page.click("nav.wide a[href='/warnings']")
    page.check("input[name=level][value=yellow]")
    page.select_option("select[name=grids]", ["T1"])
    page.fill("textarea[name=text]", "今晚有雷阵雨，请关好门窗，不要在大树下避雨")
    page.click("form.compose button[type=submit]")
    expect(page.locator(".detail")).to_contain_text("今晚有雷阵雨")  # the preview, not yet sent
    expect(page.locator("h1")).to_contain_text("草稿")
    page.click("form[action$='/send'] button")
    expect(page.locator(".flash")).to_contain_text("1")
    expect(page.locator("h1")).to_contain_text("已发布")
    report = page.locator("table.report-chats")
    expect(report).to_contain_text("南苑一网格居民群")
    expect(report).to_contain_text("待发送")
    # the feed alert waiting for approval is staff's to send
    page.goto(f"{server.url}/warnings")
    page.click(f"a[href='/warnings/{server.world.warnings['pending']}']")  # type: ignore[union-attr]
    expect(page.locator("audio")).to_have_count(1)  # orange: what the loudspeakers will say
    page.click("form[action$='/send'] button")
    expect(page.locator("h1")).to_contain_text("已发布")
    expect(page.locator("table.report-chats")).to_contain_text("东岩村村民群")
    speakers = page.locator("table.report-speakers")  # and per loudspeaker of its area
    expect(speakers).to_contain_text("SPK1")
    expect(speakers).to_contain_text("SPK2")
    page.context.close()


def test_approve_a_recording(browser: Browser, server: Server):
    page = signed_in(browser, server, w.STAFF)
    page.click("nav.wide a[href='/recordings']")
    take = page.locator(f"#take-{server.world.takes['waiting']}")  # type: ignore[union-attr]
    expect(take.locator("audio")).to_have_count(1)
    take.locator("button", has_text="审核通过").click()
    expect(page.locator(".flash")).to_contain_text("daily-safety-tip")
    expect(page.locator(f"#take-{server.world.takes['waiting']}")).to_have_count(0)  # type: ignore[union-attr]
    expect(page.locator(".takes").last).to_contain_text("林秀英")
    page.context.close()


PAGES = {
    "login": None, "overview": "/", "ledger": "/hazards", "hazard": "/hazards/{overdue}",
    "warnings": "/warnings", "warning": "/warnings/{sent}", "campaigns": "/campaigns",
    "campaign": "/campaigns/fire-month", "speakers": "/speakers", "recordings": "/recordings", "knowledge": "/knowledge",
}


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_every_page_on_a_desk_and_a_phone(browser: Browser, server: Server, width: str):
    viewport = DESK if width == "desktop" else PHONE
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    login = context.new_page()
    login.goto(server.url + "/login")
    shoot(login, f"login-{width}")
    context.close()
    page = signed_in(browser, server, w.STAFF, viewport)
    ids = {**server.world.hazards, **server.world.warnings}  # type: ignore[union-attr]
    for name, path in PAGES.items():
        if path is None:
            continue
        answer = page.goto(server.url + path.format(**ids))
        assert answer is not None and answer.status == 200, name
        # nothing wider than the screen: a phone scrolls down, never sideways
        width_px = page.evaluate("document.documentElement.scrollWidth")
        assert width_px <= viewport["width"] + 1, f"{name} is {width_px}px wide at {viewport['width']}px"
        shoot(page, f"{name}-{width}")
    if width == "phone":
        page.click("details.menu summary")
        expect(page.locator("details.menu nav a[href='/hazards']")).to_be_visible()
    page.context.close()
