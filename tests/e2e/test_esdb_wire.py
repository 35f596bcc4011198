"""The EventSourcingDB-compatible API on the wire, with httpx: statuses, the ``Server``
header, the line shapes and the time format, on a real server on each backend; the
error lines that end a live stream, on the log itself; and random bodies, which never
get a 500.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import peace_events as peace
import pytest
from builders import opened_event, statement_event
from esdb_support import READ, new_subject
from esdb_support import SERVER_ENV as SERVER_ENV  # the shared_server's
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import AUTH, Server

from api.esdb.service import ObservePlan, observe_lines
from api.esdb.wire import HEARTBEAT, Scope
from domain.events import EVENT_TYPES
from projections.tail import LogTail
from store.log import ConflictLog

HANG_GUARD = 60.0
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
CLOUD_EVENT = {
    "specversion",
    "id",
    "time",
    "source",
    "subject",
    "type",
    "datacontenttype",
    "data",
    "predecessorhash",
    "hash",
}


@pytest.fixture(scope="module")
def parley(shared_server: Server) -> Server:
    """The module's server on one backend, with SERVER_ENV."""
    return shared_server


def post(server: Server, path: str, body: Any, headers: dict[str, str] = AUTH) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        f"{server.url}/api/v1/{path}",
        content=content,
        headers={**headers, "Content-Type": "application/json"},
        timeout=HANG_GUARD,
    )


def assert_from_eventsourcingdb(response: httpx.Response) -> None:
    """Exactly one Server header, and the prefix the SDKs require."""
    servers = response.headers.get_list("server")
    assert len(servers) == 1 and servers[0].startswith("EventSourcingDB/"), servers


def opening(subject: str) -> dict[str, Any]:
    return {
        "source": "https://desk.example.org",
        "subject": subject,
        "type": "io.parley.NegotiationOpened",
        "data": {
            "occurred_at": "2025-03-25",
            "data": {"title": "Black Sea shipping talks", "parties": ["RUS", "UKR"]},
            "sources": [{"outlet": "Reuters"}],
        },
    }


def ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    """The lines of an NDJSON body; a blank line fails."""
    assert response.headers["content-type"].startswith("application/x-ndjson")
    text = response.text
    assert text == "" or text.endswith("\n")
    lines = text.split("\n")[:-1] if text else []
    assert all(line.strip() for line in lines), "blank line in the stream"
    return [json.loads(line) for line in lines]


def test_v2_is_unrouted_and_ping_is_an_open_200_from_eventsourcingdb(parley: Server) -> None:
    assert httpx.get(f"{parley.url}/api/v2/system/ping").status_code == 404
    ping = httpx.get(f"{parley.url}/api/v1/ping")
    assert ping.status_code == 200
    assert_from_eventsourcingdb(ping)
    body = ping.json()
    assert body["type"] == "io.eventsourcingdb.api.ping-received"
    assert body["specversion"] == "1.0" and TIME.match(body["time"])
    verified = post(parley, "verify-api-token", {}, READ)
    assert verified.status_code == 200
    assert verified.json()["type"] == "io.eventsourcingdb.api.api-token-verified"
    # Parley's own routes name no server at all (uvicorn is told not to).
    assert "server" not in httpx.get(f"{parley.url}/health").headers


def test_every_error_is_text_with_the_status_and_the_server_header(parley: Server) -> None:
    slug, subject = new_subject()
    assert post(parley, "write-events", {"events": [opening(subject)]}).status_code == 200
    invalid = opening(subject)
    invalid["data"] = {**invalid["data"], "data": {"title": "", "parties": ["RUS"]}}
    pristine = {"type": "isSubjectPristine", "payload": {"subject": subject}}
    eventql = {"type": "isEventQlQueryTrue", "payload": {"query": "FROM e IN events"}}
    bad_bound = {
        "subject": "/",
        "options": {"recursive": True, "lowerBound": {"id": "x", "type": "inclusive"}},
    }
    huge_bound = {
        "subject": "/",
        "options": {"recursive": True, "lowerBound": {"id": str(2**64), "type": "exclusive"}},
    }
    cases: list[tuple[str, str, Any, dict[str, str], int, str]] = [
        ("POST", "verify-api-token", {}, {}, 401, "the bearer token"),
        ("POST", "verify-api-token", {}, {"Authorization": "Bearer wrong"}, 401, "the bearer"),
        ("POST", "read-events", {"subject": "/", "options": {"recursive": True}}, {}, 401, ""),
        ("POST", "write-events", {"events": [opening(subject)]}, READ, 403, "this token can"),
        ("POST", "write-events", b"{not json", AUTH, 400, "the body is not valid JSON"),
        ("POST", "write-events", b"", AUTH, 400, "the body is empty"),
        ("POST", "write-events", {"events": [invalid]}, AUTH, 422, "events.0.data.data.title"),
        ("POST", "write-events", {"events": []}, AUTH, 422, "events"),
        (
            "POST",
            "write-events",
            {"events": [opening(subject)], "preconditions": [pristine]},
            AUTH,
            409,
            "state conflict: precondition failed",
        ),
        (
            "POST",
            "write-events",
            {"events": [opening(subject)], "preconditions": [eventql]},
            AUTH,
            422,
            "preconditions.0.type: isEventQlQueryTrue is not supported",
        ),
        ("POST", "read-events", bad_bound, READ, 422, "options.lowerBound.id"),
        ("POST", "observe-events", huge_bound, READ, 422, "options.lowerBound.id"),
        ("POST", "read-subjects", {"baseSubject": "nowhere"}, READ, 422, "baseSubject"),
        ("POST", "read-event-type", {"eventType": "io.parley.X"}, READ, 404, "event type"),
        ("POST", "register-event-schema", {"eventType": "io.parley.RoundHeld", "schema": {}},
         AUTH, 409, "schema conflict: schema already exists"),
        ("POST", "run-eventql-query", {"query": "FROM e IN events"}, READ, 400, "EventQL"),
        ("GET", "write-events", None, AUTH, 405, "use POST"),
        ("POST", "no-such-endpoint", {}, AUTH, 404, "/api/v1/no-such-endpoint is not"),
    ]  # fmt: skip
    for method, path, body, headers, status, text in cases:
        content = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        response = httpx.request(
            method,
            f"{parley.url}/api/v1/{path}",
            content=content,
            headers={**headers, "Content-Type": "application/json"},
            timeout=HANG_GUARD,
        )
        assert response.status_code == status, (path, response.text)
        assert_from_eventsourcingdb(response)
        assert response.headers["content-type"].startswith("text/plain"), path
        assert response.text.startswith(text) or not text, (path, response.text)
    challenge = post(parley, "verify-api-token", {}, {})
    assert challenge.headers["www-authenticate"] == "Bearer"


def test_a_write_answers_200_with_the_events_as_cloud_events(parley: Server) -> None:
    slug, subject = new_subject()
    second = {
        "source": "https://desk.example.org",
        "subject": subject,
        "type": "io.parley.StatementIssued",
        "data": {
            "occurred_at": "2025-03-26",
            "data": {"speaker": "UKR", "summary": "no relief agreed"},
            "sources": [{"outlet": "Ukrinform"}],
        },
    }
    response = post(parley, "write-events", {"events": [opening(subject), second]})
    assert response.status_code == 200  # not 201
    assert_from_eventsourcingdb(response)
    first, then = response.json()
    for event in (first, then):
        assert set(event) == CLOUD_EVENT
        assert TIME.match(event["time"]), event["time"]
        assert event["subject"] == subject and event["source"] == "https://desk.example.org"
    assert int(then["id"]) > int(first["id"])
    assert first["predecessorhash"] == "0" * 64 and then["predecessorhash"] == first["hash"]
    assert first["type"] == "io.parley.NegotiationOpened"
    assert then["data"]["data"]["summary"] == "no relief agreed"
    assert then["data"]["sources"][0]["outlet"] == "Ukrinform"
    # Re-sending a stored event (same id, same content) returns it as it was stored.
    again = {**second, "data": {**second["data"], "id": then["data"]["id"]}}
    repeated = post(parley, "write-events", {"events": [again]})
    assert repeated.status_code == 200 and repeated.json() == [then]


def test_reads_are_event_lines_only_and_subjects_and_types_are_lines_too(parley: Server) -> None:
    read = post(parley, "read-events", {"subject": "/", "options": {"recursive": True}}, READ)
    assert read.status_code == 200
    assert_from_eventsourcingdb(read)
    lines = ndjson(read)
    assert lines and all(set(line) == {"type", "payload"} for line in lines)
    assert {line["type"] for line in lines} == {"event"}  # no heartbeats on a read
    assert all(set(line["payload"]) == CLOUD_EVENT for line in lines)
    assert all(TIME.match(line["payload"]["time"]) for line in lines)
    positions = [int(line["payload"]["id"]) for line in lines]
    assert positions == sorted(positions)

    empty = post(parley, "read-events", {"subject": "/books", "options": {"recursive": True}}, READ)
    assert empty.status_code == 200 and ndjson(empty) == []

    subjects = ndjson(post(parley, "read-subjects", {"baseSubject": "/negotiations"}, READ))
    assert subjects[0] == {"type": "subject", "payload": {"subject": "/negotiations"}}
    assert {"type": "subject", "payload": {"subject": "/negotiations/istanbul-2025"}} in subjects

    types = ndjson(post(parley, "read-event-types", b"", READ))
    assert len(types) == len(EVENT_TYPES) and {t["type"] for t in types} == {"eventType"}
    assert all(t["payload"]["isPhantom"] is False for t in types)
    one = post(parley, "read-event-type", {"eventType": "io.parley.ClaimDisputed"}, READ)
    assert one.status_code == 200 and one.json() == next(
        t["payload"] for t in types if t["payload"]["eventType"] == "io.parley.ClaimDisputed"
    )


def test_issue_16s_types_are_offered_with_their_schemas_and_can_be_written(
    parley: Server,
) -> None:
    types = ndjson(post(parley, "read-event-types", b"", READ))
    offered = {t["payload"]["eventType"]: t["payload"] for t in types}

    for name, build in peace.BUILDERS.items():
        info = offered[f"io.parley.{name}"]
        assert info["isPhantom"] is False
        fields = build()["data"]
        data_schema = info["schema"]["properties"]["data"]
        ref = data_schema.get("$ref", "").rsplit("/", 1)[-1]
        properties = info["schema"]["$defs"][ref]["properties"] if ref else data_schema
        assert set(fields) <= set(properties), name
        one = post(parley, "read-event-type", {"eventType": f"io.parley.{name}"}, READ)
        assert one.status_code == 200 and one.json() == info
    slug, subject = new_subject()
    candidates = [opening(subject)] + [
        {
            "source": "https://desk.example.org",
            "subject": subject,
            "type": f"io.parley.{name}",
            "data": {k: v for k, v in build().items() if k != "type"},
        }
        for name, build in peace.BUILDERS.items()
    ]
    written = post(parley, "write-events", {"events": candidates})
    assert written.status_code == 200, written.text
    assert [e["type"] for e in written.json()][1:] == [f"io.parley.{n}" for n in peace.BUILDERS]


def test_observe_streams_events_then_heartbeats_as_lines(parley: Server) -> None:
    slug, subject = new_subject()
    assert post(parley, "write-events", {"events": [opening(subject)]}).status_code == 200
    body = json.dumps({"subject": subject, "options": {"recursive": False}}).encode()
    seen: list[dict[str, Any]] = []
    with httpx.stream(
        "POST",
        f"{parley.url}/api/v1/observe-events",
        content=body,
        headers={**READ, "Content-Type": "application/json"},
        timeout=HANG_GUARD,
    ) as response:
        assert response.status_code == 200
        assert_from_eventsourcingdb(response)
        assert response.headers["content-type"].startswith("application/x-ndjson")
        for line in response.iter_lines():
            assert line.strip(), "blank line in the stream"
            seen.append(json.loads(line))
            if sum(item["type"] == "heartbeat" for item in seen) == 2:
                break
    assert seen[0]["type"] == "event" and seen[0]["payload"]["subject"] == subject
    assert seen[1:] == [{"type": "heartbeat", "payload": {}}] * 2


def test_reads_stay_open_without_a_read_token_but_a_wrong_token_is_refused(
    client: TestClient,
) -> None:
    read = {"subject": "/", "options": {"recursive": True}}
    assert client.post("/api/v1/read-events", json=read).status_code == 200
    assert client.post("/api/v1/read-events", json=read, headers=AUTH).status_code == 200
    wrong = {"Authorization": "Bearer wrong"}
    refused = client.post("/api/v1/read-events", json=read, headers=wrong)
    assert refused.status_code == 401 and refused.headers["server"].startswith("EventSourcingDB/")
    assert client.post("/api/v1/verify-api-token", json={}).status_code == 401
    assert client.post("/api/v1/verify-api-token", json={}, headers=AUTH).status_code == 200
    assert client.post("/api/v1/write-events", json={"events": []}).status_code == 401


async def lines_of(stream: AsyncIterator[bytes]) -> AsyncIterator[dict[str, Any]]:
    async for chunk in stream:
        for line in chunk.splitlines():
            yield orjson.loads(line)


def test_a_live_stream_that_must_end_ends_with_an_error_line_saying_where_to_resume(
    log: ConflictLog,
) -> None:
    slug = new_subject()[0]
    log.open(slug, opened_event())

    async def scenario() -> None:
        tail = LogTail(log, buffer=3)
        tail.start()
        head = log.last_position()
        lines = lines_of(observe_lines(tail, ObservePlan(Scope(everything=True), head), 0.2))
        assert await anext(lines) == orjson.loads(HEARTBEAT)
        # The client reads nothing while ten events arrive: more than its buffer holds.
        await asyncio.to_thread(log.append, slug, [statement_event(f"s{i}") for i in range(10)])
        while tail.position < head + 10:
            await asyncio.sleep(0.05)
        items = [item async for item in lines]
        assert items[-1]["type"] == "error"
        assert "fell too far behind" in items[-1]["payload"]["error"]
        assert f'"id": "{head}", "type": "exclusive"' in items[-1]["payload"]["error"]

        # A server that stops ends every stream with an error line too.
        lines = lines_of(observe_lines(tail, ObservePlan(Scope(slug=slug), head + 10), 0.2))
        assert await anext(lines) == orjson.loads(HEARTBEAT)
        tail.stop()
        items = [item async for item in lines]
        assert items[-1]["type"] == "error"
        assert "shutting down" in items[-1]["payload"]["error"]
        assert f'"id": "{head + 10}"' in items[-1]["payload"]["error"]

    asyncio.run(asyncio.wait_for(scenario(), HANG_GUARD))


KEYS = [
    "events", "preconditions", "subject", "type", "data", "source", "payload", "options",
    "recursive", "order", "lowerBound", "upperBound", "fromLatestEvent", "id",
    "ifEventIsMissing", "baseSubject", "eventType", "schema", "eventId", "query",
]  # fmt: skip
VALUES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=10**20)
    | st.sampled_from(
        [
            "/",
            "/negotiations",
            "/negotiations/geneva",
            "",
            "-1",
            "5",
            "x",
            "inclusive",
            "exclusive",
            "antichronological",
            "read-nothing",
            "isSubjectPristine",
            "isSubjectOnEventId",
            "io.parley.NegotiationOpened",
            "io.parley.RoundHeld",
        ]
    )  # fmt: skip
    | st.text(max_size=8)
)
JSON = st.recursive(
    VALUES,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS), children, max_size=5)
    ),
    max_leaves=16,
)
ENDPOINTS = [
    "verify-api-token",
    "write-events",
    "read-events",
    "read-subjects",
    "read-event-types",
    "read-event-type",
    "register-event-schema",
    "run-eventql-query",
]  # observe-events is left out: a valid request never ends


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(endpoint=st.sampled_from(ENDPOINTS), body=JSON)
def test_no_input_yields_a_500(client: TestClient, endpoint: str, body: Any) -> None:
    response = client.post(f"/api/v1/{endpoint}", content=json.dumps(body), headers=AUTH)
    assert response.status_code < 500, response.text
    assert response.headers["server"].startswith("EventSourcingDB/")
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("text/plain")
    elif response.headers["content-type"].startswith("application/x-ndjson"):
        kinds = {json.loads(line)["type"] for line in response.text.splitlines()}
        assert kinds <= {"event", "subject", "eventType"}, response.text


def test_an_over_large_body_is_a_413_that_still_names_eventsourcingdb(parley: Server) -> None:
    """The body limit refuses before any route runs; the SDK needs the Server header on
    that answer too, or it reports a server that is not EventSourcingDB."""
    response = post(parley, "write-events", b"[" + b" " * (2 * 1024 * 1024) + b"]")
    assert response.status_code == 413
    assert_from_eventsourcingdb(response)
    assert "server" not in httpx.post(f"{parley.url}/negotiations", content=b" " * 2**21).headers
