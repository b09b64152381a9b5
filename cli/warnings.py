"""`gridcast warnings list|poll [URL]|report <id>|approve <id>`: early warnings and CAP feeds.

broadcasts/ is imported by these commands only, so the rest of the CLI starts without it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from cli.common import (
    CLI_ACTOR,
    JSON,
    CliError,
    arg,
    columns,
    command,
    group,
    print_json,
    print_listing,
    print_table,
    with_hub,
)
from hub.core import Hub

if TYPE_CHECKING:
    from broadcasts.warnings.ingest import Ingested

# The table's headers when there is no warning to take them from.
EMPTY_HEADERS = ("id", "status", "level", "type", "headline")


@with_hub
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
    print_listing(rows, args.json, columns(*(rows[0] if rows else EMPTY_HEADERS)))
    return 0


@with_hub
async def warnings_poll(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.warnings.feeds import poll_all

    urls = [args.url] if args.url else hub.settings.cap_feed_urls
    if not urls:
        raise CliError("no CAP source: give a URL or set GRIDCAST_CAP_FEEDS")
    failed = False
    for result in await poll_all(hub, urls, force=True):
        outcomes = ", ".join(_outcome(o) for o in result.outcomes) or "no alerts"
        summary = f" — {result.summary}" if result.summary else ""
        print(f"{result.url}\t{result.status}\t{outcomes}{summary}")
        for document in result.documents:
            source = f"  <{document.source}>" if document.source != result.url else ""
            if document.outcome is None:
                print(f"  rejected: {document.reason}{source}")
            else:
                print(f"  {_outcome(document.outcome)}: {document.identifier} — {document.reason}{source}")
        nothing = bool(result.entries) and not result.documents  # entries, none of them CAP
        refused = bool(result.rejected) or any(o.outcome == "refused" for o in result.outcomes)
        failed = failed or nothing or refused or result.status not in ("ok", "not_modified")
    return 1 if failed else 0


def _outcome(outcome: Ingested) -> str:
    return outcome.outcome + (f" #{outcome.warning_id}" if outcome.warning_id else "")


@with_hub
async def warnings_report(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.warnings import lifecycle as warnings

    async with hub.db.session() as session:
        report = await warnings.delivery_report(session, None, args.id)
    if args.json:
        print_json({"id": args.id, "status": report.warning.status.value, **report.counts,
                    "chats": [{"chat_id": c, "status": s, "error": e} for c, s, e in report.chats]})
        return 0
    counts = report.counts
    print(f"warning #{args.id} ({report.warning.status.value}): sent {counts['sent']}, "
          f"pending {counts['pending'] + counts['sending']}, failed {counts['failed']}")
    print_table([[str(c), s, e or ""] for c, s, e in report.chats], ["chat", "status", "error"])
    return 0


@with_hub
async def warnings_approve(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.warnings import lifecycle as warnings

    async with hub.db.session() as session:
        sent = await warnings.send(session, hub, CLI_ACTOR, args.id)
    print(f"warning #{args.id} sent to {sent.chats} chats")
    return 0


def add_parser(sub: Any) -> None:
    cmds = group(sub, "warnings", "early warnings and CAP feeds")
    command(cmds, "list", warnings_list, "recent warnings, newest first",
            arg("--limit", type=int, default=50), JSON)
    command(cmds, "poll", warnings_poll, "fetch the configured CAP feeds (or one URL) once, now",
            arg("url", nargs="?"))
    command(cmds, "report", warnings_report, "delivery report of one warning, per chat",
            arg("id", type=int), JSON)
    command(cmds, "approve", warnings_approve, "publish a feed alert that waits for approval",
            arg("id", type=int))
