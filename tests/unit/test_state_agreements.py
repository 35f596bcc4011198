"""The state's agreements, allegations and hostilities, and whether a ceasefire is in force
(issue 16): each rule of the fold, on histories recorded through the real aggregate.

States come from ``naive_state``, the reference; the engine is held equal to it here on
the same histories and by the property tests on random ones.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from histories import (
    MEDINSKY,
    SLUG,
    UMEROV,
    History,
    agreement_ratified,
    agreement_reached,
    agreement_signed,
    agreement_suspended,
    agreement_terminated,
    alleged,
    ceasefire_declared,
    ceasefire_lifted,
    ceasefire_proposed,
    correction,
    dispute,
    given,
    hostilities,
    implemented,
    retraction,
)

from domain.values import Actor
from projections.as_of import AsOfEngine, naive_state, parse_instant
from projections.state import State, evolve, initial_state

FAR_FUTURE = datetime(2030, 1, 1, tzinfo=UTC)


def state_of(history: History, as_of: str, known_at: datetime = FAR_FUTURE) -> State:
    moment = parse_instant(as_of)
    state = naive_state(history.records, SLUG, moment, known_at)
    engine = AsOfEngine(SLUG, spacing=2)
    engine.add(history.records)
    assert engine.state(moment, known_at) == state
    assert orjson.loads(state.to_json_bytes()) == state.to_json()
    return state


def actor(value: Any) -> Actor:
    return Actor.model_validate(value)


def json_of(history: History, as_of: str) -> dict[str, Any]:
    return state_of(history, as_of).to_json()


# Agreements.


def test_an_agreement_takes_the_status_of_its_latest_lifecycle_event_along_valid_time() -> None:
    history = given(
        agreement_ratified("2025-06-10"),  # recorded first, happened last
        agreement_reached("2025-06-01", stage="initialled"),
        agreement_signed("2025-06-05"),
    )
    statuses = [
        (state_of(history, day).agreements[0].status, state_of(history, day).agreements[0].in_force)
        for day in ("2025-06-01", "2025-06-05", "2025-06-10")
    ]
    assert statuses == [("initialled", False), ("signed", True), ("ratified", True)]
    assert state_of(history, "2025-05-31").agreements == ()


def test_a_suspended_agreement_is_not_in_force_and_a_later_ratification_resumes_it() -> None:
    history = given(
        agreement_signed("2025-06-05"),
        agreement_suspended("2025-06-07", by="RUS"),
        agreement_ratified("2025-06-09", by="UKR"),
    )
    suspended = state_of(history, "2025-06-08").agreements[0]
    assert (suspended.status, suspended.in_force, suspended.suspended_by) == (
        "suspended",
        False,
        (actor("RUS"),),
    )
    resumed = state_of(history, "2025-06-09").agreements[0]
    assert (resumed.status, resumed.in_force, resumed.ratified_by) == (
        "ratified",
        True,
        (actor("UKR"),),
    )


def test_termination_is_final_whatever_comes_after_it() -> None:
    history = given(
        agreement_signed("2025-06-05"),
        agreement_terminated("2025-06-06", superseded_by="wider-accord", by="RUS"),
        agreement_ratified("2025-06-07"),
        agreement_signed("2025-06-08"),
    )
    answer = json_of(history, "2025-06-30")["agreements"][0]
    assert (answer["status"], answer["in_force"]) == ("terminated", False)
    assert answer["terminated"] == {
        "reason": "replaced by a wider accord",
        "superseded_by": "wider-accord",
        "by": actor("RUS").model_dump(mode="json"),
    }
    assert len(answer["events"]) == 4  # every event of its life is still named


def test_parties_are_those_reached_then_those_signed_for_without_repeats() -> None:
    history = given(
        agreement_reached("2025-06-01"),  # RUS, UKR
        agreement_signed(
            "2025-06-05",
            signatories=[
                {"actor": MEDINSKY, "on_behalf_of": "RUS"},
                {"actor": {"name": "Hakan Fidan", "country": "TUR"}},
            ],
            witnesses=["USA"],
            guarantors=["QAT"],
        ),
    )
    item = state_of(history, "2025-06-05").agreements[0]
    assert item.parties == (
        actor("RUS"),
        actor("UKR"),
        actor({"name": "Hakan Fidan", "country": "TUR"}),
    )
    answer = json_of(history, "2025-06-05")["agreements"][0]
    assert answer["signatories"][0] == {
        "actor": actor(MEDINSKY).model_dump(mode="json"),
        "on_behalf_of": actor("RUS").model_dump(mode="json"),
    }
    assert (answer["witnesses"], answer["guarantors"]) == (
        [actor("USA").model_dump(mode="json")],
        [actor("QAT").model_dump(mode="json")],
    )
    assert answer["place"]["city"] == "Istanbul"


def test_agreements_are_listed_in_order_of_first_appearance_along_valid_time() -> None:
    history = given(
        agreement_signed("2025-06-09", agreement_id="b-accord"),
        agreement_reached("2025-06-02", agreement_id="a-accord"),
        agreement_signed("2025-06-01", agreement_id="c-accord"),
    )
    ids = [item.agreement_id for item in state_of(history, "2025-06-30").agreements]
    assert ids == ["c-accord", "a-accord", "b-accord"]


def test_provisions_show_the_steps_that_implement_them_even_those_dated_first() -> None:
    early = implemented("2025-05-30", provision="1")  # before the agreement in valid time
    step = implemented("2025-06-06", provision="2")
    stray = implemented("2025-06-07", provision="9")  # names no provision it has
    history = given(
        agreement_reached("2025-06-01"), agreement_signed("2025-06-05"), step, early, stray
    )
    answer = json_of(history, "2025-06-30")["agreements"][0]
    implemented_by_id = {
        p["id"]: [i["event_id"] for i in p["implemented"]] for p in answer["provisions"]
    }
    assert implemented_by_id == {"1": [str(early.id)], "2": [str(step.id)]}
    assert answer["provisions"][0]["implemented"][0] == {
        "event_id": str(early.id),
        "occurred_at": "2025-05-30",
        "by": [actor("RUS").model_dump(mode="json"), actor("UKR").model_dump(mode="json")],
        "summary": "390 prisoners exchanged",
    }
    # Every step is among the agreement's events, in valid-time order.
    assert answer["events"][0] == str(early.id)
    assert str(stray.id) in answer["events"]
    assert json_of(history, "2025-06-05")["agreements"][0]["provisions"][1]["implemented"] == []


def test_a_correction_of_a_provision_text_replaces_it_in_place() -> None:
    reached = agreement_reached("2025-06-01")
    history = given(reached, agreement_signed("2025-06-05"))
    history.add(
        correction(
            "2025-06-10",
            reached.id,
            provisions=[{"id": "1", "topic": "prisoners", "text": "All for all"}],
        )
    )
    provisions = json_of(history, "2025-06-30")["agreements"][0]["provisions"]
    assert [(p["id"], p["text"]) for p in provisions] == [
        ("1", "All for all"),
        ("2", "Bodies returned"),
    ]


def test_a_ratification_of_an_agreement_not_in_the_state_is_only_counted() -> None:
    history = given(agreement_ratified("2025-06-01", agreement_id="unknown"))
    state = state_of(history, "2025-06-30")
    assert (state.agreements, state.event_count) == ((), 2)


def test_an_agreement_shows_the_allegations_of_its_violation() -> None:
    accusation = alleged("2025-06-07", agreement_id="istanbul-accord")
    history = given(
        agreement_signed("2025-06-05"), accusation, alleged("2025-06-08", agreement_id="other")
    )
    answer = json_of(history, "2025-06-30")["agreements"][0]
    assert [a["event_id"] for a in answer["allegations"]] == [str(accusation.id)]


# Ceasefires: in force at as_of, lifted, alleged violations.


def test_a_proposed_ceasefire_is_never_in_force_and_names_its_event() -> None:
    proposed = ceasefire_proposed("2025-05-28")
    answer = json_of(given(proposed), "2025-06-30")["ceasefires"][0]
    assert (answer["ceasefire_id"], answer["in_force"], answer["not_in_force"]) == (
        str(proposed.id),
        False,
        "proposed",
    )
    assert (answer["lifted"], answer["allegations"]) == (None, [])


def test_a_declared_ceasefire_is_in_force_between_its_effective_times() -> None:
    declared = ceasefire_declared(
        "2025-05-28", effective_from="2025-06-01", effective_until="2025-06-03"
    )
    history = given(declared)
    reasons = {
        day: (
            state_of(history, day).ceasefires[0].in_force,
            state_of(history, day).ceasefires[0].not_in_force,
        )
        for day in ("2025-05-31", "2025-06-01", "2025-06-03", "2025-06-04")
    }
    assert reasons == {
        "2025-05-31": (False, "not_yet_started"),
        "2025-06-01": (True, None),
        "2025-06-03": (True, None),  # a date lasts the whole day
        "2025-06-04": (False, "ended"),
    }
    # The first instant of its start day counts; the instant before does not.
    start = datetime(2025, 6, 1, tzinfo=UTC)
    engine = AsOfEngine(SLUG)
    engine.add(history.records)
    assert engine.state(start, FAR_FUTURE).ceasefires[0].in_force
    assert not engine.state(start - timedelta(microseconds=1), FAR_FUTURE).ceasefires[0].in_force


def test_a_lifted_ceasefire_is_suspended_or_ended_from_the_lift_on() -> None:
    declared = ceasefire_declared("2025-05-28")
    lift = ceasefire_lifted("2025-06-02", declared.id, mode="suspended", reason="shelling")
    history = given(declared, lift)
    assert state_of(history, "2025-06-01").ceasefires[0].in_force
    answer = json_of(history, "2025-06-02")["ceasefires"][0]
    assert (answer["in_force"], answer["not_in_force"]) == (False, "suspended")
    assert answer["lifted"] == {
        "event_id": str(lift.id),
        "by": actor("RUS").model_dump(mode="json"),
        "mode": "suspended",
        "reason": "shelling",
        "occurred_at": "2025-06-02",
    }
    history.add(ceasefire_lifted("2025-06-04", declared.id, mode="ended"))
    assert state_of(history, "2025-06-04").ceasefires[0].not_in_force == "ended"


def test_a_retracted_lift_no_longer_lifts() -> None:
    declared = ceasefire_declared("2025-05-28")
    lift = ceasefire_lifted("2025-06-02", declared.id, mode="ended")
    history = given(declared, lift)
    history.add(retraction("2025-06-05", lift.id))
    item = state_of(history, "2025-06-30").ceasefires[0]
    assert (item.in_force, item.lifted) == (True, None)


def test_a_later_declaration_by_the_same_parties_starts_a_new_ceasefire_after_a_suspension() -> (
    None
):
    first = ceasefire_declared("2025-05-28")
    second = ceasefire_declared("2025-06-10")
    history = given(first, ceasefire_lifted("2025-06-02", first.id), second)
    ceasefires = state_of(history, "2025-06-30").ceasefires
    assert [(c.ceasefire_id, c.in_force, c.not_in_force) for c in ceasefires] == [
        (first.id, False, "suspended"),
        (second.id, True, None),
    ]


def test_a_later_ceasefire_of_the_same_parties_over_the_same_ground_supersedes_once_in_effect() -> (
    None
):
    local = ceasefire_declared("2025-05-28", scope=["UA-63"])
    wider = ceasefire_declared("2025-06-01", effective_from="2025-06-05", scope=[])
    history = given(local, wider)
    assert [c.not_in_force for c in state_of(history, "2025-06-04").ceasefires] == [
        None,
        "not_yet_started",
    ]
    assert [c.not_in_force for c in state_of(history, "2025-06-05").ceasefires] == [
        "superseded",
        None,
    ]


def test_a_later_ceasefire_elsewhere_or_between_fewer_parties_supersedes_nothing() -> None:
    kharkiv = ceasefire_declared("2025-05-28", scope=["UA-63"])
    sumy = ceasefire_declared("2025-06-01", scope=["UA-59"])
    one_sided = ceasefire_declared("2025-06-02", parties=["RUS"], scope=["UA-63"])
    history = given(kharkiv, sumy, one_sided)
    assert [c.in_force for c in state_of(history, "2025-06-30").ceasefires] == [True, True, True]


def test_a_ceasefire_shows_the_allegations_naming_it_with_their_disputes() -> None:
    declared = ceasefire_declared("2025-05-28")
    accusation = alleged("2025-06-02", ceasefire=declared.id)
    # The denial is dated before the accusation it denies: it still attaches.
    denial = dispute("2025-06-01", accusation.id, counter_claim="No shelling took place", by="RUS")
    history = given(declared, accusation, denial, alleged("2025-06-03", agreement_id="x"))
    answer = json_of(history, "2025-06-30")
    shown = answer["ceasefires"][0]["allegations"]
    assert [a["event_id"] for a in shown] == [str(accusation.id)]
    assert shown[0]["disputes"] == [
        {
            "event_id": str(denial.id),
            "disputed_by": actor("RUS").model_dump(mode="json"),
            "counter_claim": "No shelling took place",
        }
    ]
    assert shown[0] == answer["allegations"][0]


# Allegations and hostilities.


def test_every_allegation_is_listed_even_one_naming_an_unknown_ceasefire() -> None:
    unknown = alleged("2025-06-02", ceasefire=ceasefire_proposed("2025-05-01").id)  # never recorded
    history = given(unknown)
    answer = json_of(history, "2025-06-30")
    assert answer["ceasefires"] == []
    assert answer["allegations"] == [
        {
            "event_id": str(unknown.id),
            "accuser": actor("UKR").model_dump(mode="json"),
            "accused": [actor("RUS").model_dump(mode="json")],
            "ceasefire": str(unknown.data.ceasefire),  # type: ignore[union-attr]
            "agreement_id": None,
            "regions": ["UA-63"],
            "kind": "shelling",
            "summary": "Shelling of Kharkiv despite the truce",
            "occurred_at": "2025-06-02",
            "occurred_until": None,
            "precision": "day",
            "disputes": [],
        }
    ]


def test_a_retracted_allegation_disappears_from_the_state_and_its_ceasefire() -> None:
    declared = ceasefire_declared("2025-05-28")
    accusation = alleged("2025-06-02", ceasefire=declared.id)
    history = given(declared, accusation)
    before = history.clock
    history.add(retraction("2025-06-05", accusation.id))
    assert len(state_of(history, "2025-06-30", known_at=before).allegations) == 1
    state = state_of(history, "2025-06-30")
    assert (state.allegations, state.ceasefires[0].allegations) == ((), ())


def test_a_retracted_dispute_disappears_from_the_allegations_disputes() -> None:
    accusation = alleged("2025-06-02", agreement_id="istanbul-accord")
    denial = dispute("2025-06-03", accusation.id)
    history = given(accusation, denial)
    assert len(state_of(history, "2025-06-30").allegations[0].disputes) == 1
    history.add(retraction("2025-06-05", denial.id))
    assert state_of(history, "2025-06-30").allegations[0].disputes == ()


def test_hostilities_are_listed_with_their_interval_and_disputes() -> None:
    report = hostilities("2025-06-01", occurred_until="2025-06-03")
    denial = dispute("2025-06-04", report.id, by=UMEROV, counter_claim="No fighting there")
    history = given(report, denial)
    answer = json_of(history, "2025-06-30")["hostilities"]
    assert answer[0]["occurred_until"] == "2025-06-03"
    assert (answer[0]["kind"], answer[0]["regions"]) == ("ground_fighting", ["UA-59"])
    assert [d["event_id"] for d in answer[0]["disputes"]] == [str(denial.id)]
    assert json_of(history, "2025-06-03")["hostilities"][0]["disputes"] == []


def test_evolve_folds_the_new_types_like_the_accumulator() -> None:
    declared = ceasefire_declared("2025-05-28")
    accusation = alleged("2025-06-02", ceasefire=declared.id)
    history = given(
        declared,
        accusation,
        dispute("2025-06-03", accusation.id),
        implemented("2025-05-29"),
        agreement_signed("2025-06-05"),
        ceasefire_lifted("2025-06-06", declared.id),
    )
    records = sorted(history.records, key=lambda r: (r.event.valid_from, r.position or 0))
    state = initial_state(SLUG)
    for recorded in records:
        state = evolve(state, recorded)
    reference = naive_state(history.records, SLUG, FAR_FUTURE, FAR_FUTURE)
    assert state.to_json() | {"as_of": None, "known_at": None} == reference.to_json() | {
        "as_of": None,
        "known_at": None,
    }


def test_a_warm_answer_reuses_the_views_of_ceasefires_and_agreements_and_their_json() -> None:
    declared = ceasefire_declared("2025-05-28", effective_until="2025-06-20")
    history = given(
        declared, alleged("2025-06-02", ceasefire=declared.id), agreement_signed("2025-06-05")
    )
    engine = AsOfEngine(SLUG, spacing=1)  # every item comes from a checkpoint
    engine.add(history.records)
    first = engine.state(parse_instant("2025-06-10"), FAR_FUTURE)
    first.to_json_bytes()
    again = engine.state(parse_instant("2025-06-11"), FAR_FUTURE)
    assert again.ceasefires[0] is first.ceasefires[0]
    assert again.agreements[0] is first.agreements[0]
    assert again.ceasefires[0]._json is not None  # encoded once, kept
    # A different answer at another as_of makes a new view, not a stale one.
    ended = engine.state(parse_instant("2025-06-21"), FAR_FUTURE)
    assert ended.ceasefires[0].not_in_force == "ended"
    assert first.ceasefires[0].in_force
