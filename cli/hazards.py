"""`gridcast hazards list|export [--format csv|xlsx]`: the rectification ledger (整改台账)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from cli.common import (
    CLI_LANGUAGES,
    CliError,
    arg,
    command,
    group,
    print_table,
    with_hub,
    write_output,
)
from hazards import ledger
from hazards.categories import get_or_other
from hazards.models import HazardState
from hub.core import Hub

LOCAL_TIME = "%Y-%m-%d %H:%M"


async def _ledger(hub: Hub, args: argparse.Namespace) -> list[ledger.LedgerRow]:
    states = [HazardState(args.state)] if args.state else None
    async with hub.db.session() as session:
        return await ledger.ledger_rows(session, None, args.grid, states, now=hub.now())


@with_hub
async def hazards_list(hub: Hub, args: argparse.Namespace) -> int:
    rows = await _ledger(hub, args)
    lang = hub.settings.default_language
    table = [
        [
            str(r.id), r.grid_code, get_or_other(r.category).label(lang),
            hub.t(lang, f"hazard.state.{r.state.value}"), hub.local(r.reported_at).strftime(LOCAL_TIME),
            hub.local(r.deadline_at).strftime(LOCAL_TIME), r.assignee or "-", str(r.days_overdue),
        ]
        for r in rows
    ]
    print_table(table, ["id", "grid", "category", "state", "reported", "deadline", "assignee", "overdue_days"])
    return 0


@with_hub
async def hazards_export(hub: Hub, args: argparse.Namespace) -> int:
    """The rectification ledger as CSV or XLSX: to --out, or to standard output."""
    if args.out is None and args.format == "xlsx" and sys.stdout.isatty():
        raise CliError("an xlsx file is binary: give --out FILE or redirect standard output")
    rows = await _ledger(hub, args)
    write = ledger.export_xlsx if args.format == "xlsx" else ledger.export_csv
    data = await asyncio.to_thread(write, rows, CLI_LANGUAGES[args.lang], hub.tz, hub.texts)
    if args.out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    out = Path(args.out)
    await write_output(out, data)
    print(f"wrote {len(rows)} hazards to {out}", file=sys.stderr)
    return 0


def add_parser(sub: Any) -> None:
    cmds = group(sub, "hazards", "the hazard ledger")
    filters = (
        arg("--grid", help="only this grid and below"),
        arg("--state", choices=[st.value for st in HazardState]),
    )
    command(cmds, "list", hazards_list, "list hazards", *filters)
    command(
        cmds, "export", hazards_export, "export the rectification ledger (csv to stdout by default)",
        *filters,
        arg("--format", choices=["csv", "xlsx"], default="csv"),
        arg("--out", help="file to write (default: standard output)"),
        arg("--lang", choices=sorted(CLI_LANGUAGES), default="zh",
            help="column headers and names (Chinese by default)"),
    )
