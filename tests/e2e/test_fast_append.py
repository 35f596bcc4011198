"""The append served below FastAPI (api/http/fast.py) answers as FastAPI's route does.

Two apps on two stores built the same way, one with the fast path and one without, are
sent the same requests in the same order: every answer must have the same status, the
same headers and the same body. Only what the writer's clock makes differs between the
stores (``recorded_at``, and the ``hash`` that covers it), and only in a 2xx body."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from builders import GENEVA_OPENING, statement_body
from fastapi.testclient import TestClient
from support import AUTH, fresh_schema, settings_for

import api.http.fast as fast
from api.http.app import create_app
from store.config import StoreConfig
from store.log import ConflictLog

EVENTS = "/negotiations/geneva-talks/events"
IDS = [f"0190a0b0-0000-7000-8000-00000000000{n}" for n in range(10)]


@pytest.fixture
def twin_config(store_config: StoreConfig, tmp_path: Path) -> Iterator[StoreConfig]:
    """A second, empty store on the same backend."""
    if store_config.database_url:
        with fresh_schema(store_config.database_url) as schema:
            yield StoreConfig(
                data_dir=tmp_path / "twin",
                database_url=store_config.database_url,
                postgres_schema=schema,
            )
    else:
        yield StoreConfig(data_dir=tmp_path / "twin")


class Twin:
    """One app, its store, and the secrets of its named tokens."""

    def __init__(self, config: StoreConfig, fast_append: bool) -> None:
        (config.data_dir).mkdir(parents=True, exist_ok=True)
        self.log = ConflictLog(config)
        settings = settings_for(config, read_token="reader")
        self.client = TestClient(create_app(settings, log=self.log, fast_append=fast_append))
        self.client.__enter__()
        tokens = self.log.token_store()
        self.secrets = {
            "writer": tokens.create("writer", "append", "test")[1],
            "gone": tokens.create("gone", "append", "test")[1],
        }
        tokens.revoke("gone")
        tokens.close()
        opened = self.client.post("/negotiations", json=GENEVA_OPENING, headers=AUTH)
        assert opened.status_code == 201, opened.text

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.log.close()

    def send(self, path: str, body: bytes, headers: dict[str, str]) -> Any:
        """POST ``body``; ``Bearer named:<name>`` sends this store's secret of that token."""
        named = headers.get("Authorization", "").removeprefix("Bearer named:")
        if named in self.secrets:
            headers = {**headers, "Authorization": f"Bearer {self.secrets[named]}"}
        return self.client.post(path, content=body, headers=headers)


def body(*events: dict[str, Any]) -> bytes:
    return json.dumps(events[0] if len(events) == 1 else list(events)).encode()


JSON = {"Content-Type": "application/json"}
CASES: list[tuple[str, str, bytes, dict[str, str]]] = [
    ("one event", EVENTS, body(statement_body("a", id=IDS[0])), {**AUTH, **JSON}),
    ("the same event again", EVENTS, body(statement_body("a", id=IDS[0])), {**AUTH, **JSON}),
    ("its id with other content", EVENTS, body(statement_body("b", id=IDS[0])), AUTH),
    (
        "a batch",
        EVENTS,
        body(statement_body("c", id=IDS[1]), statement_body("d", id=IDS[2])),
        AUTH,
    ),
    (
        "a batch with its version",
        EVENTS,
        json.dumps({"events": [statement_body("e", id=IDS[3])], "expected_version": 4}).encode(),
        AUTH,
    ),
    (
        "a stale version in the body",
        EVENTS,
        json.dumps({"events": [statement_body("f", id=IDS[4])], "expected_version": 1}).encode(),
        AUTH,
    ),
    (
        "If-Match that matches",
        EVENTS,
        body(statement_body("g", id=IDS[5])),
        {**AUTH, "If-Match": '"5"'},
    ),
    (
        "If-Match that does not",
        EVENTS,
        body(statement_body("h", id=IDS[6])),
        {**AUTH, "If-Match": '"2"'},
    ),
    (
        "If-Match unreadable",
        EVENTS,
        body(statement_body("h", id=IDS[6])),
        {**AUTH, "If-Match": "five"},
    ),
    (
        "a named token",
        EVENTS,
        body(statement_body("i", id=IDS[7])),
        {"Authorization": "Bearer named:writer"},
    ),
    ("a revoked token", EVENTS, body(statement_body("j")), {"Authorization": "Bearer named:gone"}),
    ("an unknown token", EVENTS, body(statement_body("j")), {"Authorization": "Bearer nobody"}),
    ("a read token", EVENTS, body(statement_body("j")), {"Authorization": "Bearer reader"}),
    ("no token", EVENTS, body(statement_body("j")), {}),
    ("another scheme", EVENTS, body(statement_body("j")), {"Authorization": "Basic eDp5"}),
    ("an empty bearer", EVENTS, body(statement_body("j")), {"Authorization": "Bearer "}),
    (
        "lower-case bearer",
        EVENTS,
        body(statement_body("k", id=IDS[8])),
        {"Authorization": "bearer " + AUTH["Authorization"][7:]},
    ),
    ("no token and a bad body", EVENTS, b"{", {}),
    ("a body that is not JSON", EVENTS, b"{not json", AUTH),
    ("an empty body", EVENTS, b"", AUTH),
    ("an empty list", EVENTS, b"[]", AUTH),
    ("a bad field", EVENTS, body(statement_body("x", speaker="XXX")), AUTH),
    ("an unknown type", EVENTS, body({**statement_body("x"), "type": "Nope"}), AUTH),
    ("a bad body and a bad If-Match", EVENTS, b"[]", {**AUTH, "If-Match": "five"}),
    ("an unknown negotiation", "/negotiations/nowhere/events", body(statement_body("x")), AUTH),
    ("a slug the route refuses", "/negotiations/Bad_Slug/events", body(statement_body("x")), AUTH),
    ("a dry run", EVENTS + "?dry_run=true", body(statement_body("y", id=IDS[9])), AUTH),
    ("a dry run off", EVENTS + "?dry_run=false", body(statement_body("y", id=IDS[9])), AUTH),
]


def normalised(response: Any) -> tuple[int, list[tuple[str, str]], Any]:
    headers = sorted(
        (name, value)
        for name, value in response.headers.items()
        if name not in ("x-request-id", "content-length")
    )
    assert int(response.headers["content-length"]) == len(response.content)
    if response.status_code >= 300:
        return response.status_code, headers, response.content  # the exact bytes
    answer = response.json()
    if isinstance(answer.get("state"), dict):  # a dry run's: times of the writer's clock
        answer["state"] = sorted(answer["state"])
    for event in answer.get("events", ()):
        event.pop("recorded_at", None)
        event.pop("hash", None)
        if isinstance(event.get("event"), dict):
            event["event"].pop("recorded_at", None)
    return response.status_code, headers, answer


def test_the_fast_path_answers_every_request_as_the_route_does(
    store_config: StoreConfig, twin_config: StoreConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered = []
    answer = fast.append_answer

    def counted(*args: Any) -> Any:
        answered.append(args[1])
        return answer(*args)

    monkeypatch.setattr(fast, "append_answer", counted)
    quick, routed = Twin(store_config, True), Twin(twin_config, False)
    try:
        for what, path, sent, headers in CASES:
            before = len(answered)
            got = quick.send(path, sent, headers)
            expected = routed.send(path, sent, headers)
            assert normalised(got) == normalised(expected), what
            if got.status_code < 300 and "?" not in path:
                assert len(answered) == before + 1, f"{what}: not served by the fast path"
        assert len(answered) == 7  # every append that stored or found its events
        # Both logs hold the same events in the same order.
        events_of = [
            [
                (r.event.id, r.position, r.originator_version)
                for r in twin.log.negotiation_events("geneva-talks")
            ]
            for twin in (quick, routed)
        ]
        assert events_of[0][1:] == events_of[1][1:] and len(events_of[0]) == 9
    finally:
        quick.close()
        routed.close()


def test_a_revoked_token_is_refused_by_the_fast_path_at_once(client: TestClient) -> None:
    assert client.post("/negotiations", json=GENEVA_OPENING, headers=AUTH).status_code == 201
    tokens = client.app.state.auth.tokens  # type: ignore[attr-defined]
    _, secret = tokens.create("soon-gone", "append", "test")
    named = {"Authorization": f"Bearer {secret}"}
    assert client.post(EVENTS, json=statement_body("a"), headers=named).status_code == 201
    tokens.revoke("soon-gone")
    refused = client.post(EVENTS, json=statement_body("b"), headers=named)
    assert refused.status_code == 401 and "soon-gone" in refused.json()["detail"]
    assert client.get("/negotiations/geneva-talks").json()["version"] == 2
