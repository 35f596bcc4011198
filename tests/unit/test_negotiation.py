"""Unit tests for the Negotiation aggregate: its invariants, its hash chain, and replay.

Written Given/When/Then: ``given(...)`` records a history, ``when`` is one call to
``record``, and the asserts are the Then. The last section checks the founding example,
``examples/istanbul-2025.ndjson``, against the facts of the report it was curated from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.errors import InvalidEventError
from domain.events import (
    LOG_FACTS,
    AnyEvent,
    ClaimDisputed,
    ContactHeld,
    DelegationNamed,
    HostAnnounced,
    NegotiationOpened,
    ProposalMade,
    RoundHeld,
    RoundScheduled,
    SecurityZoneDeclared,
    dump_event,
    encode_json,
    parse_event,
)
from domain.negotiation import (
    Negotiation,
    Recorded,
    chain_hash,
    check_slug,
    negotiation_id,
    replay,
)
from domain.values import Actor, start_of

EventFactory = Callable[..., AnyEvent]
T0 = datetime(2025, 5, 28, 17, 0, tzinfo=UTC)
ISTANBUL = {"city": "Istanbul", "country": "TUR", "region": "TR-34"}


# Builders for the events these tests need


@pytest.fixture
def opened(make_event: EventFactory) -> Callable[[], AnyEvent]:
    return lambda: make_event(
        "NegotiationOpened",
        {"title": "Russia–Ukraine direct talks", "parties": ["RUS", "UKR"]},
        occurred_at="2025-05-16",
    )


@pytest.fixture
def held(make_event: EventFactory) -> Callable[[int], AnyEvent]:
    return lambda round_: make_event(
        "RoundHeld", {"round": round_, "place": ISTANBUL}, occurred_at="2025-05-16"
    )


@pytest.fixture
def scheduled(make_event: EventFactory) -> Callable[[int], AnyEvent]:
    return lambda round_: make_event(
        "RoundScheduled", {"round": round_, "starts_at": "2025-06-02", "place": ISTANBUL}
    )


@pytest.fixture
def hosted(make_event: EventFactory) -> Callable[[int], AnyEvent]:
    return lambda round_: make_event("HostAnnounced", {"round": round_, "host": "TUR"})


@pytest.fixture
def proposed(make_event: EventFactory) -> Callable[[str], AnyEvent]:
    return lambda proposal_id: make_event(
        "ProposalMade",
        {
            "proposal_id": proposal_id,
            "proposer": "RUS",
            "subject": "meeting",
            "summary": "Meet in Istanbul on 2 June.",
        },
    )


@pytest.fixture
def answered(make_event: EventFactory) -> Callable[[str], AnyEvent]:
    return lambda proposal_id: make_event(
        "ProposalAnswered",
        {"proposal_id": proposal_id, "responder": "UKR", "response": "noted"},
    )


@pytest.fixture
def about(make_event: EventFactory) -> Callable[[str, UUID], AnyEvent]:
    """A log fact (ClaimDisputed, EventCorrected or EventRetracted) about an event id."""
    data: dict[str, dict[str, Any]] = {
        "ClaimDisputed": {"disputed_by": "RUS", "counter_claim": "It was the other way around."},
        "EventCorrected": {"data": {"outcomes": ["a prisoner exchange"]}, "reason": "typo"},
        "EventRetracted": {"reason": "the agency withdrew its report"},
    }
    return lambda type_, event_id: make_event(type_, {"event_id": str(event_id), **data[type_]})


def given(*events: AnyEvent, slug: str = "istanbul-2025") -> Negotiation:
    """A negotiation that has recorded ``events`` (one batch each)."""
    negotiation = Negotiation(slug)
    for offset, event in enumerate(events):
        negotiation.record([event], T0 + timedelta(seconds=offset))
    return negotiation


def rejected(
    negotiation: Negotiation, events: Sequence[AnyEvent], at: datetime = T0
) -> InvalidEventError:
    with pytest.raises(InvalidEventError) as raised:
        negotiation.record(events, at)
    return raised.value


def snapshot(negotiation: Negotiation) -> dict[str, Any]:
    """Everything the write side knows, for before/after comparisons."""
    return {
        "slug": negotiation.slug,
        "id": negotiation.id,
        "version": negotiation.version,
        "last_hash": negotiation.last_hash,
        "last_recorded_at": negotiation.last_recorded_at,
        "event_types": dict(negotiation.event_types),
        "retracted": set(negotiation.retracted),
        "rounds_known": set(negotiation.rounds_known),
        "rounds_held": set(negotiation.rounds_held),
        "proposals": set(negotiation.proposals),
    }


# Opening


def test_first_event_of_a_negotiation_must_be_negotiation_opened(
    held: Callable[[int], AnyEvent],
) -> None:
    negotiation = given()

    error = rejected(negotiation, [held(1)])

    assert error.field == "type"
    assert "NegotiationOpened" in str(error)
    assert negotiation.version == 0


def test_opening_records_version_1(opened: Callable[[], AnyEvent]) -> None:
    negotiation = given()

    [recorded] = negotiation.record([opened()], T0)

    assert recorded.version == negotiation.version == 1
    assert recorded.recorded_at == T0
    assert recorded.negotiation == "istanbul-2025"
    assert recorded.originator_id == negotiation_id("istanbul-2025") == negotiation.id


def test_a_second_negotiation_opened_is_rejected(opened: Callable[[], AnyEvent]) -> None:
    negotiation = given(opened())

    error = rejected(negotiation, [opened()])

    assert error.field == "type"
    assert "already open" in str(error)


def test_a_second_negotiation_opened_in_the_opening_batch_is_rejected(
    opened: Callable[[], AnyEvent],
) -> None:
    negotiation = given()

    error = rejected(negotiation, [opened(), opened()])

    assert error.field == "events.1.type"


def test_opening_and_first_facts_may_come_in_one_batch(
    opened: Callable[[], AnyEvent], held: Callable[[int], AnyEvent]
) -> None:
    negotiation = given()

    negotiation.record([opened(), held(1)], T0)

    assert negotiation.version == 2
    assert negotiation.rounds_held == {1}


def test_an_event_id_used_twice_in_a_negotiation_is_rejected(
    opened: Callable[[], AnyEvent], held: Callable[[int], AnyEvent]
) -> None:
    first = held(1)
    negotiation = given(opened(), first)
    again = first.model_copy(update={"data": held(2).data})

    error = rejected(negotiation, [again])

    assert error.field == "id"


def test_an_event_id_used_twice_in_one_batch_is_rejected(
    opened: Callable[[], AnyEvent], held: Callable[[int], AnyEvent]
) -> None:
    first = held(1)
    negotiation = given(opened())

    error = rejected(negotiation, [first, first.model_copy(update={"data": held(2).data})])

    assert error.field == "events.1.id"


# Rounds and hosts


def test_host_announced_for_an_unknown_round_is_rejected_naming_data_round(
    opened: Callable[[], AnyEvent], hosted: Callable[[int], AnyEvent]
) -> None:
    negotiation = given(opened())

    error = rejected(negotiation, [hosted(2)])

    assert error.field == "data.round"
    assert error.value == 2
    assert "RoundScheduled" in str(error)


def test_host_announced_for_an_unknown_round_in_a_batch_names_its_index(
    opened: Callable[[], AnyEvent],
    scheduled: Callable[[int], AnyEvent],
    hosted: Callable[[int], AnyEvent],
) -> None:
    negotiation = given(opened())

    error = rejected(negotiation, [scheduled(1), hosted(2)])

    assert error.field == "events.1.data.round"


@pytest.mark.parametrize("how", ["scheduled", "held"])
def test_host_announced_for_a_round_already_known_is_accepted(
    opened: Callable[[], AnyEvent],
    scheduled: Callable[[int], AnyEvent],
    held: Callable[[int], AnyEvent],
    hosted: Callable[[int], AnyEvent],
    how: str,
) -> None:
    negotiation = given(opened(), scheduled(2) if how == "scheduled" else held(2))

    [recorded] = negotiation.record([hosted(2)], T0 + timedelta(minutes=1))

    assert isinstance(recorded.event, HostAnnounced)
    assert negotiation.version == 3


def test_host_announced_after_its_round_is_scheduled_in_the_same_batch_is_accepted(
    opened: Callable[[], AnyEvent],
    scheduled: Callable[[int], AnyEvent],
    hosted: Callable[[int], AnyEvent],
) -> None:
    negotiation = given(opened())

    negotiation.record([scheduled(2), hosted(2)], T0)

    assert negotiation.rounds_known == {2}
    assert negotiation.rounds_held == set()


def test_host_announced_before_its_round_is_scheduled_in_the_same_batch_is_rejected(
    opened: Callable[[], AnyEvent],
    scheduled: Callable[[int], AnyEvent],
    hosted: Callable[[int], AnyEvent],
) -> None:
    negotiation = given(opened())

    error = rejected(negotiation, [hosted(2), scheduled(2)])

    assert error.field == "events.0.data.round"


def test_a_round_held_twice_is_rejected(
    opened: Callable[[], AnyEvent], held: Callable[[int], AnyEvent]
) -> None:
    negotiation = given(opened(), held(1))

    error = rejected(negotiation, [held(1)])

    assert error.field == "data.round"
    assert "already recorded as held" in str(error)


def test_a_round_held_twice_in_one_batch_is_rejected(
    opened: Callable[[], AnyEvent], held: Callable[[int], AnyEvent]
) -> None:
    negotiation = given(opened())

    error = rejected(negotiation, [held(1), held(1)])

    assert error.field == "events.1.data.round"


def test_a_scheduled_round_may_then_be_held(
    opened: Callable[[], AnyEvent],
    scheduled: Callable[[int], AnyEvent],
    held: Callable[[int], AnyEvent],
) -> None:
    negotiation = given(opened(), scheduled(2))

    negotiation.record([held(2)], T0 + timedelta(days=5))

    assert negotiation.rounds_held == {2}


def test_a_round_may_be_rescheduled(
    opened: Callable[[], AnyEvent], scheduled: Callable[[int], AnyEvent]
) -> None:
    negotiation = given(opened(), scheduled(2))

    negotiation.record([scheduled(2)], T0 + timedelta(days=1))

    assert negotiation.version == 3


# Proposals


def test_an_answer_to_an_unknown_proposal_is_rejected(
    opened: Callable[[], AnyEvent], answered: Callable[[str], AnyEvent]
) -> None:
    negotiation = given(opened())

    error = rejected(negotiation, [answered("rus-2025-05-28")])

    assert error.field == "data.proposal_id"
    assert error.value == "rus-2025-05-28"


def test_an_answer_to_a_known_proposal_is_accepted(
    opened: Callable[[], AnyEvent],
    proposed: Callable[[str], AnyEvent],
    answered: Callable[[str], AnyEvent],
) -> None:
    negotiation = given(opened(), proposed("rus-2025-05-28"))

    negotiation.record([answered("rus-2025-05-28")], T0 + timedelta(days=1))

    assert negotiation.version == 3


def test_an_answer_after_its_proposal_in_the_same_batch_is_accepted(
    opened: Callable[[], AnyEvent],
    proposed: Callable[[str], AnyEvent],
    answered: Callable[[str], AnyEvent],
) -> None:
    negotiation = given(opened())

    negotiation.record([proposed("p1"), answered("p1")], T0)

    assert negotiation.proposals == {"p1"}


def test_a_proposal_id_used_twice_is_rejected(
    opened: Callable[[], AnyEvent], proposed: Callable[[str], AnyEvent]
) -> None:
    negotiation = given(opened(), proposed("p1"))

    error = rejected(negotiation, [proposed("p1")])

    assert error.field == "data.proposal_id"


# Disputes, corrections and retractions


@pytest.mark.parametrize("type_", sorted(LOG_FACTS))  # one order in every xdist worker
def test_a_log_fact_about_an_unknown_event_is_rejected(
    opened: Callable[[], AnyEvent], about: Callable[[str, UUID], AnyEvent], type_: str
) -> None:
    negotiation = given(opened())
    unknown = uuid4()

    error = rejected(negotiation, [about(type_, unknown)])

    assert error.field == "data.event_id"
    assert error.value == str(unknown)


@pytest.mark.parametrize("type_", sorted(LOG_FACTS))  # one order in every xdist worker
def test_a_log_fact_about_an_event_of_another_negotiation_is_rejected(
    opened: Callable[[], AnyEvent],
    held: Callable[[int], AnyEvent],
    about: Callable[[str, UUID], AnyEvent],
    type_: str,
) -> None:
    elsewhere = held(1)
    given(opened(), elsewhere, slug="geneva-2022")
    negotiation = given(opened(), held(1))

    error = rejected(negotiation, [about(type_, elsewhere.id)])

    assert error.field == "data.event_id"


@pytest.mark.parametrize("type_", sorted(LOG_FACTS))  # one order in every xdist worker
def test_a_log_fact_about_an_event_of_the_same_negotiation_is_accepted(
    opened: Callable[[], AnyEvent],
    held: Callable[[int], AnyEvent],
    about: Callable[[str, UUID], AnyEvent],
    type_: str,
) -> None:
    round_one = held(1)
    negotiation = given(opened(), round_one)

    [recorded] = negotiation.record([about(type_, round_one.id)], T0 + timedelta(days=1))

    assert recorded.event.subject_id == round_one.id


@pytest.mark.parametrize("type_", sorted(LOG_FACTS))  # one order in every xdist worker
def test_a_log_fact_about_an_event_earlier_in_the_same_batch_is_accepted(
    opened: Callable[[], AnyEvent],
    held: Callable[[int], AnyEvent],
    about: Callable[[str, UUID], AnyEvent],
    type_: str,
) -> None:
    round_one = held(1)
    negotiation = given(opened())

    negotiation.record([round_one, about(type_, round_one.id)], T0)

    assert negotiation.version == 3


def test_a_log_fact_about_itself_is_rejected(
    opened: Callable[[], AnyEvent], make_event: EventFactory
) -> None:
    negotiation = given(opened())
    own_id = uuid4()
    retraction = make_event(
        "EventRetracted", {"event_id": str(own_id), "reason": "x"}, id=str(own_id)
    )

    error = rejected(negotiation, [retraction])

    assert error.field == "data.event_id"


def test_retracting_an_event_twice_is_rejected(
    opened: Callable[[], AnyEvent],
    held: Callable[[int], AnyEvent],
    about: Callable[[str, UUID], AnyEvent],
) -> None:
    round_one = held(1)
    negotiation = given(opened(), round_one, about("EventRetracted", round_one.id))

    error = rejected(negotiation, [about("EventRetracted", round_one.id)])

    assert error.field == "data.event_id"
    assert "retracted" in str(error)
    assert negotiation.retracted == {round_one.id}


def test_retracting_an_event_twice_in_one_batch_is_rejected(
    opened: Callable[[], AnyEvent],
    held: Callable[[int], AnyEvent],
    about: Callable[[str, UUID], AnyEvent],
) -> None:
    round_one = held(1)
    negotiation = given(opened(), round_one)

    error = rejected(
        negotiation,
        [about("EventRetracted", round_one.id), about("EventRetracted", round_one.id)],
    )

    assert error.field == "events.1.data.event_id"
    assert negotiation.retracted == set()


@pytest.mark.parametrize("type_", ["ClaimDisputed", "EventCorrected"])
def test_disputing_or_correcting_a_retracted_event_is_rejected(
    opened: Callable[[], AnyEvent],
    held: Callable[[int], AnyEvent],
    about: Callable[[str, UUID], AnyEvent],
    type_: str,
) -> None:
    round_one = held(1)
    negotiation = given(opened(), round_one, about("EventRetracted", round_one.id))

    error = rejected(negotiation, [about(type_, round_one.id)])

    assert error.field == "data.event_id"


@pytest.mark.parametrize("target", ["EventCorrected", "EventRetracted"])
@pytest.mark.parametrize("type_", ["EventCorrected", "EventRetracted"])
def test_a_correction_or_retraction_cannot_itself_be_corrected_or_retracted(
    opened: Callable[[], AnyEvent],
    held: Callable[[int], AnyEvent],
    about: Callable[[str, UUID], AnyEvent],
    target: str,
    type_: str,
) -> None:
    round_one = held(1)
    log_fact = about(target, round_one.id)
    negotiation = given(opened(), round_one, log_fact)

    error = rejected(negotiation, [about(type_, log_fact.id)])

    assert error.field == "data.event_id"
    assert f"a {target} cannot itself be" in str(error)


def test_a_dispute_may_itself_be_retracted(
    opened: Callable[[], AnyEvent],
    held: Callable[[int], AnyEvent],
    about: Callable[[str, UUID], AnyEvent],
) -> None:
    round_one = held(1)
    dispute = about("ClaimDisputed", round_one.id)
    negotiation = given(opened(), round_one, dispute)

    negotiation.record([about("EventRetracted", dispute.id)], T0 + timedelta(days=1))

    assert negotiation.retracted == {dispute.id}


# Batches are all or nothing


def test_a_failing_batch_changes_nothing(
    opened: Callable[[], AnyEvent],
    held: Callable[[int], AnyEvent],
    scheduled: Callable[[int], AnyEvent],
    proposed: Callable[[str], AnyEvent],
    hosted: Callable[[int], AnyEvent],
) -> None:
    negotiation = given(opened(), held(1))
    negotiation.collect_events()
    before = snapshot(negotiation)

    error = rejected(negotiation, [scheduled(2), proposed("p1"), hosted(3)], T0 + timedelta(1))

    assert error.field == "events.2.data.round"
    assert snapshot(negotiation) == before
    assert negotiation.collect_events() == []


def test_a_batch_with_an_invalid_recorded_at_changes_nothing(
    opened: Callable[[], AnyEvent], held: Callable[[int], AnyEvent]
) -> None:
    negotiation = given(opened())
    before = snapshot(negotiation)

    with pytest.raises(ValueError, match="UTC offset"):
        negotiation.record([held(1)], datetime(2025, 5, 28, 17, 0))  # naive: no offset

    assert snapshot(negotiation) == before


def test_after_a_failing_batch_the_next_batch_continues_the_same_chain(
    opened: Callable[[], AnyEvent],
    held: Callable[[int], AnyEvent],
    hosted: Callable[[int], AnyEvent],
) -> None:
    negotiation = given(opened())
    head = negotiation.last_hash
    rejected(negotiation, [held(1), hosted(9)])

    [recorded] = negotiation.record([held(1)], T0 + timedelta(hours=1))

    assert recorded.version == 2
    assert recorded.previous_hash == head


def test_an_empty_batch_records_nothing(opened: Callable[[], AnyEvent]) -> None:
    negotiation = given(opened())
    before = snapshot(negotiation)

    assert negotiation.record([], T0 + timedelta(hours=1)) == []
    assert snapshot(negotiation) == before


def test_recorded_events_are_collected_once(
    opened: Callable[[], AnyEvent], held: Callable[[int], AnyEvent]
) -> None:
    negotiation = Negotiation("istanbul-2025")
    first = negotiation.record([opened()], T0)
    second = negotiation.record([held(1)], T0 + timedelta(seconds=1))

    assert list(negotiation.collect_events()) == first + second
    assert list(negotiation.collect_events()) == []


# The hash chain


@pytest.fixture
def chain(
    opened: Callable[[], AnyEvent],
    held: Callable[[int], AnyEvent],
    scheduled: Callable[[int], AnyEvent],
    hosted: Callable[[int], AnyEvent],
) -> list[Recorded]:
    """Four events recorded in two batches."""
    negotiation = Negotiation("istanbul-2025")
    first = negotiation.record([opened(), held(1)], T0)
    second = negotiation.record([scheduled(2), hosted(2)], T0 + timedelta(days=1))
    return first + second


def test_the_first_event_has_no_previous_hash(chain: list[Recorded]) -> None:
    assert chain[0].previous_hash is None


def test_each_event_links_to_the_hash_of_the_one_before_across_batches(
    chain: list[Recorded],
) -> None:
    for earlier, later in zip(chain, chain[1:], strict=False):
        assert later.previous_hash == earlier.hash
    assert [r.version for r in chain] == [1, 2, 3, 4]


def test_each_hash_is_a_sha256_that_its_content_reproduces(chain: list[Recorded]) -> None:
    for recorded in chain:
        assert len(recorded.hash) == 64
        int(recorded.hash, 16)
        assert recorded.expected_hash() == recorded.hash
    assert len({r.hash for r in chain}) == len(chain)


def test_the_hash_covers_the_canonical_json_and_the_previous_hash(chain: list[Recorded]) -> None:
    recorded = chain[1]
    body = (
        '{"event":'
        + _canonical(dump_event(recorded.event))
        + ',"negotiation":"istanbul-2025","recorded_at":"'
        + recorded.recorded_at.isoformat()
        + '","version":2}'
    )

    expected = hashlib.sha256(body.encode() + (recorded.previous_hash or "").encode())

    assert recorded.hash == expected.hexdigest()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_changing_the_event_content_changes_its_hash(
    chain: list[Recorded], held: Callable[[int], AnyEvent]
) -> None:
    recorded = chain[1]
    tampered = recorded.replace(event=recorded.event.model_copy(update={"data": held(7).data}))

    assert tampered.expected_hash() != recorded.hash


@pytest.mark.parametrize(
    "change",
    [
        {"timestamp": T0 + timedelta(microseconds=1)},
        {"originator_version": 9},
        {"negotiation": "geneva-2022"},
        {"previous_hash": "0" * 64},
    ],
    ids=["recorded_at", "version", "negotiation", "previous_hash"],
)
def test_changing_the_record_around_the_event_changes_its_hash(
    chain: list[Recorded], change: dict[str, Any]
) -> None:
    recorded = chain[1]

    assert recorded.replace(**change).expected_hash() != recorded.hash


def test_the_same_events_recorded_at_the_same_time_hash_alike(
    opened: Callable[[], AnyEvent], held: Callable[[int], AnyEvent]
) -> None:
    events = [opened(), held(1)]

    first = Negotiation("istanbul-2025").record(events, T0)
    second = Negotiation("istanbul-2025").record(events, T0)

    assert [r.hash for r in first] == [r.hash for r in second]


def test_chain_hash_is_independent_of_key_order() -> None:
    common: dict[str, Any] = {
        "negotiation": "n",
        "version": 1,
        "recorded_at": T0,
        "previous_hash": None,
    }

    assert chain_hash(event_json=encode_json({"a": 1, "b": 2}), **common) == chain_hash(
        event_json=encode_json({"b": 2, "a": 1}), **common
    )


def test_chain_version_1_hashes_the_standard_librarys_json_and_version_2_orjsons() -> None:
    """They differ where the two libraries write a number differently (1e-05 against
    0.00001): each row is checked by the rule it was written under."""
    common: dict[str, Any] = {
        "negotiation": "n",
        "version": 1,
        "recorded_at": T0,
        "previous_hash": None,
    }
    tiny = encode_json({"depth_km": 0.00001})
    legacy = hashlib.sha256(
        _canonical(
            {
                "event": {"depth_km": 0.00001},
                "negotiation": "n",
                "recorded_at": T0.isoformat(),
                "version": 1,
            }
        ).encode()
    ).hexdigest()

    assert chain_hash(event_json=tiny, chain=1, **common) == legacy
    assert chain_hash(event_json=tiny, chain=2, **common) != legacy
    plain = encode_json({"depth_km": 30.5})
    assert chain_hash(event_json=plain, chain=1, **common) == chain_hash(
        event_json=plain, chain=2, **common
    )


# Replay


def test_replay_rebuilds_the_state_that_recording_built(
    opened: Callable[[], AnyEvent],
    held: Callable[[int], AnyEvent],
    scheduled: Callable[[int], AnyEvent],
    hosted: Callable[[int], AnyEvent],
    proposed: Callable[[str], AnyEvent],
    about: Callable[[str, UUID], AnyEvent],
) -> None:
    round_one = held(1)
    live = Negotiation("istanbul-2025")
    live.record([opened(), round_one], T0)
    live.record([scheduled(2), hosted(2), proposed("p1")], T0 + timedelta(days=1))
    live.record([about("EventRetracted", round_one.id)], T0 + timedelta(days=2))
    stored = list(live.collect_events())

    rebuilt = replay(None, stored)

    assert rebuilt is not None
    assert snapshot(rebuilt) == snapshot(live)


def test_replay_continues_from_a_given_aggregate(chain: list[Recorded]) -> None:
    partial = replay(None, chain[:2])

    resumed = replay(partial, chain[2:])

    assert resumed is partial
    assert resumed is not None
    assert resumed.version == 4
    assert resumed.last_hash == chain[-1].hash


def test_replay_of_nothing_is_no_negotiation() -> None:
    assert replay(None, []) is None


def test_a_replayed_negotiation_accepts_the_next_event_on_its_chain(
    chain: list[Recorded], held: Callable[[int], AnyEvent]
) -> None:
    rebuilt = replay(None, chain)
    assert rebuilt is not None

    [recorded] = rebuilt.record([held(2)], T0 + timedelta(days=5))

    assert recorded.version == 5
    assert recorded.previous_hash == chain[-1].hash


# Slugs and ids


@pytest.mark.parametrize("slug", ["istanbul-2025", "a", "geneva-2022-round-3", "x" * 64])
def test_a_lower_case_slug_is_accepted(slug: str) -> None:
    assert check_slug(slug) == slug


@pytest.mark.parametrize("slug", ["", "Istanbul", "-a", "a-", "a_b", "a b", "x" * 65, "é"])
def test_a_slug_that_is_not_lower_case_letters_digits_and_inner_hyphens_is_rejected(
    slug: str,
) -> None:
    with pytest.raises(InvalidEventError) as raised:
        check_slug(slug)

    assert raised.value.field == "slug"


def test_the_negotiation_id_is_derived_from_its_slug() -> None:
    assert negotiation_id("istanbul-2025") == negotiation_id("istanbul-2025")
    assert negotiation_id("istanbul-2025") != negotiation_id("istanbul-2022")
    assert Negotiation("istanbul-2025").id == negotiation_id("istanbul-2025")


# The founding example


def test_founding_example_parses_and_records_cleanly_in_one_batch(
    founding_events: list[AnyEvent],
) -> None:
    negotiation = Negotiation("istanbul-2025")

    recorded = negotiation.record(founding_events, datetime.now(UTC))

    assert negotiation.version == len(founding_events) == len(recorded)
    assert all(r.expected_hash() == r.hash for r in recorded)


def test_founding_example_opens_the_negotiation_between_russia_and_ukraine(
    founding_events: list[AnyEvent],
) -> None:
    first = founding_events[0]

    assert isinstance(first, NegotiationOpened)
    assert {p.country for p in first.data.parties} == {"RUS", "UKR"}
    assert not any(isinstance(e, NegotiationOpened) for e in founding_events[1:])


def test_founding_example_has_fixed_unique_ids_so_loading_is_idempotent(
    founding_lines: list[dict[str, Any]], founding_events: list[AnyEvent]
) -> None:
    assert all("id" in line for line in founding_lines)
    assert len({e.id for e in founding_events}) == len(founding_events)
    assert [parse_event(line).id for line in founding_lines] == [e.id for e in founding_events]


def test_founding_example_is_in_valid_time_order(founding_events: list[AnyEvent]) -> None:
    starts = [e.valid_from for e in founding_events]

    assert starts == sorted(starts)


def test_founding_example_refers_only_to_events_before_it(
    founding_events: list[AnyEvent],
) -> None:
    seen: set[UUID] = set()
    rounds: set[int] = set()
    for event in founding_events:
        if event.subject_id is not None:
            assert event.subject_id in seen
        if isinstance(event, RoundScheduled | RoundHeld):
            rounds.add(event.data.round)
        if isinstance(event, HostAnnounced):
            assert event.data.round in rounds
        seen.add(event.id)


def _one(events: list[AnyEvent], kind: type[Any], **where: Any) -> Any:
    found = [
        e
        for e in events
        if isinstance(e, kind) and all(getattr(e.data, k) == v for k, v in where.items())
    ]
    assert len(found) == 1, f"expected one {kind.__name__} with {where}, found {len(found)}"
    return found[0]


def test_founding_example_holds_round_1_in_istanbul_on_16_may(
    founding_events: list[AnyEvent],
) -> None:
    round_one = _one(founding_events, RoundHeld, round=1)

    assert round_one.occurred_at == date(2025, 5, 16)
    assert (round_one.data.place.city, round_one.data.place.country) == ("Istanbul", "TUR")
    assert round_one.data.place.region == "TR-34"


def test_founding_example_schedules_round_2_in_istanbul_for_2_june_as_proposed(
    founding_events: list[AnyEvent],
) -> None:
    round_two = _one(founding_events, RoundScheduled, round=2)

    assert round_two.occurred_at == date(2025, 5, 28)
    assert round_two.data.starts_at == date(2025, 6, 2)
    assert round_two.data.place.region == "TR-34"
    assert round_two.data.status == "proposed"


def test_founding_example_announces_turkiye_as_host_of_round_2(
    founding_events: list[AnyEvent],
) -> None:
    host = _one(founding_events, HostAnnounced, round=2)

    assert host.data.host.country == "TUR"
    assert host.occurred_at == date(2025, 5, 28)
    assert any("Türkiye to Host 2nd Round" in (s.quote or "") for s in host.sources)


def test_founding_example_declares_the_kharkiv_and_sumy_security_zone(
    founding_events: list[AnyEvent],
) -> None:
    zone = _one(founding_events, SecurityZoneDeclared)

    assert set(zone.data.regions) == {"UA-63", "UA-59"}
    assert zone.data.declared_by.country == "RUS"
    assert zone.data.status == "declared"
    assert zone.occurred_until is not None  # "last week": a span, not an invented day


def test_founding_example_has_the_proposals_of_the_report(
    founding_events: list[AnyEvent],
) -> None:
    roadmap = _one(founding_events, ProposalMade, subject="roadmap")
    memorandum = _one(founding_events, ProposalMade, subject="memorandum")
    meeting = _one(founding_events, ProposalMade, subject="meeting")

    assert roadmap.occurred_at == date(2025, 5, 19)
    assert roadmap.data.proposer.country == "RUS"
    assert [a.country for a in roadmap.data.addressees] == ["USA"]
    assert memorandum.occurred_at == meeting.occurred_at == date(2025, 5, 28)
    assert memorandum.data.proposer.name == "Vladimir Medinsky"
    assert meeting.data.addressees == [Actor(country="UKR")]


def test_founding_example_has_the_19_may_putin_trump_phone_call(
    founding_events: list[AnyEvent],
) -> None:
    calls = [
        e
        for e in founding_events
        if isinstance(e, ContactHeld)
        and e.data.medium == "phone"
        and {p.name for p in e.data.participants} == {"Vladimir Putin", "Donald Trump"}
    ]

    assert len(calls) == 1
    assert calls[0].occurred_at == date(2025, 5, 19)


def test_founding_example_records_medinsky_disputing_who_phoned_whom(
    founding_events: list[AnyEvent],
) -> None:
    dispute = _one(founding_events, ClaimDisputed)
    disputed = next(e for e in founding_events if e.id == dispute.data.event_id)

    assert isinstance(disputed, ContactHeld)
    assert disputed.data.medium == "phone"
    assert {p.name for p in disputed.data.participants} == {"Rustem Umerov", "Vladimir Medinsky"}
    assert disputed.asserted_by is not None
    assert dispute.data.disputed_by.name == "Vladimir Medinsky"
    assert any(s.quote == "It was the other way around" for s in dispute.sources)


def test_founding_example_names_medinsky_head_of_the_russian_delegation(
    founding_events: list[AnyEvent],
) -> None:
    delegation = _one(founding_events, DelegationNamed)

    assert delegation.data.party == Actor(country="RUS")
    assert delegation.data.head.name == "Vladimir Medinsky"
    assert "Presidential Aide" in (delegation.data.head.role or "")


def test_founding_example_cites_telesur_with_an_aware_publication_time(
    founding_events: list[AnyEvent],
) -> None:
    published = datetime(2025, 5, 28, 16, 57, tzinfo=UTC)  # 12:57 in Caracas (UTC-4)

    for event in founding_events:
        telesur = [s for s in event.sources if s.outlet == "teleSUR"]
        assert telesur and all(s.published_at == published for s in telesur)
        # The other sources are the earlier reports of the same facts (issue 16): each
        # dated, and none later than the report the example was curated from.
        for source in event.sources:
            assert source.published_at is not None
            assert start_of(source.published_at) <= published


def test_founding_example_quotes_the_report_verbatim(
    founding_events: list[AnyEvent], founding_report: str
) -> None:
    quotes = [
        s.quote for e in founding_events for s in e.sources if s.quote and s.outlet == "teleSUR"
    ]

    assert quotes
    for quote in quotes:
        assert quote in founding_report


@pytest.mark.parametrize("field", ["round", "proposal_id", "event_id"])
def test_a_correction_may_not_change_which_thing_an_event_is_about(
    field: str, make_event: EventFactory, about: Callable[[str, UUID], AnyEvent]
) -> None:
    held = make_event("RoundHeld", {"round": 1, "place": {"city": "Istanbul", "country": "TUR"}})
    negotiation = given(make_event("NegotiationOpened", {"title": "T", "parties": ["RUS"]}), held)
    correction = make_event(
        "EventCorrected",
        {"event_id": str(held.id), "data": {field: 2}, "reason": "misread"},
    )
    error = rejected(negotiation, [correction])
    assert error.field == f"data.data.{field}"
    assert negotiation.version == 2


def test_a_failed_save_can_be_reverted_to_the_state_before_recording(
    make_event: EventFactory,
) -> None:
    opened = make_event("NegotiationOpened", {"title": "T", "parties": ["RUS"]})
    negotiation = given(opened)
    negotiation.collect_events()  # stored
    before = (negotiation.version, negotiation.last_hash, dict(negotiation.event_types))
    scheduled = make_event(
        "RoundScheduled",
        {"round": 2, "starts_at": "2025-06-02", "place": {"city": "Istanbul", "country": "TUR"}},
    )
    # Two requests recorded for one group commit, collected together, then refused.
    negotiation.record([scheduled], T0 + timedelta(days=1))
    negotiation.record([make_event("HostAnnounced", {"round": 2, "host": "TUR"})], T0)
    assert len(negotiation.collect_events()) == 2
    negotiation.revert()
    assert (negotiation.version, negotiation.last_hash, negotiation.event_types) == before
    assert 2 not in negotiation.rounds_known


# What a retraction takes away: the rounds and proposals that rested on its target


def retraction(make_event: EventFactory, target: AnyEvent) -> AnyEvent:
    return make_event("EventRetracted", {"event_id": str(target.id), "reason": "withdrawn"})


def test_a_round_whose_scheduling_is_retracted_cannot_be_named_by_a_new_event(
    opened: Callable[[], AnyEvent],
    scheduled: Callable[[int], AnyEvent],
    hosted: Callable[[int], AnyEvent],
    make_event: EventFactory,
) -> None:
    schedule = scheduled(2)
    negotiation = given(opened(), schedule, hosted(2), retraction(make_event, schedule))

    error = rejected(negotiation, [hosted(2)])

    assert error.field == "data.round"
    assert str(error).startswith(
        f"round 2's scheduling was retracted (event {schedule.id}); schedule it again first"
    )
    assert negotiation.rounds_known == set()
    assert negotiation.version == 4  # the host announced before the retraction stays


def test_a_round_another_unretracted_schedule_still_schedules_may_be_named(
    opened: Callable[[], AnyEvent],
    scheduled: Callable[[int], AnyEvent],
    hosted: Callable[[int], AnyEvent],
    make_event: EventFactory,
) -> None:
    first, second = scheduled(2), scheduled(2)
    negotiation = given(opened(), first, second, retraction(make_event, first))

    negotiation.record([hosted(2)], T0 + timedelta(days=1))

    assert negotiation.rounds_known == {2}


def test_a_round_scheduled_again_after_its_retraction_may_be_named(
    opened: Callable[[], AnyEvent],
    scheduled: Callable[[int], AnyEvent],
    hosted: Callable[[int], AnyEvent],
    make_event: EventFactory,
) -> None:
    schedule = scheduled(2)
    negotiation = given(opened(), schedule, retraction(make_event, schedule))

    negotiation.record([scheduled(2), hosted(2)], T0 + timedelta(days=1))

    assert negotiation.rounds_known == {2}


def test_a_round_held_whose_record_is_retracted_may_be_recorded_as_held_anew(
    opened: Callable[[], AnyEvent],
    held: Callable[[int], AnyEvent],
    hosted: Callable[[int], AnyEvent],
    make_event: EventFactory,
) -> None:
    """A retracted RoundHeld cannot be corrected, so recording it anew must be possible;
    until then the round is neither held nor (by that event) known."""
    wrong = held(1)
    negotiation = given(opened(), wrong, retraction(make_event, wrong))

    error = rejected(negotiation, [hosted(1)])
    assert error.field == "data.round" and f"(event {wrong.id})" in str(error)
    negotiation.record([held(1), hosted(1)], T0 + timedelta(days=1))
    assert negotiation.rounds_held == {1}


def test_a_retracted_proposal_cannot_be_answered_until_it_is_made_again(
    opened: Callable[[], AnyEvent],
    proposed: Callable[[str], AnyEvent],
    answered: Callable[[str], AnyEvent],
    make_event: EventFactory,
) -> None:
    made = proposed("p1")
    negotiation = given(opened(), made, answered("p1"), retraction(make_event, made))

    error = rejected(negotiation, [answered("p1")])
    assert error.field == "data.proposal_id"
    assert str(error).startswith(f"proposal p1 was retracted (event {made.id})")

    negotiation.record([proposed("p1"), answered("p1")], T0 + timedelta(days=1))
    assert negotiation.proposals == {"p1"}


def test_a_retraction_earlier_in_a_batch_takes_its_round_away_for_the_rest_of_it(
    opened: Callable[[], AnyEvent],
    scheduled: Callable[[int], AnyEvent],
    hosted: Callable[[int], AnyEvent],
    make_event: EventFactory,
) -> None:
    schedule = scheduled(2)
    negotiation = given(opened(), schedule)
    before = snapshot(negotiation)

    error = rejected(negotiation, [retraction(make_event, schedule), hosted(2)])

    assert error.field == "events.1.data.round"
    assert snapshot(negotiation) == before  # the refused batch took nothing away
    assert negotiation.grounds.gone == {}


def test_a_reverted_retraction_gives_its_round_back(
    opened: Callable[[], AnyEvent],
    scheduled: Callable[[int], AnyEvent],
    hosted: Callable[[int], AnyEvent],
    make_event: EventFactory,
) -> None:
    schedule = scheduled(2)
    negotiation = given(opened(), schedule)
    negotiation.collect_events()  # stored
    negotiation.record([retraction(make_event, schedule)], T0 + timedelta(days=1))
    assert negotiation.rounds_known == set()

    negotiation.revert()  # the store could not save it

    assert negotiation.rounds_known == {2} and negotiation.grounds.gone == {}
    negotiation.record([hosted(2)], T0 + timedelta(days=2))


def test_a_log_older_than_the_rule_replays_whole_and_only_new_events_are_refused(
    opened: Callable[[], AnyEvent],
    scheduled: Callable[[int], AnyEvent],
    hosted: Callable[[int], AnyEvent],
    make_event: EventFactory,
) -> None:
    """Before the rule, a host could be announced for a round whose scheduling was
    retracted. Such a stored log replays (replay checks nothing), and a resumed
    checkpoint of it refuses the next such event."""
    schedule = scheduled(2)
    # The stored events, as an older Parley recorded them (the host after the retraction).
    older = given(opened(), schedule, hosted(2))
    records = older.collect_events()
    late = given(opened(), schedule, scheduled(2), retraction(make_event, schedule), hosted(2))
    records += late.collect_events()[3:]  # the retraction, and a host announced after it

    negotiation = replay(None, records)
    assert negotiation is not None and negotiation.version == 5
    assert negotiation.rounds_known == set()

    assert rejected(negotiation, [hosted(2)]).field == "data.round"
    resumed = Negotiation.resume(negotiation.slug, negotiation.checkpoint())
    assert rejected(resumed, [hosted(2)]).field == "data.round"


def test_grounds_fold_an_event_once_and_undo_restores_them_exactly() -> None:
    from domain.negotiation import Grounds

    schedule, held_, retraction_target = uuid4(), uuid4(), uuid4()
    grounds = Grounds()
    grounds.add(schedule, ("round", 2))
    grounds.add(schedule, ("round", 2))  # the same event folded again
    before = ({k: set(v) for k, v in grounds.live.items()}, dict(grounds.by_event))
    journal: list[Any] = []
    grounds.journal = journal
    grounds.retract(schedule)
    assert grounds.live == {} and grounds.gone == {("round", 2): schedule}
    grounds.add(held_, ("round", 2), ("held", 2))
    grounds.retract(held_)
    grounds.retract(retraction_target)  # grounds nothing: nothing changes
    grounds.journal = None
    assert grounds.live == {} and grounds.gone == {("round", 2): held_, ("held", 2): held_}

    grounds.undo(journal)

    assert ({k: set(v) for k, v in grounds.live.items()}, dict(grounds.by_event)) == before
    assert grounds.gone == {}
