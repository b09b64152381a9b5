"""The ledger's queries for the dashboard, on both databases: keyset pages with filters, the
export's rows, the overview's open and overdue counts and the 12-week trend, each scoped to
the person asking (hazards.ledger, hazards.views)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hazards import ledger, views
from hazards.models import OPEN_STATES, HazardState
from hub.errors import PermissionDenied
from tests.test_hazards import act, file
from tests.test_ledger import ledger_world


async def test_pages_are_newest_first_and_walk_both_ways(hub):
    people, ids = await ledger_world(hub)
    everything = ledger.Filter()
    async with hub.db.session() as s:
        first = await ledger.ledger_page(s, people["staff"], everything, now=hub.now(), size=2)
        second = await ledger.ledger_page(s, people["staff"], everything, now=hub.now(), size=2,
                                          before=first.older)
        third = await ledger.ledger_page(s, people["staff"], everything, now=hub.now(), size=2,
                                         before=second.older)
        back = await ledger.ledger_page(s, people["staff"], everything, now=hub.now(), size=2,
                                        after=second.newer)
        exported = await ledger.filtered_rows(s, people["staff"], everything, now=hub.now())
    newest_first = sorted(ids.values(), reverse=True)
    assert [r.id for r in first.rows + second.rows + third.rows] == newest_first
    assert first.newer is None and first.older == first.rows[-1].id
    assert third.older is None and third.newer == third.rows[0].id
    assert [r.id for r in back.rows] == [r.id for r in first.rows] and back.newer is None
    assert [r.id for r in exported] == sorted(newest_first)  # the export: ticket order


async def test_filters_select_what_they_say(hub):
    people, ids = await ledger_world(hub)
    now = hub.now()

    async def shown(who: str = "staff", **chosen: object) -> set[int]:
        async with hub.db.session() as s:
            page = await ledger.ledger_page(s, people[who], ledger.Filter(**chosen), now=now)
            rows = await ledger.filtered_rows(s, people[who], ledger.Filter(**chosen), now=now)
        assert {r.id for r in rows} == {r.id for r in page.rows}  # the export is what is shown
        return {r.id for r in page.rows}

    assert await shown(overdue=True) == {ids["gas"], ids["ebike"]}
    assert await shown(states=frozenset({HazardState.CLOSED})) == {ids["closed"]}
    assert await shown(states=OPEN_STATES, grid="T1") == {ids["gas"], ids["ebike"], ids["clutter"]}
    assert await shown(category="gas-leak") == {ids["gas"]}
    assert await shown(search="纸箱") == {ids["clutter"]}
    assert await shown(search="100%_") == set()  # a search is words, never a LIKE pattern
    assert await shown(grid="T2") == {ids["other_grid"]}
    assert await shown(reported_from=now) == set()
    assert await shown(reported_to=now) == set(ids.values())
    assert await shown("t2") == {ids["other_grid"]}  # a worker sees their own grid only
    async with hub.db.session() as s:
        for who, grid, key in (("r", None, "hazard.refused_not_worker_ledger"),
                               ("t2", "T1", "hazard.refused_out_of_scope_ledger")):
            with pytest.raises(PermissionDenied) as refused:
                await ledger.ledger_page(s, people[who], ledger.Filter(grid=grid), now=now)
            assert refused.value.key == key
        assert [g.code for g in await ledger.grids_in_scope(s, people["t2"])] == ["T2"]


async def test_the_place_is_searched_and_carried(hub):
    people, _ = await ledger_world(hub)
    placed = (await file(hub, people["r"], "消防通道被堵", address="东门消防通道", lat=25.43, lon=119.0)).hazard
    async with hub.db.session() as s:
        page = await ledger.ledger_page(s, people["staff"], ledger.Filter(search="东门"), now=hub.now())
    assert [r.id for r in page.rows] == [placed.id] and page.rows[0].place == "东门消防通道"


async def test_open_counts_by_grid_and_category(hub):
    people, _ = await ledger_world(hub)
    now = hub.now()
    async with hub.db.session() as s:
        staff = await views.open_counts(s, people["staff"], now=now, since=now - timedelta(days=30))
        worker = await views.open_counts(s, people["t2"], now=now, since=now - timedelta(days=30))
        recent = await views.open_counts(s, people["staff"], now=now, since=now - timedelta(hours=1))
    counts = {(t.grid_code, t.category): (t.open, t.overdue) for t in staff}
    assert counts[("T1", "gas-leak")] == (1, 1)
    assert counts[("T1", "ebike-indoor-charging")] == (1, 1)
    assert counts[("T1", "corridor-clutter")] == (1, 0)
    assert sum(o for o, _ in counts.values()) == 4 and staff[0].overdue == 1  # overdue first
    assert {(t.grid_code, t.open) for t in worker} == {("T2", 1)}
    assert recent == []


async def test_weekly_trend_counts_reported_and_closed_per_local_week(hub):
    people, _ = await ledger_world(hub)
    # the world starts on Monday 9 November 2026, 16:00 in Shanghai; a week later one more
    hub.clock.advance(timedelta(days=7))
    extra = (await file(hub, people["r"], "楼道灯坏了")).hazard.id
    await act(hub, people["w1"], extra, "reject")
    async with hub.db.session() as s:
        weeks = await views.weekly_trend(s, people["staff"], now=hub.now(), tz=hub.tz)
        mine = await views.weekly_trend(s, people["t2"], now=hub.now(), tz=hub.tz)
    assert len(weeks) == 12 and weeks[-1].start.weekday() == 0 and weeks[-1].start.hour == 0
    assert weeks[-1].start.tzinfo is hub.tz and weeks[-1].start.date().isoformat() == "2026-11-16"
    assert [(w.reported, w.closed) for w in weeks[-2:]] == [(5, 1), (1, 1)]
    assert sum(w.reported for w in weeks[:-2]) == 0
    assert [(w.reported, w.closed) for w in mine[-2:]] == [(1, 0), (0, 0)]

