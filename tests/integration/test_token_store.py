"""Named tokens in the store and through ``parley token``, on both backends."""

from __future__ import annotations

import hashlib
import json

import pytest
from support import run_cli

from domain.tokens import Identity, TokenExistsError, TokenNotFoundError
from store.config import StoreConfig
from store.log import ConflictLog
from store.tokens import TokenRevokedError


def test_a_token_is_stored_as_its_hash_and_identifies_its_holder(log: ConflictLog) -> None:
    tokens = log.token_store()
    made, secret = tokens.create("alice", "append", created_by="admin")
    assert secret.startswith("parley_") and made.revoked_at is None
    rows = log.index.database.fetch(f"SELECT name, hash FROM {tokens.table}", [])
    assert rows == [("alice", hashlib.sha256(secret.encode()).hexdigest())]
    assert tokens.identify(secret) == Identity("alice", "append")
    assert tokens.identify(secret + "x") is None
    assert tokens.identify("parley_" + "A" * 43) is None
    assert tokens.identify("someone-elses-token") is None


def test_a_revoked_token_is_refused_and_its_name_is_never_reused(log: ConflictLog) -> None:
    tokens = log.token_store()
    _, secret = tokens.create("alice", "read", created_by="admin")
    revoked = tokens.revoke("alice")
    assert revoked.revoked_at is not None
    with pytest.raises(TokenRevokedError):
        tokens.identify(secret)
    with pytest.raises(TokenExistsError):
        tokens.create("alice", "read", created_by="admin")
    with pytest.raises(TokenNotFoundError):
        tokens.revoke("bob")
    assert [t.name for t in tokens.tokens()] == ["alice"]


def test_parley_token_creates_lists_and_revokes(
    store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run_cli(
            store_config, monkeypatch, "token", "create", "--name", "alice", "--scope", "append"
        )
        == 0
    )
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("parley_") and "\n" not in secret  # the secret alone, once
    assert (
        run_cli(store_config, monkeypatch, "token", "create", "--name", "bob", "--scope", "read")
        == 0
    )
    capsys.readouterr()

    assert run_cli(store_config, monkeypatch, "token", "list", "--json") == 0
    out = capsys.readouterr().out
    listed = json.loads(out)
    assert [(t["name"], t["scopes"]) for t in listed] == [
        ("alice", ["read", "append"]),
        ("bob", ["read"]),
    ]
    assert all(t["created_by"].startswith("cli") and t["revoked_at"] is None for t in listed)
    assert secret not in out and hashlib.sha256(secret.encode()).hexdigest() not in out

    assert run_cli(store_config, monkeypatch, "token", "revoke", "alice") == 0
    assert "alice revoked" in capsys.readouterr().out
    with ConflictLog(store_config) as log, pytest.raises(TokenRevokedError):
        log.token_store().identify(secret)
    assert run_cli(store_config, monkeypatch, "token", "list") == 0
    table = capsys.readouterr().out
    assert "alice" in table and "bob" in table

    # Refusals exit 1 and say why.
    assert (
        run_cli(store_config, monkeypatch, "token", "create", "--name", "admin", "--scope", "read")
        == 1
    )
    assert "reserved" in capsys.readouterr().err
    assert (
        run_cli(store_config, monkeypatch, "token", "create", "--name", "bob", "--scope", "read")
        == 1
    )
    assert "never reused" in capsys.readouterr().err
    assert run_cli(store_config, monkeypatch, "token", "revoke", "carol") == 1
    assert "no token named 'carol'" in capsys.readouterr().err
