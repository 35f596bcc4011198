"""Valid example events of issue 16's types (agreements, a lifted ceasefire, an
allegation, a report of hostilities), as a client would send them: the codes, export,
search and ESDB tests build from these. Each builder takes overrides of its ``data``.

The story is made up, loosely on the shape of a border war's accord: ``ARM`` and
``AZE`` the parties, ``USA`` the host and witness, ``TUR`` and ``RUS`` guarantors.
Nothing here is a claim about the world.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.events import AnyEvent, parse_event

DAY = "2025-08-08"
SOURCE = {"outlet": "Reuters", "url": "https://example.org/accord", "published_at": DAY}
CEASEFIRE = UUID("6f1b2d4e-0c1a-4b9e-9a55-3f1d7c2e8a10")
"""The id of a ``CeasefireDeclared`` event the lifted ceasefire and allegation name."""
ACCORD = "washington-2025"
WASHINGTON = {"city": "Washington", "country": "USA", "region": "US-DC"}
PASHINYAN = {"name": "Nikol Pashinyan", "country": "ARM", "role": "prime minister"}
ALIYEV = {"name": "Ilham Aliyev", "country": "AZE", "role": "president"}
PROVISIONS = [
    {"id": "1", "topic": "ceasefire", "text": "A complete ceasefire along the border."},
    {"id": "2", "topic": "prisoners", "text": "All detainees released within 30 days."},
    {"id": "3", "topic": "withdrawal", "text": "Forces withdraw 5 km from the line."},
    {"id": "4", "topic": "demining", "text": "Joint demining of the Syunik corridor."},
]


def body(type_: str, data: dict[str, Any], at: str = DAY, **envelope: Any) -> dict[str, Any]:
    """An event's JSON body: ``type``, ``occurred_at``, one source, and ``data``."""
    return {"type": type_, "occurred_at": at, "sources": [SOURCE], "data": data, **envelope}


def reached(**data: Any) -> dict[str, Any]:
    return body(
        "AgreementReached",
        {
            "agreement_id": ACCORD,
            "title": "Joint declaration on peace",
            "kind": "comprehensive",
            "stage": "initialled",
            "parties": ["ARM", "AZE"],
            "provisions": PROVISIONS[:2],
            "place": WASHINGTON,
            **data,
        },
        at="2025-08-01",
    )


def signed(**data: Any) -> dict[str, Any]:
    return body(
        "AgreementSigned",
        {
            "agreement_id": ACCORD,
            "title": "Agreement on peace and interstate relations",
            "kind": "comprehensive",
            "signatories": [
                {"actor": PASHINYAN, "on_behalf_of": "ARM"},
                {"actor": ALIYEV, "on_behalf_of": "AZE"},
            ],
            "witnesses": [{"name": "Donald Trump", "country": "USA"}],
            "guarantors": ["TUR", {"name": "Kremlin", "country": "RUS"}],
            "provisions": PROVISIONS,
            "place": WASHINGTON,
            "text_url": "https://example.org/accord.pdf",
            **data,
        },
    )


def ratified(**data: Any) -> dict[str, Any]:
    return body(
        "AgreementRatified",
        {"agreement_id": ACCORD, "by": "ARM", "summary": "The National Assembly votes.", **data},
        at="2025-09-01",
    )


def suspended(**data: Any) -> dict[str, Any]:
    return body(
        "AgreementSuspended",
        {"agreement_id": ACCORD, "by": "AZE", "reason": "Shelling near Tavush.", **data},
        at="2025-10-01",
    )


def terminated(**data: Any) -> dict[str, Any]:
    return body(
        "AgreementTerminated",
        {"agreement_id": ACCORD, "by": "AZE", "reason": "Withdrawn from by decree.", **data},
        at="2025-11-01",
    )


def implemented(provision: str = "2", **data: Any) -> dict[str, Any]:
    return body(
        "ProvisionImplemented",
        {
            "agreement_id": ACCORD,
            "provision": provision,
            "by": ["AZE"],
            "summary": "Twelve detainees handed over at the Margara crossing.",
            **data,
        },
        at="2025-08-20",
    )


def lifted(**data: Any) -> dict[str, Any]:
    return body(
        "CeasefireLifted",
        {"ceasefire": str(CEASEFIRE), "by": "AZE", "mode": "suspended", "reason": "Attacks."}
        | data,
        at="2025-10-02",
    )


def alleged(**data: Any) -> dict[str, Any]:
    return body(
        "ViolationAlleged",
        {
            "accuser": "ARM",
            "accused": ["AZE"],
            "ceasefire": str(CEASEFIRE),
            "regions": ["AM-TV"],
            "kind": "shelling",
            "summary": "Mortar fire on Berd overnight.",
            **data,
        },
        at="2025-09-20",
        occurred_until="2025-09-21",
        precision="day",
    )


def hostilities(**data: Any) -> dict[str, Any]:
    return body(
        "HostilitiesReported",
        {
            "parties": ["ARM", "AZE"],
            "regions": ["AM-SU", "AZ-ZAN"],
            "kind": "ground_fighting",
            "summary": "Clashes at the border posts near Jermuk.",
            **data,
        },
        at="2025-07-10",
    )


BUILDERS = {
    "AgreementReached": reached,
    "AgreementSigned": signed,
    "AgreementRatified": ratified,
    "AgreementSuspended": suspended,
    "AgreementTerminated": terminated,
    "ProvisionImplemented": implemented,
    "CeasefireLifted": lifted,
    "ViolationAlleged": alleged,
    "HostilitiesReported": hostilities,
}
"""A builder of a valid body of each new type, by type."""


def parsed(fields: dict[str, Any]) -> AnyEvent:
    """A body as the event it parses to."""
    return parse_event(fields)
