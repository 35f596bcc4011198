"""The third clock over HTTP, on both backends: ``reported_at`` on every route that takes
``known_at``, its 422, the clamp of both bounds to now and its echo, and what it keeps.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from builders import retraction_body, statement_body
from fastapi.testclient import TestClient
from support import append_event, ok_json

SLUG = "istanbul-2025"
BASE = f"/negotiations/{SLUG}"
FUTURE = "2999-01-01"

ROUTES: dict[str, tuple[str, dict[str, str]]] = {
    "state": (f"{BASE}/state", {}),
    "timeline": (f"{BASE}/timeline", {}),
    "diff": (f"{BASE}/diff", {"from": "2025-05-16", "to": "2025-06-30"}),
    "export-ndjson": (f"{BASE}/export", {"format": "ndjson"}),
    "export-csv": (f"{BASE}/export", {"format": "csv"}),
    "export-plover": (f"{BASE}/export", {"format": "plover"}),
    "chart": (f"{BASE}/chart", {}),
    "negotiation-events": (f"{BASE}/events", {}),
    "log": ("/events", {}),
}
ECHOING = [name for name in ROUTES if "events" not in name and name != "log"]


def _echo(name: str, response_text: str) -> dict[str, Any]:
    """The bounds an answer echoes: its body, or an export's first line(s)."""
    if name == "export-csv":
        lines = [line[2:] for line in response_text.splitlines() if line.startswith("# ")]
        pairs = (line.split(": ", 1) for line in lines if ": " in line)
        return dict(pairs)
    if name.startswith("export"):
        head: dict[str, Any] = json.loads(response_text.splitlines()[0])
        return head.get("export", head)
    body: dict[str, Any] = json.loads(response_text)
    return body


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("name", list(ROUTES))
def test_a_bad_reported_at_is_a_422_naming_it(istanbul: TestClient, name: str) -> None:
    path, params = ROUTES[name]
    response = istanbul.get(path, params={**params, "reported_at": "last tuesday"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["reported_at"]


@pytest.mark.parametrize("name", ECHOING)
def test_known_at_and_reported_at_after_now_are_clamped_and_echoed(
    istanbul: TestClient, name: str
) -> None:
    path, params = ROUTES[name]
    before = datetime.now(UTC)
    response = istanbul.get(path, params={**params, "known_at": FUTURE, "reported_at": FUTURE})
    after = datetime.now(UTC)
    assert response.status_code == 200, response.text
    echo = _echo(name, response.text)
    for bound in ("known_at", "reported_at"):
        assert before <= _instant(echo[bound]) <= after, (bound, echo[bound])


# Not the chart: its knowledge chart shows every event, whenever recorded (by design).
@pytest.mark.parametrize("name", ["state", "timeline", "diff"])
def test_the_echoed_bounds_repeat_the_answer(istanbul: TestClient, name: str) -> None:
    path, params = ROUTES[name]
    first = ok_json(istanbul, path, **params)
    append_event(istanbul, SLUG, statement_body("said later"))
    again = ok_json(
        istanbul,
        path,
        **params,
        known_at=first["known_at"],
        reported_at=first["reported_at"],
        **({"as_of": first["as_of"]} if "as_of" in first else {}),
    )
    assert again == first


def _timeline_ids(client: TestClient, **params: str) -> set[str]:
    return {e["id"] for e in ok_json(client, f"{BASE}/timeline", **params)["events"]}


def _listed(client: TestClient, path: str, **params: str) -> set[str]:
    return {e["id"] for e in ok_json(client, path, limit="1000", **params)["events"]}


def test_a_backfilled_event_counts_from_its_publication(istanbul: TestClient) -> None:
    late = append_event(
        istanbul,
        SLUG,
        statement_body(
            "reported in May, logged today",
            sources=[{"outlet": "TASS", "published_at": "2025-05-20"}],
        ),
    )
    event_id = late["event"]["id"] if "event" in late else late["id"]
    # A date is reported at the end of that day, UTC.
    assert event_id in _timeline_ids(istanbul, reported_at="2025-05-21T00:00:00Z")
    assert event_id not in _timeline_ids(istanbul, reported_at="2025-05-20T23:00:00Z")
    for path in (f"{BASE}/events", "/events"):
        assert event_id in _listed(istanbul, path, reported_at="2025-05-21")
        assert event_id not in _listed(istanbul, path, reported_at="2025-05-19")
    early = ok_json(istanbul, f"{BASE}/state", reported_at="2025-05-20T23:00:00Z")
    later = ok_json(istanbul, f"{BASE}/state", reported_at="2025-05-21T00:00:00Z")
    assert later["event_count"] == early["event_count"] + 1
    ndjson = istanbul.get(f"{BASE}/export", params={"reported_at": "2025-05-21"}).text
    assert event_id in ndjson
    ndjson = istanbul.get(f"{BASE}/export", params={"reported_at": "2025-05-19"}).text
    assert event_id not in ndjson


def test_an_event_published_in_the_future_does_not_count_until_then(
    istanbul: TestClient,
) -> None:
    soon = (date.today() + timedelta(days=30)).isoformat()
    ahead = append_event(
        istanbul,
        SLUG,
        statement_body("embargoed", sources=[{"outlet": "TASS", "published_at": soon}]),
    )
    event_id = ahead["event"]["id"] if "event" in ahead else ahead["id"]
    assert event_id not in _timeline_ids(istanbul)
    assert event_id not in _timeline_ids(istanbul, reported_at=FUTURE)  # clamped to now
    assert event_id in _listed(istanbul, f"{BASE}/events")  # a listing keeps every event


def test_a_retraction_acts_from_its_own_report(istanbul: TestClient) -> None:
    claim = append_event(istanbul, SLUG, statement_body("a claim"))
    claim_id = claim["event"]["id"] if "event" in claim else claim["id"]
    retraction = retraction_body(claim_id, "withdrawn")
    retraction["sources"] = [{"outlet": "TASS", "published_at": "2036-01-01"}]
    append_event(istanbul, SLUG, retraction)
    assert claim_id in _timeline_ids(istanbul)  # the retraction is not reported yet


def test_the_knowledge_chart_can_stand_on_reported_time(istanbul: TestClient) -> None:
    append_event(
        istanbul,
        SLUG,
        statement_body("backfilled", sources=[{"outlet": "TASS", "published_at": "2025-05-20"}]),
    )
    recorded = ok_json(istanbul, f"{BASE}/chart")["knowledge"]
    reported = ok_json(istanbul, f"{BASE}/chart", axis="reported")["knowledge"]
    assert (recorded["axis"], reported["axis"]) == ("recorded", "reported")
    assert reported["reported_from"] < recorded["recorded_from"]
    assert all("reported_at" in point for point in reported["points"])
    bad = istanbul.get(f"{BASE}/chart", params={"axis": "published"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "axis"
