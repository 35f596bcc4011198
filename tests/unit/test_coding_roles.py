"""Who acts, towards whom, where, and what ACLED calls it, for issue 16's types and for
a denial (``domain.coding.roles``, ``where``, ``notes``, ``acled_sub_event``): what the
PLOVER and CSV exports read of each event."""

from __future__ import annotations

from typing import Any, get_args

import peace_events as peace
import pytest
from histories import event

from domain.coding import acled_sub_event, claimants, notes, roles, where
from domain.events import AnyEvent, HostilitiesKind
from domain.values import Actor

SIDES = [Actor(country="ARM"), Actor(country="AZE")]
DAY = "2025-09-22"


def new(type_: str, **data: Any) -> AnyEvent:
    return peace.parsed(peace.BUILDERS[type_](**data))


def codes(actors: list[Actor]) -> list[str | None]:
    return [a.country for a in actors]


def test_a_signed_agreement_has_its_signing_parties_as_actors_not_witnesses() -> None:
    signed = new("AgreementSigned")
    actors, recipients = roles(signed, SIDES, None)

    assert codes(actors) == ["ARM", "AZE"] and recipients == []
    assert all(a.name is None for a in actors)  # the states signed for, not the signers
    text = notes(signed)
    assert "Nikol Pashinyan for ARM" in text and "Witnesses: Donald Trump" in text
    assert "Guarantors: TUR, Kremlin" in text and "2 (prisoners)" in text
    assert where(signed) == (signed.data.place, ["US-DC"])


def test_a_signatory_without_a_principal_signs_for_itself_once() -> None:
    signed = new(
        "AgreementSigned",
        signatories=[{"actor": "ARM"}, {"actor": peace.PASHINYAN, "on_behalf_of": "ARM"}],
    )

    assert codes(roles(signed, SIDES, None)[0]) == ["ARM"]


def test_a_reached_agreement_is_its_parties_alike() -> None:
    reached = new("AgreementReached")

    assert roles(reached, SIDES, None) == (SIDES, [])
    assert "initialled" in notes(reached)


@pytest.mark.parametrize(
    "type_", ["AgreementRatified", "AgreementSuspended", "AgreementTerminated", "CeasefireLifted"]
)
def test_one_partys_act_on_an_agreement_is_towards_the_other_parties(type_: str) -> None:
    found = new(type_)
    actor = found.data.by  # type: ignore[union-attr]

    actors, recipients = roles(found, SIDES, None)

    assert actors == [actor]
    assert codes(recipients) == [c for c in ("ARM", "AZE") if c != actor.country]
    assert where(found) == (None, [])


def test_an_expired_agreement_has_no_actor() -> None:
    assert roles(new("AgreementTerminated", by=None), SIDES, None) == ([], [])


def test_an_implementation_step_is_by_its_implementers_towards_the_other_side() -> None:
    step = new("ProvisionImplemented", by=[peace.ALIYEV])

    actors, recipients = roles(step, SIDES, None)

    assert codes(actors) == ["AZE"] and codes(recipients) == ["ARM"]  # a minister is his state
    assert notes(step).startswith("provision 2 of washington-2025 implemented by Ilham Aliyev")


def test_an_allegation_is_the_accusers_towards_the_accused_where_it_says() -> None:
    allegation = new("ViolationAlleged", accused=["AZE", {"name": "Border guard unit 7"}])

    actors, recipients = roles(allegation, SIDES, None)

    assert codes(actors) == ["ARM"]
    assert [a.country or a.name for a in recipients] == ["AZE", "Border guard unit 7"]
    assert where(allegation) == (None, ["AM-TV"])
    assert notes(allegation).startswith(
        f"ARM accuses AZE, Border guard unit 7 of violating ceasefire {peace.CEASEFIRE} (shelling)"
    )


def test_hostilities_are_their_parties_alike_in_their_regions() -> None:
    report = new("HostilitiesReported")

    assert roles(report, SIDES, None) == (SIDES, [])
    assert where(report) == (None, ["AM-SU", "AZ-ZAN"])


def dispute(target: AnyEvent, by: Any = "AZE") -> AnyEvent:
    return event("ClaimDisputed", DAY, event_id=target.id, disputed_by=by, counter_claim="No.")


def test_a_denial_is_the_deniers_towards_whoever_made_the_claim() -> None:
    # Issue 16: the PLOVER export of a denial read backwards (the denier accusing, with
    # no one accused). The denier acts; the accuser it answers is the recipient.
    allegation = new("ViolationAlleged")

    actors, recipients = roles(dispute(allegation), SIDES, None, allegation)

    assert codes(actors) == ["AZE"] and codes(recipients) == ["ARM"]


def test_a_denial_of_an_unknown_claim_or_of_a_report_has_no_recipient() -> None:
    report = new("HostilitiesReported")

    assert roles(dispute(report), SIDES, None) == ([Actor(country="AZE")], [])
    assert roles(dispute(report), SIDES, None, report)[1] == []
    assert claimants(report) == []


def test_a_denial_answers_the_asserter_when_the_event_names_no_one_else() -> None:
    asserted = peace.hostilities()
    asserted["asserted_by"] = "ARM"
    report = peace.parsed(asserted)
    unnamed = peace.hostilities()
    unnamed["asserted_by"] = {"name": "various news agencies"}

    assert codes(roles(dispute(report), SIDES, None, report)[1]) == ["ARM"]
    news = peace.parsed(unnamed)
    assert roles(dispute(news), SIDES, None, news)[1] == []  # PLOVER cannot code it
    own = peace.parsed(peace.alleged() | {"asserted_by": "TUR"})
    assert codes(roles(dispute(own), SIDES, None, own)[1]) == ["ARM"]  # the accuser first


def test_a_denier_never_answers_itself() -> None:
    statement = event("StatementIssued", DAY, speaker="AZE", summary="We withdrew.")

    assert roles(dispute(statement), SIDES, None, statement)[1] == []


@pytest.mark.parametrize("kind", get_args(HostilitiesKind))
def test_acled_sub_event_types_of_fighting(kind: HostilitiesKind) -> None:
    expected = {
        "shelling": "Shelling/artillery/missile attack",
        "missile_strike": "Shelling/artillery/missile attack",
        "air_strike": "Air/drone strike",
        "drone_strike": "Air/drone strike",
        "ground_fighting": "Armed clash",
    }.get(kind)

    assert acled_sub_event(new("HostilitiesReported", kind=kind)) == expected


def test_acled_agreement_is_the_sub_event_type_of_agreements_and_their_steps() -> None:
    agreements = {t for t in peace.BUILDERS if acled_sub_event(new(t)) == "Agreement"}

    assert agreements == {
        "AgreementReached",
        "AgreementSigned",
        "AgreementRatified",
        "ProvisionImplemented",
    }
    assert acled_sub_event(new("ViolationAlleged")) is None  # ACLED records no allegations
