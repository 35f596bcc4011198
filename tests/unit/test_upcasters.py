"""The upcasters of issue 16 (``domain/stored.py``) and the old client shapes
(``domain.events.OLD_SHAPES``): version 1 of ``ProposalMade``, ``RoundHeld`` and
``ContactHeld`` lifts to today's shape, and an old field sent today means the same."""

from __future__ import annotations

from typing import Any

import pytest
from builders import event
from pydantic import ValidationError

from domain.events import (
    ContactHeld,
    ProposalMade,
    RoundHeld,
    corrected,
    dump_event,
    lift_old_shape,
    parse_event,
)
from domain.stored import build_event, current_schema, upcast
from domain.values import Actor

ISTANBUL = {"city": "Istanbul", "country": "TUR", "region": "TR-34", "geonames": None}
UMEROV = {"name": "Rustem Umerov", "country": "UKR", "role": "Defense Minister", "wikidata": None}


def stored_v1(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    """An event's JSON as the code before issue 16 stored it (every field written)."""
    return {
        "id": "16000000-0000-4000-8000-000000000099",
        "type": type_,
        "occurred_at": "2025-05-28",
        "occurred_until": None,
        "precision": "day",
        "asserted_by": None,
        "sources": [
            {
                "outlet": "teleSUR",
                "url": None,
                "published_at": None,
                "attributed_to": None,
                "quote": None,
                "via": [],
            }
        ],
        "data": data,
    }


PROPOSAL_V1 = {
    "proposal_id": "p",
    "proposer": {"name": None, "country": "RUS", "role": None, "wikidata": None},
    "addressee": UMEROV,
    "subject": "meeting",
    "summary": "Russia proposed to meet.",
    "terms": [],
}
ROUND_V1 = {"round": 1, "place": ISTANBUL, "delegations": ["RUS", UMEROV], "outcomes": []}
CONTACT_V1 = {"participants": ["RUS", "USA"], "medium": "phone", "summary": "A call."}


@pytest.mark.parametrize(
    ("type_", "data", "expected"),
    [
        ("ProposalMade", PROPOSAL_V1, {"addressees": [UMEROV]}),
        ("ProposalMade", {**PROPOSAL_V1, "addressee": None}, {"addressees": []}),
        (
            "RoundHeld",
            ROUND_V1,
            {
                "participants": [
                    {"actor": "RUS", "role": "party"},
                    {"actor": UMEROV, "role": "party"},
                ]
            },
        ),
        ("RoundHeld", {**ROUND_V1, "delegations": []}, {"participants": []}),
        ("ContactHeld", CONTACT_V1, {"place": None, "host": None}),
    ],
)
def test_a_version_1_event_lifts_to_todays_shape_which_today_s_rules_accept(
    type_: str, data: dict[str, Any], expected: dict[str, Any]
) -> None:
    lifted = upcast(stored_v1(type_, data), 1)
    old = {k: v for k, v in data.items() if k not in ("addressee", "delegations")}

    assert current_schema(type_) == 2
    assert lifted["data"] == {**old, **expected}
    assert build_event(lifted) == parse_event(lifted)


def test_a_version_1_proposal_stored_without_its_addressee_lifts_to_none() -> None:
    data = {k: v for k, v in PROPOSAL_V1.items() if k != "addressee"}

    built = build_event(upcast(stored_v1("ProposalMade", data), 1))

    assert isinstance(built, ProposalMade) and built.data.addressees == []


def test_an_event_stored_today_is_not_lifted_again() -> None:
    data = {k: v for k, v in PROPOSAL_V1.items() if k != "addressee"}
    proposal = event("ProposalMade", {**data, "addressees": ["UKR", "USA"]})
    fields = dump_event(proposal)

    assert upcast(fields, 2) == fields


@pytest.mark.parametrize(
    ("type_", "old", "new"),
    [
        ("ProposalMade", {"addressee": "UKR"}, {"addressees": ["UKR"]}),
        ("ProposalMade", {"addressee": None}, {"addressees": []}),
        (
            "RoundHeld",
            {"delegations": ["RUS"]},
            {"participants": [{"actor": "RUS", "role": "party"}]},
        ),
    ],
)
def test_an_old_field_sent_today_means_what_its_new_field_means(
    type_: str, old: dict[str, Any], new: dict[str, Any]
) -> None:
    base = {"ProposalMade": PROPOSAL_V1, "RoundHeld": ROUND_V1}[type_]
    base = {k: v for k, v in base.items() if k not in ("addressee", "delegations")}

    as_old = event(type_, {**base, **old}, id="16000000-0000-4000-8000-000000000001")
    as_new = event(type_, {**base, **new}, id="16000000-0000-4000-8000-000000000001")

    assert as_old == as_new
    assert corrected(as_new, old) == corrected(as_new, new)


@pytest.mark.parametrize(
    ("type_", "data", "field"),
    [
        ("ProposalMade", {"addressee": "UKR", "addressees": []}, "addressee"),
        ("RoundHeld", {"delegations": [], "participants": []}, "delegations"),
    ],
)
def test_an_old_field_beside_its_new_one_is_refused_naming_the_old(
    type_: str, data: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        lift_old_shape(type_, data)

    [error] = raised.value.errors()
    assert error["loc"] == (field,)
    assert error["type"] == "old_shape"


def test_types_without_old_shapes_and_values_that_are_no_objects_pass_as_they_are() -> None:
    data = {"addressee": "UKR"}

    assert lift_old_shape("StatementIssued", data) is data
    assert lift_old_shape("ProposalMade", ["not", "an", "object"]) == ["not", "an", "object"]


def test_a_round_and_a_contact_take_their_new_fields() -> None:
    held = event(
        "RoundHeld",
        {
            "round": 2,
            "place": ISTANBUL,
            "participants": [
                {"actor": "RUS", "role": "party"},
                {"actor": "TUR", "role": "chair"},
                {"actor": {"name": "UN observer"}, "role": "observer"},
            ],
        },
    )
    contact = event(
        "ContactHeld",
        {**CONTACT_V1, "place": ISTANBUL, "host": "TUR"},
    )

    assert isinstance(held, RoundHeld) and isinstance(contact, ContactHeld)
    assert [p.role for p in held.data.participants] == ["party", "chair", "observer"]
    assert contact.data.host == Actor(country="TUR")
    assert contact.data.place is not None and contact.data.place.region == "TR-34"
    with pytest.raises(ValidationError):
        event(
            "RoundHeld",
            {"round": 2, "place": ISTANBUL, "participants": [{"actor": "RUS", "role": "host"}]},
        )
