"""Exports and codes over HTTP and from the command line, on both backends.

The founding report is exported in each format and read back as an analyst would:
NDJSON line by line against ``GET /events/{id}``, CSV with pandas, PLOVER as JSON lines
in the manual's field names. Retractions, corrections, disputes, back-dated events and
the filters are checked against the as-of rules, and each export is repeated exactly
from what its first line names.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import pytest
from builders import retraction_body
from fastapi.testclient import TestClient
from support import REPO, Server, append_event, just_before

from api.formats import CSV_COLUMNS
from store.config import StoreConfig
from store.log import ConflictLog

SLUG = "istanbul-2025"
EXPORT = f"/negotiations/{SLUG}/export"
PHONE_CALL = "61d52dc5-be7b-4d5d-81e0-f46f41141581"  # Putin and Trump, 19 May
DISPUTED_CALL = "3221c451-fe72-4f21-b409-4d50f4b07cdd"  # who phoned whom, 28 May
DISPUTE = "e9d0f8f7-38c4-4dc3-818a-483efa1c3f12"
ZONE = "a12b1f35-8c76-4860-9765-cc2a92a6d916"
EVENTS_IN_EXAMPLE = 16


def export(client: TestClient, **params: str) -> str:
    response = client.get(EXPORT, params=params)
    assert response.status_code == 200, response.text
    return response.text


def json_lines(text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The metadata line and the records of an NDJSON or PLOVER export."""
    first, *rest = (json.loads(line) for line in text.splitlines() if line)
    return first["export"], rest


def read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), comment="#", dtype={"cameo": str})


def csv_metadata(text: str) -> dict[str, str]:
    lines = [line[2:] for line in text.splitlines() if line.startswith("# ")]
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def append(client: TestClient, event: dict[str, Any]) -> dict[str, Any]:
    return append_event(client, SLUG, event)


def proposal_and_answer(client: TestClient, response: str) -> tuple[str, str]:
    made = append(
        client,
        {
            "type": "ProposalMade",
            "occurred_at": "2025-05-29",
            "data": {
                "proposal_id": f"ukr-meet-{response}",
                "proposer": "UKR",
                "addressee": "RUS",
                "subject": "meeting",
                "summary": "Kyiv proposes a leaders' meeting.",
            },
            "sources": [{"outlet": "Ukrinform"}],
        },
    )
    answered = append(
        client,
        {
            "type": "ProposalAnswered",
            "occurred_at": "2025-05-30",
            "data": {
                "proposal_id": f"ukr-meet-{response}",
                "responder": "RUS",
                "response": response,
            },
            "sources": [{"outlet": "TASS"}],
        },
    )
    return made["id"], answered["id"]


# NDJSON


def test_ndjson_is_the_founding_report_as_get_event_shows_each_event(
    istanbul: TestClient, log: ConflictLog
) -> None:
    meta, records = json_lines(export(istanbul, format="ndjson"))

    assert len(records) == EVENTS_IN_EXAMPLE
    assert meta["position"] == log.last_position() and meta["negotiation"] == SLUG
    assert [r["position"] for r in records] == sorted(r["position"] for r in records)
    for record in records:
        assert record == istanbul.get(f"/events/{record['id']}").json()
    by_id = {r["id"]: r for r in records}
    assert by_id[PHONE_CALL]["coding"] == {
        "cameo": "041",
        "cameo_label": "Discuss by telephone",
        "plover": {"event": "CONSULT", "mode": "phone", "context": []},
    }
    assert [d["id"] for d in by_id[DISPUTED_CALL]["disputes"]] == [DISPUTE]
    for record in records:
        assert record["sources"] and record["recorded_at"].endswith("Z")
        assert len(record["hash"]) == 64


def _bounds(meta: dict[str, Any]) -> dict[str, str]:
    """The times an export's first line names, which repeat it."""
    return {key: meta[key] for key in ("as_of", "known_at", "reported_at")}


def test_the_first_line_names_what_repeats_the_export_byte_for_byte(
    istanbul: TestClient,
) -> None:
    first = export(istanbul, format="ndjson", as_of="2025-05-28")
    meta, _ = json_lines(first)
    append(  # recorded later, back-dated into the exported window
        istanbul,
        {
            "type": "StatementIssued",
            "occurred_at": "2025-05-20",
            "data": {"speaker": "UKR", "summary": "Kyiv wants the memorandum first."},
            "sources": [{"outlet": "Reuters"}],
        },
    )
    for fmt in ("ndjson", "csv", "plover"):
        once = export(istanbul, format=fmt, **_bounds(meta))
        repeat = csv_metadata(once)["repeat"] if fmt == "csv" else json_lines(once)[0]["repeat"]
        again = istanbul.get(repeat)
        assert again.status_code == 200 and again.text == once
    same = export(istanbul, format="ndjson", **_bounds(meta))
    assert same == first
    now, records = json_lines(export(istanbul, format="ndjson", as_of="2025-05-28"))
    assert len(records) == len(json_lines(first)[1]) + 1 and now["position"] > meta["position"]


# CSV


def test_csv_reads_cleanly_with_pandas_with_acled_columns_and_provenance(
    istanbul: TestClient, log: ConflictLog
) -> None:
    text = export(istanbul, format="csv")
    frame = read_csv(text)

    assert tuple(frame.columns) == CSV_COLUMNS
    assert len(frame) == EVENTS_IN_EXAMPLE
    assert frame["position"].dtype.kind == "i" and frame["version"].dtype.kind == "i"
    assert pd.to_datetime(frame["event_date"]).dt.year.eq(2025).all()
    assert frame["hash"].str.len().eq(64).all() and frame["negotiation"].eq(SLUG).all()
    assert pd.to_datetime(frame["recorded_at"]).notna().all()
    assert "recorded_by" in frame.columns
    call = frame.set_index("event_id").loc[PHONE_CALL]
    assert (call["actor1"], call["country1"], call["actor2"], call["country2"]) == (
        "Vladimir Putin",
        "RUS",
        "Donald Trump",
        "USA",
    )
    assert (call["cameo"], call["plover_event"], call["plover_mode"]) == ("041", "CONSULT", "phone")
    # The call was first reported on 19 May (issue 16 added that source to the example).
    assert call["source"] == "teleSUR (via EFE, TASS, Sputnik); The New Zealand Herald"
    assert json.loads(call["sources"])[0]["quote"] == "during a phone call on May 19"
    zone = frame.set_index("event_id").loc[ZONE]
    assert zone["iso_region"] == "UA-63; UA-59" and zone["country2"] == "UKR"
    assert zone["cameo"] == "1382" and zone["plover_event"] == "THREATEN"
    disputed = frame.set_index("event_id").loc[DISPUTED_CALL]
    assert disputed["disputed_by"] == DISPUTE
    meta = csv_metadata(text)
    assert meta["position"] == str(log.last_position()) and "CAMEO2PLOVER-2021" in meta["codebook"]


def test_a_hash_mark_or_a_line_break_in_a_field_survives_pandas(istanbul: TestClient) -> None:
    append(
        istanbul,
        {
            "type": "StatementIssued",
            "occurred_at": "2025-05-29",
            "data": {"speaker": "UKR", "summary": "Point #1, then\na new line, \"quoted\", done"},
            "sources": [{"outlet": "Ukrinform", "url": "https://example.org/a#b"}],
        },
    )
    frame = read_csv(export(istanbul, format="csv", type="StatementIssued"))

    assert frame["notes"].iloc[-1] == "Point #1, then\na new line, \"quoted\", done"
    assert json.loads(frame["sources"].iloc[-1])[0]["url"] == "https://example.org/a#b"
    assert set(frame["event_type"]) == {"StatementIssued"}


# PLOVER


def test_plover_lines_use_the_manual_field_names_and_iso_alpha3_entities(
    istanbul: TestClient,
) -> None:
    meta, records = json_lines(export(istanbul, format="plover"))

    assert len(records) == EVENTS_IN_EXAMPLE and "PLOVER" in meta["plover_manual"]
    for record in records:
        assert {"id", "date", "event", "mode", "context", "actor", "recipient"} <= set(record)
        assert isinstance(record["event"], list) and isinstance(record["context"], list)
        assert record["has_event"] == bool(record["event"])
        for entity in record["actor"] + record["recipient"]:
            assert len(entity["code"]) == 3 and entity["code"].isupper()
        provenance = record["parley"]
        assert {"position", "recorded_at", "recorded_by", "hash", "sources"} <= set(provenance)
    by_id = {r["id"]: r for r in records}
    call = by_id[PHONE_CALL]
    assert (call["event"], call["mode"], call["cameo"]) == (["CONSULT"], ["phone"], "041")
    assert call["date"] == "2025-05-19"
    assert [a["code"] for a in call["actor"]] == ["RUS", "USA"] and call["recipient"] == []
    assert call["actor"][0]["identifier_id"] == "Q7747"
    zone = by_id[ZONE]
    assert zone["event"] == ["THREATEN"] and [r["code"] for r in zone["recipient"]] == ["UKR"]
    assert zone["event_loc"]["iso_region"] == ["UA-63", "UA-59"]
    dispute = by_id[DISPUTE]  # a denial: the denier rejects (issue 16), never accuses
    assert (dispute["event"], dispute["mode"], dispute["cameo"]) == (["REJECT"], [], "120")
    assert [a["code"] for a in dispute["actor"]] == ["RUS"]
    assert dispute["recipient"] == []  # "various news agencies" name no country to code


# What an export holds: the as-of rules


def test_a_retracted_event_leaves_the_export_only_from_the_retraction_on(
    istanbul: TestClient,
) -> None:
    retraction = append(istanbul, retraction_body(DISPUTED_CALL, "the call is unconfirmed"))
    _, now = json_lines(export(istanbul, format="ndjson"))
    before = read_csv(
        export(istanbul, format="csv", known_at=just_before(retraction["recorded_at"]))
    )

    ids = {r["id"] for r in now}
    # The call goes, and the dispute with it; no fact about the log is a row.
    assert DISPUTED_CALL not in ids and DISPUTE not in ids
    assert {r["type"] for r in now}.isdisjoint({"EventRetracted", "EventCorrected"})
    assert len(now) == EVENTS_IN_EXAMPLE - 2
    assert {DISPUTED_CALL, DISPUTE} <= set(before["event_id"]) and len(before) == 16


def retract(client: TestClient, target: str) -> dict[str, Any]:
    return append(client, retraction_body(target, "withdrawn"))


def test_an_export_holds_as_many_events_as_the_state_folds_at_every_moment(
    istanbul: TestClient,
) -> None:
    withdrawn = retract(istanbul, DISPUTE)  # the dispute itself is withdrawn
    append(  # recorded late, back-dated
        istanbul,
        {
            "type": "StatementIssued",
            "occurred_at": "2025-05-18",
            "data": {"speaker": "TUR", "summary": "Ankara offers to host again."},
            "sources": [{"outlet": "Anadolu"}],
        },
    )
    gone = retract(istanbul, PHONE_CALL)
    for as_of in ("2025-05-17", "2025-05-19", "2025-05-28", None):
        for known_at in (just_before(withdrawn["recorded_at"]), gone["recorded_at"], None):
            params = {k: v for k, v in (("as_of", as_of), ("known_at", known_at)) if v}
            state = istanbul.get(f"/negotiations/{SLUG}/state", params=params).json()
            _, rows = json_lines(export(istanbul, format="ndjson", **params))
            assert len(rows) == state["event_count"], (as_of, known_at)
    _, now = json_lines(export(istanbul, format="ndjson"))
    by_id = {r["id"]: r for r in now}
    assert DISPUTE not in by_id and PHONE_CALL not in by_id
    assert by_id[DISPUTED_CALL]["disputes"] == []  # a withdrawn dispute disputes nothing


def test_a_correction_applies_in_csv_and_plover_and_is_attached_in_ndjson(
    istanbul: TestClient,
) -> None:
    correction = append(
        istanbul,
        {
            "type": "EventCorrected",
            "occurred_at": "2025-05-30",
            "data": {
                "event_id": PHONE_CALL,
                "data": {"medium": "visit", "summary": "Putin and Trump met."},
                "reason": "it was a meeting, not a call",
            },
            "sources": [{"outlet": "Parley desk"}],
        },
    )
    rows = read_csv(export(istanbul, format="csv")).set_index("event_id")
    _, plover = json_lines(export(istanbul, format="plover"))
    _, ndjson = json_lines(export(istanbul, format="ndjson"))
    earlier = read_csv(
        export(istanbul, format="csv", known_at=just_before(correction["recorded_at"]))
    ).set_index("event_id")

    call = rows.loc[PHONE_CALL]
    assert call["cameo"] == "042" and call["plover_mode"] == "visit"
    assert call["notes"] == "visit: Putin and Trump met."
    assert call["corrected_by"] == correction["id"]
    assert {r["id"]: r for r in plover}[PHONE_CALL]["mode"] == ["visit"]
    stored = {r["id"]: r for r in ndjson}[PHONE_CALL]
    assert stored["data"]["medium"] == "phone" and stored["coding"]["cameo"] == "041"
    assert [c["id"] for c in stored["corrections"]] == [correction["id"]]
    assert earlier.loc[PHONE_CALL, "cameo"] == "041" and pd.isna(
        earlier.loc[PHONE_CALL, "corrected_by"]
    )


def test_as_of_from_to_and_type_narrow_the_export_as_the_state_and_timeline_do(
    istanbul: TestClient,
) -> None:
    as_of_17 = read_csv(export(istanbul, format="csv", as_of="2025-05-17"))
    window = read_csv(export(istanbul, format="csv", **{"from": "2025-05-19", "to": "2025-05-19"}))
    typed = read_csv(export(istanbul, format="csv", type="ContactHeld,ProposalMade"))
    repeated = read_csv(
        istanbul.get(EXPORT, params=[("format", "csv"), ("type", "ContactHeld"),
                                     ("type", "ProposalMade")]).text
    )

    assert set(as_of_17["event_type"]) == {"NegotiationOpened", "RoundHeld", "StatementIssued"}
    # The Kremlin's statement runs from 16 to 28 May, so it overlaps 19 May.
    assert set(window["event_date"]) == {"2025-05-16", "2025-05-19"}
    assert PHONE_CALL in set(window["event_id"]) and DISPUTED_CALL not in set(window["event_id"])
    assert set(typed["event_type"]) == {"ContactHeld", "ProposalMade"} and len(typed) == 5
    assert repeated.equals(typed)


def test_known_at_before_anything_was_recorded_is_an_empty_export_that_says_so(
    istanbul: TestClient, log: ConflictLog
) -> None:
    first = log.negotiation_events(SLUG, limit=1)[0]
    meta, records = json_lines(
        export(istanbul, format="plover", known_at=just_before(first.recorded_at.isoformat()))
    )
    assert records == [] and meta["position"] is None
    assert read_csv(export(istanbul, format="csv", known_at="2020-01-01")).empty


# Codes in every answer


@pytest.mark.parametrize(
    ("response", "cameo", "plover"),
    [("accepted", "036", "AGREE"), ("rejected", "125", "REJECT"), ("noted", "014", None)],
)
def test_an_answer_is_coded_by_its_response_and_its_proposal_s_subject_everywhere(
    istanbul: TestClient, response: str, cameo: str, plover: str | None
) -> None:
    _, answer = proposal_and_answer(istanbul, response)

    detail = istanbul.get(f"/events/{answer}").json()
    page = istanbul.get(f"/negotiations/{SLUG}/events", params={"type": "ProposalAnswered"})
    timeline = istanbul.get(f"/negotiations/{SLUG}/timeline").json()["events"]
    _, plover_lines = json_lines(export(istanbul, format="plover"))
    csv_row = read_csv(export(istanbul, format="csv")).set_index("event_id").loc[answer]

    assert detail["coding"]["cameo"] == cameo and detail["coding"]["plover"]["event"] == plover
    assert [e["coding"]["cameo"] for e in page.json()["events"]] == [cameo]
    assert {e["id"]: e for e in timeline}[answer]["coding"]["cameo"] == cameo
    line = {r["id"]: r for r in plover_lines}[answer]
    assert line["cameo"] == cameo and line["event"] == ([plover] if plover else [])
    assert [r["code"] for r in line["actor"]] == ["RUS"]
    assert [r["code"] for r in line["recipient"]] == ["UKR"]  # the proposer
    assert csv_row["cameo"] == cameo


def test_every_event_answer_carries_a_coding_object(istanbul: TestClient) -> None:
    page = istanbul.get(f"/negotiations/{SLUG}/events", params={"limit": 100}).json()["events"]
    timeline = istanbul.get(f"/negotiations/{SLUG}/timeline").json()["events"]

    assert len(page) == EVENTS_IN_EXAMPLE
    for event in page + timeline:
        assert set(event["coding"]) == {"cameo", "cameo_label", "plover"}
    ceasefire = [e for e in page if e["type"] == "CeasefireProposed"]
    assert ceasefire[0]["coding"]["cameo"] == "0356"


# Bad requests


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"format": "xlsx"}, "format"),
        ({"type": "EventRetracted"}, "type"),
        ({"type": "RoundHeld,NoSuchType"}, "type"),
        ({"as_of": "last tuesday"}, "as_of"),
        ({"known_at": "2025-13-01"}, "known_at"),
        ({"from": "2025-05-28", "to": "2025-05-17"}, "from"),
        ({"to": "soon"}, "to"),
    ],
)
def test_a_bad_format_type_or_time_is_a_422_naming_the_parameter(
    istanbul: TestClient, params: dict[str, str], field: str
) -> None:
    response = istanbul.get(EXPORT, params=params)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == field


def test_an_unknown_negotiation_is_a_404_problem(istanbul: TestClient) -> None:
    response = istanbul.get("/negotiations/nowhere/export", params={"format": "csv"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


# The command line and a real server


def _env(store_config: StoreConfig) -> dict[str, str]:
    env = {**os.environ, "PARLEY_DATA_DIR": str(store_config.data_dir)}
    if store_config.database_url:
        env |= {
            "PARLEY_DATABASE_URL": store_config.database_url,
            "PARLEY_DATABASE_SCHEMA": store_config.postgres_schema,
        }
    return env


def test_parley_export_writes_the_same_bytes_as_the_api(
    istanbul: TestClient, store_config: StoreConfig
) -> None:
    meta, _ = json_lines(export(istanbul, format="plover"))
    target = store_config.data_dir / "istanbul.csv"
    command = [
        sys.executable, "-m", "api.cli", "export", SLUG, "--format", "csv",
        "--as-of", meta["as_of"], "--known-at", meta["known_at"],
        "--reported-at", meta["reported_at"], "-o", str(target),
    ]  # fmt: skip
    done = subprocess.run(command, env=_env(store_config), cwd=REPO, capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    assert f"up to position {meta['position']}" in done.stderr
    api_csv = export(istanbul, format="csv", **_bounds(meta))
    assert target.read_text(encoding="utf-8") == api_csv
    bad = subprocess.run(
        command[:-2] + ["--type", "EventCorrected"],
        env=_env(store_config), cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "type" in bad.stderr


@pytest.fixture
def live(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


def test_a_real_server_streams_each_format_of_the_founding_example(live: httpx.Client) -> None:
    for fmt in ("ndjson", "csv", "plover"):
        with live.stream("GET", EXPORT, params={"format": fmt, "as_of": "2025-05-28"}) as answer:
            assert answer.status_code == 200
            assert "attachment" in answer.headers["content-disposition"]
            body = b"".join(answer.iter_bytes()).decode()
        if fmt == "csv":
            assert len(read_csv(body)) == EVENTS_IN_EXAMPLE
        else:
            meta, records = json_lines(body)
            assert len(records) == EVENTS_IN_EXAMPLE and meta["as_of"].startswith("2025-05-28")
            assert int(answer.headers["parley-export-position"]) == meta["position"]
