"""Checkpoints of the as-of engine's fold: a table beside the event index.

A checkpoint is a cache, never a second source of truth. Each row holds, for one
negotiation, the bytes of its fold at some version (``projections.checkpoints`` makes
and reads them; this module only keeps them), and what makes those bytes checkable
against the log and the code:

- ``version``, ``position`` and ``hash``: the last event the fold covers, and its
  hash in the negotiation's chain (a log restored or rewritten differently no longer
  matches);
- ``fold``: the version of the code that folded it (a change in the fold, an event's
  schema or an upcaster gives another, and the row is stale);
- ``digest``: the SHA-256 of ``body``, so that damaged bytes are never decoded.

It lives in the database beside the index rather than in a file of the data dir: the
same code serves SQLite and PostgreSQL (a PostgreSQL server has no data dir of ours),
it is written and removed under the database's own transactions, and a dump or a
backup of the store carries no stale file that could disagree with it. Deleting the
table's rows changes no answer, only the time of the first one.

Personal data: a fold is made from records read with their sealed fields opened. The
state reads none of them today (sources and ``asserted_by`` never reach it), but that is
the fold's choice, not this table's guarantee; so checkpoints are invalidated on
redaction rather than trusted to hold nothing. The transaction that stores a
``PersonRedacted`` (and so destroys a key) deletes every checkpoint (``drop_in_sql``,
run by both recorders), SQLite's ``secure_delete`` overwrites the freed pages, and
PostgreSQL's ``erase_redacted`` rewrites this table as it does the search tables. A
write refuses to store a fold older than a ``PersonRedacted`` of its negotiation, and a
reader drops one that is (``CheckpointStore.write``, ``AsOf.head``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from store.dialect import Database


class Gate(Protocol):
    """Who writes next to the database file (``store.sqlite.WriteGate``)."""

    def view(self) -> AbstractContextManager[None]: ...

CHECKPOINTS_TABLE = "parley_checkpoints"
REDACTION_TYPE = "PersonRedacted"  # domain.events.REDACTIONS; spelt here to keep SQL static


def checkpoint_statements(blob_type: str, prefix: str = "") -> list[str]:
    """DDL for the checkpoints table in either dialect (``prefix`` qualifies the schema)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {prefix}{CHECKPOINTS_TABLE} ("
        "negotiation TEXT PRIMARY KEY, "
        "version BIGINT NOT NULL, "
        "position BIGINT NOT NULL, "
        "hash TEXT NOT NULL, "
        "fold TEXT NOT NULL, "
        "digest TEXT NOT NULL, "
        f"body {blob_type} NOT NULL)"
    ]


def drop_in_sql(table: str = CHECKPOINTS_TABLE) -> str:
    """The statement a redaction's transaction runs (``table`` as the recorder names it):
    every checkpoint goes. Redactions are rare, and the next folds are written again
    without the destroyed fields."""
    return f"DELETE FROM {table}"


def digest_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """One negotiation's stored fold, as written or read back (``body`` unchecked)."""

    negotiation: str
    version: int
    position: int
    hash: str
    fold: str
    digest: str
    body: bytes

    @property
    def intact(self) -> bool:
        """Whether the body is the bytes that were written (its digest matches)."""
        return digest_of(self.body) == self.digest


class CheckpointStore:
    """Read, write and drop checkpoints in a log's database (``ConflictLog.checkpoints``).

    ``schema`` qualifies the tables on PostgreSQL; ``index_table`` is the event index
    (qualified likewise), which a write consults for redactions and a reader for the
    hash of the event a checkpoint names.
    """

    def __init__(
        self,
        database: Database,
        *,
        index_table: str,
        schema: str = "public",
        gate: Gate | None = None,
    ) -> None:
        self._db = database
        # SQLite: a checkpoint (megabytes at 100k events) is written as a view is, never
        # while an append waits for the file's one write lock (store.sqlite.WriteGate).
        self._gate = gate
        self._dialect = database.dialect
        postgres = self._dialect.name == "postgres"
        self.table = f'"{schema}".{CHECKPOINTS_TABLE}' if postgres else CHECKPOINTS_TABLE
        self.index_table = index_table

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self._db.fetch(self._dialect.sql(sql), params)

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        if self._gate is None:
            return self._db.write(self._dialect.sql(sql), params)
        with self._gate.view():
            return self._db.write(self._dialect.sql(sql), params)

    def read(self, slug: str) -> Checkpoint | None:
        """The negotiation's checkpoint as stored, or None."""
        rows = self._fetch(
            "SELECT negotiation, version, position, hash, fold, digest, body "
            f"FROM {self.table} WHERE negotiation = ?",
            [slug],
        )
        if not rows:
            return None
        slug, version, position, hash_, fold, digest, body = rows[0]
        return Checkpoint(slug, int(version), int(position), hash_, fold, digest, bytes(body))

    def versions(self) -> dict[str, tuple[int, str]]:
        """(version, fold) of every stored checkpoint, by negotiation."""
        rows = self._fetch(f"SELECT negotiation, version, fold FROM {self.table}", [])
        return {slug: (int(version), fold) for slug, version, fold in rows}

    def heads(self) -> dict[str, int]:
        """The stored version of every negotiation (its index's unique key serves it)."""
        rows = self._fetch(
            f"SELECT negotiation, MAX(version) FROM {self.index_table} GROUP BY negotiation", []
        )
        return {slug: int(version) for slug, version in rows}

    def event_hash(self, slug: str, version: int) -> str | None:
        """The chain hash of a negotiation's event at ``version`` (None: no such event)."""
        rows = self._fetch(
            f"SELECT hash FROM {self.index_table} WHERE negotiation = ? AND version = ?",
            [slug, version],
        )
        return rows[0][0] if rows else None

    def write(self, checkpoint: Checkpoint) -> bool:
        """Store a checkpoint in place of the negotiation's, unless the stored one is as
        new under the same fold, or a ``PersonRedacted`` of the negotiation came after
        the version it covers (its fold may show what the redaction destroyed). One
        statement: on SQLite it runs under the write lock, ordered with the redaction's
        transaction. Returns whether it was stored."""
        c = checkpoint
        return (
            self._write(
                f"INSERT INTO {self.table} "
                "(negotiation, version, position, hash, fold, digest, body) "
                "SELECT ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS ("
                f"SELECT 1 FROM {self.index_table} "
                "WHERE negotiation = ? AND type = ? AND version > ?) "
                "ON CONFLICT (negotiation) DO UPDATE SET version = excluded.version, "
                "position = excluded.position, hash = excluded.hash, fold = excluded.fold, "
                "digest = excluded.digest, body = excluded.body "
                f"WHERE {self.table}.version < excluded.version "
                f"OR {self.table}.fold <> excluded.fold",
                [
                    c.negotiation,
                    c.version,
                    c.position,
                    c.hash,
                    c.fold,
                    c.digest,
                    c.body,
                    c.negotiation,
                    REDACTION_TYPE,
                    c.version,
                ],
            )
            > 0
        )

    def delete(self, slug: str) -> None:
        """Drop the negotiation's checkpoint (stale, damaged or redacted)."""
        self._write(f"DELETE FROM {self.table} WHERE negotiation = ?", [slug])

    def clear(self) -> int:
        """Drop every checkpoint; how many there were."""
        return self._write(f"DELETE FROM {self.table}", [])
