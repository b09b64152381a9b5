"""`gridcast speakers …`: village loudspeakers from the command line.

add|list|rotate-token|deactivate|schedule <id>|announce|plays, and what staff set up around
them: recurring slots (`slots add|list|remove`), a grid's quiet hours and dialect, and
`render` to make the clips now rather than at the scheduler's next round. The CLI acts as the
operator ("cli" in the audit log). Times given here are in the hub's zone.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

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
    read_input,
    with_hub,
    write_output,
)
from hub.core import Hub

LOCAL = "%Y-%m-%d %H:%M"
LIST_HEADERS = ("code", "name", "grid", "state", "last_seen", "volume", "zones", "active_hours", "played_today")


def _span(text: str) -> tuple[int, int]:
    from broadcasts.speakers import timing

    try:
        return timing.parse_span(text)
    except ValueError as error:
        raise CliError(str(error)) from None


def _when(hub: Hub, text: str, after: datetime | None = None) -> datetime:
    """"HH:MM" (the next such time, after `after` or now), "YYYY-MM-DD HH:MM", or ISO 8601."""
    from broadcasts.speakers import timing

    try:
        minute = timing.parse_time(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
        except ValueError:
            raise CliError(f"not a time: {text!r} (HH:MM, YYYY-MM-DD HH:MM or ISO 8601)") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=hub.tz)
    base = after or hub.now() - timedelta(minutes=1)
    return timing.next_local(base, minute, hub.tz)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"not a date: {text!r} (YYYY-MM-DD)") from None


def _weekdays(text: str | None) -> list[int]:
    """"1-5", "6,7" or "1,3-5" as ISO weekdays."""
    if not text:
        return []
    days: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            days.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise CliError(f"not weekdays: {text!r} (ISO numbers, e.g. 1-5 or 6,7)") from None
    return sorted(days)


def _local(hub: Hub, when: datetime | None) -> str:
    return hub.local(when).strftime(LOCAL) if when else ""


# --- the registry ------------------------------------------------------------------------------


@with_hub
async def speakers_add(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.speakers import registry

    spec = registry.SpeakerSpec(
        code=args.code, name=args.name, grid=args.grid, zone_tags=tuple(args.zone or ()),
        location=args.location, volume=args.volume,
        active_hours=_span(args.active_hours) if args.active_hours else None,
    )
    async with hub.db.session() as session:
        speaker, token = await registry.add(session, CLI_ACTOR, spec, now=hub.now())
    print(f"speaker {speaker.code} ({speaker.name}) added to grid {args.grid}")
    print(f"token (shown only now; give it to the speaker's agent): {token}")
    print(f"  gridcast speaker-agent --hub {hub.settings.public_url} --id {speaker.code} --token {token}")
    return 0


@with_hub
async def speakers_list(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.speakers import monitoring, timing

    async with hub.db.session() as session:
        found = await monitoring.overview(session, hub, None, args.under, include_inactive=args.all)
    rows = [
        {"code": s.speaker.code, "name": s.speaker.name, "grid": s.grid.code, "state": s.state,
         "last_seen": _local(hub, s.speaker.last_seen_at), "volume": s.speaker.volume,
         "zones": ",".join(s.speaker.zone_tags or []),
         "active_hours": timing.format_span(s.speaker.active_start_min, s.speaker.active_end_min),
         "played_today": sum(n for k, n in s.played_today.items() if k != "failed"),
         "failed_today": s.played_today.get("failed", 0), "location": s.speaker.location or "",
         "agent_version": s.speaker.agent_version or ""}
        for s in found
    ]
    print_listing(rows, args.json, columns(*LIST_HEADERS))
    return 0


@with_hub
async def speakers_rotate(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.speakers import registry

    async with hub.db.session() as session:
        speaker, token = await registry.rotate_token(session, CLI_ACTOR, args.code, now=hub.now())
    print(f"speaker {speaker.code}: new token (shown only now; the old one no longer works): {token}")
    return 0


@with_hub
async def speakers_deactivate(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.speakers import registry

    async with hub.db.session() as session:
        speaker = await registry.deactivate(session, CLI_ACTOR, args.code, now=hub.now())
    print(f"speaker {speaker.code} deactivated: its token is refused and it is no longer watched")
    return 0


@with_hub
async def speakers_schedule(hub: Hub, args: argparse.Namespace) -> int:
    """What the speaker gets when it polls now: the contract's JSON, or a table in local time."""
    from broadcasts.speakers import document, schedule

    now = _when(hub, args.at) if args.at else hub.now()
    async with hub.db.session() as session:
        built = await schedule.build(session, hub, args.code, now)
    if args.json:
        print_json(document.document(built, hub.settings, now))
        return 0
    print(f"speaker {built.speaker}, volume {built.volume}, until {_local(hub, built.horizon_until)} "
          f"({hub.settings.timezone}); {len(built.items)} items")
    print_table(
        [[_local(hub, i.start), _local(hub, i.end), i.kind, str(i.rank),
          str(i.repeat_seconds or ""), f"{i.clip.duration_s:.0f}s", i.clip.sha256[:12], i.title]
         for i in built.items],
        ["start", "end", "kind", "rank", "repeat_s", "length", "clip", "title"],
    )
    return 0


# --- announcements, slots, areas ---------------------------------------------------------------


@with_hub
async def speakers_announce(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.speakers import announcements

    target = announcements.Target(grid=args.grid, speaker=args.speaker)
    at = _when(hub, args.at) if args.at else None
    until = _when(hub, args.until, after=at or hub.now()) if args.until else None
    data = await read_input(Path(args.clip)) if args.clip else None
    async with hub.db.session() as session:  # refuse a wrong target or time before rendering
        await announcements.target_of(session, CLI_ACTOR, target)
        announcements.start_of(hub.now(), at, args.every, until)
    published = await announcements.make_clip(hub, text=args.text, data=data,
                                              filename=Path(args.clip).name if args.clip else None)
    title = args.title or args.text or Path(args.clip).name
    async with hub.db.session() as session:
        made = await announcements.announce(
            session, hub, CLI_ACTOR, target, published, title=title, text=args.text,
            at=at, every=args.every, until=until,
        )
    plays = announcements.occurrences(made.announcement.start_at, args.every, until)
    where = f"speaker {args.speaker}" if args.speaker else f"grid {args.grid}"
    print(f"announcement #{made.announcement.id} on {where}: {len(plays)} play(s) from "
          f"{_local(hub, made.announcement.start_at)}; clip {published.sha256[:12]} "
          f"({published.duration_s:.1f} s)")
    if made.quiet is not None:
        from broadcasts.speakers import timing

        print(f"gridcast: note: {_local(hub, made.announcement.start_at)} is in the quiet hours "
              f"{timing.format_span(made.quiet.start, made.quiet.end)}; only urgent warnings play then",
              file=sys.stderr)
    return 0


@with_hub
async def speakers_plays(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.speakers import reports

    since = None
    if args.since:
        since = (datetime.combine(_day(args.since), datetime.min.time(), tzinfo=hub.tz)
                 if len(args.since.strip()) == 10 else _when(hub, args.since))
    async with hub.db.session() as session:
        rows = await reports.log_rows(session, None, since=since, under=args.grid)
    data = reports.export(rows, args.format, hub.tz)
    if args.out:
        await write_output(Path(args.out), data)
        print(f"wrote {len(rows)} plays to {args.out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0


@with_hub
async def slots_add(hub: Hub, args: argparse.Namespace) -> int:
    from audio import library
    from broadcasts.speakers import slots, timing
    from broadcasts.speakers.models import SlotKind

    try:
        times = [timing.parse_time(t) for t in args.at]
    except ValueError as error:
        raise CliError(str(error)) from None
    window = None
    if args.to:
        if len(times) != 1:
            raise CliError("--to opens a window after one --at time; give one --at with it")
        window = (_span(f"{args.at[0]}-{args.to}")[1] - times[0]) % timing.MINUTES_PER_DAY or timing.MINUTES_PER_DAY
    spec = slots.SlotSpec(
        grid=args.grid, script_id=args.script, times=times, kind=SlotKind(args.kind),
        priority=args.priority, zone_tag=args.zone, dialect=args.dialect, window_minutes=window,
        every_minutes=args.every, weekdays=_weekdays(args.days),
        start_date=_day(args.from_date) if args.from_date else None,
        end_date=_day(args.until_date) if args.until_date else None,
    )
    catalogue = await library.catalogue(hub)
    async with hub.db.session() as session:
        slot = await slots.add(session, CLI_ACTOR, spec, catalogue, now=hub.now())
    print(f"slot #{slot.id}: {args.script} on grid {args.grid} at {', '.join(args.at)}"
          + (f" until {args.to}" if args.to else "") + (f" every {args.every} min" if args.every else ""))
    made = await slots.render_ahead(hub)
    print(f"{made} clip(s) rendered for the loudspeakers", file=sys.stderr)
    return 0


@with_hub
async def slots_list(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.speakers import slots, timing

    async with hub.db.session() as session:
        found = await slots.list_slots(session, args.under)
    rows = [
        {"id": s.id, "grid": g.code, "kind": s.kind.value, "priority": s.priority, "script": s.script_id,
         "times": ",".join(timing.format_time(t) for t in s.times),
         "window_minutes": s.window_minutes or "", "every_minutes": s.every_minutes or "",
         "days": ",".join(str(d) for d in s.weekdays) or "all", "zone": s.zone_tag or "",
         "dialect": s.dialect or "", "from": s.start_date.isoformat() if s.start_date else "",
         "until": s.end_date.isoformat() if s.end_date else ""}
        for s, g in found
    ]
    headers = ("id", "grid", "kind", "priority", "script", "times", "window_minutes", "every_minutes", "days", "zone")
    print_listing(rows, args.json, columns(*headers))
    return 0


@with_hub
async def slots_remove(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.speakers import slots

    async with hub.db.session() as session:
        await slots.remove(session, CLI_ACTOR, args.id, now=hub.now())
    print(f"slot #{args.id} removed")
    return 0


@with_hub
async def speakers_quiet(hub: Hub, args: argparse.Namespace) -> int:
    from broadcasts.speakers import registry

    if (args.hours is None) == (not args.off):
        raise CliError("give the quiet hours (e.g. 22:00-06:00) or --off")
    span = None if args.off else _span(args.hours)
    async with hub.db.session() as session:
        await registry.set_quiet_hours(session, CLI_ACTOR, args.grid, span, now=hub.now())
    print(f"grid {args.grid}: " + (f"quiet hours {args.hours}" if span else "quiet hours as its parent's"))
    return 0


@with_hub
async def speakers_dialect(hub: Hub, args: argparse.Namespace) -> int:
    from audio import library
    from broadcasts.speakers import registry

    if (args.dialect is None) == (not args.off):
        raise CliError("give a dialect (e.g. putian) or --off")
    known = (await library.catalogue(hub)).dialects
    async with hub.db.session() as session:
        await registry.set_dialect(session, CLI_ACTOR, args.grid, None if args.off else args.dialect,
                                   known, now=hub.now())
    print(f"grid {args.grid}: " + (f"dialect {args.dialect}" if not args.off else "dialect as its parent's"))
    made = await _render_now(hub)
    print(f"{made} clip(s) rendered for the loudspeakers", file=sys.stderr)
    return 0


async def _render_now(hub: Hub) -> int:
    from broadcasts.speakers import slots, urgent

    return await slots.render_ahead(hub) + await urgent.render_pending(hub)


@with_hub
async def speakers_render(hub: Hub, args: argparse.Namespace) -> int:
    print(f"{await _render_now(hub)} clip(s) rendered for the loudspeakers")
    return 0


def add_parser(sub: Any) -> None:
    cmds = group(sub, "speakers", "village loudspeakers: registry, schedules, announcements, proof of play")
    command(cmds, "add", speakers_add, "register a speaker; prints its token once",
            arg("code", help="the speaker's id, e.g. SPK1"), arg("--grid", required=True),
            arg("--name", required=True), arg("--zone", action="append", help="a zone tag (repeatable)"),
            arg("--location", help="where it stands, e.g. 村口榕树下"),
            arg("--volume", type=int, default=80, help="0-100 (default 80)"),
            arg("--active-hours", help="routine items only inside these hours, e.g. 06:00-22:00"))
    command(cmds, "list", speakers_list, "speakers, offline ones first, with what they played today",
            arg("--under", help="only this grid and below"), arg("--all", action="store_true",
            help="deactivated ones too"), JSON)
    command(cmds, "rotate-token", speakers_rotate, "a new token for a speaker (the old one stops working)",
            arg("code"))
    command(cmds, "deactivate", speakers_deactivate, "stop a speaker", arg("code"))
    command(cmds, "schedule", speakers_schedule, "what a speaker pulls now (or --at a time)",
            arg("code"), arg("--at", help="as if polled at this time"), JSON)
    announce = command(
        cmds, "announce", speakers_announce, "a one-off announcement (or repeated until a time)",
        arg("--at", help="HH:MM (next such time), YYYY-MM-DD HH:MM; default now"),
        arg("--every", type=int, metavar="MINUTES", help="repeat every so many minutes…"),
        arg("--until", help="…until this time"), arg("--title", help="shown in schedules and playlists"),
    )
    where = announce.add_mutually_exclusive_group(required=True)
    where.add_argument("--grid", help="every speaker of this grid and below")
    where.add_argument("--speaker", help="one speaker")
    what = announce.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="spoken in Mandarin at broadcast loudness")
    what.add_argument("--clip", help="an audio file (MP3, OGG, WAV, M4A), brought to broadcast loudness")
    command(cmds, "plays", speakers_plays, "the proof-of-play log (csv to stdout by default)",
            arg("--since", help="YYYY-MM-DD or a time"), arg("--grid", help="only this grid and below"),
            arg("--format", choices=["csv", "json"], default="csv"), arg("--out", help="file to write"))
    slot_cmds = group(cmds, "slots", "recurring slots: a script at times of day")
    command(slot_cmds, "add", slots_add, "a recurring slot for a grid's speakers",
            arg("--grid", required=True), arg("--script", required=True, help="an id of content/scripts"),
            arg("--at", action="append", required=True, help="HH:MM (repeatable)"),
            arg("--to", help="HH:MM: the window's end (may be past midnight)"),
            arg("--every", type=int, metavar="MINUTES", help="repeat inside the window"),
            arg("--days", help="ISO weekdays, e.g. 1-5 or 6,7 (default every day)"),
            arg("--from-date", help="YYYY-MM-DD"), arg("--until-date", help="YYYY-MM-DD"),
            arg("--kind", choices=["filler", "campaign"], default="filler"),
            arg("--priority", type=int, default=0, help="order among slots of one kind"),
            arg("--zone", help="only speakers with this zone tag"),
            arg("--dialect", help="this dialect instead of the grid's"))
    command(slot_cmds, "list", slots_list, "the recurring slots", arg("--under"), JSON)
    command(slot_cmds, "remove", slots_remove, "remove a slot", arg("id", type=int))
    command(cmds, "quiet", speakers_quiet, "a grid's quiet hours (only urgent warnings play in them)",
            arg("grid"), arg("hours", nargs="?", help="e.g. 22:00-06:00"),
            arg("--off", action="store_true", help="inherit the parent grid's again"))
    command(cmds, "dialect", speakers_dialect, "the dialect a grid's speakers carry after Mandarin",
            arg("grid"), arg("dialect", nargs="?"), arg("--off", action="store_true"))
    command(cmds, "render", speakers_render, "render the clips slots and urgent warnings need, now")
