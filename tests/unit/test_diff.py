"""The diff: what changed in the state between two valid times, under one knowledge horizon."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from histories import (
    SLUG,
    History,
    answer,
    ceasefire_declared,
    ceasefire_proposed,
    given,
    host,
    proposal,
    scheduled,
    statement,
    zone,
)

from projections.as_of import AsOfEngine, parse_instant
from projections.timeline import Diff, diff, diff_states

NOW = parse_instant("2030-01-01")


def between(history: History, start: str, end: str, known_at: datetime = NOW) -> Diff:
    return diff(history.records, parse_instant(start), parse_instant(end), known_at)


def test_diff_lists_rounds_added_and_changed_with_the_events_that_changed_them() -> None:
    round_1 = scheduled("2025-05-20", round=1)
    round_2 = scheduled("2025-05-28", round=2)
    hosted = host("2025-05-28", round=1)
    history = given(round_1, round_2, hosted)
    changes = between(history, "2025-05-21", "2025-05-28").rounds
    assert [(c.identity["round"], c.change, c.events) for c in changes] == [
        (1, "changed", (hosted.id,)),
        (2, "added", (round_2.id,)),
    ]
    assert changes[0].before is not None and changes[0].after != changes[0].before
    assert changes[1].before is None


def test_diff_counts_changes_after_from_up_to_and_including_to() -> None:
    history = given(scheduled("2025-05-20", round=1), scheduled("2025-05-28", round=2))
    assert between(history, "2025-05-20", "2025-05-27").rounds == ()
    assert [c.identity["round"] for c in between(history, "2025-05-19", "2025-05-20").rounds] == [1]


def test_diff_lists_proposals_answered_in_between() -> None:
    made = proposal("2025-05-19", proposal_id="roadmap")
    accepted = answer("2025-05-30", proposal_id="roadmap", response="accepted")
    history = given(made, proposal("2025-05-28", proposal_id="memo"), accepted)
    changes = between(history, "2025-05-29", "2025-05-31").proposals
    assert [(c.identity, c.change, c.events) for c in changes] == [
        ({"proposal_id": "roadmap"}, "changed", (accepted.id,))
    ]
    assert changes[0].to_json()["after"]["status"] == "accepted"
    assert changes[0].to_json()["before"]["status"] == "open"


def test_diff_lists_security_zones_and_ceasefires() -> None:
    declared = zone("2025-05-19", status="declared")
    implemented = zone("2025-06-01", status="implemented")
    offered = ceasefire_proposed("2025-05-19")
    truce = ceasefire_declared("2025-06-02")
    history = given(declared, offered, implemented, truce, statement("2025-06-02"))
    result = between(history, "2025-05-20", "2025-06-02")
    assert [(c.change, c.events) for c in result.security_zones] == [("changed", (implemented.id,))]
    assert [(c.change, c.identity) for c in result.ceasefires] == [
        ("added", {"event_id": truce.id})
    ]


def test_diff_is_taken_under_one_knowledge_horizon() -> None:
    history = given(scheduled("2025-05-28", round=2))
    cutoff = history.clock
    history.add(scheduled("2025-05-25", round=3), hours=48)  # back-dated, recorded later
    assert len(between(history, "2025-05-20", "2025-05-28").rounds) == 2
    assert len(between(history, "2025-05-20", "2025-05-28", known_at=cutoff).rounds) == 1


def test_diff_of_one_time_with_itself_is_empty() -> None:
    history = given(scheduled("2025-05-28"))
    result = between(history, "2025-05-28", "2025-05-28")
    assert (result.rounds, result.proposals, result.security_zones, result.ceasefires) == (
        (),
        (),
        (),
        (),
    )


def test_diff_refuses_from_after_to() -> None:
    with pytest.raises(ValueError, match="from must not be later than to"):
        between(given(), "2025-05-29", "2025-05-28")


def test_diff_of_engine_states_equals_diff_of_records() -> None:
    history = given(
        scheduled("2025-05-20", round=1),
        proposal("2025-05-21"),
        answer("2025-05-25", response="countered"),
        zone("2025-05-26"),
        scheduled("2025-05-27", round=1, status="confirmed"),
    )
    engine = AsOfEngine(SLUG, spacing=2)
    engine.add(history.records)
    start, end = parse_instant("2025-05-22"), parse_instant("2025-05-27")
    from_engine = diff_states(engine.state(start, NOW), engine.state(end, NOW))
    assert from_engine == diff(history.records, start, end, NOW)


def test_diff_json_has_the_api_shape() -> None:
    history = given(scheduled("2025-05-28"), zone("2025-05-28"))
    json = between(history, "2025-05-27", "2025-05-28").to_json()
    assert list(json) == [
        "from", "to", "known_at", "reported_at", "position", "rounds", "proposals",
        "security_zones", "ceasefires",
    ]  # fmt: skip
    assert list(json["rounds"][0]) == ["round", "change", "before", "after", "events"]
    assert json["rounds"][0]["round"] == 2 and json["rounds"][0]["before"] is None
    zone_change = json["security_zones"][0]
    assert (zone_change["declared_by"]["country"], zone_change["regions"]) == (
        "RUS",
        ["UA-63", "UA-59"],
    )
    assert json["from"] == "2025-05-27T23:59:59.999999Z"
    assert json["to"] == (parse_instant("2025-05-27") + timedelta(days=1)).isoformat().replace(
        "+00:00", "Z"
    )
