"""Damage is named (issue 15, finding 6): a corrupt or broken store fails readiness with
the reason, ``parley verify`` exits 2 naming it, requests that meet it get a problem
naming it; a missing or damaged signing key stops the server in one line unless a new
key is asked for, and then old heads still check; a read-only or missing data dir is
one line naming the path; the EventSourcingDB ``source`` keeps the text rules."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from builders import statement_body
from fastapi.testclient import TestClient
from support import AUTH, EXAMPLE, REPO, free_port, run_cli, settings_for

from api.http.app import create_app
from api.signing import check_signature, load_public_key
from api.signing_keys import SigningKeyError
from store.config import StoreConfig
from store.heads import Head
from store.loader import load
from store.log import ConflictLog

SLUG = "istanbul-2025"


def _loaded(config: StoreConfig) -> None:
    with ConflictLog(config) as log:
        load(log, EXAMPLE, SLUG)


def _corrupt_events_table(config: StoreConfig) -> None:
    """Overwrite the root page of the stored events' table with junk, as a failing disk
    or a stray write would (the WAL checkpointed first, so the page is in the file)."""
    with sqlite3.connect(config.sqlite_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'stored_events'"
        ).fetchone()
    conn.close()
    with config.sqlite_path.open("r+b") as file:
        file.seek(page_size * (root - 1))
        file.write(b"\xde\xad\xbe\xef" * (page_size // 4))


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_corrupt_sqlite_page_is_named_by_verify_readiness_and_appends(
    store_config: StoreConfig,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _loaded(store_config)
    _corrupt_events_table(store_config)

    assert run_cli(store_config, monkeypatch, "verify") == 2
    said = capsys.readouterr().err
    assert str(store_config.sqlite_path) in said and "malformed" in said
    assert "Traceback" not in said

    app = create_app(settings_for(store_config))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/health").status_code == 200  # liveness: the process answers
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.headers["content-type"] == "application/problem+json"
        assert ready.json()["type"] == "/problems/store-damaged"
        assert str(store_config.sqlite_path) in ready.json()["detail"]
        assert "malformed" in ready.json()["detail"]

        verified = client.get("/verify")
        assert verified.status_code == 200 and verified.json()["ok"] is False
        assert "malformed" in verified.json()["first_break"]

        appended = client.post(
            f"/negotiations/{SLUG}/events",
            json=statement_body("after the damage", occurred_at="2025-05-28"),
            headers=AUTH,
        )
        assert appended.status_code == 500
        assert appended.json()["type"] == "/problems/store-damaged"
        assert "malformed" in appended.json()["detail"]


def _drop_index_table(config: StoreConfig) -> None:
    if config.database_url is None:
        with sqlite3.connect(config.sqlite_path) as conn:
            conn.execute("DROP TABLE parley_event_index")
        conn.close()
        return
    with psycopg.connect(config.database_url, autocommit=True) as conn:
        conn.execute(f'DROP TABLE "{config.postgres_schema}".parley_event_index CASCADE')


def test_a_store_that_lost_a_table_is_not_ready_and_says_which(
    store_config: StoreConfig,
) -> None:
    _loaded(store_config)
    with TestClient(create_app(settings_for(store_config))) as client:
        assert client.get("/health/ready").json()["status"] == "ready"
        _drop_index_table(store_config)
        client.app.state.store_health.every = 0  # type: ignore[attr-defined]

        ready = client.get("/health/ready")

    assert ready.status_code == 503
    assert "parley_event_index" in ready.json()["detail"]
    assert store_config.describe() in ready.json()["detail"]


@pytest.mark.parametrize("backend", ["postgres"])
def test_an_unreachable_postgres_is_one_line_naming_it(
    store_config: StoreConfig,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    nowhere = "postgresql://postgres@127.0.0.1:9/test"  # the discard port: nothing listens

    assert run_cli(store_config, monkeypatch, "verify", database_url=nowhere) == 1

    said = capsys.readouterr().err
    assert "postgresql://127.0.0.1:9/test cannot be used" in said and "Traceback" not in said
    assert len(said.strip().splitlines()) == 1


# The signing key.


def _signed_head(client: TestClient) -> tuple[Head, dict[str, Any]]:
    head = Head.from_json(client.get(f"/negotiations/{SLUG}/head").json())
    (key,) = client.get("/keys").json()["keys"]
    return head, key


@pytest.mark.parametrize("damage", ["deleted", "emptied", "garbage"])
def test_a_missing_or_damaged_signing_key_stops_the_server_by_name(
    store_config: StoreConfig, damage: str
) -> None:
    _loaded(store_config)
    settings = settings_for(store_config)
    with TestClient(create_app(settings)) as client:
        _signed_head(client)
    key_file = settings.signing_key_file
    if damage == "deleted":
        key_file.unlink()
    else:
        key_file.write_bytes(b"" if damage == "emptied" else b"-----BEGIN junk\n")

    with pytest.raises(SigningKeyError) as refused:
        create_app(settings)

    said = str(refused.value)
    assert str(key_file) in said and "PARLEY_NEW_SIGNING_KEY=1" in said and "\n" not in said
    assert damage != "deleted" or key_file.exists() is False  # nothing made in silence


@pytest.mark.parametrize("damage", ["deleted", "garbage"])
def test_a_new_key_when_asked_is_logged_and_old_heads_still_check_with_keys(
    store_config: StoreConfig, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    _loaded(store_config)
    settings = settings_for(store_config)
    with TestClient(create_app(settings)) as client:
        old_head, old_key = _signed_head(client)
    if damage == "deleted":
        settings.signing_key_file.unlink()
    else:
        settings.signing_key_file.write_bytes(b"garbage")

    with caplog.at_level(logging.WARNING, logger="parley"):
        app = create_app(settings_for(store_config, new_signing_key=True))
    with TestClient(app) as client:
        new_head = Head.from_json(client.get(f"/negotiations/{SLUG}/head").json())
        keys = client.get("/keys").json()["keys"]
    # A second start with the flag still set does not rotate the key that now loads.
    with TestClient(create_app(settings_for(store_config, new_signing_key=True))) as client:
        assert client.get("/keys").json()["keys"] == keys

    assert "signing key replaced" in caplog.text and old_key["key_id"] in caplog.text
    current, retired = keys
    assert new_head.key_id == current["key_id"] != old_key["key_id"]
    assert "retired_at" not in current  # the current key's answer is as before
    assert retired["key_id"] == old_head.key_id == old_key["key_id"]
    assert retired["retired_at"] and str(settings.signing_key_file) in retired["retired_because"]
    assert check_signature(old_head, load_public_key(retired["public_key"])) is None
    assert check_signature(new_head, load_public_key(current["pem"])) is None
    if damage == "garbage":
        kept = list(settings.data_dir.glob("signing-key.pem.damaged-*"))
        assert [p.read_bytes() for p in kept] == [b"garbage"]


def test_parley_serve_with_a_damaged_key_exits_with_one_line(
    store_config: StoreConfig, tmp_path: Path
) -> None:
    key_file = settings_for(store_config).signing_key_file
    key_file.write_text("not a key\n")

    done = _cli(store_config, ["serve"], data_dir=store_config.data_dir)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        line for line in done.stderr.strip().splitlines() if str(key_file) in line
    ]
    assert "Traceback" not in done.stderr and "--new-signing-key" in done.stderr


# The data dir.


def _cli(
    config: StoreConfig, args: list[str], *, data_dir: Path, read_only: bool = False
) -> subprocess.CompletedProcess[str]:
    """``parley ARGS`` in a child process; with ``read_only``, in a mount namespace of its
    own where ``data_dir`` is bound read-only (root writes through any file mode, but
    not to a read-only mount)."""
    env = {
        **os.environ,
        "PARLEY_DATA_DIR": str(data_dir),
        "PARLEY_EXAMPLE": "",
        # A free port: serve binds it first, then stops at the store, before serving.
        "PARLEY_PORT": str(free_port()),
        "PARLEY_DATABASE_URL": config.database_url or "",
        "PARLEY_DATABASE_SCHEMA": config.postgres_schema,
        "COLUMNS": "300",  # rich wraps at the terminal's width; one line must stay one
    }
    command = [sys.executable, "-m", "api.cli", *args]
    if read_only:
        bind = f'mount --bind -o ro "{data_dir}" "{data_dir}" && exec "$@"'
        command = ["unshare", "--map-root-user", "--mount", "sh", "-c", bind, "sh", *command]
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def _can_bind_read_only(folder: Path) -> bool:
    probe = ["unshare", "--map-root-user", "--mount", "mount", "--bind", "-o", "ro"]
    try:
        return subprocess.run([*probe, str(folder), str(folder)], timeout=10).returncode == 0
    except OSError:
        return False


@pytest.mark.parametrize("command", ["serve", "verify", "load"])
def test_a_read_only_data_dir_is_one_line_naming_the_path(
    store_config: StoreConfig, tmp_path: Path, command: str
) -> None:
    data = tmp_path / "data"
    if store_config.database_url:
        data.mkdir()  # empty: the server's token and key are still to be made there
    else:
        _loaded_in(store_config, data)  # a store, a token and a key: only writes fail
    if not _can_bind_read_only(data):
        pytest.skip("no user and mount namespaces here (unshare) to make a read-only folder")
    args = [command, str(EXAMPLE)] if command == "load" else [command]

    done = _cli(store_config, args, data_dir=data, read_only=True)

    lines = done.stderr.strip().splitlines()
    if store_config.database_url and command == "verify":
        # PostgreSQL's verify writes nothing in the data dir: a read-only one does no harm.
        assert done.returncode == 0, done.stderr[-2000:]
        return
    assert done.returncode == 1, done.stderr[-2000:]
    if store_config.database_url and command == "load":
        # The person keys' KEK folder is in the data dir on PostgreSQL too (store.kek);
        # the load's progress line comes before the first event that needs it.
        assert str(data) in lines[-1], done.stderr[-2000:]
        return
    assert len(lines) == 1 and str(data) in lines[0], done.stderr[-2000:]


def _loaded_in(config: StoreConfig, data: Path) -> None:
    moved = StoreConfig(
        data_dir=data, database_url=config.database_url, postgres_schema=config.postgres_schema
    )
    _loaded(moved)
    create_app(settings_for(moved))  # the admin token and the signing key, as a server makes


def test_a_data_dir_that_cannot_be_made_is_one_line_naming_the_path(
    store_config: StoreConfig, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    data = blocker / "data"

    done = _cli(store_config, ["serve"], data_dir=data)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"{data}: the folder cannot be created: Not a directory"
    ]


# The EventSourcingDB source.


@pytest.mark.parametrize(
    "source",
    ["https://desk.example.org/\nInjected: yes", "tab\there", "nul\x00", "sealed:v1:ab:Zm9v"],
    ids=["newline", "tab", "nul", "sealed"],
)
def test_the_esdb_source_follows_the_rules_of_every_other_text_field(
    client: TestClient, source: str
) -> None:
    candidate = {
        "source": source,
        "subject": "/negotiations/riyadh-2025",
        "type": "io.parley.NegotiationOpened",
        "data": {
            "occurred_at": "2025-02-18",
            "data": {"title": "Riyadh talks", "parties": ["USA", "RUS"], "mediators": ["SAU"]},
            "sources": [{"outlet": "AP"}],
        },
    }

    refused = client.post("/api/v1/write-events", json={"events": [candidate]}, headers=AUTH)

    assert refused.status_code == 422, refused.text
    assert "events.0.source" in refused.text
    assert client.get("/negotiations/riyadh-2025").status_code == 404
    candidate["source"] = "https://desk.example.org"
    assert (
        client.post("/api/v1/write-events", json={"events": [candidate]}, headers=AUTH).status_code
        == 200
    )
