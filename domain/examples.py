"""One valid example of every event type's ``data``, drawn from the founding example and
the Black Sea Grain Initiative: the codebook page, the OpenAPI and the tests read them,
so that each type is shown as a client would send it.

Examples name other events by these fixed ids; a reader needs only the shape.
"""

from __future__ import annotations

from typing import Any

DISPUTED = "0f5a2d3e-6c1b-4e8f-9a7d-2b4c6e8f0a1c"
"""The id an example names when it speaks about another event."""
CEASEFIRE = "5b1e9c7a-3d2f-4a6b-8c0e-1f2a3b4c5d6e"
"""The id of a ``CeasefireDeclared`` that examples name."""

ISTANBUL: dict[str, Any] = {"city": "Istanbul", "country": "TUR", "region": "TR-34"}
MEDINSKY: dict[str, Any] = {
    "name": "Vladimir Medinsky",
    "country": "RUS",
    "role": "Presidential Aide, chief negotiator",
}
GUTERRES: dict[str, Any] = {"name": "António Guterres", "role": "UN Secretary-General"}

EXAMPLE_DATA: dict[str, dict[str, Any]] = {
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
        "addressees": ["UKR"],
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
        "participants": [
            {"actor": "RUS", "role": "party"},
            {"actor": "UKR", "role": "party"},
            {"actor": {"name": "Hakan Fidan", "country": "TUR"}, "role": "chair"},
        ],
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
        "agreement_id": "black-sea-grain-2022",
        "title": "Initiative on the Safe Transportation of Grain and Foodstuffs",
        "kind": "partial",
        "stage": "reached",
        "parties": ["RUS", "UKR"],
    },
    "AgreementSigned": {
        "agreement_id": "black-sea-grain-2022",
        "title": "Initiative on the Safe Transportation of Grain and Foodstuffs",
        "kind": "partial",
        "signatories": [
            {
                "actor": {"name": "Sergei Shoigu", "country": "RUS", "role": "Defence Minister"},
                "on_behalf_of": "RUS",
            },
            {
                "actor": {
                    "name": "Oleksandr Kubrakov",
                    "country": "UKR",
                    "role": "Infrastructure Minister",
                },
                "on_behalf_of": "UKR",
            },
        ],
        "witnesses": [GUTERRES, {"name": "Recep Tayyip Erdoğan", "country": "TUR"}],
        "guarantors": ["TUR"],
        "provisions": [
            {
                "id": "jcc",
                "topic": "monitoring",
                "text": "A Joint Coordination Centre in Istanbul inspects the ships.",
            }
        ],
        "place": ISTANBUL,
    },
    "AgreementRatified": {"agreement_id": "black-sea-grain-2022", "by": "UKR"},
    "AgreementSuspended": {
        "agreement_id": "black-sea-grain-2022",
        "by": "RUS",
        "reason": "Russia suspended its part after the attack on Sevastopol.",
    },
    "AgreementTerminated": {
        "agreement_id": "black-sea-grain-2022",
        "by": "RUS",
        "reason": "Russia did not extend the Initiative.",
    },
    "ProvisionImplemented": {
        "agreement_id": "black-sea-grain-2022",
        "provision": "jcc",
        "by": ["TUR", {"name": "United Nations"}],
        "summary": "The Joint Coordination Centre opened in Istanbul.",
    },
    "CeasefireLifted": {
        "ceasefire": CEASEFIRE,
        "by": "RUS",
        "mode": "ended",
        "reason": "The declared truce expired.",
    },
    "ViolationAlleged": {
        "accuser": "UKR",
        "accused": ["RUS"],
        "agreement_id": "black-sea-grain-2022",
        "regions": ["UA-51"],
        "kind": "missile_strike",
        "summary": "Ukraine said Russian missiles struck the port of Odesa.",
    },
    "HostilitiesReported": {
        "parties": ["RUS", "UKR"],
        "regions": ["UA-51"],
        "kind": "missile_strike",
        "summary": "Missiles struck the port of Odesa.",
    },
}
"""Every client type's example ``data``, by type name."""


def example_event(type_name: str, **data: Any) -> dict[str, Any]:
    """A whole example event of ``type_name``: its example data (fields in ``data``
    replace them), dated, with one source."""
    return {
        "type": type_name,
        "occurred_at": "2025-05-16",
        "data": {**EXAMPLE_DATA[type_name], **data},
        "sources": [
            {"outlet": "teleSUR", "published_at": "2025-05-28T12:57:00-04:00", "via": ["EFE"]}
        ],
    }
