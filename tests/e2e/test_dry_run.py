"""A dry run on the append route, on both backends: the same checks as an append, the
same errors, nothing stored, and the part of the state that would change."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from builders import GENEVA_OPENING, statement_body
from fastapi.testclient import TestClient
from support import AUTH

DRY = "/negotiations/geneva-talks/events?dry_run=true"
APPEND = "/negotiations/geneva-talks/events"


def round_scheduled(number: int = 2, **envelope: Any) -> dict[str, Any]:
    return {
        "type": "RoundScheduled",
        "occurred_at": "2025-05-28",
        "data": {
            "round": number,
            "starts_at": "2025-06-02",
            "place": {"city": "Istanbul", "country": "TUR", "region": "TR-34"},
        },
        "sources": [{"outlet": "teleSUR", "via": ["TASS"]}],
        **envelope,
    }


@pytest.fixture
def opened(client: TestClient) -> TestClient:
    response = client.post("/negotiations", json=GENEVA_OPENING, headers=AUTH)
    assert response.status_code == 201, response.text
    return client


def _position(client: TestClient) -> tuple[int, int, int]:
    """The negotiation's version, the number of events in the log, its last position."""
    summary = client.get("/negotiations/geneva-talks").json()
    log = client.get("/events", params={"limit": 1000}).json()["events"]
    return summary["version"], len(log), client.get("/health").json()["position"]


def test_a_dry_run_stores_nothing_and_its_id_can_be_appended_afterwards(
    opened: TestClient,
) -> None:
    before = _position(opened)
    event_id = str(uuid.uuid4())
    body = round_scheduled(id=event_id)
    answer = opened.post(DRY, json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert preview["dry_run"] is True and preview["version"] == before[0] + 1
    [shown] = preview["events"]
    assert shown["id"] == event_id and shown["stored"] == "would be created"
    assert shown["event"]["data"]["round"] == 2
    assert _position(opened) == before
    assert opened.get(f"/events/{event_id}").status_code == 404
    # The same id, with the same content, is a new event for a real append.
    stored = opened.post(APPEND, json=body, headers=AUTH)
    assert stored.status_code == 201, stored.text
    assert stored.json()["events"][0]["stored"] == "created"
    assert _position(opened)[0] == before[0] + 1


def test_a_dry_run_shows_the_part_of_the_state_that_changes_before_and_after(
    opened: TestClient,
) -> None:
    body = round_scheduled(id=str(uuid.uuid4()))
    preview = opened.post(DRY, json=body, headers=AUTH).json()["state"]
    assert "rounds" in preview["changed"] and "parties" not in preview["changed"]
    assert preview["before"]["rounds"] == []
    [round_2] = preview["after"]["rounds"]
    assert round_2["round"] == 2 and round_2["place"]["city"] == "Istanbul"
    assert preview["as_of"].startswith("2025-05-28")
    # What the real append then makes the state is what the preview said.
    assert opened.post(APPEND, json=body, headers=AUTH).status_code == 201
    state = opened.get("/negotiations/geneva-talks/state", params={"as_of": "2025-05-28"})
    assert state.json()["rounds"] == preview["after"]["rounds"]


def test_a_dry_run_of_a_retraction_shows_what_it_takes_away(opened: TestClient) -> None:
    appended = opened.post(APPEND, json=round_scheduled(), headers=AUTH).json()
    target = appended["events"][0]["id"]
    retraction = {
        "type": "EventRetracted",
        "occurred_at": "2025-05-29",
        "data": {"event_id": target, "reason": "misreported"},
        "sources": [{"outlet": "Reuters"}],
    }
    preview = opened.post(DRY, json=retraction, headers=AUTH).json()["state"]
    assert [r["round"] for r in preview["before"]["rounds"]] == [2]
    assert preview["after"]["rounds"] == []
    # Nothing was retracted: round 2 is still scheduled, so a host may be announced.
    host = {
        "type": "HostAnnounced",
        "occurred_at": "2025-05-29",
        "data": {"round": 2, "host": "TUR"},
        "sources": [{"outlet": "Reuters"}],
    }
    assert opened.post(APPEND, json=host, headers=AUTH).status_code == 201
    # A dry run of the retraction and a host together is refused as an append would be.
    both = opened.post(DRY, json=[retraction, host], headers=AUTH)
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "events.1.data.round"
    assert opened.post(APPEND, json=host, headers=AUTH).status_code == 201  # still scheduled


def test_a_dry_run_refuses_what_an_append_refuses_with_the_same_problem(
    opened: TestClient,
) -> None:
    bad = statement_body(occurred_at="2025-13-01")
    dry = opened.post(DRY, json=bad, headers=AUTH)
    real = opened.post(APPEND, json=bad, headers=AUTH)
    assert dry.status_code == real.status_code == 422
    assert dry.json()["errors"] == real.json()["errors"]
    # An aggregate invariant: a host for a round never scheduled.
    host = {
        "type": "HostAnnounced",
        "occurred_at": "2025-05-28",
        "data": {"round": 7, "host": "TUR"},
        "sources": [{"outlet": "teleSUR"}],
    }
    dry = opened.post(DRY, json=host, headers=AUTH)
    real = opened.post(APPEND, json=host, headers=AUTH)
    assert dry.status_code == real.status_code
    assert dry.json() == real.json()


def test_a_dry_run_checks_the_expected_version_and_if_match(opened: TestClient) -> None:
    body = {"events": [statement_body()], "expected_version": 5}
    conflict = opened.post(DRY, json=body, headers=AUTH)
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["current_version"] == 1
    stale = opened.post(DRY, json=statement_body(), headers={**AUTH, "If-Match": '"3"'})
    assert stale.status_code == 409 and stale.headers["etag"] == '"1"'
    fresh = opened.post(DRY, json=statement_body(), headers={**AUTH, "If-Match": '"1"'})
    assert fresh.status_code == 200, fresh.text
    assert _position(opened)[0] == 1


def test_a_dry_run_needs_a_token_that_may_append(opened: TestClient) -> None:
    assert opened.post(DRY, json=statement_body()).status_code == 401
