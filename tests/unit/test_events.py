"""Unit tests for the event envelope and every event type a client may send (DESIGN.md §2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from domain.events import (
    EVENT_TYPES,
    LOG_FACTS,
    AnyEvent,
    DocumentExchanged,
    HostAnnounced,
    ProposalMade,
    RoundScheduled,
    SecurityZoneDeclared,
    corrected,
    dump_event,
    event_date,
    parse_event,
)
from domain.values import Actor, Place

EventFactory = Callable[..., AnyEvent]
Envelope = Callable[..., dict[str, Any]]

DISPUTED = "3221c451-fe72-4f21-b409-4d50f4b07cdd"
ISTANBUL = {"city": "Istanbul", "country": "TUR", "region": "TR-34"}
MEDINSKY = {"name": "Vladimir Medinsky", "country": "RUS", "role": "chief negotiator"}

VALID: dict[str, dict[str, Any]] = {
    "NegotiationOpened": {
        "title": "Russia–Ukraine direct talks, Istanbul 2025",
        "parties": ["RUS", "UKR"],
        "mediators": ["TUR"],
    },
    "DelegationNamed": {"party": "RUS", "head": MEDINSKY, "members": []},
    "ContactHeld": {
        "participants": [MEDINSKY, {"name": "Rustem Umerov", "country": "UKR"}],
        "medium": "phone",
        "summary": "Medinsky called Umerov about the memoranda.",
    },
    "StatementIssued": {
        "speaker": {"name": "Sergey Lavrov", "country": "RUS"},
        "summary": "Russia expects everyone to support the new round.",
        "topic": "second round",
    },
    "ProposalMade": {
        "proposal_id": "rus-2025-05-28-istanbul",
        "proposer": "RUS",
        "addressee": "UKR",
        "subject": "meeting",
        "summary": "Meet in Istanbul on 2 June.",
        "terms": ["date: 2 June 2025", "place: Istanbul"],
    },
    "ProposalAnswered": {
        "proposal_id": "rus-2025-05-28-istanbul",
        "responder": "UKR",
        "response": "accepted",
        "summary": "Ukraine will attend.",
    },
    "RoundScheduled": {
        "round": 2,
        "starts_at": "2025-06-02",
        "place": ISTANBUL,
        "status": "proposed",
    },
    "HostAnnounced": {"round": 2, "host": "TUR", "place": ISTANBUL},
    "RoundHeld": {
        "round": 1,
        "place": ISTANBUL,
        "delegations": ["RUS", "UKR"],
        "outcomes": ["prisoner exchange agreed"],
    },
    "DocumentExchanged": {"title": "Memorandum", "from": "RUS", "to": "UKR", "round": 2},
    "CeasefireProposed": {
        "proposer": "RUS",
        "scope": ["UA-63"],
        "duration": "P30D",
        "conditions": ["agreements reached"],
    },
    "CeasefireDeclared": {
        "parties": ["RUS", "UKR"],
        "effective_from": "2025-06-03T00:00:00+03:00",
        "effective_until": "2025-06-05",
        "scope": ["UA-63", "UA-59"],
    },
    "SecurityZoneDeclared": {
        "declared_by": {"name": "Vladimir Putin", "country": "RUS"},
        "regions": ["UA-63", "UA-59"],
        "depth_km": 10,
        "status": "declared",
    },
    "ClaimDisputed": {
        "event_id": DISPUTED,
        "disputed_by": MEDINSKY,
        "counter_claim": "Medinsky called Umerov, not the reverse.",
    },
    "EventCorrected": {
        "event_id": DISPUTED,
        "data": {"medium": "video"},
        "reason": "the agency corrected its report",
    },
    "EventRetracted": {"event_id": DISPUTED, "reason": "the agency withdrew its report"},
    "AgreementReached": {
        "agreement_id": "istanbul-2025-prisoners",
        "title": "Istanbul prisoner exchange arrangement",
        "kind": "partial",
        "stage": "initialled",
        "parties": ["RUS", "UKR"],
        "provisions": [{"id": "1", "topic": "prisoners", "text": "1,000 for 1,000"}],
        "place": ISTANBUL,
    },
    "AgreementSigned": {
        "agreement_id": "washington-2025",
        "title": "Peace Agreement between the DRC and Rwanda",
        "kind": "comprehensive",
        "signatories": [
            {
                "actor": {"name": "Thérèse Kayikwamba Wagner", "country": "COD"},
                "on_behalf_of": "COD",
            },
            {"actor": {"name": "Olivier Nduhungirehe", "country": "RWA"}, "on_behalf_of": "RWA"},
        ],
        "witnesses": [{"name": "Marco Rubio", "country": "USA"}],
        "guarantors": ["QAT"],
        "provisions": [{"id": "3", "topic": "withdrawal", "text": "Disengagement of forces"}],
        "place": {"city": "Washington", "country": "USA"},
        "text_url": "https://www.state.gov/peace-agreement",
    },
    "AgreementRatified": {
        "agreement_id": "washington-2025",
        "by": "RWA",
        "summary": "Approved by cabinet.",
    },
    "AgreementSuspended": {
        "agreement_id": "washington-2025",
        "by": "COD",
        "reason": "Renewed fighting near Goma.",
    },
    "AgreementTerminated": {
        "agreement_id": "black-sea-grain-2022",
        "by": "RUS",
        "reason": "Russia did not renew the initiative.",
        "superseded_by": None,
    },
    "ProvisionImplemented": {
        "agreement_id": "istanbul-2025-prisoners",
        "provision": "1",
        "by": ["RUS", "UKR"],
        "summary": "390 prisoners exchanged on each side.",
    },
    "CeasefireLifted": {
        "ceasefire": DISPUTED,
        "by": "RUS",
        "mode": "ended",
        "reason": "The Easter truce ran out.",
    },
    "ViolationAlleged": {
        "accuser": "UKR",
        "accused": ["RUS"],
        "ceasefire": DISPUTED,
        "regions": ["UA-63"],
        "kind": "shelling",
        "summary": "Shelling of Kharkiv during the truce.",
    },
    "HostilitiesReported": {
        "parties": ["RUS", "UKR"],
        "regions": ["UA-59"],
        "kind": "ground_fighting",
        "summary": "Fighting along the Sumy border.",
    },
}


def with_data(type_: str, **changes: Any) -> dict[str, Any]:
    """A valid data example of ``type_`` with fields replaced (None removes a field)."""
    data = {**VALID[type_], **changes}
    return {k: v for k, v in data.items() if v is not None}


def locs(error: ValidationError) -> list[tuple[int | str, ...]]:
    return [tuple(e["loc"]) for e in error.errors()]


def assert_rejected_at(event: dict[str, Any], *loc: int | str) -> ValidationError:
    """Parsing ``event`` fails, and some error's location starts with ``loc``."""
    with pytest.raises(ValidationError) as raised:
        parse_event(event)
    found = locs(raised.value)
    assert any(got[: len(loc)] == loc for got in found), f"no error at {loc}: {found}"
    return raised.value


# Every type: one valid example, parsed and round-tripped


def test_the_valid_table_covers_all_twenty_five_event_types() -> None:
    assert len(EVENT_TYPES) == 25  # sixteen, and issue 16's nine
    assert set(VALID) == set(EVENT_TYPES)


@pytest.mark.parametrize("type_", sorted(VALID))
def test_valid_example_parses_into_its_own_event_class(envelope: Envelope, type_: str) -> None:
    event = parse_event(envelope(type_, VALID[type_]))

    assert type(event) is EVENT_TYPES[type_]
    assert event.type == type_


@pytest.mark.parametrize("type_", sorted(VALID))
def test_dumped_event_is_json_and_parses_back_to_an_equal_event(
    envelope: Envelope, type_: str
) -> None:
    event = parse_event(envelope(type_, VALID[type_]))

    dumped = dump_event(event)
    again = parse_event(json.loads(json.dumps(dumped)))

    assert again == event
    assert dump_event(again) == dumped


@pytest.mark.parametrize("type_", sorted(VALID))
def test_data_with_an_unknown_field_is_rejected(envelope: Envelope, type_: str) -> None:
    event = envelope(type_, {**VALID[type_], "comment": "off the record"})

    error = assert_rejected_at(event, type_, "data", "comment")
    assert error.errors()[0]["type"] == "extra_forbidden"


# Every type: invalid data names the field

INVALID: list[tuple[str, dict[str, Any], tuple[int | str, ...]]] = [
    ("NegotiationOpened", with_data("NegotiationOpened", title=None), ("title",)),
    ("NegotiationOpened", with_data("NegotiationOpened", parties=[]), ("parties",)),
    ("NegotiationOpened", with_data("NegotiationOpened", mediators=["XYZ"]), ("mediators", 0)),
    ("DelegationNamed", with_data("DelegationNamed", head=None), ("head",)),
    ("DelegationNamed", with_data("DelegationNamed", party={}), ("party",)),
    ("ContactHeld", with_data("ContactHeld", participants=["RUS"]), ("participants",)),
    ("ContactHeld", with_data("ContactHeld", medium="telegram"), ("medium",)),
    ("ContactHeld", with_data("ContactHeld", summary=""), ("summary",)),
    ("StatementIssued", with_data("StatementIssued", speaker=None), ("speaker",)),
    ("StatementIssued", with_data("StatementIssued", summary="x" * 4001), ("summary",)),
    ("ProposalMade", with_data("ProposalMade", subject="peace"), ("subject",)),
    ("ProposalMade", with_data("ProposalMade", proposal_id="has space"), ("proposal_id",)),
    ("ProposalMade", with_data("ProposalMade", proposer=None), ("proposer",)),
    ("ProposalMade", with_data("ProposalMade", terms=[""]), ("terms", 0)),
    ("ProposalAnswered", with_data("ProposalAnswered", response="maybe"), ("response",)),
    ("ProposalAnswered", with_data("ProposalAnswered", proposal_id=None), ("proposal_id",)),
    ("RoundScheduled", with_data("RoundScheduled", round=0), ("round",)),
    ("RoundScheduled", with_data("RoundScheduled", starts_at="2025-06-02T10:00"), ("starts_at",)),
    ("RoundScheduled", with_data("RoundScheduled", status="rumoured"), ("status",)),
    ("RoundScheduled", with_data("RoundScheduled", place=None), ("place",)),
    ("HostAnnounced", with_data("HostAnnounced", host=None), ("host",)),
    ("HostAnnounced", with_data("HostAnnounced", round="second"), ("round",)),
    ("RoundHeld", with_data("RoundHeld", place=None), ("place",)),
    ("RoundHeld", with_data("RoundHeld", round=-1), ("round",)),
    ("DocumentExchanged", with_data("DocumentExchanged", **{"from": None}), ("from",)),
    ("DocumentExchanged", with_data("DocumentExchanged", title=""), ("title",)),
    ("CeasefireProposed", with_data("CeasefireProposed", scope=["07"]), ("scope", 0)),
    ("CeasefireProposed", with_data("CeasefireProposed", duration="a month"), ("duration",)),
    ("CeasefireDeclared", with_data("CeasefireDeclared", parties=[]), ("parties",)),
    (
        "CeasefireDeclared",
        with_data("CeasefireDeclared", effective_from="2025-06-03T00:00"),
        ("effective_from",),
    ),
    ("SecurityZoneDeclared", with_data("SecurityZoneDeclared", regions=[]), ("regions",)),
    ("SecurityZoneDeclared", with_data("SecurityZoneDeclared", status="planned"), ("status",)),
    ("SecurityZoneDeclared", with_data("SecurityZoneDeclared", depth_km=0), ("depth_km",)),
    ("ClaimDisputed", with_data("ClaimDisputed", event_id="not-a-uuid"), ("event_id",)),
    ("ClaimDisputed", with_data("ClaimDisputed", counter_claim=None), ("counter_claim",)),
    ("EventCorrected", with_data("EventCorrected", data={}), ("data",)),
    ("EventCorrected", with_data("EventCorrected", reason=""), ("reason",)),
    ("EventRetracted", with_data("EventRetracted", reason=None), ("reason",)),
    ("EventRetracted", with_data("EventRetracted", event_id=None), ("event_id",)),
    ("AgreementReached", with_data("AgreementReached", stage="signed"), ("stage",)),
    ("AgreementReached", with_data("AgreementReached", agreement_id="a b"), ("agreement_id",)),
    ("AgreementReached", with_data("AgreementReached", parties=[]), ("parties",)),
    ("AgreementSigned", with_data("AgreementSigned", signatories=[]), ("signatories",)),
    ("AgreementSigned", with_data("AgreementSigned", kind="truce"), ("kind",)),
    (
        "AgreementSigned",
        with_data("AgreementSigned", provisions=[{"id": "1", "topic": "x", "text": "t"}]),
        ("provisions", 0, "topic"),
    ),
    ("AgreementRatified", with_data("AgreementRatified", by=None), ("by",)),
    ("AgreementSuspended", with_data("AgreementSuspended", reason=""), ("reason",)),
    ("AgreementTerminated", with_data("AgreementTerminated", reason=None), ("reason",)),
    ("ProvisionImplemented", with_data("ProvisionImplemented", by=[]), ("by",)),
    ("ProvisionImplemented", with_data("ProvisionImplemented", provision=""), ("provision",)),
    ("CeasefireLifted", with_data("CeasefireLifted", mode="paused"), ("mode",)),
    ("CeasefireLifted", with_data("CeasefireLifted", ceasefire="truce-1"), ("ceasefire",)),
    ("ViolationAlleged", with_data("ViolationAlleged", accused=[]), ("accused",)),
    # Naming neither a ceasefire nor an agreement: the error is the data's own.
    ("ViolationAlleged", with_data("ViolationAlleged", ceasefire=None), ()),
    ("ViolationAlleged", with_data("ViolationAlleged", regions=["07"]), ("regions", 0)),
    ("HostilitiesReported", with_data("HostilitiesReported", kind="skirmish"), ("kind",)),
    ("HostilitiesReported", with_data("HostilitiesReported", parties=[]), ("parties",)),
]


def test_the_invalid_table_has_a_case_for_every_event_type() -> None:
    assert {type_ for type_, _, _ in INVALID} == set(EVENT_TYPES)


@pytest.mark.parametrize(
    ("type_", "data", "field"),
    INVALID,
    ids=[f"{t}-{'.'.join(map(str, f))}" for t, _, f in INVALID],
)
def test_invalid_data_is_rejected_naming_the_field(
    envelope: Envelope, type_: str, data: dict[str, Any], field: tuple[int | str, ...]
) -> None:
    assert_rejected_at(envelope(type_, data), type_, "data", *field)


# The envelope


def test_unknown_event_type_is_rejected(envelope: Envelope) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_event(envelope("PeaceDeclared", {}))

    assert raised.value.errors()[0]["type"] == "union_tag_invalid"


def test_event_without_type_is_rejected(envelope: Envelope) -> None:
    event = envelope("RoundHeld", VALID["RoundHeld"])
    del event["type"]

    with pytest.raises(ValidationError) as raised:
        parse_event(event)

    assert raised.value.errors()[0]["type"] == "union_tag_not_found"


@pytest.mark.parametrize("sources", [[], None])
def test_event_needs_at_least_one_source(envelope: Envelope, sources: list[Any] | None) -> None:
    event = envelope("RoundHeld", VALID["RoundHeld"], sources=sources)
    if sources is None:
        del event["sources"]

    assert_rejected_at(event, "RoundHeld", "sources")


def test_event_needs_occurred_at(envelope: Envelope) -> None:
    event = envelope("RoundHeld", VALID["RoundHeld"])
    del event["occurred_at"]

    assert_rejected_at(event, "RoundHeld", "occurred_at")


def test_unknown_envelope_field_is_rejected(envelope: Envelope) -> None:
    event = envelope("RoundHeld", VALID["RoundHeld"], recorded_at="2025-05-28T00:00:00Z")

    error = assert_rejected_at(event, "RoundHeld", "recorded_at")
    assert error.errors()[0]["type"] == "extra_forbidden"


def test_precision_defaults_to_day_for_a_date(make_event: EventFactory) -> None:
    event = make_event("RoundHeld", VALID["RoundHeld"], occurred_at="2025-05-16")

    assert event.occurred_at == date(2025, 5, 16)
    assert event.precision == "day"


def test_precision_defaults_to_exact_for_a_datetime(make_event: EventFactory) -> None:
    event = make_event("RoundHeld", VALID["RoundHeld"], occurred_at="2025-05-16T12:30:00+03:00")

    assert isinstance(event.occurred_at, datetime)
    assert event.precision == "exact"


def test_midnight_utc_datetime_stays_a_datetime_with_exact_precision(
    make_event: EventFactory,
) -> None:
    event = make_event("RoundHeld", VALID["RoundHeld"], occurred_at="2025-05-16T00:00:00Z")

    assert event.occurred_at == datetime(2025, 5, 16, tzinfo=UTC)
    assert event.precision == "exact"


@pytest.mark.parametrize("precision", ["exact", "day", "month", "year"])
def test_given_precision_is_kept(make_event: EventFactory, precision: str) -> None:
    event = make_event("RoundHeld", VALID["RoundHeld"], precision=precision)

    assert event.precision == precision


def test_precision_outside_the_four_levels_is_rejected(envelope: Envelope) -> None:
    event = envelope("RoundHeld", VALID["RoundHeld"], precision="week")

    assert_rejected_at(event, "RoundHeld", "precision")


def test_precision_default_is_part_of_the_dumped_event(make_event: EventFactory) -> None:
    event = make_event("RoundHeld", VALID["RoundHeld"], occurred_at="2025-05-16")

    assert dump_event(event)["precision"] == "day"


@pytest.mark.parametrize(
    "naive",
    [
        "2025-05-16T10:00:00",
        "2025-05-16T00:00:00",  # used to slip through as the date 2025-05-16
        "2025-05-16 00:00",
        datetime(2025, 5, 16, 10, 0),
        datetime(2025, 5, 16),
    ],
)
def test_naive_datetime_is_rejected(envelope: Envelope, naive: str | datetime) -> None:
    error = assert_rejected_at(
        envelope("RoundHeld", VALID["RoundHeld"], occurred_at=naive), "RoundHeld", "occurred_at"
    )
    assert "offset" in str(error)


@pytest.mark.parametrize("number", [20250516, 1747353600, 1.5, True])
def test_number_as_valid_time_is_rejected_not_read_as_a_unix_timestamp(
    envelope: Envelope,
    number: int | float,
) -> None:
    event = envelope("RoundHeld", VALID["RoundHeld"], occurred_at=number)

    assert_rejected_at(event, "RoundHeld", "occurred_at")


def test_python_date_and_aware_datetime_objects_are_accepted(make_event: EventFactory) -> None:
    aware = datetime(2025, 5, 16, 9, tzinfo=UTC)

    assert make_event("RoundHeld", VALID["RoundHeld"], occurred_at=aware).occurred_at == aware
    assert make_event(
        "RoundHeld", VALID["RoundHeld"], occurred_at=date(2025, 5, 16)
    ).occurred_at == date(2025, 5, 16)


def test_occurred_until_before_occurred_at_is_rejected(envelope: Envelope) -> None:
    event = envelope(
        "RoundHeld", VALID["RoundHeld"], occurred_at="2025-05-16", occurred_until="2025-05-15"
    )

    with pytest.raises(ValidationError, match="occurred_until must not be before occurred_at"):
        parse_event(event)


def test_interval_over_two_days_is_accepted(make_event: EventFactory) -> None:
    event = make_event(
        "RoundHeld", VALID["RoundHeld"], occurred_at="2025-05-16", occurred_until="2025-05-17"
    )

    assert event.occurred_until == date(2025, 5, 17)


def test_interval_may_end_on_the_day_it_began(make_event: EventFactory) -> None:
    event = make_event(
        "RoundHeld",
        VALID["RoundHeld"],
        occurred_at="2025-05-16T10:00:00Z",
        occurred_until="2025-05-16",
    )

    assert event.occurred_until == date(2025, 5, 16)


def test_interval_ending_an_hour_before_it_began_is_rejected(envelope: Envelope) -> None:
    event = envelope(
        "RoundHeld",
        VALID["RoundHeld"],
        occurred_at="2025-05-16T10:00:00Z",
        occurred_until="2025-05-16T09:00:00Z",
    )

    with pytest.raises(ValidationError, match="occurred_until"):
        parse_event(event)


def test_valid_from_is_the_utc_start_of_the_valid_time(make_event: EventFactory) -> None:
    dated = make_event("RoundHeld", VALID["RoundHeld"], occurred_at="2025-05-16")
    timed = make_event("RoundHeld", VALID["RoundHeld"], occurred_at="2025-05-16T02:00:00+03:00")

    assert dated.valid_from == datetime(2025, 5, 16, tzinfo=UTC)
    assert timed.valid_from == datetime(2025, 5, 15, 23, tzinfo=UTC)


def test_event_without_id_gets_a_fresh_uuid(envelope: Envelope) -> None:
    event = envelope("RoundHeld", VALID["RoundHeld"])
    del event["id"]

    first, second = parse_event(event), parse_event(event)

    assert isinstance(first.id, UUID)
    assert first.id != second.id


def test_given_id_is_kept_as_the_idempotency_key(make_event: EventFactory) -> None:
    event = make_event("RoundHeld", VALID["RoundHeld"], id=DISPUTED)

    assert event.id == UUID(DISPUTED)


def test_asserted_by_names_whose_claim_it_is(make_event: EventFactory) -> None:
    event = make_event(
        "ContactHeld", VALID["ContactHeld"], asserted_by={"name": "various news agencies"}
    )

    assert event.asserted_by == Actor(name="various news agencies")


def test_events_are_frozen(make_event: EventFactory) -> None:
    event = make_event("RoundScheduled", VALID["RoundScheduled"])

    with pytest.raises(ValidationError, match="frozen"):
        event.occurred_at = date(2025, 6, 1)  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        event.data.round = 3  # type: ignore[misc,union-attr]


@pytest.mark.parametrize("type_", sorted(LOG_FACTS))  # one order in every xdist worker
def test_log_facts_name_the_event_they_are_about(make_event: EventFactory, type_: str) -> None:
    assert make_event(type_, VALID[type_]).subject_id == UUID(DISPUTED)


def test_events_about_the_world_name_no_other_event(make_event: EventFactory) -> None:
    assert make_event("RoundHeld", VALID["RoundHeld"]).subject_id is None


def test_document_exchanged_is_read_and_dumped_with_from_and_to(make_event: EventFactory) -> None:
    event = make_event("DocumentExchanged", VALID["DocumentExchanged"])

    assert isinstance(event, DocumentExchanged)
    assert event.data.sender == Actor(country="RUS")
    assert {"from", "to"} <= set(dump_event(event)["data"])


def test_ceasefire_duration_is_an_iso_8601_duration(make_event: EventFactory) -> None:
    event = make_event("CeasefireProposed", VALID["CeasefireProposed"])

    assert event.data.duration == timedelta(days=30)  # type: ignore[union-attr]


def test_correction_replaces_fields_and_revalidates(make_event: EventFactory) -> None:
    contact = make_event("ContactHeld", VALID["ContactHeld"])

    fixed = corrected(contact, {"medium": "video"})

    assert fixed.data.medium == "video"  # type: ignore[union-attr]
    assert fixed.id == contact.id
    assert contact.data.medium == "phone"  # type: ignore[union-attr]
    with pytest.raises(ValidationError):
        corrected(contact, {"medium": "pigeon"})


def test_event_date_is_the_iso_text_as_given() -> None:
    assert event_date(date(2025, 5, 28)) == "2025-05-28"
    assert event_date(datetime(2025, 5, 28, 12, 57, tzinfo=UTC)) == "2025-05-28T12:57:00+00:00"


# The four founding types, thoroughly


@pytest.mark.parametrize(
    "subject", ["meeting", "memorandum", "ceasefire", "roadmap", "prisoner_exchange", "other"]
)
def test_proposal_accepts_each_subject_of_the_design(
    make_event: EventFactory, subject: str
) -> None:
    event = make_event("ProposalMade", with_data("ProposalMade", subject=subject))

    assert isinstance(event, ProposalMade)
    assert event.data.subject == subject


def test_proposal_without_addressee_or_terms_is_accepted(make_event: EventFactory) -> None:
    event = make_event("ProposalMade", with_data("ProposalMade", addressee=None, terms=None))

    assert isinstance(event, ProposalMade)
    assert event.data.addressees == []  # the old shape's null: made to no one in particular
    assert event.data.terms == []


def test_proposal_by_a_person_keeps_name_country_and_role(make_event: EventFactory) -> None:
    putin = {"name": "Vladimir Putin", "country": "rus", "role": "President", "wikidata": "Q7747"}
    trump = {"name": "Donald Trump", "country": "USA", "role": "President"}
    event = make_event(
        "ProposalMade",
        with_data("ProposalMade", proposer=putin, addressee=trump, subject="roadmap"),
        occurred_at="2025-05-19",
    )

    assert isinstance(event, ProposalMade)
    assert event.data.proposer == Actor(
        name="Vladimir Putin", country="RUS", role="President", wikidata="Q7747"
    )
    assert [a.country for a in event.data.addressees] == ["USA"]


@pytest.mark.parametrize("proposal_id", ["p1", "rus-2025-05-28:memo.v1", "A_B", "x" * 80])
def test_proposal_id_of_safe_characters_is_accepted(
    make_event: EventFactory, proposal_id: str
) -> None:
    event = make_event("ProposalMade", with_data("ProposalMade", proposal_id=proposal_id))

    assert isinstance(event, ProposalMade)
    assert event.data.proposal_id == proposal_id


@pytest.mark.parametrize("proposal_id", ["", "x" * 81, "a/b", "ä", "a b"])
def test_proposal_id_that_is_empty_long_or_unsafe_is_rejected(
    envelope: Envelope, proposal_id: str
) -> None:
    event = envelope("ProposalMade", with_data("ProposalMade", proposal_id=proposal_id))

    assert_rejected_at(event, "ProposalMade", "data", "proposal_id")


def test_proposal_without_summary_is_rejected(envelope: Envelope) -> None:
    event = envelope("ProposalMade", with_data("ProposalMade", summary=None))

    assert_rejected_at(event, "ProposalMade", "data", "summary")


def test_round_scheduled_is_dated_by_its_announcement_and_starts_later(
    make_event: EventFactory,
) -> None:
    event = make_event("RoundScheduled", VALID["RoundScheduled"], occurred_at="2025-05-28")

    assert isinstance(event, RoundScheduled)
    assert event.occurred_at == date(2025, 5, 28)
    assert event.data.starts_at == date(2025, 6, 2)
    assert event.valid_from < datetime(2025, 6, 2, tzinfo=UTC)


def test_round_scheduled_status_defaults_to_proposed(make_event: EventFactory) -> None:
    event = make_event("RoundScheduled", with_data("RoundScheduled", status=None))

    assert isinstance(event, RoundScheduled)
    assert event.data.status == "proposed"


@pytest.mark.parametrize("status", ["proposed", "confirmed", "postponed", "cancelled"])
def test_round_scheduled_accepts_each_status(make_event: EventFactory, status: str) -> None:
    event = make_event("RoundScheduled", with_data("RoundScheduled", status=status))

    assert isinstance(event, RoundScheduled)
    assert event.data.status == status


def test_round_scheduled_may_start_at_an_aware_time(make_event: EventFactory) -> None:
    event = make_event(
        "RoundScheduled", with_data("RoundScheduled", starts_at="2025-06-02T13:00:00+03:00")
    )

    assert isinstance(event, RoundScheduled)
    assert event.data.starts_at == datetime(2025, 6, 2, 10, tzinfo=UTC)


@pytest.mark.parametrize("round_", [1, 2, 1000])
def test_round_number_from_1_to_1000_is_accepted(make_event: EventFactory, round_: int) -> None:
    event = make_event("RoundScheduled", with_data("RoundScheduled", round=round_))

    assert isinstance(event, RoundScheduled)
    assert event.data.round == round_


@pytest.mark.parametrize("round_", [0, -2, 1001, 1.5, "two"])
def test_round_number_outside_1_to_1000_is_rejected(envelope: Envelope, round_: object) -> None:
    event = envelope("RoundScheduled", with_data("RoundScheduled", round=round_))

    assert_rejected_at(event, "RoundScheduled", "data", "round")


def test_round_scheduled_place_must_have_its_region_in_its_country(envelope: Envelope) -> None:
    kharkiv_in_turkey = {"city": "Istanbul", "country": "TUR", "region": "UA-63"}
    event = envelope("RoundScheduled", with_data("RoundScheduled", place=kharkiv_in_turkey))

    error = assert_rejected_at(event, "RoundScheduled", "data", "place")
    assert "does not lie in country TUR" in str(error)


def test_round_scheduled_place_needs_a_country(envelope: Envelope) -> None:
    event = envelope("RoundScheduled", with_data("RoundScheduled", place={"city": "Istanbul"}))

    assert_rejected_at(event, "RoundScheduled", "data", "place", "country")


def test_host_announced_with_a_bare_country_is_a_state_host(make_event: EventFactory) -> None:
    event = make_event("HostAnnounced", VALID["HostAnnounced"])

    assert isinstance(event, HostAnnounced)
    assert event.data.host == Actor(country="TUR")
    assert event.data.place == Place(city="Istanbul", country="TUR", region="TR-34")


def test_host_announced_without_place_is_accepted(make_event: EventFactory) -> None:
    event = make_event("HostAnnounced", with_data("HostAnnounced", place=None))

    assert isinstance(event, HostAnnounced)
    assert event.data.place is None


def test_host_announced_needs_a_round(envelope: Envelope) -> None:
    event = envelope("HostAnnounced", with_data("HostAnnounced", round=None))

    assert_rejected_at(event, "HostAnnounced", "data", "round")


def test_host_announced_with_unknown_host_country_is_rejected(envelope: Envelope) -> None:
    event = envelope("HostAnnounced", with_data("HostAnnounced", host="XYZ"))

    assert_rejected_at(event, "HostAnnounced", "data", "host", "country")


def test_host_announced_place_region_must_lie_in_its_country(envelope: Envelope) -> None:
    event = envelope(
        "HostAnnounced",
        with_data("HostAnnounced", place={"city": "Istanbul", "country": "TUR", "region": "UA-59"}),
    )

    assert_rejected_at(event, "HostAnnounced", "data", "place")


def test_security_zone_regions_are_normalised_iso_codes(make_event: EventFactory) -> None:
    event = make_event(
        "SecurityZoneDeclared", with_data("SecurityZoneDeclared", regions=["ua-63", " UA-59 "])
    )

    assert isinstance(event, SecurityZoneDeclared)
    assert event.data.regions == ["UA-63", "UA-59"]


def test_security_zone_status_defaults_to_declared_and_depth_is_optional(
    make_event: EventFactory,
) -> None:
    event = make_event(
        "SecurityZoneDeclared", with_data("SecurityZoneDeclared", status=None, depth_km=None)
    )

    assert isinstance(event, SecurityZoneDeclared)
    assert event.data.status == "declared"
    assert event.data.depth_km is None


def test_security_zone_may_be_implemented(make_event: EventFactory) -> None:
    event = make_event(
        "SecurityZoneDeclared", with_data("SecurityZoneDeclared", status="implemented")
    )

    assert isinstance(event, SecurityZoneDeclared)
    assert event.data.status == "implemented"


def test_security_zone_with_a_bare_geonames_number_is_rejected_naming_the_iso_form(
    envelope: Envelope,
) -> None:
    event = envelope("SecurityZoneDeclared", with_data("SecurityZoneDeclared", regions=["07"]))

    error = assert_rejected_at(event, "SecurityZoneDeclared", "data", "regions", 0)
    assert "UA-63" in str(error)


def test_security_zone_takes_ua_07_as_volyn_not_as_geonames_kharkiv(
    make_event: EventFactory,
) -> None:
    event = make_event("SecurityZoneDeclared", with_data("SecurityZoneDeclared", regions=["UA-07"]))

    assert isinstance(event, SecurityZoneDeclared)
    assert event.data.regions == ["UA-07"]
    assert "UA-63" not in event.data.regions


@pytest.mark.parametrize("region", ["UA-99", "Kharkiv", "XX-63"])
def test_security_zone_with_an_unknown_region_is_rejected(envelope: Envelope, region: str) -> None:
    event = envelope("SecurityZoneDeclared", with_data("SecurityZoneDeclared", regions=[region]))

    assert_rejected_at(event, "SecurityZoneDeclared", "data", "regions", 0)


@pytest.mark.parametrize("depth", [-1, 0, 5000.5])
def test_security_zone_depth_outside_0_to_5000_km_is_rejected(
    envelope: Envelope, depth: float
) -> None:
    event = envelope("SecurityZoneDeclared", with_data("SecurityZoneDeclared", depth_km=depth))

    assert_rejected_at(event, "SecurityZoneDeclared", "data", "depth_km")


def test_security_zone_needs_who_declared_it(envelope: Envelope) -> None:
    event = envelope("SecurityZoneDeclared", with_data("SecurityZoneDeclared", declared_by=None))

    assert_rejected_at(event, "SecurityZoneDeclared", "data", "declared_by")


def test_every_recorded_type_has_its_traits_and_the_lists_derive_from_them() -> None:
    from domain.events import KNOWLEDGE, RECORDED_TYPES, REDACTIONS, TRAITS
    from domain.negotiation import WRITE_SIDE_CONTENT
    from store.index import CONTENT_FREE

    assert set(TRAITS) == set(RECORDED_TYPES)
    assert LOG_FACTS == {"ClaimDisputed", "EventCorrected", "EventRetracted"}
    assert KNOWLEDGE == {"EventCorrected", "EventRetracted", "PersonRedacted"}
    assert WRITE_SIDE_CONTENT == {"RoundScheduled", "RoundHeld", "ProposalMade", "EventRetracted"}
    assert CONTENT_FREE == {"StatementIssued", "ContactHeld", "EventRetracted", "PersonRedacted"}
    assert REDACTIONS == {"PersonRedacted"}
