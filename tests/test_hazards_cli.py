"""`gridcast hazards list|export` in-process, on both databases."""

import asyncio
import csv
import io

from openpyxl import load_workbook

from hazards import intake, lifecycle
from hazards.intake import Draft
from hub import people
from hub.core import Hub
from hub.settings import load_settings


async def _two_hazards() -> None:
    """#1 reported, #2 accepted, both in T1 of the demo district."""
    hub = await Hub.open(load_settings(), upgrade=False)
    try:
        async with hub.db.session() as s:
            resident, worker = await people.get(s, 6001), await people.get(s, 5001)
            await intake.report(s, resident, Draft(text="3号楼楼道堆满纸箱"), grid_id=None, now=hub.now())
            second = await intake.report(
                s, resident, Draft(text="7号楼消防通道被铁门锁死"), grid_id=None, now=hub.now()
            )
            await lifecycle.act(s, worker, second.hazard.id, "accept", now=hub.now())
    finally:
        await hub.close()


def test_list_filters_by_state_and_grid(cli, capsys):
    cli("demo")
    asyncio.run(_two_hazards())
    capsys.readouterr()
    assert cli("hazards", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["id", "grid", "category", "state"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2"]
    assert "待受理" in lines[1] and "整改中" in lines[2] and "王芳" in lines[2]
    assert cli("hazards", "list", "--state", "accepted") == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == ["2"]
    assert cli("hazards", "list", "--grid", "T2") == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert cli("hazards", "list", "--grid", "NOPE") == 1
    assert capsys.readouterr().err.strip() == "gridcast: 没有编号为 NOPE 的网格。"


def test_export_csv_to_stdout_in_chinese(cli, capsysbinary):
    cli("demo")
    asyncio.run(_two_hazards())
    capsysbinary.readouterr()
    assert cli("hazards", "export") == 0
    data = capsysbinary.readouterr().out
    assert data.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to read UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["编号", "网格", "隐患类别"] and len(rows[0]) == 12
    assert rows[0][10:] == ["隐患描述", "位置"]
    assert [r[0] for r in rows[1:]] == ["1", "2"]
    assert rows[2][5] == "整改中" and rows[2][6] == "王芳"


def test_export_xlsx_to_a_file_in_english(cli, tmp_path, capsys):
    cli("demo")
    asyncio.run(_two_hazards())
    out = tmp_path / "ledger.xlsx"
    assert cli("hazards", "export", "--format", "xlsx", "--out", str(out), "--lang", "en") == 0
    assert "wrote 2 hazards" in capsys.readouterr().err
    sheet = load_workbook(out).active
    values = list(sheet.values)
    assert values[0][:2] == ("Ticket", "Grid") and len(values) == 3
    assert values[2][5] == "being rectified"
    assert cli("hazards", "export", "--out", str(tmp_path / "missing" / "x.csv")) == 2
    assert capsys.readouterr().err.startswith("gridcast: cannot write")
