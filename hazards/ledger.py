"""The rectification ledger (整改台账): open hazards for workers, and the export for staff.

Workers look at the open hazards of their grid, overdue first; staff export the whole ledger
for reports upward, in Chinese by default because that is the form it is filed in.
"""

from __future__ import annotations

import csv
import io
import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from hazards.categories import get_or_other
from hazards.models import OPEN_STATES, OVERDUE_STATES, Hazard, HazardState
from hub import access, grids
from hub.errors import InvalidInput, PermissionDenied
from hub.i18n import DEFAULT_LANGUAGE, LANGUAGES, Texts
from hub.models import Grid, Person, Role

COLUMNS = (
    "id",
    "grid",
    "category",
    "reported_at",
    "deadline",
    "state",
    "assignee",
    "rectified_at",
    "closed_at",
    "days_overdue",
)
DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M"
XLSX_TIME_FORMAT = "yyyy-mm-dd hh:mm"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Only workers and staff see the ledger, and only of their own grids.
REFUSALS = access.Refusals(
    role="hazard.refused_not_worker_ledger", scope="hazard.refused_out_of_scope_ledger"
)


@dataclass(frozen=True)
class LedgerRow:
    id: int
    grid_code: str
    grid_name: str
    category: str
    state: HazardState
    urgent: bool
    text: str
    reported_at: datetime
    deadline_at: datetime
    assignee: str | None
    rectified_at: datetime | None
    closed_at: datetime | None
    days_overdue: int
    overdue: bool  # still waiting on the grid and past its deadline now

    def params(self) -> dict[str, Any]:
        """For the "hazard.ledger.item" template (hazards.notices.render localises them)."""
        return {
            "id": self.id,
            "grid_name": self.grid_name,
            "grid_code": self.grid_code,
            "category": self.category,
            "state": self.state.value,
            "urgent": self.urgent,
            "text": self.text if len(self.text) <= 60 else self.text[:59] + "…",
            "reported_at": self.reported_at,
            "deadline": self.deadline_at,
            "assignee": self.assignee,
            "days_overdue": self.days_overdue,
            "overdue": self.overdue,
        }


def days_overdue(hazard: Hazard, now: datetime) -> int:
    """Whole days (rounded up) by which rectification missed or is missing its deadline.

    Measured to the rectification when there was one, else to now while the hazard is still
    open; rejected and duplicate reports were never the grid's to fix.
    """
    if hazard.state in (HazardState.REJECTED, HazardState.DUPLICATE):
        return 0
    end = hazard.rectified_at or now
    late = end - hazard.deadline_at
    return math.ceil(late / timedelta(days=1)) if late > timedelta(0) else 0


async def _scope(session: AsyncSession, actor: Person | None, grid_code: str | None) -> str:
    """The grid path prefix the rows come from; refuses anyone below grid worker."""
    if actor is not None:
        await access.require(session, actor, Role.WORKER, refusals=REFUSALS)
    if grid_code:
        grid = await grids.get(session, grid_code)
        if actor is not None:
            await access.require(session, actor, Role.WORKER, grid, refusals=REFUSALS)
        return grid.path
    if actor is None:
        return ""
    scope = await access.scope_path(session, actor)
    if scope is None:
        raise PermissionDenied(REFUSALS.role)
    return scope


async def ledger_rows(
    session: AsyncSession,
    actor: Person | None,
    grid_code: str | None = None,
    states: Iterable[HazardState] | None = None,
    *,
    now: datetime,
) -> list[LedgerRow]:
    """Hazards of a grid's subtree in ticket order; `actor` None is the CLI or the system."""
    prefix = await _scope(session, actor, grid_code)
    assignee = aliased(Person)
    query = (
        select(Hazard, Grid.code, Grid.name, assignee.name)
        .join(Grid, Hazard.grid_id == Grid.id)
        .outerjoin(assignee, Hazard.assignee_id == assignee.id)
        .order_by(Hazard.id)
    )
    if prefix:
        query = query.where(Grid.path.startswith(prefix))
    if states is not None:
        query = query.where(Hazard.state.in_(sorted(states)))
    rows = []
    for hazard, code, name, assignee_name in (await session.execute(query)).tuples():
        rows.append(
            LedgerRow(
                id=hazard.id,
                grid_code=code,
                grid_name=name,
                category=hazard.category,
                state=hazard.state,
                urgent=hazard.urgent,
                text=hazard.text,
                reported_at=hazard.reported_at,
                deadline_at=hazard.deadline_at,
                assignee=assignee_name,
                rectified_at=hazard.rectified_at,
                closed_at=hazard.closed_at,
                days_overdue=days_overdue(hazard, now),
                overdue=hazard.state in OVERDUE_STATES and now > hazard.deadline_at,
            )
        )
    return rows


async def open_ledger(
    session: AsyncSession, actor: Person, grid_code: str | None = None, *, now: datetime
) -> list[LedgerRow]:
    """Open hazards (reported, accepted, rectified): overdue first, then by deadline."""
    rows = await ledger_rows(session, actor, grid_code, OPEN_STATES, now=now)
    return sorted(rows, key=lambda r: (not r.overdue, r.deadline_at, r.id))


# --- export ------------------------------------------------------------------------------


@cache
def _default_texts() -> Texts:
    return Texts()


def _language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise InvalidInput("error.language", language=lang)
    return lang


def headers(lang: str = DEFAULT_LANGUAGE, texts: Texts | None = None) -> list[str]:
    texts = texts or _default_texts()
    return [texts.get(_language(lang), f"hazard.ledger.column.{c}") for c in COLUMNS]


def _safe(value: str) -> str:
    """Keep a spreadsheet from running a name such as "=HYPERLINK(…)" as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _cells(row: LedgerRow, lang: str, tz: ZoneInfo, texts: Texts) -> list[Any]:
    category = get_or_other(row.category)

    def local(when: datetime | None) -> datetime | None:
        return when.astimezone(tz).replace(tzinfo=None) if when else None

    return [
        row.id,
        _safe(f"{row.grid_code} {row.grid_name}"),
        category.label(lang),
        local(row.reported_at),
        local(row.deadline_at),
        texts.get(lang, f"hazard.state.{row.state.value}"),
        _safe(row.assignee or ""),
        local(row.rectified_at),
        local(row.closed_at),
        row.days_overdue,
    ]


def export_csv(
    rows: Sequence[LedgerRow],
    lang: str = DEFAULT_LANGUAGE,
    tz: ZoneInfo = DEFAULT_TZ,
    texts: Texts | None = None,
) -> bytes:
    """UTF-8 with a byte-order mark: without it Excel on Windows shows the headers as mojibake."""
    texts = texts or _default_texts()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers(lang, texts))
    for row in rows:
        cells = _cells(row, lang, tz, texts)
        writer.writerow([c.strftime(TIME_FORMAT) if isinstance(c, datetime) else c for c in cells])
    return out.getvalue().encode("utf-8-sig")


def _width(value: Any) -> int:
    """Display width: CJK characters take two columns in a spreadsheet."""
    text = value.strftime(TIME_FORMAT) if isinstance(value, datetime) else str(value or "")
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def export_xlsx(
    rows: Sequence[LedgerRow],
    lang: str = DEFAULT_LANGUAGE,
    tz: ZoneInfo = DEFAULT_TZ,
    texts: Texts | None = None,
) -> bytes:
    """One sheet: bold frozen header row, real date cells in the hub's time zone, sized columns."""
    # Imported here: every process that can show the ledger would otherwise pay for openpyxl
    # at start, and only an export writes a workbook.
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    texts = texts or _default_texts()
    names = headers(lang, texts)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = texts.get(lang, "hazard.ledger.sheet")
    sheet.append(names)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [_width(n) for n in names]
    for row in rows:
        cells = _cells(row, lang, tz, texts)
        sheet.append(cells)
        widths = [max(w, _width(c)) for w, c in zip(widths, cells, strict=True)]
    for column in (4, 5, 8, 9):
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
            cell.number_format = XLSX_TIME_FORMAT
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(width + 2, 60)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
