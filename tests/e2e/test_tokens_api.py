"""Named tokens over HTTP, on both backends: who may do what (401, 403), rate limits
(429), token management by admins, and ``recorded_by`` on every append."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from builders import statement_body
from fastapi.testclient import TestClient
from support import AUTH, rewrite_row, settings_for

from api.http.app import create_app
from api.settings import Settings
from store.config import StoreConfig
from store.log import ConflictLog

SLUG = "geneva-talks"
OPEN = {
    "slug": SLUG,
    "title": "Geneva talks",
    "parties": ["RUS", "UKR"],
    "mediators": ["CHE"],
    "occurred_at": "2025-05-01",
}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def make_token(client: TestClient, name: str, scope: str, auth: dict[str, str] = AUTH) -> str:
    """A new token's secret, made over HTTP by ``auth`` (the bootstrap token by default)."""
    response = client.post("/tokens", json={"name": name, "scope": scope}, headers=auth)
    assert response.status_code == 201, response.text
    secret: str = response.json()["token"]
    return secret


def assert_problem(response: Any, status: int, detail: str = "") -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and detail in body["detail"], body
    return body


@pytest.fixture
def app_client(log: ConflictLog, store_config: StoreConfig) -> Iterator[Any]:
    """``app_client(**settings)``: a TestClient on the shared log with those settings."""
    clients: list[TestClient] = []

    def make(**overrides: object) -> TestClient:
        client = TestClient(create_app(settings_for(store_config, **overrides), log=log))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_an_admin_makes_lists_and_revokes_tokens_over_http(client: TestClient) -> None:
    made = client.post("/tokens", json={"name": "alice", "scope": "append"}, headers=AUTH)
    assert made.status_code == 201 and made.headers["location"] == "/tokens/alice"
    body = made.json()
    assert body["token"].startswith("parley_") and len(body["token"]) > 40
    assert (body["name"], body["scope"], body["scopes"]) == ("alice", "append", ["read", "append"])
    assert (body["created_by"], body["revoked_at"]) == ("admin", None)

    listed = client.get("/tokens", headers=AUTH).json()["tokens"]
    assert [t["name"] for t in listed] == ["alice"]
    assert not {"token", "hash"} & set(listed[0])  # never the secret or its hash
    assert body["token"] not in client.get("/tokens", headers=AUTH).text

    revoked = client.delete("/tokens/alice", headers=AUTH)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    again = client.delete("/tokens/alice", headers=AUTH).json()
    assert again["revoked_at"] == revoked.json()["revoked_at"]  # revoking twice changes nothing
    assert client.get("/tokens/alice", headers=AUTH).json()["revoked_at"] == again["revoked_at"]


def test_token_requests_that_break_the_rules_are_4xx_naming_the_field(client: TestClient) -> None:
    make_token(client, "alice", "read")
    assert_problem(
        client.post("/tokens", json={"name": "alice", "scope": "read"}, headers=AUTH), 409, "alice"
    )
    client.delete("/tokens/alice", headers=AUTH)
    # A revoked name stays taken: recorded_by always names one holder.
    assert_problem(
        client.post("/tokens", json={"name": "alice", "scope": "read"}, headers=AUTH), 409
    )
    for body, field in (
        ({"name": "admin", "scope": "append"}, "name"),  # reserved for the bootstrap token
        ({"name": "reader", "scope": "read"}, "name"),  # reserved for PARLEY_READ_TOKEN
        ({"name": "Alice Smith", "scope": "read"}, "name"),
        ({"name": "bob", "scope": "root"}, "scope"),
        ({"name": "bob"}, "scope"),
    ):
        problem = assert_problem(client.post("/tokens", json=body, headers=AUTH), 422)
        assert problem["errors"][0]["field"] == field, problem
    assert_problem(client.delete("/tokens/nobody", headers=AUTH), 404, "nobody")
    assert_problem(client.get("/tokens/nobody", headers=AUTH), 404, "nobody")


def test_requests_without_a_known_live_token_are_401(client: TestClient) -> None:
    missing = client.post("/negotiations", json=OPEN)
    assert_problem(missing, 401)
    assert missing.headers["www-authenticate"] == "Bearer"
    for unknown in ("parley_" + "x" * 43, "not-a-parley-token"):
        assert_problem(client.post("/negotiations", json=OPEN, headers=bearer(unknown)), 401)
        assert_problem(client.get("/tokens", headers=bearer(unknown)), 401)

    alice = make_token(client, "alice", "admin")
    assert client.post("/negotiations", json=OPEN, headers=bearer(alice)).status_code == 201
    assert client.get("/tokens", headers=bearer(alice)).status_code == 200
    assert client.delete("/tokens/alice", headers=AUTH).status_code == 200
    events = f"/negotiations/{SLUG}/events"
    refused = assert_problem(client.post(events, json=statement_body(), headers=bearer(alice)), 401)
    assert "revoked" in refused["detail"]
    assert_problem(client.get("/tokens", headers=bearer(alice)), 401, "revoked")
    # Reads are open here, but a token that is sent must be live.
    assert client.get(events).status_code == 200
    assert_problem(client.get(events, headers=bearer(alice)), 401, "revoked")
    esdb = client.post("/api/v1/verify-api-token", headers=bearer(alice))
    assert esdb.status_code == 401 and "revoked" in esdb.text  # EventSourcingDB's errors are text


def test_a_token_without_the_scope_is_403(client: TestClient) -> None:
    reader = make_token(client, "ria", "read")
    writer = make_token(client, "wes", "append")
    assert_problem(client.post("/negotiations", json=OPEN, headers=bearer(reader)), 403, "append")
    assert client.post("/negotiations", json=OPEN, headers=bearer(writer)).status_code == 201
    events = f"/negotiations/{SLUG}/events"
    assert_problem(client.post(events, json=statement_body(), headers=bearer(reader)), 403)
    assert client.get(events, headers=bearer(reader)).status_code == 200
    # Managing tokens needs admin, which append does not imply.
    assert_problem(
        client.post("/tokens", json={"name": "eve", "scope": "admin"}, headers=bearer(writer)),
        403,
        "admin",
    )
    assert_problem(client.get("/tokens", headers=bearer(writer)), 403)
    assert_problem(client.delete("/tokens/ria", headers=bearer(writer)), 403)
    assert client.get("/tokens/ria", headers=AUTH).json()["revoked_at"] is None
    # A named admin token manages tokens, and is named as their maker.
    boss = make_token(client, "boss", "admin")
    assert make_token(client, "carol", "append", auth=bearer(boss))
    assert client.get("/tokens/carol", headers=AUTH).json()["created_by"] == "boss"


def test_with_a_read_token_configured_any_named_token_reads(app_client: Any) -> None:
    client = app_client(read_token="reader-secret")
    reader = make_token(client, "ria", "read")
    assert_problem(client.get("/negotiations"), 401)
    assert client.get("/negotiations", headers=bearer(reader)).status_code == 200
    assert client.get("/negotiations", headers=bearer("reader-secret")).status_code == 200
    assert_problem(client.post("/negotiations", json=OPEN, headers=bearer("reader-secret")), 403)
    assert_problem(client.get("/tokens", headers=bearer("reader-secret")), 403)


def test_every_append_records_the_name_of_its_token(
    client: TestClient, log: ConflictLog, store_config: StoreConfig
) -> None:
    alice = make_token(client, "alice", "append")
    assert client.post("/negotiations", json=OPEN, headers=bearer(alice)).status_code == 201
    events = f"/negotiations/{SLUG}/events"
    one = client.post(events, json=statement_body("one"), headers=bearer(alice)).json()
    batch = [statement_body("two"), statement_body("three")]
    two = client.post(events, json=batch, headers=bearer(alice)).json()
    by_admin = client.post(events, json=statement_body("four"), headers=AUTH).json()
    ids = [e["id"] for answer in (one, two, by_admin) for e in answer["events"]]
    expected = ["alice", "alice", "alice", "admin"]

    assert [client.get(f"/events/{i}").json()["recorded_by"] for i in ids] == expected
    page = client.get(events).json()["events"]
    assert [e["recorded_by"] for e in page] == ["alice", *expected]
    assert {e["recorded_by"] for e in client.get("/events").json()["events"]} == {
        "alice",
        "admin",
    }
    timeline = client.get(f"/negotiations/{SLUG}/timeline").json()["events"]
    assert [e["recorded_by"] for e in timeline if e["id"] in ids] == expected
    assert client.get("/verify").json()["ok"] is True

    # The chain covers it: a row whose recorded_by is rewritten no longer verifies.
    position = two["events"][0]["position"]
    (_, _, _, state) = log.index.stored_rows(position - 1, position, 1)[0]
    assert b'"recorded_by":"alice"' in state
    rewrite_row(store_config, position, state.replace(b'"alice"', b'"mallet"'))
    report = client.get("/verify").json()
    assert report["ok"] is False, report


def test_the_eventsourcingdb_write_records_the_token(client: TestClient) -> None:
    alice = make_token(client, "alice", "append")
    candidate = {
        "source": "https://desk.example.org",
        "subject": "/negotiations/black-sea",
        "type": "io.parley.NegotiationOpened",
        "data": {
            "occurred_at": "2025-03-25",
            "data": {"title": "Black Sea shipping talks", "parties": ["RUS", "UKR"]},
            "sources": [{"outlet": "Reuters"}],
        },
    }
    written = client.post(
        "/api/v1/write-events", json={"events": [candidate]}, headers=bearer(alice)
    )
    assert written.status_code == 200, written.text
    stored = client.get("/negotiations/black-sea/events").json()["events"]
    assert [e["recorded_by"] for e in stored] == ["alice"]
    reader = make_token(client, "ria", "read")
    refused = client.post("/api/v1/write-events", json={"events": []}, headers=bearer(reader))
    assert refused.status_code == 403 and refused.headers["server"].startswith("EventSourcingDB/")


def test_a_token_past_its_rate_limit_is_429_with_retry_after(app_client: Any) -> None:
    client = app_client(rate_limit="3/hour")
    alice = make_token(client, "alice", "read")  # the bootstrap token's 1st request
    bob = make_token(client, "bob", "read")
    for _ in range(3):
        assert client.get("/negotiations", headers=bearer(alice)).status_code == 200
    limited = client.get("/negotiations", headers=bearer(alice))
    body = assert_problem(limited, 429, "alice")
    retry_after = int(limited.headers["retry-after"])
    assert 1 <= retry_after <= 1200 and body["retry_after"] == retry_after
    assert body["type"] == "/problems/rate-limited"
    # Per token: bob has his own bucket; requests without a token are not counted.
    assert client.get("/negotiations", headers=bearer(bob)).status_code == 200
    assert client.get("/negotiations").status_code == 200
    assert_problem(client.post("/negotiations", json=OPEN, headers=bearer(alice)), 429)
    esdb = client.post("/api/v1/verify-api-token", headers=bearer(alice))
    assert esdb.status_code == 429 and int(esdb.headers["retry-after"]) >= 1


def test_rate_limits_are_off_by_default_and_their_setting_is_checked() -> None:
    assert Settings.model_fields["rate_limit"].default is None
    assert Settings(rate_limit="60/minute").rate_limit == "60/minute"
    with pytest.raises(ValueError, match="N/minute"):
        Settings(rate_limit="60 a minute")


def test_hostile_token_names_and_secrets_are_4xx(client: TestClient) -> None:
    for name in ("a%00b", "x" * 5000, "%F0%9F%92%A5", "..%2F..%2Fetc"):
        assert_problem(client.get(f"/tokens/{name}", headers=AUTH), 404)
        assert_problem(client.delete(f"/tokens/{name}", headers=AUTH), 404)
    for secret in ("parley_\x7f", "parley_" + "x" * 100_000, "parley_é"):
        response = client.get("/tokens", headers={"Authorization": f"Bearer {secret}".encode()})
        assert_problem(response, 401)
    nul = client.post("/tokens", json={"name": "a\x00b", "scope": "read"}, headers=AUTH)
    assert assert_problem(nul, 422)["errors"][0]["field"] == "name"
