"""`gridcast grids add|list|import`: the grid tree."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cli.common import (
    CLI_ACTOR,
    JSON,
    arg,
    columns,
    command,
    group,
    print_listing,
    read_input,
    with_hub,
)
from hub import grids
from hub.core import Hub
from hub.models import GridLevel


@with_hub
async def grids_add(hub: Hub, args: argparse.Namespace) -> int:
    spec = grids.GridSpec(
        args.code, args.name, args.parent, GridLevel(args.level) if args.level else None,
        geocode=args.geocode,
    )
    async with hub.db.session() as session:
        grid = await grids.upsert(session, spec, actor=CLI_ACTOR, now=hub.now())
    print(f"{grid.code}\t{grid.level.value}\t{grid.name}")
    return 0


@with_hub
async def grids_list(hub: Hub, args: argparse.Namespace) -> int:
    async with hub.db.session() as session:
        found = await grids.list_grids(session, under=args.under)
    records = [{"code": g.code, "name": g.name, "level": g.level.value, "path": g.path} for g in found]
    print_listing(records, args.json, {
        **columns("code", "level"),
        # Indented by depth, so the table reads as the tree.
        "name": lambda g: "  " * (g["path"].count("/") - 2) + g["name"],
    })
    return 0


@with_hub
async def grids_import(hub: Hub, args: argparse.Namespace) -> int:
    path = Path(args.file)
    data = await read_input(path)
    specs = grids.parse_grid_file(path.name, data)
    async with hub.db.session() as session:
        imported = await grids.import_specs(session, specs, actor=CLI_ACTOR, now=hub.now())
    print(f"imported {len(imported)} grids from {path.name}")
    return 0


def add_parser(sub: Any) -> None:
    cmds = group(sub, "grids", "the grid tree")
    command(
        cmds, "add", grids_add, "add or rename a grid",
        arg("code"),
        arg("--name", required=True),
        arg("--parent"),
        arg("--level", choices=[lv.value for lv in GridLevel]),
        arg("--geocode", help="GB/T 2260 administrative code, as CAP alerts name areas"),
    )
    command(cmds, "list", grids_list, "list grids", arg("--under", help="only this grid and below"), JSON)
    command(cmds, "import", grids_import, "import grids from .csv, .yaml or .geojson", arg("file"))
