"""Schedules: recurring slots in the hub's zone, quiet and active hours, priorities, staff's
announcements and urgent warnings (sent, updated, cancelled), on both databases.

The fake clock stands in Asia/Shanghai's evening of Monday 30 November 2026 unless a test
moves it: 2026-11-30T14:00Z is 22:00 there.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from broadcasts.speakers import announcements, registry, schedule, timing, urgent
from broadcasts.speakers.models import SlotKind
from broadcasts.speakers.slots import SlotSpec
from broadcasts.speakers.slots import add as add_slot
from broadcasts.warnings import lifecycle as warnings
from broadcasts.warnings.models import MsgType
from hub import people
from tests.test_speakers_registry import add_speaker, area, fake_clip, rendered_script

SHANGHAI = ZoneInfo("Asia/Shanghai")
GRACE = timedelta(minutes=30)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


# --- times of day, weekdays and dates, in the hub's zone -----------------------------------


def test_a_window_across_midnight_keeps_the_day_it_opened_on():
    """23:00-01:00 every 30 minutes, on Mondays: Monday night's plays run into Tuesday; no
    window opens on Tuesday night."""
    rule = timing.Recurrence([23 * 60], window_minutes=120, every_minutes=30, weekdays=[1])
    found = timing.occurrences(rule, SHANGHAI, local("2026-11-30 12:00"), local("2026-12-02 12:00"), GRACE)
    assert [(s.astimezone(SHANGHAI).strftime("%a %H:%M"), e.astimezone(SHANGHAI).strftime("%H:%M"))
            for s, e in found] == [("Mon 23:00", "23:30"), ("Mon 23:30", "00:00"),
                                   ("Tue 00:00", "00:30"), ("Tue 00:30", "01:00")]


def test_a_play_still_open_at_the_window_start_is_kept():
    rule = timing.Recurrence([23 * 60], window_minutes=120, every_minutes=30)
    found = timing.occurrences(rule, SHANGHAI, local("2026-12-01 00:10"), local("2026-12-01 02:00"), GRACE)
    assert [s.astimezone(SHANGHAI).strftime("%H:%M") for s, _ in found] == ["00:00", "00:30"]


def test_weekdays_are_those_of_the_hubs_zone_not_utc():
    """Monday 07:00 in Shanghai is Sunday 23:00 in UTC: a Mondays-only slot plays then, and a
    Sundays-only one does not."""
    since, until = utc("2026-11-29T12:00:00"), utc("2026-11-30T12:00:00")
    mondays = timing.occurrences(timing.Recurrence([7 * 60], weekdays=[1]), SHANGHAI, since, until, GRACE)
    sundays = timing.occurrences(timing.Recurrence([7 * 60], weekdays=[7]), SHANGHAI, since, until, GRACE)
    assert [s for s, _ in mondays] == [utc("2026-11-29T23:00:00")]
    assert sundays == []


def test_date_ranges_are_local_dates():
    """From 1 December: 06:00 local on 1 December is still 30 November in UTC, and plays."""
    rule = timing.Recurrence([6 * 60], start_date=date(2026, 12, 1), end_date=date(2026, 12, 1))
    found = timing.occurrences(rule, SHANGHAI, utc("2026-11-29T00:00:00"), utc("2026-12-03T00:00:00"), GRACE)
    assert [s for s, _ in found] == [utc("2026-11-30T22:00:00")]


def test_nothing_routine_starts_in_quiet_hours_or_outside_active_hours():
    blocked = timing.blocked_hours(timing.Span(22 * 60, 6 * 60), 7 * 60, 21 * 60 + 30)
    assert timing.allowed_end(local("2026-12-01 21:00"), local("2026-12-01 22:30"), SHANGHAI, blocked) \
        == local("2026-12-01 21:30")
    for start in ("2026-12-01 22:00", "2026-12-01 23:59", "2026-12-02 05:59", "2026-12-02 06:30",
                  "2026-12-01 21:30"):
        assert timing.allowed_end(local(start), local(start) + GRACE, SHANGHAI, blocked) is None
    assert timing.allowed_end(local("2026-12-02 07:00"), local("2026-12-02 07:30"), SHANGHAI, blocked) \
        == local("2026-12-02 07:30")


def test_times_and_spans_parse_as_people_write_them():
    assert timing.parse_time("7:05") == 425 and timing.parse_time("24:00") == 0
    assert timing.parse_span("22:00-06:00") == (1320, 360) and timing.parse_span("22：00到6：00") == (1320, 360)
    for bad in ("25:00", "12:60", "noon", "08:00-08:00"):
        try:
            timing.parse_span(bad) if "-" in bad else timing.parse_time(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")


# --- schedules from the database ---------------------------------------------------------------


async def built(hub, code: str = "SPK1") -> schedule.Schedule:
    async with hub.db.session() as s:
        return await schedule.build(s, hub, code, hub.now())


def starts(items, kind: str | None = None) -> list[str]:
    return [i.start.astimezone(SHANGHAI).strftime("%d %H:%M") for i in items if kind in (None, i.kind)]


async def send_warning(hub, text: str, *, follow: tuple[int, MsgType] | None = None) -> int:
    """A worker of T1 sends a warning (or an Update / Cancel of one); its clips are rendered."""
    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        if follow is None:
            draft = await warnings.draft(s, hub, worker, warnings.parse_command(text))
        else:
            draft = await warnings.follow_up(s, hub, worker, follow[0], follow[1], text)
        draft_id = draft.id
    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        await warnings.send(s, hub, worker, draft_id)
    await urgent.settle(hub)
    return draft_id


async def test_quiet_hours_hold_for_slots_and_not_for_urgent_warnings(hub, clock):
    clock.set(local("2026-11-30 21:40"))
    await area(hub)
    await add_speaker(hub)
    async with hub.db.session() as s:
        await registry.set_quiet_hours(s, "test", "S1", timing.parse_span("22:00-06:00"), now=hub.now())
        for spec in (
            SlotSpec("T1", "gas-safety", [23 * 60]),  # inside quiet hours: never
            SlotSpec("T1", "typhoon", [21 * 60 + 50], kind=SlotKind.CAMPAIGN),  # ends at 22:00
            SlotSpec("C1", "gas-safety", [6 * 60 + 30]),  # the morning after
        ):
            await add_slot(s, "test", spec, _catalogue(), now=hub.now())
    await rendered_script(hub, "gas-safety")
    await rendered_script(hub, "typhoon")
    clock.set(local("2026-11-30 23:10"))
    warning_id = await send_warning(hub, "红 山洪预警，河边住户请立即转移")
    items = (await built(hub)).items
    assert starts(items, "filler") == ["01 06:30"]
    assert starts(items, "campaign") == ["01 21:50"]
    assert [i.end.astimezone(SHANGHAI).strftime("%H:%M") for i in items if i.kind == "campaign"] == ["22:00"]
    [red] = [i for i in items if i.kind == "urgent"]
    assert red.id == f"urgent:{warning_id}:red" and red.start == hub.now().replace(microsecond=0)
    assert (red.rank, red.priority, red.repeat_seconds, red.interrupt) == (4, 3, 600, True)
    assert red.end > hub.now() + timedelta(hours=12)


def _catalogue():
    from audio.library import Catalogue

    return Catalogue.load()


async def test_priorities_rank_urgent_red_over_orange_over_announcements_campaigns_and_filler(hub, clock):
    clock.set(local("2026-11-30 09:58"))
    await area(hub)
    await add_speaker(hub)
    async with hub.db.session() as s:
        for spec in (SlotSpec("T1", "gas-safety", [10 * 60]),
                     SlotSpec("T1", "typhoon", [10 * 60], kind=SlotKind.CAMPAIGN, priority=5),
                     SlotSpec("T1", "ebike-charging", [10 * 60], kind=SlotKind.CAMPAIGN)):
            await add_slot(s, "test", spec, _catalogue(), now=hub.now())
    for script in ("gas-safety", "typhoon", "ebike-charging"):
        await rendered_script(hub, script)
    async with hub.db.session() as s:
        await announcements.announce(s, hub, "test", announcements.Target(grid="C1"), fake_clip(hub, "notice"),
                                     title="停水通知", text=None, at=local("2026-11-30 10:00"))
    orange = await send_warning(hub, "橙 暴雨预警")
    red = await send_warning(hub, "红 液化气泄漏")
    items = (await built(hub)).items
    assert [(i.kind, i.rank, i.priority, i.title) for i in items] == [
        ("urgent", 4, 3, "红色预警：液化气泄漏"),
        ("urgent", 3, 3, "橙色预警：暴雨预警"),
        ("announcement", 2, 2, "停水通知"),
        ("campaign", 1, 1, "typhoon title"),
        ("campaign", 1, 1, "ebike-charging title"),
        ("filler", 0, 0, "gas-safety title"),
    ]
    assert items[0].id == f"urgent:{red}:red" and items[0].repeat_seconds == 600
    assert items[1].id == f"urgent:{orange}:orange" and items[1].repeat_seconds == 1800
    # at one start time, the higher rank first
    same = sorted(items[2:], key=lambda i: (i.start, -i.rank))
    assert [i.kind for i in same] == ["announcement", "campaign", "campaign", "filler"]


async def test_an_urgent_warning_is_replaced_by_its_update_and_withdrawn_by_its_cancel(hub, clock):
    await area(hub)
    await add_speaker(hub)
    await add_speaker(hub, "SPK9", "T3")  # outside the area: never touched

    async def tags() -> tuple[str, str]:
        async with hub.db.session() as s:
            one, nine = await registry.get(s, "SPK1"), await registry.get(s, "SPK9")
            return (schedule.etag(one.schedule_version, hub.now(), hub.settings),
                    schedule.etag(nine.schedule_version, hub.now(), hub.settings))

    first, elsewhere = await tags()
    alert = await send_warning(hub, "红 液化气站泄漏，请远离东门")
    assert [i.id for i in (await built(hub)).items] == [f"urgent:{alert}:red"]
    second, _ = await tags()
    assert second != first

    clock.advance(timedelta(minutes=5))
    update = await send_warning(hub, "橙 泄漏已控制，请继续远离东门", follow=(alert, MsgType.UPDATE))
    assert [i.id for i in (await built(hub)).items] == [f"urgent:{update}:orange"]
    third, _ = await tags()
    assert third != second

    await send_warning(hub, "抢修完成", follow=(update, MsgType.CANCEL))
    assert (await built(hub)).items == ()
    assert (await tags())[0] != third
    assert (await tags())[1] == elsewhere
    assert (await built(hub, "SPK9")).items == ()


async def test_a_speaker_added_during_a_warning_gets_it_after_the_render_job(hub):
    await area(hub)
    await add_speaker(hub)
    alert = await send_warning(hub, "红 台风即将登陆")
    await add_speaker(hub, "SPK2", "T1")
    async with hub.db.session() as s:
        await registry.set_dialect(s, "test", "T1", "cantonese", ["cantonese"], now=hub.now())
    assert (await built(hub, "SPK2")).items == ()  # its dialect's clip is not rendered yet
    assert await urgent.render_pending(hub) == 1
    [item] = (await built(hub, "SPK2")).items
    assert item.id == f"urgent:{alert}:red"
    assert await urgent.render_pending(hub) == 0


async def test_announcements_repeat_until_their_end_and_a_cancel_removes_them(hub, clock):
    clock.set(local("2026-11-30 08:00"))
    await area(hub)
    await add_speaker(hub)
    await add_speaker(hub, "SPK2", "T2")
    async with hub.db.session() as s:
        made = await announcements.announce(
            s, hub, "test", announcements.Target(speaker="SPK1"), fake_clip(hub, "drill"), title="消防演练",
            text=None, at=local("2026-11-30 09:00"), every=30, until=local("2026-11-30 10:15"))
        announcement_id = made.announcement.id
    items = (await built(hub)).items
    assert starts(items) == ["30 09:00", "30 09:30", "30 10:00"]
    assert items[-1].end == local("2026-11-30 10:15")
    assert len({i.id for i in items}) == 3
    assert (await built(hub, "SPK2")).items == ()
    async with hub.db.session() as s:
        await announcements.cancel(s, hub, "test", announcement_id)
    assert (await built(hub)).items == ()


async def test_active_hours_and_zone_tags_choose_what_a_speaker_plays(hub, clock):
    clock.set(local("2026-11-30 05:00"))
    await area(hub)
    await add_speaker(hub, "SPK1", "T1", zone_tags=("market",), active_hours=(7 * 60, 20 * 60))
    await add_speaker(hub, "SPK2", "T1")
    async with hub.db.session() as s:
        await add_slot(s, "test", SlotSpec("C1", "gas-safety", [6 * 60 + 30, 8 * 60, 21 * 60]), _catalogue(),
                       now=hub.now())
        await add_slot(s, "test", SlotSpec("C1", "ebike-charging", [9 * 60], zone_tag="market"), _catalogue(),
                       now=hub.now())
    await rendered_script(hub, "gas-safety")
    await rendered_script(hub, "ebike-charging")
    assert starts((await built(hub, "SPK1")).items) == ["30 08:00", "30 09:00"]
    assert starts((await built(hub, "SPK2")).items) == ["30 06:30", "30 08:00", "30 21:00"]


async def test_the_schedule_covers_the_horizon_and_its_etag_holds_within_the_hour(hub, clock):
    clock.set(local("2026-11-30 10:20"))
    await area(hub)
    await add_speaker(hub)
    async with hub.db.session() as s:
        await add_slot(s, "test", SlotSpec("T1", "gas-safety", [10 * 60 + 5, 10 * 60 + 30]), _catalogue(),
                       now=hub.now())
    await rendered_script(hub, "gas-safety")
    first = await built(hub)
    assert first.horizon_until - hub.now() >= timedelta(hours=24)
    assert starts(first.items) == ["30 10:05", "30 10:30", "01 10:05", "01 10:30"]
    version = first.version
    tag = schedule.etag(version, hub.now(), hub.settings)
    clock.advance(timedelta(minutes=30))
    assert schedule.etag(version, hub.now(), hub.settings) == tag
    clock.advance(timedelta(minutes=15))  # 11:05: a new hour, a new window
    assert schedule.etag(version, hub.now(), hub.settings) != tag
    assert starts((await built(hub)).items) == ["01 10:05", "01 10:30"]
