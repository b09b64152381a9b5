"""The ledger as a spreadsheet: CSV and XLSX for reports upward (整改台账).

In Chinese by default, because that is the form it is filed in; dates in the hub's time zone;
nothing a resident typed can run as a formula. The XLSX streams through openpyxl's write-only
mode, so exporting 100,000 hazards costs about what openpyxl alone costs to write them.
"""

from __future__ import annotations

import csv
import io
import itertools
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from hazards.categories import get_or_other
from hazards.models import HazardState
from hub.errors import InvalidInput
from hub.i18n import DEFAULT_LANGUAGE, LANGUAGES, Texts

if TYPE_CHECKING:
    from hazards.ledger import LedgerRow

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
    "text",
    "place",
)
DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M"
XLSX_TIME_FORMAT = "yyyy-mm-dd hh:mm"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
WIDTH_SAMPLE = 500  # rows whose text sizes the columns: a streamed export cannot wait for all


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


class _Cells:
    """A row's cells for one export, in one language and zone: the names of states and
    categories are looked up once per export, not once per row."""

    def __init__(self, lang: str, tz: ZoneInfo, texts: Texts) -> None:
        self.lang, self.tz = _language(lang), tz
        self.states = {state: texts.get(self.lang, f"hazard.state.{state.value}") for state in HazardState}
        self.categories: dict[str, str] = {}

    def category(self, category_id: str) -> str:
        label = self.categories.get(category_id)
        if label is None:
            label = self.categories[category_id] = get_or_other(category_id).label(self.lang)
        return label

    def local(self, when: datetime | None) -> datetime | None:
        return when.astimezone(self.tz).replace(tzinfo=None) if when else None

    def __call__(self, row: LedgerRow) -> list[Any]:
        local = self.local
        return [
            row.id,
            _safe(f"{row.grid_code} {row.grid_name}"),
            self.category(row.category),
            local(row.reported_at),
            local(row.deadline_at),
            self.states[row.state],
            _safe(row.assignee or ""),
            local(row.rectified_at),
            local(row.closed_at),
            row.days_overdue,
            _safe(row.text),
            _safe(row.place),
        ]


def export_csv(
    rows: Iterable[LedgerRow],
    lang: str = DEFAULT_LANGUAGE,
    tz: ZoneInfo = DEFAULT_TZ,
    texts: Texts | None = None,
) -> bytes:
    """UTF-8 with a byte-order mark: without it Excel on Windows shows the headers as mojibake."""
    texts = texts or _default_texts()
    cells_of = _Cells(lang, tz, texts)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers(lang, texts))
    for row in rows:
        cells = cells_of(row)
        writer.writerow([c.strftime(TIME_FORMAT) if isinstance(c, datetime) else c for c in cells])
    return out.getvalue().encode("utf-8-sig")


def _width(value: Any) -> int:
    """Display width: CJK characters take two columns in a spreadsheet."""
    text = value.strftime(TIME_FORMAT) if isinstance(value, datetime) else str(value or "")
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


DATE_COLUMNS = frozenset(i for i, c in enumerate(COLUMNS) if c.endswith("_at") or c == "deadline")


def write_xlsx(
    rows: Iterable[LedgerRow],
    out: str | IO[bytes],
    lang: str = DEFAULT_LANGUAGE,
    tz: ZoneInfo = DEFAULT_TZ,
    texts: Texts | None = None,
) -> int:
    """Stream the ledger into a workbook at `out` (a path or a binary file); returns the rows.

    One sheet: bold frozen header row with a filter, real date cells in the hub's time zone,
    columns sized to the header and the first rows. openpyxl's write-only mode writes each
    row as it comes, so 100,000 hazards cost no more memory than a few; blocking — call it
    in a thread.
    """
    # Imported here: every process that can show the ledger would otherwise pay for openpyxl
    # at start, and only an export writes a workbook.
    from openpyxl import Workbook
    from openpyxl.cell import Cell, WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.filters import AutoFilter

    texts = texts or _default_texts()
    cells_of = _Cells(lang, tz, texts)
    names = headers(lang, texts)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(texts.get(cells_of.lang, "hazard.ledger.sheet"))
    stream = iter(rows)
    sample = [cells_of(row) for row in itertools.islice(stream, WIDTH_SAMPLE)]
    widths = [_width(n) for n in names]
    for cells in sample:
        widths = [max(w, _width(c)) for w, c in zip(widths, cells, strict=True)]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(width + 2, 60)
    sheet.freeze_panes = "A2"
    header = []
    for name in names:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    # Every date cell starts from one style with our format, copied (a cell built and then
    # given a format would look the format up each time).
    template = WriteOnlyCell(sheet)
    template.number_format = XLSX_TIME_FORMAT
    date_style = template._style

    def dated(cells: list[Any]) -> list[Any]:
        for column in DATE_COLUMNS:
            if cells[column] is not None:
                cells[column] = Cell(sheet, row=1, column=1, value=cells[column], style_array=date_style)
        return cells

    count = 0
    for cells in itertools.chain(sample, (cells_of(row) for row in stream)):
        sheet.append(dated(cells))
        count += 1
    sheet.auto_filter = AutoFilter(ref=f"A1:{get_column_letter(len(names))}{count + 1}")
    book.save(out)
    return count


def export_xlsx(
    rows: Iterable[LedgerRow],
    lang: str = DEFAULT_LANGUAGE,
    tz: ZoneInfo = DEFAULT_TZ,
    texts: Texts | None = None,
) -> bytes:
    """The workbook `write_xlsx` makes, as bytes."""
    buffer = io.BytesIO()
    write_xlsx(rows, buffer, lang, tz, texts)
    return buffer.getvalue()
