"""What every command group shares: how a command is declared, how it opens the hub, how
it prints, and the one error a command raises for a mistake in how it was called.

A group module declares its commands with `group`, `command` and `arg`; a handler that
needs the database is an `async (hub, args)` function wrapped by `with_hub`, one that needs
only the settings is a plain `(settings, args)` function. Either way the parser holds a
`Runner` under `args.run`, and `cli.main` calls it inside the shared error handling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import wraps
from operator import itemgetter
from pathlib import Path
from typing import Any

from hub.core import Hub
from hub.settings import Settings

CLI_ACTOR = "cli"
# What a user types -> the hub's language names.
CLI_LANGUAGES = {"zh": "zh-Hans", "zh-Hans": "zh-Hans", "zh-Hant": "zh-Hant", "en": "en"}

Runner = Callable[[Settings, argparse.Namespace], int]
HubCommand = Callable[[Hub, argparse.Namespace], Awaitable[int]]
Row = Mapping[str, Any]


class CliError(Exception):
    """A mistake in how a command was called, reported as one line (exit code 2)."""


# --- declaring commands ------------------------------------------------------------------


@dataclass(frozen=True)
class Arg:
    """One `add_argument` call, written down before there is a parser to add it to."""

    flags: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)


def arg(*flags: str, **options: Any) -> Arg:
    return Arg(flags, options)


JSON = arg("--json", action="store_true")


def group(sub: Any, name: str, help_text: str) -> Any:
    """`gridcast <name> …`: a command group whose subcommand is required."""
    return sub.add_parser(name, help=help_text).add_subparsers(dest=f"{name}_command", required=True)


def command(sub: Any, name: str, run: Runner, help_text: str, *args: Arg) -> argparse.ArgumentParser:
    """One command: its arguments and what runs it."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    for a in args:
        parser.add_argument(*a.flags, **a.options)
    parser.set_defaults(run=run)
    return parser


# --- running them --------------------------------------------------------------------------


def with_hub(handler: HubCommand) -> Runner:
    """The one way a command opens the hub, and closes it whatever happens."""

    @wraps(handler)
    def run(settings: Settings, args: argparse.Namespace) -> int:
        async def go() -> int:
            hub = await Hub.open(settings)
            try:
                return await handler(hub, args)
            finally:
                await hub.close()

        return asyncio.run(go())

    return run


async def read_input(path: Path) -> bytes:
    """A file a command was given, off the event loop; an unreadable one is a CliError."""
    try:
        return await asyncio.to_thread(path.read_bytes)
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None


async def write_output(path: Path, data: bytes) -> None:
    try:
        await asyncio.to_thread(path.write_bytes, data)
    except OSError as error:
        raise CliError(f"cannot write {path}: {error.strerror}") from None


# --- printing ------------------------------------------------------------------------------


def print_json(data: Any, *, indent: int | None = 1) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=indent))


def print_table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    for row in [headers, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip())


def columns(*keys: str) -> dict[str, Callable[[Row], Any]]:
    """Table columns that show a record's own fields, headed by their keys."""
    return {key: itemgetter(key) for key in keys}


def print_listing(
    records: Sequence[Row], as_json: bool, cells: Mapping[str, Callable[[Row], Any]]
) -> None:
    """What a listing command prints: the records as JSON with --json, else a table of
    `cells` (header -> what to show of a record)."""
    if as_json:
        print_json(list(records))
        return
    print_table([[str(show(r)) for show in cells.values()] for r in records], list(cells))

