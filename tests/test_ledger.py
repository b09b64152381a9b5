import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from hazards import ledger
from hazards.models import HazardState
from hazards.notices import render
from hub.errors import PermissionDenied
from hub.models import Role
from tests.test_grids import appoint, tree
from tests.test_hazards import PHOTO, act, file

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZH = [
    "编号",
    "网格",
    "隐患类别",
    "上报时间",
    "整改期限",
    "状态",
    "责任人",
    "整改时间",
    "销号时间",
    "超期天数",
    "隐患描述",
    "位置",
]
EN = [
    "Ticket",
    "Grid",
    "Category",
    "Reported at",
    "Deadline",
    "State",
    "Assignee",
    "Rectified at",
    "Closed at",
    "Days overdue",
    "Description",
    "Place",
]


async def ledger_world(hub):
    """Four hazards in T1 and one in T2, in every kind of state, two of them overdue."""
    await tree(hub)
    people = {
        "w1": await appoint(hub, 1, Role.WORKER, "T1"),
        "w2": await appoint(hub, 2, Role.WORKER, "T1"),
        "t2": await appoint(hub, 3, Role.WORKER, "T2"),
        "staff": await appoint(hub, 5, Role.STAFF, "S1"),
        "r": await appoint(hub, 100, Role.RESIDENT, "T1"),
        "r2": await appoint(hub, 101, Role.RESIDENT, "T2"),
    }
    ids = {
        "gas": (await file(hub, people["r"], "闻到煤气味")).hazard.id,  # 2 h
        "clutter": (await file(hub, people["r"], "3号楼楼道堆满纸箱")).hazard.id,  # 48 h
        "ebike": (await file(hub, people["r"], "楼道里有电动车在充电")).hazard.id,  # 24 h
        "closed": (await file(hub, people["r"], "安全出口被锁")).hazard.id,  # 24 h
        "other_grid": (await file(hub, people["r2"], "村口池塘没有护栏")).hazard.id,
    }
    await act(hub, people["w1"], ids["clutter"], "accept")
    await act(hub, people["w1"], ids["closed"], "accept")
    hub.clock.advance(timedelta(hours=30))  # gas and e-bike are overdue now
    await act(hub, people["w1"], ids["closed"], "fixed", photo=PHOTO)  # 6 h late
    await act(hub, people["w2"], ids["closed"], "verify")
    return people, ids


async def test_open_ledger_puts_overdue_first_and_respects_scope(hub):
    people, ids = await ledger_world(hub)
    async with hub.db.session() as s:
        rows = await ledger.open_ledger(s, people["w1"], now=hub.now())
        staff_rows = await ledger.open_ledger(s, people["staff"], now=hub.now())
        only_t2 = await ledger.open_ledger(s, people["staff"], "T2", now=hub.now())
        for who, grid, key in (
            ("r", None, "hazard.refused_not_worker_ledger"),
            ("t2", "T1", "hazard.refused_out_of_scope_ledger"),
        ):
            with pytest.raises(PermissionDenied) as raised:
                await ledger.open_ledger(s, people[who], grid, now=hub.now())
            assert raised.value.key == key
    assert [r.id for r in rows] == [ids["gas"], ids["ebike"], ids["clutter"]]
    assert [(r.overdue, r.days_overdue) for r in rows] == [(True, 2), (True, 1), (False, 0)]
    assert rows[2].assignee == "p1" and rows[0].assignee is None
    assert {r.id for r in staff_rows} == {
        ids["gas"],
        ids["ebike"],
        ids["clutter"],
        ids["other_grid"],
    }
    assert [r.id for r in only_t2] == [ids["other_grid"]]
    for lang in ("zh-Hans", "en"):
        line = render(hub.texts, lang, "hazard.ledger.item", rows[0].params(), hub.tz)
        assert f"#{ids['gas']}" in line and "2" in line


async def test_export_csv_and_xlsx_in_chinese_and_english(hub):
    people, ids = await ledger_world(hub)
    async with hub.db.session() as s:
        rows = await ledger.ledger_rows(s, None, now=hub.now())
        closed_only = await ledger.ledger_rows(
            s, people["staff"], "T1", states=[HazardState.CLOSED], now=hub.now()
        )
    assert [r.id for r in closed_only] == [ids["closed"]]
    assert closed_only[0].days_overdue == 1  # rectified 6 h after its deadline

    zh = ledger.export_csv(rows, tz=SHANGHAI)
    assert zh.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(zh.decode("utf-8-sig"))))
    assert table[0] == ZH and len(table) == 6
    closed = next(r for r in table if r[0] == str(ids["closed"]))
    assert closed[1] == "T1 第一网格" and closed[2] == "消防通道、安全出口堵塞或上锁"
    assert closed[3] == "2026-11-09 16:00"  # 08:00 UTC is 16:00 in Shanghai
    assert closed[5] == "已销号" and closed[6] == "p1"
    assert closed[7] == closed[8] == "2026-11-10 22:00" and closed[9] == "1"
    assert closed[10] == "安全出口被锁"  # the description and the place travel with the row
    assert next(r for r in table if r[0] == str(ids["gas"]))[10] == "闻到煤气味"
    en = list(csv.reader(io.StringIO(ledger.export_csv(rows, "en", SHANGHAI).decode("utf-8-sig"))))
    assert en[0] == EN
    assert next(r for r in en if r[0] == str(ids["gas"]))[5] == "awaiting acceptance"

    for lang, header in (("zh-Hans", ZH), ("en", EN)):
        book = load_workbook(io.BytesIO(ledger.export_xlsx(rows, lang, SHANGHAI)))
        sheet = book.active
        assert [c.value for c in sheet[1]] == header
        assert all(c.font.bold for c in sheet[1])
        assert sheet.freeze_panes == "A2"
        assert sheet.column_dimensions["B"].width > len(header[1])
        values = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
        assert set(values) == set(ids.values())
        assert values[ids["closed"]][3] == datetime(2026, 11, 9, 16, 0)
        assert values[ids["closed"]][9] == 1
        assert values[ids["gas"]][7] is None
        assert values[ids["clutter"]][10] == "3号楼楼道堆满纸箱"
        assert sheet.auto_filter.ref == f"A1:L{len(values) + 1}"


def test_cells_that_look_like_formulas_stay_text():
    when = datetime(2026, 11, 9, 8, 0, tzinfo=ZoneInfo("UTC"))
    row = ledger.LedgerRow(
        id=1,
        grid_code="T1",
        grid_name="网格",
        category="no-longer-exists",
        state=HazardState.ACCEPTED,
        urgent=False,
        text="",
        reported_at=when,
        deadline_at=when,
        assignee='=HYPERLINK("http://x")',
        rectified_at=None,
        closed_at=None,
        days_overdue=0,
        overdue=False,
    )
    table = list(csv.reader(io.StringIO(ledger.export_csv([row]).decode("utf-8-sig"))))
    assert table[1][6].startswith("'=") and table[1][2] == "其他安全隐患"
    sheet = load_workbook(io.BytesIO(ledger.export_xlsx([row]))).active
    assert sheet["G2"].data_type == "s" and sheet["G2"].value.startswith("'=")
    placed = ledger.LedgerRow(**{**row.__dict__, "text": "=1+1", "address": "@SUM(A1)"})
    table = list(csv.reader(io.StringIO(ledger.export_csv([placed]).decode("utf-8-sig"))))
    assert table[1][10] == "'=1+1" and table[1][11] == "'@SUM(A1)"
    assert ledger.LedgerRow(**{**row.__dict__, "lat": 25.43, "lon": 119.01}).place == "25.43000, 119.01000"
