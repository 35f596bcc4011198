"""The projections over HTTP, on both backends: ``GET /projections``, and ``GET
/negotiations`` served from the negotiations index with ``?wait_for=<position>``.

With ``PARLEY_PROJECTIONS=inline`` (the default) the app runs the runners itself;
with ``off`` they run elsewhere, here a ``Projections`` in the test standing in for a
``parley project run`` worker. Waits are bounded by hang guards, never asserted on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from builders import statement_body
from fastapi.encoders import jsonable_encoder
from fastapi.testclient import TestClient
from support import AUTH, settings_for

from api.http.app import create_app
from api.schemas import negotiation_out
from projections.runner import PROJECTIONS, Projections
from store.config import StoreConfig
from store.log import ConflictLog

HANG_GUARD = 30.0


def open_body(slug: str) -> dict[str, Any]:
    return {
        "slug": slug,
        "title": f"Talks {slug}",
        "parties": ["RUS", {"name": "Ukraine", "country": "UKR"}],
        "mediators": ["TUR"],
        "occurred_at": "2025-05-16",
    }


def append(client: TestClient, slug: str, summary: str) -> int:
    """Append one statement; its position."""
    body = statement_body(summary)
    response = client.post(f"/negotiations/{slug}/events", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    position: int = response.json()["events"][0]["position"]
    return position


def open_negotiation(client: TestClient, slug: str) -> None:
    response = client.post("/negotiations", json=open_body(slug), headers=AUTH)
    assert response.status_code == 201, response.text


@pytest.fixture
def client_off(log: ConflictLog, store_config: StoreConfig) -> Iterator[TestClient]:
    """The app with PARLEY_PROJECTIONS=off and a short wait_for bound."""
    settings = settings_for(store_config, projections="off", wait_for_seconds=0.2)
    with TestClient(create_app(settings, log=log)) as test_client:
        yield test_client


def test_wait_for_answers_only_once_the_index_includes_the_position(client: TestClient) -> None:
    open_negotiation(client, "geneva")
    for n in range(1, 21):
        position = append(client, "geneva", f"statement {n}")
        response = client.get("/negotiations", params={"wait_for": position})
        assert response.status_code == 200, response.text
        assert int(response.headers["Parley-Projection-Position"]) >= position
        (geneva,) = response.json()["negotiations"]
        assert (geneva["event_count"], geneva["last_position"]) == (n + 1, position)


def test_the_list_from_the_index_equals_the_list_from_the_log(
    client: TestClient, log: ConflictLog
) -> None:
    for slug in ("istanbul", "geneva"):
        open_negotiation(client, slug)
    position = append(client, "istanbul", "a second event")
    listed = client.get("/negotiations", params={"wait_for": position}).json()
    expected = [negotiation_out(log.opening(s.negotiation), s) for s in log.summaries()]
    assert listed == {"negotiations": jsonable_encoder(expected)}


def test_projections_endpoint_shows_each_position_head_and_lag(
    client: TestClient, log: ConflictLog
) -> None:
    open_negotiation(client, "geneva")
    position = append(client, "geneva", "to be projected")
    projections: Projections = client.app.state.projections
    for name in PROJECTIONS:
        assert projections.wait(name, position, HANG_GUARD)
    body = client.get("/projections").json()
    assert body["mode"] == "inline"
    assert [p["name"] for p in body["projections"]] == list(PROJECTIONS)
    for projection in body["projections"]:
        assert projection == {
            "name": projection["name"],
            "position": log.last_position(),
            "head": log.last_position(),
            "lag": 0,
            "running": True,
            "error": None,
        }


def test_a_wait_for_that_runs_out_is_a_503_problem_with_retry_after(
    client_off: TestClient,
) -> None:
    open_negotiation(client_off, "geneva")
    position = append(client_off, "geneva", "nobody projects this")
    response = client_off.get("/negotiations", params={"wait_for": position})
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["Retry-After"] == "1"
    problem = response.json()
    assert problem["type"] == "/problems/projection-behind"
    assert (problem["projection"], problem["wait_for"], problem["position"]) == (
        "negotiations_index",
        position,
        0,
    )
    assert "parley project run" in problem["detail"]


def test_with_projections_off_the_list_is_what_the_workers_projected(
    client_off: TestClient, log: ConflictLog, store_config: StoreConfig
) -> None:
    open_negotiation(client_off, "geneva")
    position = append(client_off, "geneva", "projected by a worker")
    before = client_off.get("/negotiations")
    assert before.status_code == 200
    assert before.json() == {"negotiations": []}  # no runner anywhere yet: documented
    status = client_off.get("/projections").json()
    assert status["mode"] == "off"
    assert {p["name"]: (p["running"], p["lag"]) for p in status["projections"]} == dict.fromkeys(
        PROJECTIONS, (False, 2)
    )
    with Projections(store_config, log=log) as worker:
        worker.start()
        response = client_off.get("/negotiations", params={"wait_for": position})
        if response.status_code == 503:  # the 0.2 s bound of this app; wait longer here
            assert worker.wait("negotiations_index", position, HANG_GUARD)
            response = client_off.get("/negotiations", params={"wait_for": position})
    assert response.status_code == 200, response.text
    assert [n["event_count"] for n in response.json()["negotiations"]] == [2]


def test_a_wait_for_beyond_the_log_is_422_naming_wait_for(client: TestClient) -> None:
    open_negotiation(client, "geneva")
    response = client.get("/negotiations", params={"wait_for": 10_000})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "wait_for"
    assert client.get("/negotiations", params={"wait_for": 0}).status_code == 422
