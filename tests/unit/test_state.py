"""The state as of V as known at K (DESIGN.md §3): each rule, and each event type's effect.

States come from ``naive_state``, the reference; the engine is held equal to it by
the property tests. Every history is recorded through the real Negotiation aggregate.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from histories import (
    DOHA,
    MEDINSKY,
    SLUG,
    UMEROV,
    History,
    answer,
    ceasefire_declared,
    ceasefire_proposed,
    contact,
    correction,
    delegation,
    dispute,
    document,
    given,
    held,
    histories,
    host,
    proposal,
    retraction,
    scheduled,
    statement,
    zone,
)
from hypothesis import given as for_all
from hypothesis import settings

from domain.events import AnyEvent
from domain.negotiation import Recorded
from domain.values import Actor, Place
from projections.as_of import AsOfEngine, naive_state, parse_instant
from projections.state import Accumulator, State, evolve, initial_state

FAR_FUTURE = datetime(2030, 1, 1, tzinfo=UTC)


def day(text: str) -> datetime:
    """A query date, as the API reads it: the end of that day in UTC."""
    return parse_instant(text)


def state_of(history: History, as_of: str | datetime, known_at: datetime = FAR_FUTURE) -> State:
    moment = day(as_of) if isinstance(as_of, str) else as_of
    return naive_state(history.records, SLUG, moment, known_at)


# Query times.


def test_date_means_end_of_day_utc() -> None:
    assert parse_instant("2025-05-28") == datetime(2025, 5, 28, 23, 59, 59, 999999, tzinfo=UTC)
    late_evening = statement(datetime(2025, 5, 28, 23, 30, tzinfo=UTC))
    # 01:00 on the 29th in Istanbul is 22:00 UTC on the 28th.
    istanbul_night = statement(datetime.fromisoformat("2025-05-29T01:00:00+03:00"))
    next_morning = statement(datetime(2025, 5, 29, 0, 0, tzinfo=UTC))
    history = given(late_evening, istanbul_night, next_morning)
    assert state_of(history, "2025-05-28").event_count == 3  # opening + two


def test_parse_instant_reads_aware_datetimes_as_utc() -> None:
    assert parse_instant("2025-05-28T12:57:00-04:00") == datetime(2025, 5, 28, 16, 57, tzinfo=UTC)
    assert parse_instant("2025-05-28T16:57:00Z").tzinfo == UTC


def test_parse_instant_can_read_a_date_as_the_start_of_its_day() -> None:
    assert parse_instant("2025-05-28", bound="start") == datetime(2025, 5, 28, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2025-05-28T12:00:00", "yesterday", "28/05/2025", ""])
def test_parse_instant_refuses_naive_or_unreadable_times_saying_what_to_send(text: str) -> None:
    with pytest.raises(ValueError, match="offset"):
        parse_instant(text)


def test_naive_datetime_query_is_refused() -> None:
    with pytest.raises(ValueError, match="as_of must carry a UTC offset"):
        naive_state([], SLUG, datetime(2025, 5, 28), FAR_FUTURE)


# Valid time and knowledge.


def test_as_of_before_opening_is_empty_state() -> None:
    history = given(scheduled("2025-05-28"), statement("2025-05-28"))
    state = state_of(history, "2025-05-15")
    assert state == initial_state(SLUG, as_of=day("2025-05-15"), known_at=FAR_FUTURE)
    assert (state.title, state.parties, state.rounds, state.event_count) == (None, (), (), 0)
    assert state.position is None


def test_known_at_before_the_first_recording_is_empty_state() -> None:
    history = given(scheduled("2025-05-28"))
    before = history.records[0].recorded_at - timedelta(seconds=1)
    assert state_of(history, "2025-06-30", known_at=before).event_count == 0


def test_events_fold_in_valid_time_order_not_recording_order() -> None:
    confirmed = scheduled("2025-05-30", status="confirmed")
    proposed_earlier = scheduled("2025-05-28", status="proposed")  # recorded second
    history = given(confirmed, proposed_earlier)
    assert state_of(history, "2025-05-29").rounds[0].status == "proposed"
    assert state_of(history, "2025-05-31").rounds[0].status == "scheduled"


def test_events_at_the_same_valid_time_fold_in_position_order() -> None:
    history = given(
        scheduled("2025-05-28", status="confirmed"), scheduled("2025-05-28", status="postponed")
    )
    assert state_of(history, "2025-05-28").rounds[0].status == "postponed"


def test_back_dated_event_changes_past_valid_times_only_from_its_recorded_at() -> None:
    history = given(scheduled("2025-05-28"))
    before_it = history.clock
    late = history.add(zone("2025-05-19"), hours=24 * 7)  # recorded a week later
    assert state_of(history, "2025-05-20").security_zones[0].regions == ("UA-63", "UA-59")
    assert state_of(history, "2025-05-20", known_at=before_it).security_zones == ()
    assert state_of(history, "2025-05-20", known_at=late.recorded_at).security_zones != ()
    assert state_of(history, "2025-05-18").security_zones == ()


def test_correction_acts_from_its_recorded_at_whatever_valid_time_it_names() -> None:
    history = given(round_2 := scheduled("2025-05-28", status="proposed"))
    before_fix = history.clock
    # The correction names a valid time after the query: it is knowledge, not world.
    history.add(correction("2025-06-10", round_2.id, status="confirmed", place=DOHA))
    assert state_of(history, "2025-05-28").rounds[0].status == "scheduled"
    assert state_of(history, "2025-05-28").rounds[0].place == Place.model_validate(DOHA)
    assert state_of(history, "2025-05-28", known_at=before_fix).rounds[0].status == "proposed"


def test_several_corrections_apply_in_position_order() -> None:
    history = given(round_2 := scheduled("2025-05-28"))
    history.add(correction("2025-05-29", round_2.id, status="confirmed", place=DOHA))
    history.add(correction("2025-05-27", round_2.id, status="cancelled"))
    (round_,) = state_of(history, "2025-05-28").rounds
    assert (round_.status, round_.place) == ("cancelled", Place.model_validate(DOHA))


def test_correction_that_does_not_fit_its_event_is_ignored() -> None:
    history = given(round_2 := scheduled("2025-05-28"))
    history.add(correction("2025-05-28", round_2.id, status="bogus"))
    assert state_of(history, "2025-05-28").rounds[0].status == "proposed"


def test_retraction_recorded_later_does_not_change_earlier_knowledge() -> None:
    history = given(zone_ := zone("2025-05-19"))
    before = history.clock
    history.add(retraction("2025-05-30", zone_.id), hours=48)
    assert state_of(history, "2025-05-20", known_at=before).security_zones != ()
    assert state_of(history, "2025-05-20").security_zones == ()


def test_retracted_event_no_longer_counts_at_any_valid_time() -> None:
    history = given(statement("2025-05-20"), retracted := statement("2025-05-21"))
    history.add(retraction("2025-05-01", retracted.id))
    assert state_of(history, "2025-06-30").event_count == 2  # opening + the other statement


def test_dispute_marks_contested_and_never_hides() -> None:
    call = contact("2025-05-28")
    history = given(round_2 := scheduled("2025-05-28"), call)
    history.add(dispute("2025-05-28", call.id, "Medinsky called Umerov", by=MEDINSKY))
    history.add(dispute("2025-05-29", round_2.id, "No date was agreed", by=UMEROV))
    state = state_of(history, "2025-05-29")
    assert [(c.event_id, c.counter_claim) for c in state.contested] == [
        (call.id, "Medinsky called Umerov"),
        (round_2.id, "No date was agreed"),
    ]
    assert state.contested[1].disputed_by == Actor.model_validate(UMEROV)
    assert state.rounds[0].events == (round_2.id,)  # still there
    assert state.event_count == 5


def test_dispute_counts_only_from_its_own_valid_time() -> None:
    history = given(round_2 := scheduled("2025-05-28"))
    history.add(dispute("2025-05-29", round_2.id))
    assert state_of(history, "2025-05-28").contested == ()
    assert len(state_of(history, "2025-05-29").contested) == 1


def test_retracted_event_takes_its_disputes_with_it() -> None:
    history = given(call := contact("2025-05-28"))
    first = history.add(dispute("2025-05-28", call.id)).event
    history.add(dispute("2025-05-28", first.id, "The dispute itself is wrong"))
    before = history.clock
    history.add(retraction("2025-05-29", call.id))
    assert len(state_of(history, "2025-05-28", known_at=before).contested) == 2
    after = state_of(history, "2025-05-28")
    assert after.contested == ()  # and the dispute of the dispute went too
    assert after.event_count == 1


def test_retracted_dispute_no_longer_contests() -> None:
    history = given(call := contact("2025-05-28"))
    objection = history.add(dispute("2025-05-28", call.id)).event
    history.add(retraction("2025-05-29", objection.id))
    state = state_of(history, "2025-05-28")
    assert (state.contested, state.event_count) == ((), 2)


def test_every_answer_echoes_as_of_known_at_and_last_position_included() -> None:
    history = given(statement("2025-05-20"), statement("2025-05-25"))
    known_at = history.clock
    state = state_of(history, "2025-05-21", known_at=known_at)
    assert (state.as_of, state.known_at) == (day("2025-05-21"), known_at)
    assert state.position == history.records[1].position
    json = state.to_json()
    assert (json["as_of"], json["position"]) == ("2025-05-21T23:59:59.999999Z", state.position)


# Each event type.


def test_negotiation_opened_names_title_parties_and_mediators() -> None:
    state = state_of(given(), "2025-05-16")
    assert state.title == "Russia–Ukraine direct talks, Istanbul 2025"
    assert [p.country for p in state.parties] == ["RUS", "UKR"]
    assert [m.country for m in state.mediators] == ["TUR"]


def test_delegation_is_keyed_by_party_country_and_renaming_replaces_its_head() -> None:
    first = delegation("2025-05-20", party="RUS", head=MEDINSKY)
    second = delegation("2025-05-28", party="RUS", head={"name": "Someone Else"})
    ukraine = delegation("2025-05-28", party="UKR", head=UMEROV)
    state = state_of(given(first, second, ukraine), "2025-05-28")
    assert sorted(state.delegations) == ["RUS", "UKR"]
    assert state.delegations["RUS"].head.name == "Someone Else"
    assert state.delegations["RUS"].events == (first.id, second.id)
    assert state.to_json()["delegations"]["UKR"]["head"]["name"] == "Rustem Umerov"


@pytest.mark.parametrize(
    ("scheduled_as", "status"),
    [
        ("proposed", "proposed"),
        ("confirmed", "scheduled"),
        ("postponed", "postponed"),
        ("cancelled", "cancelled"),
    ],
)
def test_round_scheduled_sets_round_status(scheduled_as: str, status: str) -> None:
    round_2 = scheduled("2025-05-28", starts_at="2025-06-02", status=scheduled_as)
    (round_,) = state_of(given(round_2), "2025-05-28").rounds
    assert (round_.round, round_.status, round_.starts_at) == (2, status, date(2025, 6, 2))
    assert (round_.place.city if round_.place else None, round_.host) == ("Istanbul", None)
    assert round_.events == (round_2.id,)


def test_host_announced_sets_host_and_place() -> None:
    round_2 = scheduled("2025-05-28", place=DOHA)
    named = host("2025-05-29", host="TUR")
    (round_,) = state_of(given(round_2, named), "2025-05-29").rounds
    assert (round_.host.country if round_.host else None, round_.place) == (
        "TUR",
        Place(city="Istanbul", country="TUR", region="TR-34"),
    )
    assert round_.events == (round_2.id, named.id)


def test_host_announced_before_any_schedule_makes_a_proposed_round() -> None:
    history = given(scheduled("2025-05-30"))
    history.add(host("2025-05-28"))  # back-dated before the schedule
    (round_,) = state_of(history, "2025-05-29").rounds
    assert (round_.status, round_.starts_at, round_.host is not None) == ("proposed", None, True)


def test_held_round_stays_held() -> None:
    history = given(held("2025-05-16", round=1, outcomes=["a prisoner exchange"]))
    history.add(scheduled("2025-05-20", round=1, status="cancelled"))
    (round_,) = state_of(history, "2025-05-20").rounds
    assert (round_.status, round_.starts_at, round_.outcomes) == (
        "held",
        date(2025, 5, 16),
        ("a prisoner exchange",),
    )


def test_rounds_are_listed_by_number() -> None:
    history = given(scheduled("2025-05-28", round=3), held("2025-05-16", round=1))
    assert [r.round for r in state_of(history, "2025-05-28").rounds] == [1, 3]


def test_proposal_made_is_open_with_its_details() -> None:
    made = proposal("2025-05-28", proposal_id="rus-memo", subject="memorandum")
    (item,) = state_of(given(made), "2025-05-28").proposals
    assert (item.proposal_id, item.status, item.subject, item.made_at) == (
        "rus-memo",
        "open",
        "memorandum",
        date(2025, 5, 28),
    )
    assert (item.proposer.name, item.addressee.name if item.addressee else None) == (
        "Vladimir Medinsky",
        "Rustem Umerov",
    )


@pytest.mark.parametrize(
    ("responses", "status"),
    [
        (["accepted"], "accepted"),
        (["rejected"], "rejected"),
        (["countered"], "countered"),
        (["noted"], "open"),
        (["rejected", "noted"], "rejected"),
        (["countered", "accepted"], "accepted"),
    ],
)
def test_answers_set_proposal_status_and_noted_leaves_it(responses: list[str], status: str) -> None:
    answers = [answer(f"2025-05-{29 + n}", response=r) for n, r in enumerate(responses)]
    (item,) = state_of(given(proposal("2025-05-28"), *answers), "2025-06-30").proposals
    assert item.status == status
    assert [a.response for a in item.answers] == responses
    assert item.events[1:] == tuple(a.id for a in answers)


def test_answer_before_its_proposal_in_valid_time_counts_but_attaches_to_nothing() -> None:
    history = given(proposal("2025-05-28"))
    history.add(answer("2025-05-27"))
    state = state_of(history, "2025-05-28")
    assert (state.proposals[0].answers, state.event_count) == ((), 3)


def test_document_exchanged_is_listed() -> None:
    memo = document("2025-06-02", title="Russian memorandum", round=2)
    (item,) = state_of(given(memo), "2025-06-02").documents
    assert (item.title, item.sender.country, item.recipient.country, item.round) == (
        "Russian memorandum",
        "RUS",
        "UKR",
        2,
    )
    assert item.to_json()["from"]["country"] == "RUS"


def test_ceasefires_proposed_and_declared_are_listed_with_their_status() -> None:
    offered = ceasefire_proposed("2025-05-19")
    declared = ceasefire_declared("2025-06-10")
    state = state_of(given(offered, declared), "2025-06-30")
    assert [(c.status, c.events) for c in state.ceasefires] == [
        ("proposed", (offered.id,)),
        ("declared", (declared.id,)),
    ]
    assert state.ceasefires[0].duration == timedelta(days=3)
    assert state.ceasefires[1].effective_from == date(2025, 6, 10)


def test_security_zone_redeclared_over_the_same_regions_updates_its_status() -> None:
    declared = zone("2025-05-19", regions=["UA-63", "UA-59"], status="declared")
    implemented = zone("2025-06-01", regions=["UA-59", "UA-63"], status="implemented")
    (item,) = state_of(given(declared, implemented), "2025-06-02").security_zones
    assert (item.status, item.declared_at, item.regions) == (
        "implemented",
        date(2025, 5, 19),
        ("UA-63", "UA-59"),
    )
    assert item.events == (declared.id, implemented.id)


def test_security_zone_over_other_regions_is_a_separate_entry() -> None:
    state = state_of(given(zone("2025-05-19"), zone("2025-05-20", regions=["UA-63"])), "2025-06-01")
    assert [z.regions for z in state.security_zones] == [("UA-63", "UA-59"), ("UA-63",)]


def test_statements_and_contacts_only_count() -> None:
    state = state_of(given(statement("2025-05-20"), contact("2025-05-21")), "2025-05-21")
    assert state.event_count == 3
    assert (state.rounds, state.proposals, state.documents, state.contested) == ((), (), (), ())


# The fold itself and the JSON shape.


def test_folding_a_correction_as_a_world_event_is_refused() -> None:
    history = given(round_2 := scheduled("2025-05-28"))
    fix = history.add(correction("2025-05-29", round_2.id, status="confirmed"))
    with pytest.raises(ValueError, match="knowledge"):
        evolve(initial_state(SLUG), fix)


def test_evolve_is_pure_and_agrees_with_the_accumulated_fold() -> None:
    history = given(
        scheduled("2025-05-28"),
        host("2025-05-28"),
        proposal("2025-05-28"),
        answer("2025-05-29"),
        zone("2025-05-19"),
        document("2025-06-02"),
        ceasefire_declared("2025-06-03"),
    )
    world = sorted(history.records, key=lambda r: (r.event.valid_from, r.position or 0))
    state = initial_state(SLUG)
    acc = Accumulator(SLUG)
    for recorded in world:
        before = state
        state = evolve(state, recorded)
        assert before != state and before.event_count == state.event_count - 1
        acc.apply(recorded.event, recorded)
    assert state == acc.snapshot(None, None)


def test_state_json_has_the_api_shape() -> None:
    call = contact("2025-05-28")
    history = given(
        delegation("2025-05-28"),
        scheduled("2025-05-28"),
        proposal("2025-05-28"),
        answer("2025-05-28"),
        document("2025-05-28"),
        ceasefire_proposed("2025-05-28"),
        zone("2025-05-28"),
        call,
    )
    history.add(dispute("2025-05-28", call.id))
    json = state_of(history, "2025-05-28").to_json()
    assert list(json) == [
        "negotiation", "title", "as_of", "known_at", "reported_at", "position", "parties",
        "mediators", "delegations", "rounds", "proposals", "documents", "ceasefires",
        "security_zones", "contested", "agreements", "allegations", "hostilities",
        "event_count",
    ]  # fmt: skip
    assert set(json["rounds"][0]) >= {"round", "status", "starts_at", "place", "host", "events"}
    assert set(json["proposals"][0]) >= {
        "proposal_id", "proposer", "addressee", "subject", "summary", "status", "made_at",
        "answers",
    }  # fmt: skip
    assert set(json["security_zones"][0]) >= {"declared_by", "regions", "status", "declared_at"}
    assert set(json["contested"][0]) >= {"event_id", "disputed_by", "counter_claim", "recorded_at"}
    assert set(json["delegations"]["RUS"]) >= {"head", "members"}
    assert json["ceasefires"][0]["status"] == "proposed"
    # Every item names the events that made it, as strings.
    for kind in ("rounds", "proposals", "documents", "ceasefires", "security_zones", "contested"):
        assert all(isinstance(i, str) for item in json[kind] for i in item["events"])
    assert (json["negotiation"], json["event_count"]) == (SLUG, 10)


def test_founding_example_as_of_its_report(founding_events: list[AnyEvent]) -> None:
    history = History()
    history.record(*founding_events)
    engine = AsOfEngine(SLUG)
    engine.add(history.records)
    state = engine.state(day("2025-05-28"), FAR_FUTURE)
    assert state == state_of(history, "2025-05-28")
    assert [(r.round, r.status) for r in state.rounds] == [(1, "held"), (2, "proposed")]
    round_2 = state.rounds[1]
    assert (round_2.starts_at, round_2.host and round_2.host.country) == (date(2025, 6, 2), "TUR")
    assert state.security_zones[0].regions == ("UA-63", "UA-59")
    assert state.delegations["RUS"].head.name == "Vladimir Medinsky"
    assert len(state.proposals) == 3 and len(state.contested) == 1
    assert state.event_count == len(founding_events)
    earlier = engine.state(day("2025-05-27"), FAR_FUTURE)
    assert [r.round for r in earlier.rounds] == [1] and earlier.contested == ()


@settings(max_examples=int(os.environ.get("PARLEY_HYPOTHESIS_EXAMPLES", "200")), deadline=None)
@for_all(records=histories())
def test_the_state_as_bytes_is_the_state_as_json(records: list[Recorded]) -> None:
    """The answer's fast path (each item's kept JSON, joined) says what ``to_json`` says,
    the first time and when the items' JSON is reused."""
    state = naive_state(records, SLUG, FAR_FUTURE, FAR_FUTURE)
    assert orjson.loads(state.to_json_bytes()) == state.to_json()
    assert orjson.loads(state.to_json_bytes()) == state.to_json()
