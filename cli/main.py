"""`gridcast …`: the command line, a transport like the bot and the web app.

Each command is one service call and its answer. A configuration mistake or a refused
request ends in one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from cli.audio import AudioCliError
from cli.audio import add_parser as add_audio_parser
from hazards import ledger
from hazards.categories import get_or_other
from hazards.models import HazardState
from hub import grids, migrate, people
from hub.core import Hub
from hub.errors import ContentError, HubError
from hub.i18n import LANGUAGES
from hub.logs import setup_logging
from hub.models import GridLevel, Role
from hub.settings import ConfigError, Settings, load_settings

CLI_ACTOR = "cli"
Command = Callable[[Hub, argparse.Namespace], Awaitable[int]]


class CliError(Exception):
    """A mistake in how a command was called, reported as one line."""


def _print_table(rows: list[list[str]], headers: list[str]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    for row in [headers, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip())


# --- grids -------------------------------------------------------------------------------


async def grids_add(hub: Hub, args: argparse.Namespace) -> int:
    spec = grids.GridSpec(
        args.code, args.name, args.parent, GridLevel(args.level) if args.level else None,
        geocode=args.geocode,
    )
    async with hub.db.session() as session:
        grid = await grids.upsert(session, spec, actor=CLI_ACTOR, now=hub.now())
    print(f"{grid.code}\t{grid.level.value}\t{grid.name}")
    return 0


async def grids_list(hub: Hub, args: argparse.Namespace) -> int:
    async with hub.db.session() as session:
        found = await grids.list_grids(session, under=args.under)
    if args.json:
        print(json.dumps(
            [{"code": g.code, "name": g.name, "level": g.level.value, "path": g.path} for g in found],
            ensure_ascii=False, indent=1,
        ))
        return 0
    rows = [[g.code, g.level.value, "  " * (g.path.count("/") - 2) + g.name] for g in found]
    _print_table(rows, ["code", "level", "name"])
    return 0


async def grids_import(hub: Hub, args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None
    specs = grids.parse_grid_file(path.name, data)
    async with hub.db.session() as session:
        imported = await grids.import_specs(session, specs, actor=CLI_ACTOR, now=hub.now())
    print(f"imported {len(imported)} grids from {path.name}")
    return 0


# --- people ------------------------------------------------------------------------------


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


async def people_list(hub: Hub, args: argparse.Namespace) -> int:
    async with hub.db.session() as session:
        found = await people.list_people(
            session, grid_code=args.grid, role=Role(args.role) if args.role else None
        )
    if args.json:
        print(json.dumps(
            [
                {"telegram_id": p.telegram_id, "name": p.name, "role": p.role.value, "grid": code,
                 "language": p.language}
                for p, code in found
            ],
            ensure_ascii=False, indent=1,
        ))
        return 0
    rows = [[str(p.telegram_id or "-"), p.role.value, code or "-", p.name] for p, code in found]
    _print_table(rows, ["telegram_id", "role", "grid", "name"])
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


async def people_set_password(hub: Hub, args: argparse.Namespace) -> int:
    password = _read_password()
    async with hub.db.session() as session:
        person = await people.set_password(
            session, args.telegram_id, password, actor=CLI_ACTOR, now=hub.now()
        )
    print(f"password set for {person.name}")
    return 0


# --- knowledge ---------------------------------------------------------------------------

CLI_LANGUAGES = {"zh": "zh-Hans", "zh-Hans": "zh-Hans", "zh-Hant": "zh-Hant", "en": "en"}


async def ask(hub: Hub, args: argparse.Namespace) -> int:
    from knowledge.questions import open_knowledge

    kb = await open_knowledge(hub)
    answer = kb.search(" ".join(args.question), CLI_LANGUAGES[args.lang])
    if args.json:
        print(json.dumps(
            {"answered": answer.answered, "answer": answer.answer, "entry_id": answer.entry_id,
             "score": round(answer.score, 4)},
            ensure_ascii=False,
        ))
    elif answer.answered:
        print(answer.answer)
        if answer.basis:
            print(f"({answer.basis})")
    else:
        print(hub.t(CLI_LANGUAGES[args.lang], "ask.cli_unknown"), file=sys.stderr)
    return 0 if answer.answered else 1


# --- warnings ----------------------------------------------------------------------------


async def warnings_list(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.warnings import lifecycle as warnings

    async with hub.db.session() as session:
        found = await warnings.list_warnings(session, limit=args.limit)
    rows = [
        {"id": w.id, "status": w.status.value, "level": w.level.value, "type": w.msg_type.value,
         "source": w.source.value, "sent": hub.local(w.sent_at).isoformat(timespec="minutes") if w.sent_at else "",
         "expires": hub.local(w.expires).isoformat(timespec="minutes"), "grids": ",".join(w.grid_codes),
         "headline": w.headline}
        for w in found
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        headers = list(rows[0]) if rows else ["id", "status", "level", "type", "headline"]
        _print_table([[str(r[h]) for h in headers] for r in rows], headers)
    return 0


async def warnings_poll(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.warnings.feeds import poll_all

    urls = [args.url] if args.url else hub.settings.cap_feed_urls
    if not urls:
        raise CliError("no CAP source: give a URL or set GRIDCAST_CAP_FEEDS")
    failed = False
    for result in await poll_all(hub, urls, force=True):
        outcomes = ", ".join(f"{o.outcome}" + (f" #{o.warning_id}" if o.warning_id else "")
                             for o in result.outcomes) or "no alerts"
        print(f"{result.url}\t{result.status}\t{outcomes}")
        for reason in result.rejected:
            print(f"  rejected: {reason}")
        failed = failed or bool(result.rejected) or result.status not in ("ok", "not_modified")
    return 1 if failed else 0


async def warnings_report(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.warnings import lifecycle as warnings

    async with hub.db.session() as session:
        report = await warnings.delivery_report(session, None, args.id)
    if args.json:
        print(json.dumps({"id": args.id, "status": report.warning.status.value, **report.counts,
                          "chats": [{"chat_id": c, "status": s, "error": e} for c, s, e in report.chats]},
                         ensure_ascii=False, indent=1))
        return 0
    counts = report.counts
    print(f"warning #{args.id} ({report.warning.status.value}): sent {counts['sent']}, "
          f"pending {counts['pending'] + counts['sending']}, failed {counts['failed']}")
    _print_table([[str(c), s, e or ""] for c, s, e in report.chats], ["chat", "status", "error"])
    return 0


async def warnings_approve(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.warnings import lifecycle as warnings

    async with hub.db.session() as session:
        sent = await warnings.send(session, hub, CLI_ACTOR, args.id)
    print(f"warning #{args.id} sent to {sent.chats} chats")
    return 0


# --- hazards -----------------------------------------------------------------------------


async def _ledger(hub: Hub, args: argparse.Namespace) -> list[ledger.LedgerRow]:
    states = [HazardState(args.state)] if args.state else None
    async with hub.db.session() as session:
        return await ledger.ledger_rows(session, None, args.grid, states, now=hub.now())


async def hazards_list(hub: Hub, args: argparse.Namespace) -> int:
    rows = await _ledger(hub, args)
    lang = hub.settings.default_language
    local = "%Y-%m-%d %H:%M"
    table = [
        [
            str(r.id), r.grid_code, get_or_other(r.category).label(lang),
            hub.t(lang, f"hazard.state.{r.state.value}"), hub.local(r.reported_at).strftime(local),
            hub.local(r.deadline_at).strftime(local), r.assignee or "-", str(r.days_overdue),
        ]
        for r in rows
    ]
    _print_table(table, ["id", "grid", "category", "state", "reported", "deadline", "assignee", "overdue_days"])
    return 0


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
    try:
        await asyncio.to_thread(out.write_bytes, data)
    except OSError as error:
        raise CliError(f"cannot write {out}: {error.strerror}") from None
    print(f"wrote {len(rows)} hazards to {out}", file=sys.stderr)
    return 0


# --- database, demo, serving ---------------------------------------------------------------


async def db_upgrade(hub: Hub, args: argparse.Namespace) -> int:
    print(f"database at revision {await migrate.current_revision(hub.db)}")
    return 0


async def demo(hub: Hub, args: argparse.Namespace) -> int:
    from cli.demo import load_demo

    summary = await load_demo(hub)
    print(summary)
    return 0


def _serve(*roles: str) -> Callable[[Settings, argparse.Namespace], int]:
    def run(settings: Settings, args: argparse.Namespace) -> int:
        from cli.serve import serve

        asyncio.run(serve(settings, roles))
        return 0

    return run


# --- parser ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gridcast", description="gridcast community-safety hub")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    sub.add_parser("run", help="bot + web + scheduler in one process").set_defaults(serve=_serve(*("bot", "web", "scheduler")))
    sub.add_parser("bot", help="only the Telegram bot").set_defaults(serve=_serve("bot"))
    sub.add_parser("web", help="only the web app").set_defaults(serve=_serve("web"))
    sub.add_parser("scheduler", help="only the scheduler").set_defaults(serve=_serve("scheduler"))

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=db_upgrade)

    g = sub.add_parser("grids", help="the grid tree").add_subparsers(dest="grids_command", required=True)
    add = g.add_parser("add", help="add or rename a grid")
    add.add_argument("code")
    add.add_argument("--name", required=True)
    add.add_argument("--parent")
    add.add_argument("--level", choices=[lv.value for lv in GridLevel])
    add.add_argument("--geocode", help="GB/T 2260 administrative code, as CAP alerts name areas")
    add.set_defaults(func=grids_add)
    lst = g.add_parser("list", help="list grids")
    lst.add_argument("--under", help="only this grid and below")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=grids_list)
    imp = g.add_parser("import", help="import grids from .csv, .yaml or .geojson")
    imp.add_argument("file")
    imp.set_defaults(func=grids_import)

    p = sub.add_parser("people", help="residents, workers, staff").add_subparsers(dest="people_command", required=True)
    padd = p.add_parser("add", help="add a person or change their role")
    padd.add_argument("--telegram-id", type=int, required=True)
    padd.add_argument("--name", required=True)
    padd.add_argument("--role", choices=[r.value for r in Role], default=Role.RESIDENT.value)
    padd.add_argument("--grid")
    padd.add_argument("--language", choices=LANGUAGES)
    padd.set_defaults(func=people_add)
    plist = p.add_parser("list", help="list people")
    plist.add_argument("--grid")
    plist.add_argument("--role", choices=[r.value for r in Role])
    plist.add_argument("--json", action="store_true")
    plist.set_defaults(func=people_list)
    pwd = p.add_parser("set-password", help="set a dashboard password (asked twice)")
    pwd.add_argument("--telegram-id", type=int, required=True)
    pwd.set_defaults(func=people_set_password)

    ask_parser = sub.add_parser("ask", help="ask the safety knowledge base")
    ask_parser.add_argument("question", nargs="+")
    ask_parser.add_argument("--json", action="store_true", help="print answered/answer/entry_id/score")
    ask_parser.add_argument("--lang", choices=sorted(CLI_LANGUAGES), default="zh")
    ask_parser.set_defaults(func=ask)

    w = sub.add_parser("warnings", help="early warnings and CAP feeds").add_subparsers(
        dest="warnings_command", required=True)
    wlist = w.add_parser("list", help="recent warnings, newest first")
    wlist.add_argument("--limit", type=int, default=50)
    wlist.add_argument("--json", action="store_true")
    wlist.set_defaults(func=warnings_list)
    wpoll = w.add_parser("poll", help="fetch the configured CAP feeds (or one URL) once, now")
    wpoll.add_argument("url", nargs="?")
    wpoll.set_defaults(func=warnings_poll)
    wreport = w.add_parser("report", help="delivery report of one warning, per chat")
    wreport.add_argument("id", type=int)
    wreport.add_argument("--json", action="store_true")
    wreport.set_defaults(func=warnings_report)
    wapprove = w.add_parser("approve", help="publish a feed alert that waits for approval")
    wapprove.add_argument("id", type=int)
    wapprove.set_defaults(func=warnings_approve)

    add_audio_parser(sub)
    hz = sub.add_parser("hazards", help="the hazard ledger").add_subparsers(dest="hazards_command", required=True)
    for name, func, help_text in (
        ("list", hazards_list, "list hazards"),
        ("export", hazards_export, "export the rectification ledger (csv to stdout by default)"),
    ):
        cmd = hz.add_parser(name, help=help_text)
        cmd.add_argument("--grid", help="only this grid and below")
        cmd.add_argument("--state", choices=[st.value for st in HazardState])
        cmd.set_defaults(func=func)
        if name == "export":
            cmd.add_argument("--format", choices=["csv", "xlsx"], default="csv")
            cmd.add_argument("--out", help="file to write (default: standard output)")
            cmd.add_argument("--lang", choices=sorted(CLI_LANGUAGES), default="zh",
                             help="column headers and names (Chinese by default)")

    sub.add_parser("demo", help="load a demo district").set_defaults(func=demo)
    return parser


async def _run_command(settings: Settings, func: Command, args: argparse.Namespace) -> int:
    hub = await Hub.open(settings)
    try:
        return await func(hub, args)
    finally:
        await hub.close()


def _say_error(settings: Settings | None, error: HubError) -> str:
    from hub.i18n import Texts

    lang = settings.default_language if settings else "zh-Hans"
    try:
        return Texts().get(lang, error.key, **error.params)
    except (KeyError, ContentError):
        return str(error)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings: Settings | None = None
    try:
        settings = load_settings()
        setup_logging(settings)
        if hasattr(args, "serve"):
            return args.serve(settings, args)
        if hasattr(args, "plain"):  # needs the settings only, not the database
            return args.plain(settings, args)
        return asyncio.run(_run_command(settings, args.func, args))
    except ConfigError as error:
        print(f"gridcast: configuration error: {error}", file=sys.stderr)
        return 2
    except ContentError as error:
        print(f"gridcast: content error: {error}", file=sys.stderr)
        return 2
    except (CliError, AudioCliError) as error:
        print(f"gridcast: {error}", file=sys.stderr)
        return 2
    except HubError as error:
        print(f"gridcast: {_say_error(settings, error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except (OSError, DBAPIError) as error:
        # The database or the data dir cannot be reached: say which, in one line.
        detail = str(getattr(error, "orig", None) or error).splitlines()[0]
        print(f"gridcast: cannot reach the database or data dir: {detail}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
