"""Event builders for every layer's tests: one place for what a plain event looks like.

Two kinds, named apart because they are different things:

- ``*_body`` builds a JSON-like dict, as a client sends it to the HTTP API (no id unless
  given: the server assigns one) or as a line of an NDJSON file;
- ``*_event`` builds a typed, validated domain event (``AnyEvent``), with a fresh id
  (the model's default) unless given, as the store and the projections take it.

Keyword arguments override the envelope (``occurred_at=``, ``sources=``, ``id=``,
``type=``, even ``data=``), so a test states only what it is about.
"""

from __future__ import annotations

from typing import Any

from domain.events import AnyEvent, parse_event

DAY = "2025-05-28"  # the founding report's day
OPENING_DAY = "2025-05-16"  # the first round in Istanbul
TALKS = "Russia–Ukraine direct talks"


def event_body(type_: str, data: dict[str, Any], /, **envelope: Any) -> dict[str, Any]:
    """An event as a client sends it: on ``DAY``, with one source."""
    return {
        "type": type_,
        "occurred_at": DAY,
        "sources": [{"outlet": "teleSUR"}],
        "data": data,
        **envelope,
    }


def event(type_: str, data: dict[str, Any], /, **envelope: Any) -> AnyEvent:
    """The validated domain event of ``event_body(...)``, with a fresh id unless given."""
    return parse_event(event_body(type_, data, **envelope))


def statement_body(
    summary: str = "said something", *, speaker: Any = "RUS", **envelope: Any
) -> dict[str, Any]:
    """A StatementIssued as a client sends it: the filler event of API tests."""
    return event_body("StatementIssued", {"speaker": speaker, "summary": summary}, **envelope)


def statement_event(
    summary: str = "The Kremlin doubted a second round.", *, speaker: Any = "RUS", **envelope: Any
) -> AnyEvent:
    """A StatementIssued domain event with a fresh id: the filler event of store tests."""
    return event("StatementIssued", {"speaker": speaker, "summary": summary}, **envelope)


def opened_data(title: str = TALKS) -> dict[str, Any]:
    """A NegotiationOpened's data: Russia and Ukraine, mediated by Türkiye."""
    return {"title": title, "parties": ["RUS", "UKR"], "mediators": ["TUR"]}


def opened_event(title: str = TALKS, **envelope: Any) -> AnyEvent:
    """A NegotiationOpened domain event (a fresh id each call), on ``OPENING_DAY``."""
    envelope = {"occurred_at": OPENING_DAY, **envelope}
    return event("NegotiationOpened", opened_data(title), **envelope)


def quoted_statement(person: str, quote: str, *, url: str | None = None) -> AnyEvent:
    """A StatementIssued on ``DAY`` whose TASS source quotes ``person``, a Russian aide:
    the personal data a redaction takes out."""
    source: dict[str, Any] = {
        "outlet": "TASS",
        "quote": quote,
        "attributed_to": {"name": person, "country": "RUS", "role": "aide"},
    }
    if url is not None:
        source["url"] = url
    data = {"speaker": "RUS", "summary": "Russia is ready for a second round."}
    return event("StatementIssued", data, sources=[source])


GENEVA_OPENING: dict[str, Any] = {
    "slug": "geneva-talks",
    "title": "Geneva talks",
    "parties": ["RUS", {"name": "Ukraine", "country": "UKR"}],
    "mediators": ["CHE"],
    "occurred_at": "2025-05-01",
}
"""A ``POST /negotiations`` body: talks in Geneva, mediated by Switzerland."""


def back_dated_proposal() -> dict[str, Any]:
    """A proposal of 20 May reported weeks later: back-dated in valid time."""
    return {
        "type": "ProposalMade",
        "occurred_at": "2025-05-20",
        "data": {
            "proposal_id": "late-prisoner-exchange",
            "proposer": {"name": "Rustem Umerov", "country": "UKR"},
            "subject": "prisoner_exchange",
            "summary": "An exchange of 1,000 prisoners for 1,000, reported weeks later.",
        },
        "sources": [{"outlet": "Parley test desk"}],
    }


def retraction_body(event_id: str, reason: str) -> dict[str, Any]:
    """An EventRetracted of 30 May as a client sends it, from the Parley desk."""
    return {
        "type": "EventRetracted",
        "occurred_at": "2025-05-30",
        "data": {"event_id": event_id, "reason": reason},
        "sources": [{"outlet": "Parley desk"}],
    }


ACCORD_CEASEFIRE = "5f0c6a2e-1b7d-4c84-9a51-0d7e3c1f2a01"
ACCORD_ALLEGATION = "5f0c6a2e-1b7d-4c84-9a51-0d7e3c1f2a02"


def accord_bodies() -> list[dict[str, Any]]:
    """Issue 16's record of an accord, as a client sends it (one atomic batch): a
    ceasefire, an agreement reached then signed before witnesses, a provision carried
    out, a violation alleged and denied, and hostilities reported."""
    desk = [{"outlet": "Parley test desk"}]
    signatories = [
        {"actor": {"name": "Rustem Umerov", "country": "UKR"}, "on_behalf_of": "UKR"},
        {"actor": {"name": "Vladimir Medinsky", "country": "RUS"}, "on_behalf_of": "RUS"},
    ]
    agreement = {"agreement_id": "geneva-accord", "title": "Geneva accord", "kind": "partial"}
    return [
        {
            "id": ACCORD_CEASEFIRE,
            "type": "CeasefireDeclared",
            "occurred_at": "2025-06-01",
            "data": {"parties": ["RUS", "UKR"], "effective_from": "2025-06-02", "scope": []},
            "sources": desk,
        },
        {
            "type": "AgreementReached",
            "occurred_at": "2025-06-03",
            "data": {
                **agreement,
                "parties": ["RUS", "UKR"],
                "provisions": [
                    {"id": "1", "topic": "prisoners", "text": "Exchange all prisoners of war"},
                    {"id": "2", "topic": "monitoring", "text": "A joint monitoring commission"},
                ],
            },
            "sources": desk,
        },
        {
            "type": "AgreementSigned",
            "occurred_at": "2025-06-05",
            "data": {
                **agreement,
                "signatories": signatories,
                "witnesses": ["CHE"],
                "guarantors": ["TUR"],
                "place": {"city": "Geneva", "country": "CHE"},
            },
            "sources": desk,
        },
        {
            "type": "ProvisionImplemented",
            "occurred_at": "2025-06-10",
            "data": {
                "agreement_id": "geneva-accord",
                "provision": "1",
                "by": ["RUS", "UKR"],
                "summary": "1,200 prisoners exchanged on each side",
            },
            "sources": desk,
        },
        {
            "id": ACCORD_ALLEGATION,
            "type": "ViolationAlleged",
            "occurred_at": "2025-06-12",
            "data": {
                "accuser": "UKR",
                "accused": ["RUS"],
                "ceasefire": ACCORD_CEASEFIRE,
                "regions": ["UA-63"],
                "kind": "shelling",
                "summary": "Shelling of Kharkiv during the ceasefire",
            },
            "sources": desk,
        },
        {
            "type": "ClaimDisputed",
            "occurred_at": "2025-06-13",
            "data": {
                "event_id": ACCORD_ALLEGATION,
                "disputed_by": "RUS",
                "counter_claim": "No Russian unit fired on Kharkiv",
            },
            "sources": desk,
        },
        {
            "type": "HostilitiesReported",
            "occurred_at": "2025-06-14",
            "data": {
                "parties": ["RUS", "UKR"],
                "regions": ["UA-59"],
                "kind": "ground_fighting",
                "summary": "Clashes on the Sumy border",
            },
            "sources": desk,
        },
    ]
