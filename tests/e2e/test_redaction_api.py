"""Redaction end to end, on both backends: a real ``parley serve`` process, the CLI
beside it, a restart, and a dump restored into the other backend.

A source named in events is read in the clear; ``parley redact`` (another process than
the server) destroys their key; from then on every read the server gives shows
``[redacted]`` in their fields, every state and timeline answer keeps its shape, the
chains verify, and so they stay after a restart and in a restored copy.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from support import AUTH, EXAMPLE, Server, run_cli, shape, start_server, stop_server, store_env

from domain.events import parse_event
from store.config import StoreConfig
from store.log import ConflictLog

SLUG = "istanbul-2025"
NAME = "Jane Source"
QUOTE = "the delegation will not travel without guarantees"
URL = "https://www.reuters.com/world/europe/jane-source-2025-05-29"
SECRETS = (NAME.encode(), QUOTE.encode(), URL.encode(), b"deputy minister")


def jane_event(event_id: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "StatementIssued",
        "occurred_at": "2025-05-29",
        "data": {"speaker": "UKR", "summary": "Kyiv set conditions for the second round."},
        "sources": [
            {
                "outlet": "Reuters",
                "url": URL,
                "quote": QUOTE,
                "attributed_to": {"name": NAME, "country": "UKR", "role": "deputy minister"},
            }
        ],
        "asserted_by": {"name": NAME, "country": "UKR"},
    }


def stream_lines(server: Server, count: int) -> bytes:
    """The first ``count`` lines of the live NDJSON stream (its catch-up)."""
    lines: list[bytes] = []
    headers = {"Accept": "application/x-ndjson"}
    with httpx.stream("GET", f"{server.url}/events/stream", headers=headers, timeout=30) as r:
        for line in r.iter_lines():
            if line.strip():
                lines.append(line.encode())
            if len(lines) >= count:
                break
    return b"\n".join(lines)


class Reads:
    """Everything a reader can ask the server that shows the event or its negotiation."""

    def __init__(self, server: Server, event_id: str, known_before: str) -> None:
        self.server = server
        self.event_id = event_id
        self.known_before = known_before

    def bodies(self) -> dict[str, bytes]:
        paths = [
            "/events?limit=1000",
            f"/events/{self.event_id}",
            f"/negotiations/{SLUG}/events?limit=1000",
            f"/negotiations/{SLUG}/timeline",
            f"/negotiations/{SLUG}/timeline?from=2025-05-29&to=2025-05-29",
            f"/negotiations/{SLUG}/export?format=ndjson",
            f"/negotiations/{SLUG}/export?format=csv",
            "/events?actor=UKR&q=guarantees",
        ]
        with httpx.Client(base_url=self.server.url, timeout=30) as client:
            found = {path: client.get(path).content for path in paths}
        total = len(json.loads(found["/events?limit=1000"])["events"])
        found["/events/stream"] = stream_lines(self.server, total)
        return found

    def answers(self) -> dict[str, Any]:
        """State and timeline answers along both axes, parsed."""
        queries = [
            "state",
            "state?as_of=2025-05-29",
            f"state?as_of=2025-05-29&known_at={self.known_before}",
            "timeline?from=2025-05-29",
            f"timeline?known_at={self.known_before}",
            "diff?from=2025-05-16&to=2025-05-29",
        ]
        with httpx.Client(base_url=self.server.url, timeout=30) as client:
            found = {}
            for query in queries:
                answer = client.get(f"/negotiations/{SLUG}/{query}")
                assert answer.status_code == 200, (query, answer.text)
                found[query] = answer.json()
            return found


def other_backend(
    store_config: StoreConfig, tmp_path: Path, postgres_url: str
) -> Iterator[StoreConfig]:
    """An empty store on the backend the test does not run on."""
    if store_config.database_url is not None:
        yield StoreConfig(data_dir=tmp_path / "copy")
        return
    schema = f"parley_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield StoreConfig(
            data_dir=tmp_path / "copy", database_url=postgres_url, postgres_schema=schema
        )
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.slow  # starts a server of its own
def test_a_redacted_person_reads_redacted_everywhere_after_a_restart_and_in_a_restore(
    server: Server,
    store_config: StoreConfig,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    postgres_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    event_id = str(uuid.uuid4())
    with httpx.Client(base_url=server.url, headers=server.auth, timeout=30) as client:
        posted = client.post(f"/negotiations/{SLUG}/events", json=jane_event(event_id))
        assert posted.status_code == 201, posted.text
    known_before = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    reads = Reads(server, event_id, known_before)
    before, answers_before = reads.bodies(), reads.answers()
    for path, body in before.items():
        assert all(secret in body for secret in SECRETS), path
    # Redacting over HTTP needs the write token.
    anonymous = httpx.post(f"{server.url}/redactions", json={"person": NAME, "reason": "x"})
    assert anonymous.status_code == 401

    # The CLI, in another process than the server, while the server runs.
    args = ["redact", "--person", "jane SOURCE", "--reason", "she asked", "--requested-by", "desk"]
    assert run_cli(store_config, monkeypatch, *args) == 0
    assert "destroyed key" in capsys.readouterr().out

    def check_redacted(reads: Reads) -> None:
        after = reads.bodies()
        searched = after.pop("/events?actor=UKR&q=guarantees")
        assert json.loads(searched)["events"] == []  # the quote's words are found no more
        for path, body in after.items():
            for secret in SECRETS:
                assert secret not in body, (path, secret)
            assert b"[redacted]" in body, path
        answers = reads.answers()
        for query, answer in answers.items():
            assert shape(answer) == shape(answers_before[query]), query
            assert NAME not in json.dumps(answer), query
        one = json.loads(after[f"/events/{event_id}"])
        assert one["sources"][0]["attributed_to"] == {
            "name": "[redacted]",
            "country": "UKR",
            "role": "[redacted]",
            "wikidata": None,
        }
        assert one["sources"][0]["outlet"] == "Reuters"
        # The example's own sources (other people) are untouched.
        assert b"Vladimir Medinsky" in after["/events?limit=1000"]
        verified = httpx.get(f"{reads.server.url}/verify", timeout=60).json()
        assert verified["ok"] is True, verified

    check_redacted(reads)
    redaction = httpx.get(f"{server.url}/events?type=PersonRedacted").json()["events"]
    assert [e["data"]["reason"] for e in redaction] == ["she asked"]
    assert NAME.lower() not in json.dumps(redaction).lower()
    again = httpx.post(
        f"{server.url}/redactions",
        json={"person": NAME, "reason": "again"},
        headers=server.auth,
    )
    assert again.status_code == 404 and again.headers["content-type"].startswith(
        "application/problem+json"
    )
    assert run_cli(store_config, monkeypatch, "verify") == 0

    # A restart reads the same store: still redacted.
    stop_server(server)
    env = {"PARLEY_EXAMPLE": str(EXAMPLE), **store_env(store_config)}
    restarted = start_server(env, store_config.data_dir)
    try:
        check_redacted(Reads(restarted, event_id, known_before))
    finally:
        stop_server(restarted)

    # A dump restored into the other backend: still redacted, and verifiable.
    dump_file = tmp_path / "backup.ndjson"
    assert run_cli(store_config, monkeypatch, "dump", str(dump_file)) == 0
    dumped = dump_file.read_bytes()
    assert b"jane source" not in dumped and b"vladimir medinsky" in dumped  # keys carried
    for target in other_backend(store_config, tmp_path, postgres_url):
        code = run_cli(target, monkeypatch, "restore", str(dump_file))
        assert code == 0, capsys.readouterr()
        with ConflictLog(target) as copy:
            assert copy.verify().ok
            event = copy.event(uuid.UUID(event_id)).event
            assert event.sources[0].quote == "[redacted]"
            assert event.asserted_by is not None and event.asserted_by.name == "[redacted]"
            medinsky = [
                r
                for r in copy.global_log(limit=1000)
                if any(
                    s.attributed_to is not None and s.attributed_to.name == "Vladimir Medinsky"
                    for s in r.event.sources
                )
            ]
            assert medinsky  # the keys of persons not redacted came with the dump


def test_post_redactions_destroys_the_key_and_answers_what_it_recorded(
    client: TestClient,
) -> None:
    opening = {"slug": "geneva-talks", "title": "Geneva talks", "parties": ["RUS", "UKR"]}
    assert client.post("/negotiations", json=opening, headers=AUTH).status_code == 201
    event_id = str(uuid.uuid4())
    posted = client.post(
        "/negotiations/geneva-talks/events", json=jane_event(event_id), headers=AUTH
    )
    assert posted.status_code == 201, posted.text
    bad = client.post("/redactions", json={"person": NAME, "reason": ""}, headers=AUTH)
    assert bad.status_code == 422 and "reason" in bad.text
    made = client.post("/tokens", json={"name": "alice", "scope": "append"}, headers=AUTH)
    alice = {"Authorization": f"Bearer {made.json()['token']}"}
    refused = client.post("/redactions", json={"person": NAME, "reason": "x"}, headers=alice)
    assert refused.status_code == 403 and "admin" in refused.text
    nul = client.post("/redactions", json={"person": "a\u0000b", "reason": "x"}, headers=AUTH)
    assert nul.status_code == 422 and nul.json()["errors"][0]["field"] == "person"

    done = client.post(
        "/redactions",
        json={"person": NAME, "reason": "she asked", "requested_by": "desk"},
        headers=AUTH,
    )

    assert done.status_code == 201, done.text
    body = done.json()
    assert body["negotiations"] == ["geneva-talks"]
    [event] = body["events"]
    assert event["type"] == "PersonRedacted" and event["sources"] == []
    assert event["recorded_by"] == "admin"
    assert event["data"] == {
        "person": body["key_id"],
        "reason": "she asked",
        "requested_by": "desk",
    }
    shown = client.get(f"/events/{event_id}").json()
    assert shown["sources"][0]["quote"] == shown["asserted_by"]["name"] == "[redacted]"
    assert client.get("/verify").json()["ok"] is True
    # The log records PersonRedacted; a client cannot send one.
    forged = {k: event[k] for k in ("type", "occurred_at", "data", "sources")}
    refused = client.post("/negotiations/geneva-talks/events", json=forged, headers=AUTH)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "type"


def test_parley_redact_names_what_it_cannot_do(
    log: ConflictLog,
    store_config: StoreConfig,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["redact", "--person", "Nobody Known", "--reason", "asked"]
    assert run_cli(store_config, monkeypatch, *args) == 1
    assert "no sealed field names 'Nobody Known'" in capsys.readouterr().err
    opening = {**jane_event(str(uuid.uuid4())), "type": "NegotiationOpened"}
    opening["data"] = {"title": "Geneva talks", "parties": ["RUS", "UKR"]}
    log.append("geneva-talks", [parse_event(opening)])  # its source names Jane Source
    too_long = ["redact", "--person", NAME, "--reason", "x" * 5000]
    assert run_cli(store_config, monkeypatch, *too_long) == 1
    assert "reason" in capsys.readouterr().err
    assert [k.person for k in log.keys.store.person_keys()] == ["jane source"]  # kept
