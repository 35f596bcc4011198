"""``POST /negotiations/{slug}/import`` and ``POST /import``: admins only, the body read
as it arrives, the same report as ``parley import``, and problem+json for bad input."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
from fastapi.testclient import TestClient
from support import AUTH, EXAMPLE, Server

from store.log import ConflictLog

SLUG = "istanbul-2025"


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def _statements(count: int) -> Iterator[bytes]:
    yield orjson.dumps({
        "type": "NegotiationOpened", "occurred_at": "2025-05-16",
        "data": {"title": "Talks", "parties": ["RUS", "UKR"], "mediators": ["TUR"]},
        "sources": [{"outlet": "TASS"}],
    }) + b"\n"
    for n in range(count):
        yield orjson.dumps({
            "type": "StatementIssued", "occurred_at": "2025-05-28",
            "data": {"speaker": "RUS", "summary": f"Statement {n}"},
            "sources": [{"outlet": "TASS", "published_at": "2025-05-28"}],
        }) + b"\n"


def test_an_admin_imports_a_file_and_gets_the_report(client: TestClient, log: ConflictLog) -> None:
    body = EXAMPLE.read_bytes()
    answer = client.post(f"/negotiations/{SLUG}/import?format=ndjson", content=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    stored = log.negotiation_events(SLUG)
    assert (report["new"], report["already_stored"], report["problems"]) == (len(stored), 0, [])
    assert report["by_type"]["NegotiationOpened"] == {"new": 1, "already_stored": 0}
    assert {r.recorded_by for r in stored} == {"admin"}
    again = client.post(f"/negotiations/{SLUG}/import?format=ndjson", content=body, headers=AUTH)
    assert (again.json()["new"], again.json()["already_stored"]) == (0, len(stored))


def test_a_dry_run_answers_the_report_and_stores_nothing(
    client: TestClient, log: ConflictLog
) -> None:
    lines = EXAMPLE.read_text().splitlines()
    lines.insert(1, "not json")
    answer = client.post(
        f"/negotiations/{SLUG}/import", params={"format": "ndjson", "dry_run": "true"},
        content="\n".join(lines), headers=AUTH,
    )
    report = answer.json()
    assert report["dry_run"] is True
    assert [(p["line"], p["field"]) for p in report["problems"]] == [(2, None)]
    assert report["new"] == len(lines) - 1
    assert not log.exists(SLUG)


def test_an_export_imports_without_a_slug(istanbul: TestClient, log: ConflictLog) -> None:
    exported = istanbul.get(f"/negotiations/{SLUG}/export?format=csv").content
    answer = istanbul.post("/import?format=csv", content=exported, headers=AUTH)
    report = answer.json()
    assert report["negotiations"] == [SLUG]
    assert report["new"] == 0 and report["already_stored"] > 0 and report["problems"] == []


def test_only_admins_import(client: TestClient) -> None:
    made = client.post("/tokens", json={"name": "wes", "scope": "append"}, headers=AUTH)
    writer = {"Authorization": f"Bearer {made.json()['token']}"}
    refused = client.post(f"/negotiations/{SLUG}/import?format=ndjson", content=b"{}",
                          headers=writer)
    _problem(refused, 403)
    _problem(client.post("/import?format=ndjson", content=b"{}"), 401)


def test_an_unknown_format_is_a_422_naming_the_field(client: TestClient) -> None:
    body = _problem(
        client.post(f"/negotiations/{SLUG}/import?format=xlsx", content=b"{}", headers=AUTH),
        422,
    )
    assert "format" in orjson.dumps(body).decode()


def _stored_within(server: Server, slug: str, count: int, *, seconds: float) -> int:
    """The negotiation's event count once it reaches ``count`` (or time runs out)."""
    deadline = time.monotonic() + seconds
    found = 0
    while time.monotonic() < deadline and found < count:
        summary = httpx.get(f"{server.url}/negotiations/{slug}", timeout=10)
        found = summary.json().get("event_count", 0) if summary.status_code == 200 else 0
        time.sleep(0.05)
    return int(found)


def test_the_body_is_imported_as_it_arrives(server: Server) -> None:
    """On a real server: batches are stored while the client is still sending."""
    seen_stored: list[int] = []
    slug = "streamed"

    def body() -> Iterator[bytes]:
        for n, line in enumerate(_statements(1200)):
            if n == 1100:  # two batches of 500 are sent: wait until they are stored
                seen_stored.append(_stored_within(server, slug, 1000, seconds=20))
            yield line

    answer = httpx.post(f"{server.url}/negotiations/{slug}/import?format=ndjson",
                        content=body(), headers=server.auth, timeout=60)
    assert answer.json()["new"] == 1201
    assert seen_stored and seen_stored[0] >= 1000
