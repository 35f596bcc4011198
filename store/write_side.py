"""Write-side checkpoints: a cache of what the writer's aggregates need, so that the
first append after a restart reads one row and the events after it, not the whole
negotiation.

A checkpoint (``domain.negotiation.WriteSideCheckpoint``) holds a negotiation's rounds
and proposal ids, each with the unretracted events that ground it, as of one stored
version, with that version's hash. It is
derived, never a second source of truth: it is used only while the log holds that same
hash at that version (else it is ignored, and the write side is folded from the log
and checkpointed anew), and nothing is lost without it. Its table is made on first
save, beside the log's, in either dialect; reading or saving one never fails an
append (an error is logged, and the log is folded instead).
"""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

import orjson

from domain.negotiation import Ground, WriteSideCheckpoint
from store.dialect import Database
from store.index import INDEX_TABLE

logger = logging.getLogger("parley.writer")

WRITE_SIDE_TABLE = "parley_write_side"
CHECKPOINT_EVERY = 1000
"""Events a negotiation's write side may be ahead of its checkpoint before it is saved
anew (so a restart after a crash folds at most about this many)."""
FORMAT = 2
"""The state column's layout; a checkpoint of another is ignored (the log is folded
instead). Format 1 held bare round numbers and proposal ids: it could not tell which
of them a later retraction takes away."""


def checkpoint_statements(prefix: str = "") -> list[str]:
    """DDL for the checkpoints table in either dialect (``prefix`` qualifies the schema)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {prefix}{WRITE_SIDE_TABLE} ("
        "negotiation TEXT PRIMARY KEY, "
        "version BIGINT NOT NULL, "
        "hash TEXT NOT NULL, "
        "state TEXT NOT NULL)"
    ]


class WriteSideCheckpoints:
    """Checkpoints of the write sides, in a table beside the index (``index_table``
    names it, qualified by its schema on PostgreSQL)."""

    def __init__(self, database: Database, index_table: str) -> None:
        self.database = database
        self.prefix = index_table[: -len(INDEX_TABLE)] if index_table.endswith(INDEX_TABLE) else ""
        self.table = f"{self.prefix}{WRITE_SIDE_TABLE}"
        self._made = False

    def load(self, slug: str) -> WriteSideCheckpoint | None:
        """The stored checkpoint of ``slug`` (not yet checked against the log), or None
        when there is none or it cannot be read."""
        try:
            rows = self.database.fetch(
                self.database.dialect.sql(
                    f"SELECT version, hash, state FROM {self.table} WHERE negotiation = ?"
                ),
                [slug],
            )
        except Exception as error:  # no table yet (a log never checkpointed), or worse
            logger.debug("no write-side checkpoint of %s: %s", slug, error)
            return None
        if not rows:
            return None
        version, hash_, state = rows[0]
        try:
            fields = orjson.loads(state)
            if fields.get("format") != FORMAT:
                return None
            return WriteSideCheckpoint(
                version=int(version),
                hash=str(hash_),
                recorded_at=None,
                grounds={
                    _ground(kind, key): frozenset(UUID(i) for i in ids)
                    for kind, key, ids in fields["grounds"]
                },
                gone={_ground(kind, key): UUID(i) for kind, key, i in fields["gone"]},
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            logger.warning("the write-side checkpoint of %s is unreadable: %s", slug, error)
            return None

    def save(self, slug: str, checkpoint: WriteSideCheckpoint) -> bool:
        """Store ``checkpoint`` in place of ``slug``'s; whether it was stored."""
        state = orjson.dumps(
            {
                "format": FORMAT,
                "grounds": sorted(
                    [kind, key, sorted(str(i) for i in ids)]
                    for (kind, key), ids in checkpoint.grounds.items()
                ),
                "gone": sorted([kind, key, str(i)] for (kind, key), i in checkpoint.gone.items()),
            }
        ).decode()
        sql = self.database.dialect.sql(
            f"INSERT INTO {self.table} (negotiation, version, hash, state) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (negotiation) DO UPDATE SET version = excluded.version, "
            "hash = excluded.hash, state = excluded.state"
        )
        try:
            if not self._made:
                for statement in checkpoint_statements(self.prefix):
                    self.database.write(statement, [])
                self._made = True
            self.database.write(sql, [slug, checkpoint.version, checkpoint.hash, state])
        except Exception as error:  # a cache: the append it follows is stored already
            logger.warning("the write-side checkpoint of %s was not saved: %s", slug, error)
            return False
        return True


def trusted(
    checkpoint: WriteSideCheckpoint, link: tuple[str, datetime] | None
) -> WriteSideCheckpoint | None:
    """``checkpoint`` with its clock, if the log holds its hash at its version (``link``:
    the log's hash and recorded_at there); else None."""
    if link is None or link[0] != checkpoint.hash:
        return None
    return WriteSideCheckpoint(
        version=checkpoint.version,
        hash=checkpoint.hash,
        recorded_at=link[1],
        grounds=checkpoint.grounds,
        gone=checkpoint.gone,
    )


def _ground(kind: str, key: object) -> Ground:
    """A ground as stored: rounds by number, proposals by id."""
    if kind in ("round", "held"):
        return (kind, int(str(key)))
    if kind == "proposal":
        return (kind, str(key))
    raise ValueError(f"no such ground: {kind}")


__all__ = ["CHECKPOINT_EVERY", "WriteSideCheckpoints", "checkpoint_statements", "trusted"]
