"""`gridcast campaigns …`: seasonal campaigns from the command line.

list|show <id>|preview --date D [--grid CODE] read the campaign files and the calendar (times
in the hub's zone); publish|pause|resume <id> [--grid CODE] change where a campaign runs, as
the operator ("cli" in the audit log), for the grid named or the whole tree.
"""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta
from typing import Any

from cli.common import (
    CLI_ACTOR,
    JSON,
    CliError,
    arg,
    command,
    group,
    print_json,
    print_listing,
    with_hub,
)
from hub.core import Hub

GRID = arg("--grid", metavar="CODE", help="a grid and everything below it (default: the whole tree)")


def _target(campaign: Any) -> str:
    if campaign.grids == "all":
        return "all"
    if campaign.grids.codes is not None:
        return "codes: " + ", ".join(campaign.grids.codes)
    return f"level: {campaign.grids.level.value}"


def _rule(window: Any) -> str:
    return json.dumps(window.model_dump(exclude_defaults=True, by_alias=True), ensure_ascii=False)


async def _states(hub: Hub, campaign_id: str) -> dict[str, str]:
    from sqlalchemy import select

    from broadcasts.campaigns.models import CampaignState
    from hub.models import Grid

    async with hub.db.session() as session:
        rows = await session.execute(
            select(Grid.code, CampaignState.state).join(Grid, Grid.id == CampaignState.grid_id)
            .where(CampaignState.campaign_id == campaign_id).order_by(Grid.path))
        return {code: getattr(state, "value", state) for code, state in rows.tuples()}


def _next(known: Any, loaded: Any, today: date) -> tuple[str, str]:
    from broadcasts.campaigns.plan import occasions

    found = [o for o in occasions(known, today, today + timedelta(days=400), [loaded.id]) if o.span.end >= today]
    return (found[0].span.start.isoformat(), found[0].span.end.isoformat()) if found else ("", "")


@with_hub
async def list_command(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.campaigns import release

    known = await release.catalogue(hub)
    today = hub.local(hub.now()).date()
    lang = hub.settings.default_language
    records = []
    for loaded in sorted(known.campaigns.values(), key=lambda c: _next(known, c, today)):
        start, end = _next(known, loaded, today)
        states = await _states(hub, loaded.id)
        records.append({
            "id": loaded.id, "title": loaded.title(lang), "priority": loaded.campaign.priority,
            "grids": _target(loaded.campaign), "next_start": start, "next_end": end,
            "posts": len(loaded.campaign.posts), "speaker_slots": len(loaded.campaign.speakers),
            "states": states,
        })
    print_listing(records, args.json, {
        "id": lambda r: r["id"], "next": lambda r: f"{r['next_start']} – {r['next_end']}",
        "priority": lambda r: r["priority"], "grids": lambda r: r["grids"],
        "published": lambda r: ", ".join(f"{code}:{state}" for code, state in r["states"].items()) or "-",
        "title": lambda r: r["title"],
    })
    return 0


@with_hub
async def show_command(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.campaigns import release
    from broadcasts.campaigns.plan import occasions

    known = await release.catalogue(hub)
    loaded = known.get(args.id)
    if loaded is None:
        raise CliError(f"no campaign {args.id!r} (see `gridcast campaigns list`)")
    campaign = loaded.campaign
    today = hub.local(hub.now()).date()
    windows = [
        {"window": o.key, "start": o.span.start.isoformat(), "end": o.span.end.isoformat()}
        for o in occasions(known, today, today + timedelta(days=366), [loaded.id])
    ]
    record = {
        "id": loaded.id, "file": str(loaded.path), "title": campaign.title.model_dump(by_alias=True),
        "priority": campaign.priority, "grids": _target(campaign),
        "rules": [_rule(w) for w in campaign.windows], "windows": windows,
        "posts": [{"window": p.window, "day": p.day, "at": p.at, "zh-Hans": p.text.zh_hans, "en": p.text.en}
                  for p in campaign.posts],
        "speakers": [{"window": s.window, "script": s.script, "dialects": list(s.dialects), "times": list(s.times),
                      "days": s.days if s.days == "every" else list(s.days)} for s in campaign.speakers],
        "states": await _states(hub, loaded.id),
    }
    if args.json:
        print_json(record)
        return 0
    print(f"{loaded.id}: {campaign.title.zh_hans} / {campaign.title.en}")
    print(f"file: {loaded.path}\npriority: {campaign.priority}\ngrids: {record['grids']}")
    print("published: " + (", ".join(f"{c}:{s}" for c, s in record["states"].items()) or "nowhere yet"))
    for index, rule in enumerate(record["rules"]):
        print(f"window {index}: {rule}")
    print("this year ahead:")
    for w in windows:
        print(f"  {w['window']:<16} {w['start']} – {w['end']}")
    for index, post in enumerate(campaign.posts):
        where = "" if post.window is None else f" (window {post.window})"
        print(f"post {index}: day {post.day} at {post.at}{where}")
        print("  " + post.text.zh_hans.replace("\n", "\n  "))
    for index, slot in enumerate(campaign.speakers):
        days = slot.days if slot.days == "every" else ", ".join(slot.days)
        print(f"speakers {index}: {slot.script} at {', '.join(slot.times)} ({days}); "
              f"dialects: {', '.join(slot.dialects) or '-'}")
    return 0


@with_hub
async def preview_command(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.campaigns import overview, release

    try:
        day = date.fromisoformat(args.date) if args.date else hub.local(hub.now()).date()
    except ValueError:
        raise CliError(f"not a date: {args.date!r} (YYYY-MM-DD)") from None
    known = await release.catalogue(hub)
    async with hub.db.session() as session:
        found = await overview.preview(session, hub, known, day, args.grid)
    if args.json:
        print_json([{
            "grid": g.grid.code, "name": g.grid.name, "chats": g.chats, "speakers": g.speakers,
            "campaigns": [{"id": c.campaign, "title": c.title, "window": c.window, "state": c.state,
                           "posts": [{"at": p.at.isoformat(), "text": p.text} for p in c.posts],
                           "plays": [{"script": p.script, "times": list(p.times), "dialects": list(p.dialects)}
                                     for p in c.plays]} for c in g.campaigns],
        } for g in found])
        return 0
    print(f"{day.isoformat()} ({hub.settings.timezone})")
    if not found:
        print("no grid has a bound chat or a loudspeaker yet (name one with --grid)")
    for grid_day in found:
        print(f"\n{grid_day.grid.code} {grid_day.grid.name} — {grid_day.chats} chat(s), {grid_day.speakers} speaker(s)")
        if not grid_day.campaigns:
            print("  nothing")
        for day_of in grid_day.campaigns:
            print(f"  {day_of.campaign} [{day_of.state}] {day_of.title}")
            for post in day_of.posts:
                print(f"    post {post.at:%H:%M}: " + post.text.replace("\n", "\n      "))
            for play in day_of.plays:
                print(f"    plays {play.script} at {', '.join(play.times)}")
    return 0


def _changer(name: str) -> Any:
    @with_hub
    async def run(hub: Hub, args: argparse.Namespace) -> int:
        from broadcasts.campaigns import release, states

        known = await release.catalogue(hub)
        async with hub.db.session() as session:
            change = await getattr(states, name)(session, known, CLI_ACTOR, args.id, args.grid, now=hub.now())
        print(f"{change.campaign_id}: {change.state.value} in {', '.join(change.grids)}")
        return 0

    run.__name__ = f"{name}_command"
    return run


def add_parser(sub: Any) -> None:
    campaigns = group(sub, "campaigns", "seasonal safety campaigns")
    command(campaigns, "list", list_command, "every campaign, its next window and where it runs", JSON)
    command(campaigns, "show", show_command, "one campaign: its windows, posts and loudspeaker slots",
            arg("id"), JSON)
    command(campaigns, "preview", preview_command, "what would post and play on a day, per grid",
            arg("--date", metavar="YYYY-MM-DD", help="the day (default: today)"),
            arg("--grid", metavar="CODE", help="only this grid"), JSON)
    for name, text in (("publish", "run a campaign in a subtree"), ("pause", "stop it there"),
                       ("resume", "run a paused campaign again")):
        command(campaigns, name, _changer(name), text, arg("id"), GRID)
