"""GET /negotiations/{slug}/chart: the data of the page's two charts, on both backends.

The founding report comes one event at a time; a back-dated report, a correction and
a retraction show how the knowledge chart links and flags them; a window denser than
``max_items`` comes as counts per lane bucket and per grid cell.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from builders import back_dated_proposal
from fastapi.testclient import TestClient
from support import AUTH, just_before, ok_json

from projections.charts import BACK_DATED, GRID, LANES, TIMELINE_BUCKETS

SLUG = "istanbul-2025"
CHART = f"/negotiations/{SLUG}/chart"
ZONE_ID = "a12b1f35-8c76-4860-9765-cc2a92a6d916"
DISPUTED_CALL = "3221c451-fe72-4f21-b409-4d50f4b07cdd"
SOURCE = [{"outlet": "Parley test desk"}]


def chart(client: TestClient, **params: Any) -> dict[str, Any]:
    return ok_json(client, CHART, **params)


def append(client: TestClient, *events: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post(f"/negotiations/{SLUG}/events", json=list(events), headers=AUTH)
    assert response.status_code == 201, response.text
    created: list[dict[str, Any]] = response.json()["events"]
    return created


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items}


def test_every_event_of_the_report_is_in_its_lane_and_the_disputed_call_is_flagged(
    istanbul: TestClient,
) -> None:
    body = chart(istanbul, as_of="2025-05-28")

    assert body["lanes"] == list(LANES)
    assert (body["from"], body["to"]) == ("2025-05-16T00:00:00Z", "2025-05-28T00:00:00Z")
    assert body["as_of"] == "2025-05-28T23:59:59.999999Z" and body["position"] == 16
    timeline, knowledge = body["timeline"], body["knowledge"]
    assert (timeline["mode"], timeline["count"], len(timeline["items"])) == ("items", 16, 16)
    items = by_id(timeline["items"])
    assert items[DISPUTED_CALL]["lane"] == "contacts"
    assert items[DISPUTED_CALL]["flags"] == ["disputed"]
    assert items[ZONE_ID]["lane"] == "zones" and items[ZONE_ID]["flags"] == []
    # The founding report has no agreement, allegation or hostilities: every other lane.
    unused = {"agreements", "allegations", "hostilities"}
    assert {item["lane"] for item in items.values()} == set(LANES) - unused
    # The dispute is in its own lane, and linked to the call on the knowledge chart.
    (dispute,) = [p for p in knowledge["points"] if p["type"] == "ClaimDisputed"]
    assert items[dispute["id"]]["lane"] == "disputes"
    assert dispute["target"]["id"] == DISPUTED_CALL
    assert dispute["target"]["occurred_at"] == items[DISPUTED_CALL]["occurred_at"]
    # One report loaded at once: nothing reached behind what the log already knew.
    assert knowledge["mode"] == "points" and knowledge["count"] == 16
    assert {p["reaches_back_seconds"] for p in knowledge["points"]} == {0.0}


def test_a_back_dated_report_reaches_back_and_is_off_the_timeline_known_before_it(
    istanbul: TestClient,
) -> None:
    (late,) = append(istanbul, back_dated_proposal())

    body = chart(istanbul)
    point = by_id(body["knowledge"]["points"])[late["id"]]
    # The log already knew 28 May when the report of 20 May arrived: eight days back.
    assert point["reaches_back_seconds"] == timedelta(days=8).total_seconds()
    assert point["reaches_back_seconds"] > BACK_DATED.total_seconds()
    assert point["recorded_at"] == late["recorded_at"]
    assert by_id(body["timeline"]["items"])[late["id"]]["lane"] == "proposals"

    before = chart(istanbul, known_at=just_before(late["recorded_at"]))
    assert late["id"] not in by_id(before["timeline"]["items"])
    assert before["timeline"]["count"] == 16 and before["position"] == 16
    # The knowledge chart still draws it, recorded after the known_at line.
    assert by_id(before["knowledge"]["points"])[late["id"]]["recorded_at"] > before["known_at"]


def test_a_correction_and_a_retraction_are_linked_to_the_events_they_change(
    istanbul: TestClient,
) -> None:
    (correction,) = append(
        istanbul,
        {
            "type": "EventCorrected",
            "occurred_at": "2025-05-29",
            "data": {"event_id": ZONE_ID, "data": {"depth_km": 10}, "reason": "a later report"},
            "sources": SOURCE,
        },
    )
    (retraction,) = append(
        istanbul,
        {
            "type": "EventRetracted",
            "occurred_at": "2025-05-29",
            "data": {"event_id": DISPUTED_CALL, "reason": "no such call"},
            "sources": SOURCE,
        },
    )

    body = chart(istanbul)
    items = by_id(body["timeline"]["items"])
    assert correction["id"] not in items and retraction["id"] not in items  # no lane
    assert items[ZONE_ID]["flags"] == ["corrected"]
    # Flagged as the timeline flags it: still disputed, now retracted too.
    assert items[DISPUTED_CALL]["flags"] == ["disputed", "retracted"]
    points = by_id(body["knowledge"]["points"])
    assert points[correction["id"]]["target"]["id"] == ZONE_ID
    assert points[retraction["id"]]["target"]["id"] == DISPUTED_CALL

    known_at = just_before(correction["recorded_at"])
    before = by_id(chart(istanbul, known_at=known_at)["timeline"]["items"])
    assert before[ZONE_ID]["flags"] == [] and before[DISPUTED_CALL]["flags"] == ["disputed"]


def test_a_window_denser_than_max_items_comes_as_counts_per_lane_bucket_and_grid_cell(
    istanbul: TestClient,
) -> None:
    whole = chart(istanbul)
    bucketed = chart(istanbul, max_items=10)

    timeline, knowledge = bucketed["timeline"], bucketed["knowledge"]
    assert timeline["mode"] == "buckets" and "items" not in timeline
    buckets = timeline["buckets"]
    assert buckets["start"] == "2025-05-16T00:00:00Z" and buckets["count"] == TIMELINE_BUCKETS
    per_lane = Counter(item["lane"] for item in whole["timeline"]["items"])
    assert {lane: sum(counts) for lane, counts in buckets["lanes"].items()} == {
        lane: per_lane[lane] for lane in LANES
    }
    assert sum(buckets["flagged"]["contacts"]) == 1  # the disputed call
    # Each event is counted in the bucket its valid time falls in; the last in the last.
    start = datetime.fromisoformat(buckets["start"])
    expected = {lane: [0] * TIMELINE_BUCKETS for lane in LANES}
    for item in whole["timeline"]["items"]:
        offset = (datetime.fromisoformat(item["occurred_at"]) - start).total_seconds()
        expected[item["lane"]][min(int(offset / buckets["seconds"]), TIMELINE_BUCKETS - 1)] += 1
    assert buckets["lanes"] == expected
    assert buckets["lanes"]["rounds"][0] == 2  # the opening and round 1, on 16 May
    assert knowledge["mode"] == "grid" and "points" not in knowledge
    grid = knowledge["grid"]
    assert (grid["columns"], grid["lines"]) == GRID
    assert sum(cell[2] for cell in grid["cells"]) == 16
    assert all(0 <= c < grid["columns"] and 0 <= r < grid["lines"] for c, r, *_ in grid["cells"])


def test_a_thousand_events_send_counts_and_a_narrow_window_of_them_sends_items(
    istanbul: TestClient,
) -> None:
    example = Counter(item["lane"] for item in chart(istanbul)["timeline"]["items"])
    start = datetime(2025, 6, 1)
    statements = [
        {
            "type": "StatementIssued",
            "occurred_at": (start + timedelta(hours=n)).isoformat() + "Z",
            "data": {"speaker": "UKR", "summary": f"Statement {n}"},
            "sources": SOURCE,
        }
        for n in range(1200)
    ]
    append(istanbul, *statements)

    body = chart(istanbul)  # the default max_items, 1,000
    assert body["timeline"]["mode"] == "buckets" and body["timeline"]["count"] == 1216
    assert sum(body["timeline"]["buckets"]["lanes"]["contacts"]) == example["contacts"] + 1200
    assert body["knowledge"]["mode"] == "grid"
    assert len(body["knowledge"]["grid"]["cells"]) <= GRID[0] * GRID[1]

    day = chart(istanbul, **{"from": "2025-06-02", "to": "2025-06-02"})
    assert day["timeline"]["mode"] == "items" and day["timeline"]["count"] == 24
    assert {item["type"] for item in day["timeline"]["items"]} == {"StatementIssued"}
    assert day["knowledge"]["mode"] == "points" and len(day["knowledge"]["points"]) == 24


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2025-06-01", "to": "2025-05-01"}, "from"),
        ({"max_items": "1"}, "max_items"),
        ({"max_items": "many"}, "max_items"),
        ({"as_of": "yesterday"}, "as_of"),
        ({"known_at": "2025-13-01"}, "known_at"),
        ({"to": "2025-05-28T25:00Z"}, "to"),
    ],
)
def test_bad_chart_parameters_are_a_422_naming_the_field(
    istanbul: TestClient, params: dict[str, str], field: str
) -> None:
    response = istanbul.get(CHART, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_the_chart_of_an_unknown_negotiation_is_a_404(istanbul: TestClient) -> None:
    response = istanbul.get("/negotiations/no-such-talks/chart")
    assert response.status_code == 404
    assert "no-such-talks" in response.json()["detail"]
