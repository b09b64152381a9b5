"""`gridcast people add|list|set-password`: residents, workers and staff."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from cli.common import (
    CLI_ACTOR,
    JSON,
    CliError,
    arg,
    columns,
    command,
    group,
    print_listing,
    with_hub,
)
from hub import people
from hub.core import Hub
from hub.i18n import LANGUAGES
from hub.models import Role


@with_hub
async def people_add(hub: Hub, args: argparse.Namespace) -> int:
    async with hub.db.session() as session:
        person = await people.appoint(
            session,
            telegram_id=args.telegram_id,
            name=args.name,
            role=Role(args.role),
            grid_code=args.grid,
            language=args.language,
            actor=CLI_ACTOR,
            now=hub.now(),
        )
    print(f"{person.telegram_id}\t{person.role.value}\t{args.grid or '-'}\t{person.name}")
    return 0


@with_hub
async def people_list(hub: Hub, args: argparse.Namespace) -> int:
    async with hub.db.session() as session:
        found = await people.list_people(
            session, grid_code=args.grid, role=Role(args.role) if args.role else None
        )
    records = [
        {"telegram_id": p.telegram_id, "name": p.name, "role": p.role.value, "grid": code,
         "language": p.language}
        for p, code in found
    ]
    print_listing(records, args.json, {
        "telegram_id": lambda p: p["telegram_id"] or "-",
        **columns("role"),
        "grid": lambda p: p["grid"] or "-",
        **columns("name"),
    })
    return 0


def _read_password() -> str:
    """Twice from the terminal, or two lines from standard input when it is not one."""
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        second = getpass.getpass("again: ")
    else:
        lines = sys.stdin.read().splitlines()
        if len(lines) < 2:
            raise CliError("give the password twice, one per line, on standard input")
        first, second = lines[0], lines[1]
    if first != second:
        raise CliError("the two passwords differ")
    return first


@with_hub
async def people_set_password(hub: Hub, args: argparse.Namespace) -> int:
    password = _read_password()
    async with hub.db.session() as session:
        person = await people.set_password(
            session, args.telegram_id, password, actor=CLI_ACTOR, now=hub.now()
        )
    print(f"password set for {person.name}")
    return 0


def add_parser(sub: Any) -> None:
    cmds = group(sub, "people", "residents, workers, staff")
    command(
        cmds, "add", people_add, "add a person or change their role",
        arg("--telegram-id", type=int, required=True),
        arg("--name", required=True),
        arg("--role", choices=[r.value for r in Role], default=Role.RESIDENT.value),
        arg("--grid"),
        arg("--language", choices=LANGUAGES),
    )
    command(
        cmds, "list", people_list, "list people",
        arg("--grid"), arg("--role", choices=[r.value for r in Role]), JSON,
    )
    command(
        cmds, "set-password", people_set_password, "set a dashboard password (asked twice)",
        arg("--telegram-id", type=int, required=True),
    )
