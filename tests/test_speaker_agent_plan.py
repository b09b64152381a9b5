"""The agent's scheduling rules as pure functions: occurrences, ranks, interrupts, replays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from speaker_agent.plan import (
    Item,
    Occurrence,
    current_occurrence,
    decide,
    due,
    effective_items,
    format_time,
    live_resumes,
    next_start,
    next_wakeup,
    parse_items,
)

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
RANKS = {"red": 4, "orange": 3, "announcement": 2, "campaign": 1, "filler": 0}


def item(item_id: str, kind: str = "announcement", *, at: int = 0, until: int = 3600,
         repeat: int | None = None, level: str | None = None) -> Item:
    return Item.from_json({
        "id": item_id, "kind": kind, "level": level, "rank": RANKS[level or kind],
        "start": format_time(T0 + timedelta(seconds=at)),
        "end": format_time(T0 + timedelta(seconds=until)), "repeat_seconds": repeat,
        "interrupt": kind == "urgent", "title": item_id,
        "clip": {"sha256": "ab" * 32, "url": "/audio/x.mp3", "name": "x.mp3", "bytes": 1,
                 "duration_seconds": 30},
    })


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_one_off_may_start_late_inside_its_window_only():
    one = item("a", at=60, until=600)
    assert current_occurrence(one, at(59)) is None
    assert current_occurrence(one, at(60)).scheduled == at(60)
    assert current_occurrence(one, at(599)).scheduled == at(60)
    assert current_occurrence(one, at(600)) is None


def test_repeats_missed_while_away_collapse_into_the_latest():
    red = item("u", "urgent", level="red", repeat=600, until=3600)
    assert current_occurrence(red, at(1250)).scheduled == at(1200)
    assert next_start(red, at(1250)) == at(1800)
    assert next_start(red, at(3000)) is None  # 3600 is the end: nothing starts at it
    assert current_occurrence(red, at(3600)) is None


def test_the_free_player_takes_the_highest_rank_then_the_oldest():
    items = [item("filler", "filler"), item("camp", "campaign", at=10), item("ann", at=20),
             item("orange", "urgent", level="orange", at=30)]
    assert [o.item.id for o in due(items, at(40), {})] == ["orange", "ann", "camp", "filler"]
    older, newer = item("b", at=5), item("a", at=10)
    assert [o.item.id for o in due([newer, older], at(20), {})] == ["b", "a"]


def test_occurrences_already_started_are_not_due_again():
    red = item("u", "urgent", level="red", repeat=600)
    first = current_occurrence(red, at(0))
    assert due([red], at(10), {first.key: format_time(at(0))}) == []
    assert [o.scheduled for o in due([red], at(610), {first.key: "x"})] == [at(600)]


def test_only_a_higher_ranked_interrupting_item_cuts():
    playing = Occurrence(item("ann"), at(0))
    red = Occurrence(item("r", "urgent", level="red"), at(0))
    orange = Occurrence(item("o", "urgent", level="orange"), at(0))
    everything = [playing.item, red.item, orange.item]
    assert decide(playing, [red], everything).stop
    assert decide(Occurrence(orange.item, at(0)), [red], everything).stop  # red over orange
    assert not decide(Occurrence(red.item, at(0)), [orange], everything).stop
    other_red = Occurrence(item("r2", "urgent", level="red"), at(0))
    assert decide(red, [other_red], [*everything, other_red.item]).start is None  # queues
    assert not decide(Occurrence(item("c", "campaign"), at(0)), [playing], everything).stop


def test_a_vanished_urgent_item_is_withdrawn_but_a_vanished_announcement_plays_on():
    red = Occurrence(item("r", "urgent", level="red"), at(0))
    decision = decide(red, [], [])
    assert decision.stop and decision.stop_reason == "withdrawn"
    assert not decide(Occurrence(item("ann"), at(0)), [], []).stop


def test_an_owed_replay_lives_while_its_window_is_open_and_its_item_scheduled():
    ann = item("ann", until=600)
    owed = Occurrence(ann, at(0), resumed=True)
    assert live_resumes([owed], [ann], at(300), {}) == [owed]
    assert live_resumes([owed], [ann], at(600), {}) == []
    assert live_resumes([owed], [], at(300), {}) == []
    orange = item("o", "urgent", level="orange", repeat=600)
    owed_orange = Occurrence(orange, at(0), resumed=True)
    # the next repeat is due anyway: it settles the debt instead of playing twice in a row
    assert live_resumes([owed_orange], [orange], at(610), {}) == []


def test_a_replay_goes_before_fresh_items_of_its_rank():
    ann, other = item("ann"), item("other", at=0)
    owed = Occurrence(ann, at(0), resumed=True)
    found = due([other], at(100), {}, [owed])
    assert found[0] is owed


def test_a_newer_schedules_urgent_items_rule_before_its_files_are_all_here():
    old_ann, old_red = item("ann"), item("r1", "urgent", level="red")
    new_red, new_camp = item("r2", "urgent", level="red"), item("camp", "campaign")
    here = {"r2"}
    found = effective_items([old_ann, old_red], [new_red, new_camp], lambda i: i.id in here)
    assert {i.id for i in found} == {"ann", "r2"}  # r1 withdrawn, camp waits for the switch
    assert effective_items([old_ann], None, lambda i: False) == [old_ann]


def test_the_next_wakeup_is_the_next_occurrence():
    assert next_wakeup([item("a", at=100), item("b", at=50)], at(0)) == at(50)
    assert next_wakeup([item("u", "urgent", level="red", repeat=600)], at(10)) == at(600)
    assert next_wakeup([], at(0)) is None


def test_unreadable_items_are_skipped_with_a_reason():
    good = item("ok").raw
    items, problems = parse_items({"items": [good, {"id": "bad"},
                                             {**good, "id": "x", "clip": {**good["clip"], "sha256": "../etc"}}]})
    assert [i.id for i in items] == ["ok"]
    assert len(problems) == 2
