"""As of any moment, over HTTP, on the founding report and on both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from builders import retraction_body
from fastapi.testclient import TestClient
from support import REPO, append_event, just_before, ok_json

from store.config import StoreConfig
from store.log import ConflictLog

SLUG = "istanbul-2025"
STATE = f"/negotiations/{SLUG}/state"
ZONE_ID = "a12b1f35-8c76-4860-9765-cc2a92a6d916"
ROUND_2_SCHEDULED = "4a867148-8169-4fd9-8ac2-c1f2282badd5"
DISPUTED_CALL = "3221c451-fe72-4f21-b409-4d50f4b07cdd"


def state(client: TestClient, **params: str) -> dict[str, Any]:
    return ok_json(client, STATE, **params)


def rounds(body: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {r["round"]: r for r in body["rounds"]}


def append(client: TestClient, event: dict[str, Any]) -> dict[str, Any]:
    return append_event(client, SLUG, event)


def test_on_17_may_round_1_was_held_in_istanbul_and_no_round_2_yet(istanbul: TestClient) -> None:
    body = state(istanbul, as_of="2025-05-17")
    (first,) = body["rounds"]
    assert first["round"] == 1 and first["status"] == "held"
    assert (first["place"]["city"], first["place"]["region"]) == ("Istanbul", "TR-34")
    assert body["security_zones"] == [] and body["as_of"].startswith("2025-05-17T23:59:59")


def test_on_28_may_round_2_is_proposed_for_2_june_in_istanbul_hosted_by_turkiye(
    istanbul: TestClient,
) -> None:
    body = state(istanbul, as_of="2025-05-28")
    second = rounds(body)[2]
    assert second["status"] == "proposed" and second["starts_at"] == "2025-06-02"
    assert second["place"]["city"] == "Istanbul" and second["host"]["country"] == "TUR"
    (zone,) = body["security_zones"]
    assert sorted(zone["regions"]) == ["UA-59", "UA-63"]
    assert [c["event_id"] for c in body["contested"]] == [DISPUTED_CALL]


def test_known_at_before_the_report_was_loaded_shows_none_of_it(
    istanbul: TestClient, log: ConflictLog
) -> None:
    first = log.negotiation_events(SLUG, limit=1)[0]
    before = just_before(first.recorded_at.isoformat())
    body = state(istanbul, as_of="2025-05-28", known_at=before)
    assert body["event_count"] == 0 and body["rounds"] == [] and body["security_zones"] == []
    assert body["position"] is None and body["known_at"] == before.replace("+00:00", "Z")


def test_as_of_before_the_opening_is_an_empty_state_not_an_error(istanbul: TestClient) -> None:
    body = state(istanbul, as_of="2020-01-01")
    assert body["event_count"] == 0 and body["negotiation"] == SLUG


def test_every_answer_echoes_what_repeats_it_exactly(istanbul: TestClient) -> None:
    first = state(istanbul, as_of="2025-05-28")
    append(
        istanbul,
        {
            "type": "StatementIssued",
            "occurred_at": "2025-05-27",
            "data": {"speaker": "UKR", "summary": "Kyiv wants the memorandum before the meeting"},
            "sources": [{"outlet": "Reuters"}],
        },
    )
    again = state(
        istanbul,
        as_of=first["as_of"],
        known_at=first["known_at"],
        reported_at=first["reported_at"],
    )
    assert again == first
    assert state(istanbul, as_of="2025-05-28")["event_count"] == first["event_count"] + 1


def test_malformed_as_of_and_known_at_are_422_naming_the_parameter(istanbul: TestClient) -> None:
    for params, field in (
        ({"as_of": "last tuesday"}, "as_of"),
        ({"known_at": "2025-13-01"}, "known_at"),
        ({"as_of": "2025-05-28T10:00:00"}, "as_of"),  # no UTC offset
    ):
        response = istanbul.get(STATE, params=params)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field


def test_unknown_negotiation_state_is_404(istanbul: TestClient) -> None:
    assert istanbul.get("/negotiations/nowhere/state").status_code == 404


def test_a_back_dated_event_changes_past_valid_times_only_from_its_recorded_at(
    istanbul: TestClient,
) -> None:
    created = append(
        istanbul,
        {
            "type": "DelegationNamed",
            "occurred_at": "2025-05-15",
            "data": {"party": "UKR", "head": {"name": "Rustem Umerov", "country": "UKR"}},
            "sources": [{"outlet": "Ukrinform"}],
        },
    )
    now = state(istanbul, as_of="2025-05-17")
    assert now["delegations"]["UKR"]["head"]["name"] == "Rustem Umerov"
    earlier = state(istanbul, as_of="2025-05-17", known_at=just_before(created["recorded_at"]))
    assert "UKR" not in earlier["delegations"]
    at_recording = state(istanbul, as_of="2025-05-17", known_at=created["recorded_at"])
    assert at_recording["delegations"]["UKR"]["head"]["name"] == "Rustem Umerov"


def test_a_correction_acts_from_its_own_recorded_at(istanbul: TestClient) -> None:
    created = append(
        istanbul,
        {
            "type": "EventCorrected",
            "occurred_at": "2025-05-29",
            "data": {
                "event_id": ROUND_2_SCHEDULED,
                "data": {"starts_at": "2025-06-03"},
                "reason": "the date was misread",
            },
            "sources": [{"outlet": "Parley desk"}],
        },
    )
    assert rounds(state(istanbul, as_of="2025-05-28"))[2]["starts_at"] == "2025-06-03"
    before = state(istanbul, as_of="2025-05-28", known_at=just_before(created["recorded_at"]))
    assert rounds(before)[2]["starts_at"] == "2025-06-02"


def test_a_retraction_acts_from_its_recorded_at_and_before_it_the_event_counts_again(
    istanbul: TestClient,
) -> None:
    created = append(istanbul, retraction_body(ZONE_ID, "misattributed"))
    assert state(istanbul, as_of="2025-05-28")["security_zones"] == []
    before = state(istanbul, as_of="2025-05-28", known_at=just_before(created["recorded_at"]))
    assert [z["regions"] for z in before["security_zones"]] == [["UA-63", "UA-59"]]


def test_a_retracted_event_takes_its_disputes_with_it(istanbul: TestClient) -> None:
    append(istanbul, retraction_body(DISPUTED_CALL, "the agencies withdrew it"))
    assert state(istanbul, as_of="2025-05-28")["contested"] == []


def test_the_timeline_lists_dated_events_with_sources_and_dispute_flags(
    istanbul: TestClient,
) -> None:
    response = istanbul.get(
        f"/negotiations/{SLUG}/timeline", params={"from": "2025-05-28", "to": "2025-05-28"}
    )
    assert response.status_code == 200, response.text
    entries = response.json()["events"]
    assert all(e["sources"] for e in entries)
    call = next(e for e in entries if e["id"] == DISPUTED_CALL)
    assert call["disputed_by"] and call["retracted_by"] is None
    # Round 1 (16 May) lies before the window; the Kremlin's doubts (16–28 May) overlap it.
    assert "RoundHeld" not in {e["type"] for e in entries}
    assert any(e.get("occurred_until") == "2025-05-28" for e in entries)
    full = istanbul.get(f"/negotiations/{SLUG}/timeline").json()["events"]
    valid_order = [e["position"] for e in full]
    assert len(full) > len(entries) and len(set(valid_order)) == len(valid_order)


def test_latest_keeps_the_last_timeline_entries_and_total_counts_them_all(
    istanbul: TestClient,
) -> None:
    path = f"/negotiations/{SLUG}/timeline"
    full = istanbul.get(path, params={"to": "2025-05-28"}).json()
    pinned = {
        "to": "2025-05-28",
        "known_at": full["known_at"],
        "reported_at": full["reported_at"],
        "latest": 3,
    }
    latest = istanbul.get(path, params=pinned).json()

    assert full["total"] == len(full["events"]) > 3
    assert latest["total"] == full["total"]
    assert latest["events"] == full["events"][-3:]
    assert {k: v for k, v in latest.items() if k != "events"} == {
        k: v for k, v in full.items() if k != "events"
    }
    # Later knowledge: a correction, two retractions and a back-dated report.
    desk = [{"outlet": "Parley desk"}]
    first = append(istanbul, {
        "type": "EventCorrected", "occurred_at": "2025-05-29", "sources": desk,
        "data": {"event_id": ROUND_2_SCHEDULED, "data": {"starts_at": "2025-06-03"},
                 "reason": "the date was misread"},
    })  # fmt: skip
    for target in (ZONE_ID, DISPUTED_CALL):
        append(istanbul, {
            "type": "EventRetracted", "occurred_at": "2025-05-30", "sources": desk,
            "data": {"event_id": target, "reason": "misattributed"},
        })  # fmt: skip
    append(istanbul, {
        "type": "StatementIssued", "occurred_at": "2025-05-18", "sources": desk,
        "data": {"speaker": "UKR", "summary": "A report that arrived late."},
    })  # fmt: skip
    # The index picks the latest (with every proposal and log fact) instead of reading
    # everything: it must agree with the whole timeline cut, at every length and moment.
    for to in ("2025-05-16", "2025-05-20", "2025-05-28", None):
        for known_at in (None, just_before(first["recorded_at"])):
            moment = {"known_at": known_at or "2030-01-01", **({"to": to} if to else {})}
            whole = istanbul.get(path, params=moment).json()
            for count in range(1, whole["total"] + 2):
                cut = istanbul.get(path, params={**moment, "latest": count}).json()
                assert cut["events"] == whole["events"][-count:], (to, known_at, count)
                assert cut["total"] == whole["total"] == len(whole["events"])
                assert cut["position"] == max(
                    (e["position"] for e in cut["events"]), default=None
                )
    refused = istanbul.get(path, params={"latest": 0})
    assert refused.status_code == 422 and "latest" in refused.text


def test_the_diff_lists_what_changed_between_two_valid_times_with_the_events(
    istanbul: TestClient,
) -> None:
    response = istanbul.get(
        f"/negotiations/{SLUG}/diff", params={"from": "2025-05-17", "to": "2025-05-28"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    added = {c["round"]: c for c in body["rounds"]}
    assert added[2]["change"] == "added" and ROUND_2_SCHEDULED in added[2]["events"]
    assert [c["change"] for c in body["security_zones"]] == ["added"]
    assert ZONE_ID in body["security_zones"][0]["events"]
    assert {p["change"] for p in body["proposals"]} == {"added"}
    bad = istanbul.get(
        f"/negotiations/{SLUG}/diff", params={"from": "2025-05-28", "to": "2025-05-17"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "from"


def test_parley_state_prints_a_table_or_json(
    istanbul: TestClient, store_config: StoreConfig
) -> None:
    env = {**os.environ, "PARLEY_DATA_DIR": str(store_config.data_dir), "COLUMNS": "160"}
    if store_config.database_url:
        env |= {
            "PARLEY_DATABASE_URL": store_config.database_url,
            "PARLEY_DATABASE_SCHEMA": store_config.postgres_schema,
        }
    command = [sys.executable, "-m", "api.cli", "state", SLUG, "--as-of", "2025-05-28"]
    table = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert "Istanbul, TR-34" in table.stdout and "UA-63, UA-59" in table.stdout
    as_json = subprocess.run(
        command + ["--json"], env=env, cwd=REPO, capture_output=True, text=True, check=True
    )
    assert {r["round"] for r in json.loads(as_json.stdout)["rounds"]} == {1, 2}
    bad = subprocess.run(
        command[:-1] + ["yesterday"], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "--as-of" in bad.stderr
