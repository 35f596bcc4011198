"""What differs between SQLite and PostgreSQL, in one place.

Parley writes its SQL once, with ``?`` placeholders, and a ``Dialect`` turns it into
the backend's: the placeholder, the column types, how an instant is stored (SQLite:
``utc_key`` text, which sorts as time does; PostgreSQL: ``TIMESTAMPTZ``) and read back,
how a timestamp column reads as ``utc_key`` text, and the query for the latest
``recorded_at``. A ``Database`` is the narrow handle the store's side tables
(``store.tokens``) get: the dialect, a read and a one-statement write, nothing of the
recorder behind them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.instants import from_utc_key, utc_key


@dataclass(frozen=True)
class Dialect:
    """The SQL and the stored forms of one backend."""

    name: str
    placeholder: str
    timestamp_type: str
    blob_type: str

    def sql(self, text: str) -> str:
        """``text``, written with ``?`` placeholders, in this backend's."""
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def ts(self, value: datetime) -> Any:
        """An instant as this backend stores it."""
        return utc_key(value) if self.name == "sqlite" else value

    def from_ts(self, value: Any) -> datetime:
        """A stored instant as an aware UTC datetime."""
        if self.name == "sqlite":
            return from_utc_key(value)
        assert isinstance(value, datetime)
        return value.astimezone(UTC)

    def key_sql(self, column: str) -> str:
        """SQL for a timestamp column as ``utc_key`` text (SQLite stores it so)."""
        if self.name == "sqlite":
            return column
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"

    @staticmethod
    def latest_recorded_sql(table: str) -> str:
        """The latest ``recorded_at`` in an index table (served by its index, not a scan)."""
        return f"SELECT recorded_at FROM {table} ORDER BY recorded_at DESC LIMIT 1"


SQLITE = Dialect("sqlite", "?", "TEXT", "BLOB")
POSTGRES = Dialect("postgres", "%s", "TIMESTAMPTZ", "BYTEA")


@dataclass(frozen=True)
class Database:
    """A narrow handle on the log's database: its dialect, reads, one-statement writes.

    ``fetch`` runs a read query (backend placeholders) and returns tuples; ``write`` runs
    one statement in a transaction of its own and returns the rows it changed.
    """

    dialect: Dialect
    fetch: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
    write: Callable[[str, Sequence[Any]], int]
