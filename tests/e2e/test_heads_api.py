"""Signed heads over HTTP, and the offline check a third party makes with the public key.

``GET /negotiations/{slug}/head`` signs the negotiation's head with the key kept in the
data dir; ``GET /keys`` publishes its public half. With only that key and a file of
saved heads, ``parley verify --public-key`` checks every signature without a database,
and names each head that was edited or signed by another key.
"""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import orjson
from builders import opened_event, statement_event
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from support import AUTH, Cli

from api.signing import Signer, check_signature, load_public_key
from store.config import StoreConfig
from store.heads import Head
from store.log import ConflictLog

SLUG = "istanbul-2025"
NOWHERE = "postgresql://nobody@127.0.0.1:9/none"  # no database answers here


def test_a_negotiations_head_is_its_last_event_signed_by_the_published_key(
    client: TestClient, log: ConflictLog, store_config: StoreConfig
) -> None:
    log.append(SLUG, [opened_event(), statement_event("one"), statement_event("two")])
    last = log.head(SLUG)

    head = client.get(f"/negotiations/{SLUG}/head")
    keys = client.get("/keys")

    assert head.status_code == 200 and keys.status_code == 200
    body = head.json()
    assert {k: body[k] for k in ("negotiation", "version", "position", "hash")} == {
        "negotiation": SLUG,
        "version": 3,
        "position": last.position,
        "hash": last.hash,
    }
    assert body["recorded_at"].endswith("Z") and body["parley_head"] == 1
    [key] = keys.json()["keys"]
    assert body["key_id"] == key["key_id"]
    for published in (key["public_key"], key["pem"]):
        assert check_signature(Head.from_json(body), load_public_key(published)) is None
    key_file = store_config.data_dir / "signing-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_the_head_of_an_unknown_negotiation_is_a_404_problem(client: TestClient) -> None:
    answer = client.get("/negotiations/no-such-talks/head")

    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


def test_the_head_follows_appends_made_over_http(client: TestClient) -> None:
    client.post(
        "/negotiations",
        headers=AUTH,
        json={"slug": SLUG, "title": "Talks", "parties": ["RUS", "UKR"]},
    )
    before = client.get(f"/negotiations/{SLUG}/head").json()
    appended = client.post(
        f"/negotiations/{SLUG}/events",
        headers=AUTH,
        json={
            "type": "StatementIssued",
            "occurred_at": "2025-05-28",
            "data": {"speaker": "RUS", "summary": "A second round in Istanbul."},
            "sources": [{"outlet": "teleSUR"}],
        },
    ).json()

    after = client.get(f"/negotiations/{SLUG}/head").json()

    assert before["version"] == 1
    [event] = appended["events"]
    assert (after["version"], after["position"], after["hash"]) == (
        2,
        event["position"],
        event["hash"],
    )


def test_a_third_party_checks_saved_heads_offline_and_is_told_of_each_bad_one(
    client: TestClient, log: ConflictLog, tmp_path: Path, parley_cli: Cli
) -> None:
    log.append(SLUG, [opened_event(), statement_event("one")])
    log.append("geneva-2025", [opened_event()])
    served = [client.get(f"/negotiations/{s}/head").json() for s in (SLUG, "geneva-2025")]
    public = client.get("/keys").json()["keys"][0]
    pem = tmp_path / "parley.pem"
    pem.write_text(public["pem"])
    # `parley head` signs the same bytes with the same key: Ed25519 is deterministic.
    assert parley_cli("head", SLUG) == 0
    assert orjson.loads(parley_cli.printed()[0]) == served[0]
    saved = tmp_path / "heads.json"
    saved.write_bytes(orjson.dumps(served))

    # No database: a URL where none answers, and still the check runs.
    for key in (str(pem), public["public_key"]):
        code = parley_cli(
            "verify", "--public-key", key, "--heads", str(saved), database_url=NOWHERE
        )
        assert code == 0, parley_cli.printed()
        assert f"each of the 2 heads is signed by key {public['key_id']}" in parley_cli.printed()[0]

    edited = {**served[0], "version": 1}
    forger = Signer(Ed25519PrivateKey.generate())
    forged = forger.sign(replace(Head.from_json(served[1]), version=9)).to_json()
    saved.write_bytes(b"\n".join(orjson.dumps(h) for h in (edited, served[1], forged)))
    code = parley_cli(
        "verify", "--public-key", str(pem), "--heads", str(saved), database_url=NOWHERE
    )

    printed = parley_cli.printed()[1]
    assert code == 2
    assert f"{SLUG} v1: bad signature" in printed
    assert f"geneva-2025 v9: signed by key {forger.key_id}" in printed
    assert "geneva-2025 v1" not in printed
