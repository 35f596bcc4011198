"""Clients that still send the old shapes of ``ProposalMade`` and ``RoundHeld`` get the
same result as those that send today's, over HTTP, on both backends.

``addressee: X`` is read as ``addressees: [X]`` (``null`` as none), ``delegations`` as
``participants`` in the role ``party``, in an event and in a correction that names the
old field. Sending an old field beside the field it became is ambiguous: a 422 naming
the old field. (The README's upcasting recipe says why lifting beats refusing.)
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from builders import event_body
from fastapi.testclient import TestClient
from support import AUTH

ISTANBUL = {"city": "Istanbul", "country": "TUR", "region": "TR-34"}
FIDAN = {"name": "Hakan Fidan", "country": "TUR", "role": "Foreign Minister"}


def ids(prefix: str) -> list[str]:
    return [f"{prefix}0000000-0000-4000-8000-00000000000{n}" for n in range(6)]


def history(prefix: str, shape: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The same talks in the old or today's shape: the events, then later corrections."""
    old = shape == "old"
    i = ids(prefix)
    events = [
        event_body(
            "ProposalMade",
            {
                "proposal_id": "meeting",
                "proposer": "RUS",
                "subject": "meeting",
                "summary": "Russia proposed to meet in Istanbul.",
                **({"addressee": "UKR"} if old else {"addressees": ["UKR"]}),
            },
            id=i[0],
        ),
        event_body(
            "ProposalMade",
            {
                "proposal_id": "roadmap",
                "proposer": FIDAN,
                "subject": "roadmap",
                "summary": "Türkiye proposed a roadmap to both parties.",
                **({"addressee": None} if old else {}),
            },
            id=i[1],
        ),
        event_body(
            "RoundHeld",
            {
                "round": 1,
                "place": ISTANBUL,
                "outcomes": ["a prisoner exchange"],
                **(
                    {"delegations": ["RUS", "UKR"]}
                    if old
                    else {
                        "participants": [
                            {"actor": "RUS", "role": "party"},
                            {"actor": "UKR", "role": "party"},
                        ]
                    }
                ),
            },
            id=i[2],
            occurred_at="2025-05-16",
        ),
    ]
    corrections = [
        event_body(
            "EventCorrected",
            {
                "event_id": i[1],
                "data": {"addressee": "RUS"} if old else {"addressees": ["RUS"]},
                "reason": "the roadmap went to Moscow first",
            },
            id=i[3],
        ),
        event_body(
            "EventCorrected",
            {
                "event_id": i[2],
                "data": (
                    {"delegations": ["RUS", "UKR", "TUR"]}
                    if old
                    else {
                        "participants": [
                            {"actor": c, "role": "party"} for c in ("RUS", "UKR", "TUR")
                        ]
                    }
                ),
                "reason": "Türkiye sat at the table as well",
            },
            id=i[4],
        ),
    ]
    return events, corrections


def open_talks(client: TestClient, slug: str) -> None:
    body = {"slug": slug, "title": "Talks", "parties": ["RUS", "UKR"], "occurred_at": "2025-05-01"}
    assert client.post("/negotiations", json=body, headers=AUTH).status_code == 201


def record(client: TestClient, slug: str, prefix: str, shape: str) -> tuple[bytes, bytes]:
    """Append the history in ``shape``; the state before and after the corrections, with
    the slug and the ids' prefix made neutral so that the two shapes compare."""
    open_talks(client, slug)
    events, corrections = history(prefix, shape)
    states = []
    for batch in (events, corrections):
        answer = client.post(f"/negotiations/{slug}/events", json=batch, headers=AUTH)
        assert answer.status_code == 201, answer.text
        state = client.get(f"/negotiations/{slug}/state", params={"as_of": "2025-12-31"}).json()
        del state["known_at"], state["reported_at"], state["position"]
        text = orjson.dumps(state).replace(slug.encode(), b"SLUG")
        states.append(text.replace(f'"{prefix}0000000-'.encode(), b'"X0000000-'))
    return states[0], states[1]


def test_old_shapes_give_the_same_events_and_state_as_todays(client: TestClient) -> None:
    old = record(client, "old-shapes", "a", "old")
    new = record(client, "new-shapes", "b", "new")

    assert old == new
    for a, b in zip(ids("a")[:3], ids("b")[:3], strict=True):
        as_old, as_new = client.get(f"/events/{a}").json(), client.get(f"/events/{b}").json()
        assert as_old["data"] == as_new["data"]
    state = orjson.loads(old[1])
    proposals = {p["proposal_id"]: p for p in state["proposals"]}
    assert [a["country"] for a in proposals["meeting"]["addressees"]] == ["UKR"]
    assert proposals["meeting"]["addressee"]["country"] == "UKR"
    assert [a["country"] for a in proposals["roadmap"]["addressees"]] == ["RUS"]
    assert [(p["actor"]["country"], p["role"]) for p in state["rounds"][0]["participants"]] == [
        ("RUS", "party"),
        ("UKR", "party"),
        ("TUR", "party"),
    ]
    before = orjson.loads(old[0])
    assert {p["proposal_id"]: p["addressee"] for p in before["proposals"]}["roadmap"] is None


def fields_of(answer: Any) -> list[str]:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    return [error["field"] for error in answer.json()["errors"]]


@pytest.mark.parametrize(
    ("type_", "data", "old_field"),
    [
        (
            "ProposalMade",
            {
                "proposal_id": "p",
                "proposer": "RUS",
                "subject": "meeting",
                "summary": "s",
                "addressee": "UKR",
                "addressees": ["UKR"],
            },
            "addressee",
        ),
        (
            "RoundHeld",
            {
                "round": 1,
                "place": ISTANBUL,
                "delegations": ["RUS"],
                "participants": [{"actor": "RUS", "role": "party"}],
            },
            "delegations",
        ),
    ],
)
def test_an_old_field_beside_the_field_it_became_is_a_422_naming_the_old_field(
    client: TestClient, type_: str, data: dict[str, Any], old_field: str
) -> None:
    open_talks(client, "both-shapes")
    url = "/negotiations/both-shapes/events"

    alone = client.post(url, json=event_body(type_, data), headers=AUTH)
    batch = client.post(
        url,
        json=[
            event_body("StatementIssued", {"speaker": "RUS", "summary": "s"}),
            event_body(type_, data),
        ],
        headers=AUTH,
    )

    assert fields_of(alone) == [f"data.{old_field}"]
    assert f"{old_field} is the old shape of" in alone.json()["errors"][0]["message"]
    assert fields_of(batch) == [f"events.1.data.{old_field}"]
    assert client.get("/negotiations/both-shapes").json()["version"] == 1  # nothing stored


def test_a_correction_naming_an_old_field_beside_the_new_one_is_a_422(client: TestClient) -> None:
    open_talks(client, "both-corrected")
    url = "/negotiations/both-corrected/events"
    events, _ = history("c", "new")
    assert client.post(url, json=events, headers=AUTH).status_code == 201
    both = {"addressee": "RUS", "addressees": ["RUS"]}

    answer = client.post(
        url,
        json=event_body("EventCorrected", {"event_id": ids("c")[0], "data": both, "reason": "r"}),
        headers=AUTH,
    )

    assert fields_of(answer) == ["data.data.addressee"]
