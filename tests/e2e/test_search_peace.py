"""Search finds issue 16's types, on both backends: their actors (signatories and whom
they sign for, witnesses, guarantors, accuser and accused, who ratified, suspended,
implemented or lifted, the parties to fighting) by ``actor=``, their regions and places
by ``region=``, and their prose (titles, summaries, provisions' texts, reasons) by
``q=``, in any word form."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import peace_events as peace
import pytest
from fastapi.testclient import TestClient

from domain.events import parse_event
from store.log import ConflictLog

SLUG = "border-2025"
ORDER = ["NegotiationOpened", *peace.BUILDERS]  # the versions in order


@pytest.fixture
def desk(client: TestClient, log: ConflictLog) -> TestClient:
    opened = peace.body(
        "NegotiationOpened",
        {"title": "Border talks", "parties": ["ARM", "AZE"]},
        at="2025-07-01",
    )
    log.append(SLUG, [parse_event(opened)], opening=True)
    log.append(SLUG, [peace.parsed(build()) for build in peace.BUILDERS.values()])
    return client


def types_found(client: TestClient, **params: str) -> list[str]:
    query = "&".join(f"{k}={quote(v)}" for k, v in params.items())
    response = client.get(f"/negotiations/{SLUG}/events?{query}&limit=100")
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return [e["type"] for e in events]


def in_order(*types: str) -> list[str]:
    return [t for t in ORDER if t in types]


@pytest.mark.parametrize(
    ("actor", "types"),
    [
        ("Pashinyan", ["AgreementSigned"]),  # a signatory
        ("Donald Trump", ["AgreementSigned"]),  # a witness
        ("Kremlin", ["AgreementSigned"]),  # a guarantor
        ("TUR", ["AgreementSigned"]),  # a guarantor by country
        ("Aliyev", ["AgreementSigned"]),
        (
            "ARM",
            [
                "NegotiationOpened",
                "AgreementReached",
                "AgreementSigned",
                "AgreementRatified",
                "ViolationAlleged",
                "HostilitiesReported",
            ],
        ),
        (
            "AZE",
            [
                "NegotiationOpened",
                "AgreementReached",
                "AgreementSigned",
                "AgreementSuspended",
                "AgreementTerminated",
                "ProvisionImplemented",
                "CeasefireLifted",
                "ViolationAlleged",
                "HostilitiesReported",
            ],
        ),
    ],
)
def test_actor_finds_every_role_of_the_new_types(
    desk: TestClient, actor: str, types: list[str]
) -> None:
    assert types_found(desk, actor=actor) == in_order(*types)


def test_the_accused_is_found_apart_from_the_accuser(client: TestClient, log: ConflictLog) -> None:
    opened = peace.body("NegotiationOpened", {"title": "Talks", "parties": ["ARM", "AZE"]})
    log.append(SLUG, [parse_event(opened)], opening=True)
    log.append(SLUG, [peace.parsed(peace.alleged(accuser="GEO", accused=["IRN"]))])

    assert types_found(client, actor="IRN") == ["ViolationAlleged"]
    assert types_found(client, actor="GEO") == ["ViolationAlleged"]
    assert types_found(client, actor="ARM") == ["NegotiationOpened"]


@pytest.mark.parametrize(
    ("region", "types"),
    [
        ("US-DC", ["AgreementReached", "AgreementSigned"]),  # the place
        ("AM-TV", ["ViolationAlleged"]),
        ("AZ-ZAN", ["HostilitiesReported"]),
    ],
)
def test_region_finds_places_and_regions_of_the_new_types(
    desk: TestClient, region: str, types: list[str]
) -> None:
    assert types_found(desk, region=region) == types


@pytest.mark.parametrize(
    ("q", "types"),
    [
        ("released within", ["AgreementReached", "AgreementSigned"]),  # a provision's text
        ("demining Syunik", ["AgreementSigned"]),  # only the signed text lists it
        ("interstate relations", ["AgreementSigned"]),  # a title
        ("assembly votes", ["AgreementRatified"]),  # a summary
        ("decree", ["AgreementTerminated"]),  # a reason
        ("attack", ["CeasefireLifted"]),  # a reason, in another form ("Attacks.")
        ("mortar", ["ViolationAlleged"]),
        ("clash", ["HostilitiesReported"]),  # "Clashes"
        ("shelling", ["AgreementSuspended"]),  # the reason, not the allegation's kind
    ],
)
def test_q_finds_the_prose_of_the_new_types(desk: TestClient, q: str, types: list[str]) -> None:
    assert types_found(desk, q=q) == types
