"""PLOVER and POLECAT JSON lines read into Parley's events (``api.imports.plover``).

Each rule of the mapping is checked on a record built to the PLOVER manual's field
table (or the gold standard's, or NGEC's), changed one field at a time; the fixture
``tests/fixtures/imports/plover.jsonl`` holds one record of each case. Every event made
must pass ``domain.events.parse_event``, the parse every way in shares.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from streams import Guarded

from api.imports import Mapped
from api.imports.foreign import NAMESPACE
from api.imports.plover import plover_records
from domain.events import parse_event
from domain.negotiation import Negotiation

FIXTURE = Path(__file__).parents[1] / "fixtures" / "imports" / "plover.jsonl"


def record(**fields: Any) -> dict[str, Any]:
    """A record in the manual's fields: a phone call between two states, with a source."""
    base: dict[str, Any] = {
        "id": "T-1",
        "date": "2025-05-10",
        "actor": [{"code": "USA", "sector": "GOV"}],
        "recipient": [{"code": "RUS", "sector": "GOV"}],
        "event": ["CONSULT"],
        "mode": ["phone"],
        "text": "The two sides spoke.",
        "cite_info": {"publication": "Reuters"},
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def mapped(*records: dict[str, Any]) -> list[Mapped]:
    lines = "\n".join(json.dumps(r) for r in records) + "\n"
    return list(plover_records(io.StringIO(lines)))


def event_of(fields: dict[str, Any]) -> dict[str, Any]:
    [found] = mapped(fields)
    assert found.problem is None, found.problem
    assert found.event is not None
    parse_event(found.event)  # what the import runner will check
    return found.event


def problem_of(fields: dict[str, Any]) -> str:
    [found] = mapped(fields)
    assert found.event is None, found.event
    assert found.problem
    return found.problem


# The fixture


def test_the_fixture_maps_each_line_to_its_type_or_its_problem() -> None:
    with FIXTURE.open(encoding="utf-8") as stream:
        found = {m.line: m for m in plover_records(stream)}
    types = {line: m.event["type"] for line, m in found.items() if m.event}
    assert types == {
        2: "ContactHeld",
        3: "ContactHeld",
        4: "AgreementReached",
        5: "ProposalMade",
        6: "ProposalMade",
        7: "ProposalAnswered",
        8: "HostilitiesReported",
        9: "CeasefireDeclared",
        10: "StatementIssued",
        16: "ProposalMade",
    }
    problems = {line: m.problem for line, m in found.items() if m.problem}
    assert set(problems) == {11, 12, 13, 14, 15, 17, 19, 20, 21}
    assert problems[11].startswith("not JSON")
    assert "PROTEST" in problems[12]
    assert "violating" in problems[13]
    assert problems[14].startswith("cite_info.publication")
    assert problems[15].startswith("has_event")
    assert "multilateral" in problems[17]
    assert "Atlantis" in problems[19]
    assert "not a JSON object" in problems[20]
    assert "several categories" in problems[21]
    assert all(m.negotiation is None for m in found.values())
    for m in found.values():
        if m.event:
            parse_event(m.event)


def test_a_linked_rejection_answers_the_linked_offer() -> None:
    with FIXTURE.open(encoding="utf-8") as stream:
        found = {m.line: m.event for m in plover_records(stream) if m.event}
    offer, answer = found[6], found[7]
    assert answer["data"]["proposal_id"] == offer["data"]["proposal_id"]
    assert answer["data"]["response"] == "rejected"


# Rules, one at a time


@pytest.mark.parametrize(
    ("mode", "medium"),
    [("phone", "phone"), ("visit", "visit"), ("third-party", "third-party")],
)
def test_consult_by_a_medium_is_a_contact_by_that_medium(mode: str, medium: str) -> None:
    event = event_of(record(mode=[mode]))
    assert event["type"] == "ContactHeld"
    assert event["data"]["medium"] == medium
    assert event["data"]["participants"] == [{"country": "USA"}, {"country": "RUS"}]


def test_a_visit_is_hosted_by_its_recipient_and_a_host_mode_by_its_actor() -> None:
    visit = event_of(record(mode=["visit"]))
    assert visit["data"]["host"] == {"country": "RUS"}
    hosted = event_of(record(mode="host", event="CONSULT"))  # PLOVER 0.5, gold standard
    assert hosted["data"]["medium"] == "visit"
    assert hosted["data"]["host"] == {"country": "USA"}
    assert "host" not in event_of(record(mode=["phone"]))["data"]


@pytest.mark.parametrize("mode", [["multilateral"], [], None])
def test_consult_without_a_medium_is_a_problem(mode: list[str] | None) -> None:
    assert problem_of(record(mode=mode)).startswith("mode: CONSULT")


def test_consult_with_one_side_is_a_problem() -> None:
    assert problem_of(record(recipient=[])).startswith("actor:")


def test_agree_by_one_actor_is_its_proposal_to_the_recipients() -> None:
    event = event_of(record(event=["AGREE"], mode=None, id="A-7"))
    assert event["type"] == "ProposalMade"
    data = event["data"]
    assert (data["proposer"], data["addressees"], data["subject"]) == (
        {"country": "USA"},
        [{"country": "RUS"}],
        "other",
    )
    assert data["proposal_id"] == "plover:A-7"
    linked = event_of(record(event=["AGREE"], mode=None, link="talks 2025/05"))
    assert linked["data"]["proposal_id"] == "plover:talks-2025-05"


def test_agree_among_compound_actors_is_an_agreement_reached() -> None:
    event = event_of(
        record(event="AGREE", mode=None, actor=[{"code": "USA"}, {"code": "JOR"}], recipient=[])
    )
    assert event["type"] == "AgreementReached"
    assert event["data"]["parties"] == [{"country": "USA"}, {"country": "JOR"}]
    assert (event["data"]["kind"], event["data"]["stage"]) == ("other", "reached")
    assert event["data"]["title"] == "The two sides spoke."


def test_agree_by_several_actors_towards_a_recipient_is_a_problem() -> None:
    problem = problem_of(record(event="AGREE", actor=[{"code": "USA"}, {"code": "FRA"}]))
    assert problem.startswith("actor: an AGREE")


def test_reject_without_a_link_is_a_statement_and_with_one_an_answer() -> None:
    plain = event_of(record(event=["REJECT"], mode=["meet"]))
    assert plain["type"] == "StatementIssued"
    assert plain["data"]["topic"] == "PLOVER REJECT meet"
    answer = event_of(record(event=["REJECT"], mode=["meet"], link="L1"))
    assert answer["type"] == "ProposalAnswered"
    assert answer["data"]["proposal_id"] == "plover:L1"
    assert answer["data"]["responder"] == {"country": "USA"}


def test_retreat_by_ceasefire_is_a_ceasefire_in_force_from_the_records_date() -> None:
    event = event_of(
        record(
            event=["RETREAT"],
            mode=["ceasefire"],
            event_loc={"country_code": "UKR", "province": "Donetsk"},
        )
    )
    assert event["type"] == "CeasefireDeclared"
    assert event["data"]["effective_from"] == "2025-05-10"
    assert event["data"]["parties"] == [{"country": "USA"}, {"country": "RUS"}]
    assert event["data"]["scope"] == ["UA-14"]
    assert problem_of(record(event=["RETREAT"], mode=["release"])).startswith("mode: RETREAT")


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        ("aerial", "air_strike"),
        ("drone", "drone_strike"),
        ("firearms", "ground_fighting"),
        ("heavy-weapons", "other"),
    ],
)
def test_assault_by_a_mode_of_fighting_is_hostilities_of_that_kind(mode: str, kind: str) -> None:
    event = event_of(record(event=["ASSAULT"], mode=[mode], context=["military"]))
    assert event["type"] == "HostilitiesReported"
    assert event["data"]["kind"] == kind
    assert event["data"]["parties"] == [{"country": "USA"}, {"country": "RUS"}]


def test_assault_is_hostilities_only_between_armed_parties() -> None:
    armed = record(
        event="FIGHT",  # PLOVER 0.5's name
        mode="firearms",
        actor=[{"code": "SRB", "sector": "MIL"}],
        recipient=[{"code": "SRB", "sector": "REB"}],
    )
    assert event_of(armed)["data"]["kind"] == "ground_fighting"
    police = record(event=["ASSAULT"], mode=["firearms"], actor=[{"code": "EGY", "sector": "COP"}])
    assert problem_of(police).startswith("context:")
    assert problem_of(record(event=["ASSAULT"], mode=["torture"], context=["military"])).startswith(
        "mode: ASSAULT by torture"
    )


def test_an_assault_with_no_mode_in_a_military_context_is_hostilities_of_no_kind() -> None:
    event = event_of(record(event=["ASSAULT"], mode=None, context="military"))
    assert event["data"]["kind"] == "other"


@pytest.mark.parametrize("category", ["ACCUSE", "REQUEST", "THREATEN", "SUPPORT", "CONCEDE"])
def test_a_verbal_act_of_one_actor_is_its_statement(category: str) -> None:
    event = event_of(record(event=[category], mode=["allege"]))
    assert event["type"] == "StatementIssued"
    assert event["data"]["speaker"] == {"country": "USA"}
    assert event["data"]["topic"] == f"PLOVER {category} allege"
    assert event["data"]["summary"] == "The two sides spoke."


@pytest.mark.parametrize(
    "text",
    [
        "Kyiv accused Moscow of violating the ceasefire.",
        "The minister praised the truce.",
        "They welcomed the peace agreement.",
    ],
)
def test_a_statement_that_names_a_ceasefire_or_agreement_is_a_problem(text: str) -> None:
    assert "record it by hand" in problem_of(record(event=["ACCUSE"], mode=None, text=text))


def test_an_investigation_and_a_joint_statement_are_problems() -> None:
    assert problem_of(record(event="INVESTIGATE", mode=None)).startswith("mode: an investigation")
    joint = record(event=["ACCUSE"], actor=[{"code": "USA"}, {"code": "FRA"}])
    assert "one speaker" in problem_of(joint)


@pytest.mark.parametrize(
    "category", ["COOPERATE", "AID", "PROTEST", "SANCTION", "MOBILIZE", "COERCE"]
)
def test_material_acts_outside_talks_are_not_negotiation_events(category: str) -> None:
    assert "not a negotiation event" in problem_of(record(event=[category], mode=None))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": None}, "id:"),
        ({"id": "  "}, "id:"),
        ({"date": None}, "date:"),
        ({"date": "10/05/2025"}, "date:"),
        ({"event": []}, "event:"),
        ({"event": ["WOBBLE"]}, "event:"),
        ({"cite_info": None}, "cite_info.publication:"),
        ({"has_event": False}, "has_event:"),
        ({"time": "half past two"}, "time:"),
        ({"actor": [{"code": "IGO"}]}, "actor.0:"),
    ],
)
def test_a_record_missing_what_parley_needs_names_the_field(
    change: dict[str, Any], field: str
) -> None:
    assert problem_of(record(**change)).startswith(field)


def test_a_time_with_an_offset_is_an_instant_and_without_one_the_day() -> None:
    assert event_of(record(time="14:30:00+03:00"))["occurred_at"] == "2025-05-10T14:30:00+03:00"
    assert event_of(record(time="14:30:00Z"))["occurred_at"] == "2025-05-10T14:30:00Z"
    assert event_of(record(time="14:30:00"))["occurred_at"] == "2025-05-10"
    ended = event_of(record(enddate="2025-05-11"))
    assert (ended["occurred_at"], ended["occurred_until"]) == ("2025-05-10", "2025-05-11")


def test_polecat_resolved_date_and_publication_are_read() -> None:
    event = event_of(
        record(date="2025-05-20", date_resolved="2025-05-19", cite_info=None,
               publisher="Kyiv Independent", pub_date="2025-05-20", version="NGEC-1")
    )
    assert event["occurred_at"] == "2025-05-19"
    assert event["sources"] == [
        {"outlet": "Kyiv Independent", "published_at": "2025-05-20", "via": ["NGEC-1"]}
    ]


def test_a_source_keeps_the_citations_url_and_date() -> None:
    cite = [{"publication": "BBC", "url": "https://www.bbc.com/x", "date": "2025-05-11"}]
    assert event_of(record(cite_info=cite))["sources"] == [
        {"outlet": "BBC", "url": "https://www.bbc.com/x", "published_at": "2025-05-11"}
    ]


def test_entities_become_actors_by_iso_code_name_and_wikidata() -> None:
    entities = [
        {"entity_text": "Steinmeier", "entity_name": "Frank-Walter Steinmeier",
         "identifier_id": "Q76658", "country_name": "Germany", "sector": "GOV",
         "office": "Minister of Foreign Affairs"},
        {"code": "UNO", "entity_text": "United Nations"},
        {"code": "GBR", "actorText": "United Kingdom"},
        {"text": "Juan Guaidó", "wiki": "Juan Guaidó", "country": "VEN", "code_1": "REB"},
    ]
    event = event_of(record(actor=entities[:1], recipient=entities[1:]))
    assert event["data"]["participants"] == [
        {"name": "Frank-Walter Steinmeier", "country": "DEU", "wikidata": "Q76658",
         "role": "Minister of Foreign Affairs"},
        {"name": "United Nations"},
        {"country": "GBR"},  # the state itself: its code alone, as Parley writes states
        {"name": "Juan Guaidó", "country": "VEN"},
    ]


def test_a_region_comes_from_the_admin1_name_never_from_a_geonames_code() -> None:
    geo = {"admin1_code": "07", "admin1_name": "Kharkiv Oblast", "country_code3": "UKR",
           "feature_class": "P", "resolved_placename": "Kharkiv", "geonameid": "706483"}
    event = event_of(record(event_geolocation={"geo": geo}))
    # GeoNames' admin1 "07" is Kharkiv; ISO's UA-07 is Volyn.
    assert event["data"]["place"] == {
        "country": "UKR", "region": "UA-63", "city": "Kharkiv", "geonames": 706483
    }


def test_a_location_without_a_country_names_no_place() -> None:
    assert "place" not in event_of(record(eventLoc={"name": "Kabul"}))["data"]


# Ids and streaming


def test_ids_are_uuid5_of_the_format_and_the_records_id() -> None:
    first = event_of(record(id="PHOX-42"))
    again = event_of(record(id="PHOX-42", text="Said differently."))
    other = event_of(record(id="PHOX-43"))
    expected = str(uuid.uuid5(NAMESPACE, "plover:PHOX-42"))
    assert first["id"] == again["id"] == expected
    assert other["id"] != expected
    assert event_of(record(id=42))["id"] == str(uuid.uuid5(NAMESPACE, "plover:42"))


def test_the_same_file_maps_to_the_same_events() -> None:
    def events() -> list[dict[str, Any] | None]:
        with FIXTURE.open(encoding="utf-8") as stream:
            return [m.event for m in plover_records(stream)]

    first, second = events(), events()
    assert first == second
    ids = [e["id"] for e in first if e]
    assert len(ids) == len(set(ids))


def test_records_are_read_lazily_one_line_each() -> None:
    def endless() -> Iterator[str]:
        number = 0
        while True:
            number += 1
            yield json.dumps(record(id=f"R-{number}")) + "\n"

    stream = Guarded(endless(), allowed=5)
    taken = list(islice(plover_records(stream), 5))  # type: ignore[arg-type]
    assert [m.line for m in taken] == [1, 2, 3, 4, 5]
    assert stream.count == 5


def test_the_fixtures_events_are_admitted_by_a_negotiation_one_by_one() -> None:
    """The write side's invariants, as an import would meet them: the linked rejection
    finds the offer it answers among the events recorded before it."""
    negotiation = Negotiation("imported")
    opening = parse_event(
        {"type": "NegotiationOpened", "occurred_at": "2000-01-01",
         "sources": [{"outlet": "desk"}], "data": {"title": "Imported", "parties": ["RUS"]}}
    )
    negotiation.record([opening], datetime(2026, 1, 1, tzinfo=UTC))
    with FIXTURE.open(encoding="utf-8") as stream:
        events = [parse_event(m.event) for m in plover_records(stream) if m.event]
    for event in events:
        negotiation.record([event], datetime(2026, 1, 1, tzinfo=UTC))
    assert negotiation.version == 1 + len(events)
    assert "plover:prisoner-swap-2025-05" in negotiation.proposals
