"""Benchmark: the dashboard's ledger page and its XLSX export as the ledger grows to 100,000.

A hub on SQLite with a district of 200 grids; hazards spread over two years (most closed, some
open, some overdue) inserted in bulk. The real web app serves on 127.0.0.1 and an aiohttp
client signed in as the district's staff asks for the ledger page — first page, unfiltered,
then a street's grid filter, a category and a state — `--requests` times each, at 1,000
hazards and again at 100,000. Then every hazard is exported to XLSX (`hazards.export`,
streamed in openpyxl's write-only mode) and the same cells are written by openpyxl's
write-only mode alone, the floor any export pays.

Targets: the page's p95 at 100k <= 2x its p95 at 1k (pages are keyset pages over indexes,
so they do not grow with the ledger), and the export <= 1.5x the bare openpyxl write.

Run: .venv/bin/python bench/dashboard.py [--hazards N] [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hazards import categories, export, ledger
from hazards.models import Hazard, HazardState
from hub import grids, people
from hub.clock import FakeClock
from hub.core import Hub
from hub.models import GridLevel, Role
from hub.settings import load_settings
from web.app import build_web_app

NOW = datetime(2026, 11, 9, 8, 0, tzinfo=ZoneInfo("UTC"))
STAFF, PASSWORD = 5901, "benchmark password"
STREETS, COMMUNITIES, GRIDS_EACH = 5, 4, 10
PAGES = {
    "unfiltered": "/hazards",
    "one street": "/hazards?grid=S2",
    "one category": "/hazards?category=fire-exit-blocked",
    "open only": "/hazards?state=open",
    "overview": "/",  # for the record: counts of the last 30 days and the 12-week trend
}
MARKS = {"overview": b'class="card figure"'}
BATCH = 5000
TEXTS = ["楼道堆满纸箱和旧家具", "电动车在楼道里充电", "消防通道被车辆堵住", "燃气软管老化开裂",
         "池塘边没有护栏", "配电箱门敞开电线裸露", "安全出口上锁", "工地围挡倒塌"]


async def seed_tree(hub: Hub) -> list[int]:
    specs = [grids.GridSpec("D1", "城厢区", None, GridLevel.DISTRICT)]
    for s in range(1, STREETS + 1):
        specs.append(grids.GridSpec(f"S{s}", f"第{s}街道", "D1", GridLevel.STREET))
        for c in range(1, COMMUNITIES + 1):
            specs.append(grids.GridSpec(f"C{s}{c}", f"第{s}街道第{c}社区", f"S{s}", GridLevel.COMMUNITY))
            specs += [grids.GridSpec(f"T{s}{c}{t:02d}", f"第{s}街道第{c}社区第{t}网格", f"C{s}{c}", GridLevel.GRID)
                      for t in range(1, GRIDS_EACH + 1)]
    async with hub.db.session() as session:
        await grids.import_specs(session, specs, actor="bench", now=hub.now())
        await people.appoint(session, telegram_id=STAFF, name="区应急局", role=Role.STAFF, grid_code="D1",
                             actor="bench", now=hub.now())
        await people.set_password(session, STAFF, PASSWORD, actor="bench", now=hub.now())
        worker = await people.appoint(session, telegram_id=5001, name="王芳", role=Role.WORKER,
                                      grid_code="T1101", actor="bench", now=hub.now())
        leaves = [g.id for g in await grids.list_grids(session) if g.level is GridLevel.GRID]
        return [worker.id, *leaves]


def hazard_rows(count: int, grid_ids: list[int], worker: int, rng: random.Random) -> list[dict[str, object]]:
    """Two years of hazards, the newest last: most closed, a few open (some overdue)."""
    ids = categories.catalogue().ids
    rows = []
    for n in range(count):
        reported = NOW - timedelta(days=730) * (1 - (n + 1) / count) - timedelta(minutes=rng.randint(0, 600))
        category = rng.choice(ids)
        deadline = reported + categories.get(category).deadline
        roll = rng.random()
        state = (HazardState.CLOSED if roll < 0.85 else HazardState.REJECTED if roll < 0.9
                 else HazardState.RECTIFIED if roll < 0.93 else HazardState.ACCEPTED if roll < 0.97
                 else HazardState.REPORTED)
        if reported > NOW - timedelta(days=30) and roll < 0.85 and rng.random() < 0.5:
            state = HazardState.ACCEPTED  # the recent past is still being worked on
        closed = reported + timedelta(hours=rng.randint(2, 96)) if state in (HazardState.CLOSED, HazardState.REJECTED) else None
        rows.append({
            "grid_id": rng.choice(grid_ids), "category": category, "text": rng.choice(TEXTS) + f"（{n}）",
            "address": f"{rng.randint(1, 40)}号楼" if rng.random() < 0.6 else None,
            "reporter_named": False, "urgent": rng.random() < 0.02, "state": state,
            "assignee_id": worker if state is not HazardState.REPORTED else None,
            "reported_at": reported, "deadline_at": deadline,
            "accepted_at": reported + timedelta(hours=1) if state is not HazardState.REPORTED else None,
            "rectified_at": closed if state is HazardState.CLOSED else None,
            "closed_at": closed, "reopened_count": 0, "updated_at": closed or reported,
        })
    return rows


async def insert_hazards(hub: Hub, rows: list[dict[str, object]]) -> None:
    table = Hazard.__table__
    for start in range(0, len(rows), BATCH):
        async with hub.db.engine.begin() as conn:
            await conn.execute(insert(table), rows[start:start + BATCH])
    async with hub.db.engine.begin() as conn:  # what a long-running database has: fresh statistics
        await conn.exec_driver_sql("ANALYZE")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def timings(client: aiohttp.ClientSession, name: str, url: str, requests: int) -> list[float]:
    for _ in range(5):  # warm: statement caches, the first template render
        async with client.get(url) as answer:
            await answer.read()
    spent = []
    for _ in range(requests):
        started = time.perf_counter()
        async with client.get(url) as answer:
            body = await answer.read()
        spent.append((time.perf_counter() - started) * 1000)
        assert answer.status == 200 and MARKS.get(name, b'class="responsive ledger"') in body, answer.status
    return spent


async def sign_in(client: aiohttp.ClientSession, base: str) -> None:
    page = await (await client.get(f"{base}/login")).text()
    token = page.split('name="_csrf" value="', 1)[1].split('"', 1)[0]
    async with client.post(f"{base}/login", data={"who": str(STAFF), "password": PASSWORD, "_csrf": token},
                           allow_redirects=False) as answer:
        assert answer.status == 303, answer.status


def write_bare(cells: list[list[object]], names: list[str]) -> float:
    """The same cells through openpyxl's write-only mode and nothing else: the floor."""
    from openpyxl import Workbook

    started = time.perf_counter()
    book = Workbook(write_only=True)
    sheet = book.create_sheet("ledger")
    sheet.append(names)
    for row in cells:
        sheet.append(row)
    book.save(io.BytesIO())
    return time.perf_counter() - started


async def export_figures(hub: Hub) -> tuple[int, float, float, float]:
    async with hub.db.session() as session:
        started = time.perf_counter()
        rows = await ledger.filtered_rows(session, None, ledger.Filter(), now=hub.now())
        fetched = time.perf_counter() - started
    names = export.headers("zh-Hans", hub.texts)
    cells_of = export._Cells("zh-Hans", hub.tz, hub.texts)
    cells = [cells_of(row) for row in rows]
    bare = min(write_bare(cells, names) for _ in range(2))
    ours = []
    for _ in range(2):
        started = time.perf_counter()
        export.write_xlsx(rows, io.BytesIO(), "zh-Hans", hub.tz, hub.texts)
        ours.append(time.perf_counter() - started)
    return len(rows), fetched, min(ours), bare


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hazards", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(15)
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="gridcast-dashboard-bench-") as folder:
        settings = load_settings(_env_file=None, data_dir=Path(folder))
        hub = await Hub.open(settings, clock=FakeClock(NOW))
        runner = web.AppRunner(build_web_app(hub), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        try:
            worker, *leaves = await seed_tree(hub)
            rows = hazard_rows(args.hazards, leaves, worker, rng)
            small, rest = rows[:: max(1, args.hazards // args.small)][: args.small], rows
            figures: dict[str, dict[str, list[float]]] = {}
            jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
            async with aiohttp.ClientSession(cookie_jar=jar) as client:
                await sign_in(client, base)
                for label, batch in ((f"{args.small:,}", small), (f"{args.hazards:,}", None)):
                    if batch is not None:
                        await insert_hazards(hub, batch)
                    else:
                        async with hub.db.engine.begin() as conn:
                            await conn.exec_driver_sql("DELETE FROM hazards")
                        started = time.perf_counter()
                        await insert_hazards(hub, rest)
                        print(f"seeded {len(rest):,} hazards in {time.perf_counter() - started:.1f} s")
                    figures[label] = {name: await timings(client, name, base + url, args.requests)
                                      for name, url in PAGES.items()}
            print(f"\nledger page, {args.requests} requests each (ms): p50 / p95")
            small_label, big_label = list(figures)
            verdicts = []
            for name in PAGES:
                low, high = figures[small_label][name], figures[big_label][name]
                ratio = percentile(high, 0.95) / percentile(low, 0.95)
                verdicts.append((name, ratio))
                print(f"  {name:<13} at {small_label:>7}: {statistics.median(low):6.1f} / {percentile(low, 0.95):6.1f}"
                      f"   at {big_label:>7}: {statistics.median(high):6.1f} / {percentile(high, 0.95):6.1f}"
                      f"   p95 ratio {ratio:.2f}")
            count, fetched, ours, bare = await export_figures(hub)
            print(f"\nexport of all {count:,} hazards: query {fetched:.2f} s; XLSX {ours:.2f} s "
                  f"vs openpyxl write-only alone {bare:.2f} s: {ours / bare:.2f}x")
            ledger_ratios = [(n, r) for n, r in verdicts if n != "overview"]
            page_ok = all(r <= 2.0 for _, r in ledger_ratios)
            export_ok = ours / bare <= 1.5
            print(f"\nverdict: ledger page p95 at {big_label} <= 2x at {small_label}: "
                  f"{'PASS' if page_ok else 'FAIL'} ("
                  + ", ".join(f"{n} {r:.2f}x" for n, r in ledger_ratios) + ")")
            print(f"verdict: export <= 1.5x the bare openpyxl write: {'PASS' if export_ok else 'FAIL'} "
                  f"({ours / bare:.2f}x)")
            return 0 if page_ok and export_ok else 1
        finally:
            await runner.cleanup()
            await hub.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
