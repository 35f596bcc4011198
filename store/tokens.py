"""Named tokens: a table beside the log, on SQLite and PostgreSQL alike.

A token is a random secret shown once, when it is made; the table keeps only its
SHA-256 (a secret of 256 random bits needs no slow hash), with the token's name, scope,
when and by whom it was made, and when it was revoked. Names are never reused: a
revoked token's row stays, so a ``recorded_by`` always names one holder.

Every request with a named token looks its hash up here (``identify``), with no cache:
a revocation is seen at once by every worker process and every host on the same store.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domain.instants import utc_text
from domain.tokens import (
    TOKEN_NAME,
    Identity,
    Scope,
    TokenError,
    TokenExistsError,
    TokenNotFoundError,
    check_scope,
    check_token_name,
    implied,
)
from store.dialect import Database

TOKENS_TABLE = "parley_tokens"
PREFIX = "parley_"  # every named token starts so: recognisable in a config file or a leak scan


class TokenRevokedError(TokenError):
    def __init__(self, name: str) -> None:
        super().__init__(f"the token {name!r} was revoked", value=name)


def token_statements(ts_type: str, prefix: str = "") -> list[str]:
    """DDL for the tokens table in either dialect (``prefix`` qualifies the schema)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {prefix}{TOKENS_TABLE} ("
        "name TEXT PRIMARY KEY, "
        "hash TEXT NOT NULL UNIQUE, "
        "scope TEXT NOT NULL, "
        f"created_at {ts_type} NOT NULL, "
        "created_by TEXT NOT NULL, "
        f"revoked_at {ts_type})"
    ]


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Token:
    """A stored token, without its secret or hash."""

    name: str
    scope: Scope
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scope": self.scope,
            "scopes": list(implied(self.scope)),
            "created_at": utc_text(self.created_at),
            "created_by": self.created_by,
            "revoked_at": None if self.revoked_at is None else utc_text(self.revoked_at),
        }


class TokenStore:
    """Create, list, revoke and identify named tokens in a log's database.

    ``schema`` qualifies the table on PostgreSQL; ``sqlite_path`` is the SQLite file,
    whose lookups get a read-only connection of their own (None on PostgreSQL).
    """

    def __init__(
        self, database: Database, *, schema: str = "public", sqlite_path: Path | None = None
    ) -> None:
        self._db = database
        self._dialect = database.dialect
        self.backend = self._dialect.name
        self.table = f'"{schema}".{TOKENS_TABLE}' if self.backend == "postgres" else TOKENS_TABLE
        self._columns = "name, scope, created_at, created_by, revoked_at"
        self._identify_sql = self._dialect.sql(
            f"SELECT name, scope, revoked_at FROM {self.table} WHERE hash = ?"
        )
        # SQLite: lookups on a read-only connection of their own, in autocommit, so each
        # sees the last committed revocation. A request's lookup takes about 10 us so;
        # through the pool (BEGIN, SELECT, ROLLBACK) it took 22 us, on every append.
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        if sqlite_path is not None:
            self._reader = sqlite3.connect(
                sqlite_path.resolve().as_uri() + "?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
                timeout=10,
            )

    def create(self, name: str, scope: str, created_by: str) -> tuple[Token, str]:
        """Make a token; the stored token and its secret, which nothing keeps."""
        check_token_name(name)
        granted = check_scope(scope)
        secret = new_secret()
        digest = secret_hash(secret)
        now = datetime.now(UTC)
        self._write(
            f"INSERT INTO {self.table} (name, hash, scope, created_at, created_by) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [name, digest, granted, self._dialect.ts(now), created_by],
        )
        # The insert is a no-op when the name is taken: the stored hash says whose it is.
        rows = self._read(f"SELECT hash FROM {self.table} WHERE name = ?", [name])
        if not rows or rows[0][0] != digest:
            raise TokenExistsError(name)
        return Token(name, granted, now, created_by, None), secret

    def tokens(self) -> list[Token]:
        """Every token, revoked ones included, oldest first."""
        rows = self._read(f"SELECT {self._columns} FROM {self.table} ORDER BY created_at, name", [])
        return [self._token(row) for row in rows]

    def get(self, name: str) -> Token:
        if not TOKEN_NAME.match(name):  # no such name, nor a NUL for PostgreSQL to refuse
            raise TokenNotFoundError(name)
        rows = self._read(f"SELECT {self._columns} FROM {self.table} WHERE name = ?", [name])
        if not rows:
            raise TokenNotFoundError(name)
        return self._token(rows[0])

    def revoke(self, name: str) -> Token:
        """Revoke a token from now on; revoking it again changes nothing."""
        if not TOKEN_NAME.match(name):
            raise TokenNotFoundError(name)
        self._write(
            f"UPDATE {self.table} SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
            [self._dialect.ts(datetime.now(UTC)), name],
        )
        return self.get(name)

    def identify(self, secret: str) -> Identity | None:
        """Who ``secret`` is, None if no token has it; ``TokenRevokedError`` if revoked."""
        if not secret.startswith(PREFIX):
            return None  # not a named token: spare the lookup
        digest = secret_hash(secret)
        if self._reader is not None:
            with self._reader_lock:
                rows = self._reader.execute(self._identify_sql, (digest,)).fetchall()
        else:
            rows = self._db.fetch(self._identify_sql, [digest])
        if not rows:
            return None
        name, scope, revoked_at = rows[0]
        if revoked_at is not None:
            raise TokenRevokedError(name)
        return Identity(name, check_scope(scope))

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()

    def _token(self, row: Sequence[Any]) -> Token:
        name, scope, created_at, created_by, revoked_at = row
        return Token(
            name=name,
            scope=check_scope(scope),
            created_at=self._dialect.from_ts(created_at),
            created_by=created_by,
            revoked_at=None if revoked_at is None else self._dialect.from_ts(revoked_at),
        )

    def _read(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        return self._db.fetch(self._dialect.sql(sql), params)

    def _write(self, sql: str, params: list[Any]) -> None:
        self._db.write(self._dialect.sql(sql), params)
