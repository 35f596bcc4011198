"""What both recorders do inside a write transaction, written once.

The SQLite and PostgreSQL recorders differ in how they insert the stored events (the
library's SQLite insert, PostgreSQL's table lock and ``RETURNING``) and in how a
restore places rows at their positions; what follows the events into the same
transaction is the same on both, given the transaction as a ``Transaction`` (its
cursor, with ``?`` SQL turned into the backend's by ``store.dialect``):

- ``_index_in``: the index rows (refusing a ``recorded_at`` that would go back in
  time), the search rows, and the keys a ``PersonRedacted`` destroys, with the search
  rows of the events sealed under them made again;
- ``_restore_in``: a dump's keys and rows into an empty store.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from store.index import (
    COLUMNS,
    EventIndex,
    RecordingOrderError,
    RestoreBatch,
    StoreNotEmptyError,
    index_params,
)
from store.keyring import PersonKey, PersonKeys
from store.search import SearchRows, search_params

log = logging.getLogger("parley")


class Transaction(Protocol):
    """A recorder's open transaction, statements written with ``?`` placeholders."""

    def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run a read and return its rows as tuples."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement."""

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row."""


class IndexedRecorder(EventIndex, PersonKeys):
    """The event index and the person keys, and what a write does with both."""

    text_key = "position"  # the search text table's column for an event's position

    @property
    def _insert_index_sql(self) -> str:
        return f"INSERT INTO {self.index_table} ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)"

    def _insert_search(self, tx: Transaction, rows: SearchRows) -> None:
        terms, texts = rows
        tx.executemany(
            f"INSERT INTO {self.terms_table} (position, kind, term) VALUES (?,?,?)", terms
        )
        tx.executemany(f"INSERT INTO {self.text_table} ({self.text_key}, body) VALUES (?,?)", texts)

    def _index_in(
        self, tx: Transaction, stored_events: Sequence[StoredEvent], positions: Sequence[int]
    ) -> None:
        """The index and search rows of stored events just inserted at ``positions``,
        and the keys their ``PersonRedacted`` destroy, in ``tx``."""
        rows = index_params(stored_events, positions, self.dialect.ts)
        if rows:
            # The events' insert holds the write lock, so this read is ordered.
            latest = tx.fetch(self.dialect.latest_recorded_sql(self.index_table), [])
            if latest and latest[0][0] > rows[0][7]:
                raise RecordingOrderError(latest[0][0])
            tx.executemany(self._insert_index_sql, rows)
            # From what is stored, after the keys it is sealed under were looked up in
            # this transaction, so it is ordered with any redaction.
            self._insert_search(tx, self.stored_search(tx.fetch, stored_events, positions))
        destroyed = [(key,) for s in stored_events if (key := getattr(s, "destroys", None))]
        if destroyed:
            tx.executemany(self.delete_key_sql, destroyed)
            self._redact_search(tx, [key for (key,) in destroyed])

    def _backfill_in(self, tx: Transaction) -> None:
        """Fill the search tables of a store made before search existed, in ``tx``: the
        transaction that creates them (so a crash leaves neither)."""
        backfilled = self.backfill_search(tx.fetch, lambda rows: self._insert_search(tx, rows))
        if backfilled:
            log.info("search: indexed the %d events stored before search existed", backfilled)

    def _redact_search(self, tx: Transaction, destroyed: list[str]) -> None:
        """Search rows of the events sealed under destroyed keys, made again as they now
        read (``PersonKeys.redacted_search``), in the caller's transaction."""
        positions, rows = self.redacted_search(tx.fetch, destroyed)
        held = [(position,) for position in positions]
        tx.executemany(f"DELETE FROM {self.terms_table} WHERE position = ?", held)
        tx.executemany(f"DELETE FROM {self.text_table} WHERE {self.text_key} = ?", held)
        self._insert_search(tx, rows)

    def _restore_in(
        self,
        tx: Transaction,
        events_table: str,
        batches: Iterable[RestoreBatch],
        keys: Sequence[PersonKey],
        insert_events: Callable[[Sequence[int], Sequence[StoredEvent]], None],
    ) -> tuple[int, int]:
        """A dump's person keys (in place of any key a store without events holds) and
        its rows, placed by ``insert_events``, with their index and search rows, in
        ``tx``; raises ``StoreNotEmptyError`` unless the store holds no events. Returns
        (rows inserted, last position)."""
        for table in (events_table, self.index_table):
            if tx.fetch(f"SELECT EXISTS (SELECT 1 FROM {table})", [])[0][0]:
                raise StoreNotEmptyError(table)
        tx.execute(f"DELETE FROM {self.keys_table}")
        tx.executemany(
            self.insert_key_sql, [(k.key_id, k.person, k.key, k.created_at) for k in keys]
        )
        self._clear_search(tx)
        inserted, last = 0, 0
        for positions, stored in batches:
            insert_events(positions, stored)
            tx.executemany(self._insert_index_sql, index_params(stored, positions, self.dialect.ts))
            self._insert_search(tx, search_params(stored, positions))
            inserted += len(positions)
            last = positions[-1] if positions else last
        return inserted, last

    def _clear_search(self, tx: Transaction) -> None:
        """Empty the search tables, which only events fill: rows left there when the
        events were lost would collide with the restored ones."""
        for table in (self.terms_table, self.text_table):
            tx.execute(f"DELETE FROM {table}")

    @abstractmethod
    def select_states(self, after: int, limit: int) -> list[tuple[int, int, bytes]]:
        """(position, version, state) of Parley events after ``after``, in position order."""

    @abstractmethod
    def stored_rows(self, after: int, upto: int, limit: int) -> list[tuple[int, UUID, int, bytes]]:
        """(position, originator_id, version, state) of the stored events in (after, upto]."""

    @abstractmethod
    def restore_rows(
        self, batches: Iterable[RestoreBatch], keys: Sequence[PersonKey] = ()
    ) -> int:
        """Insert a dump's rows and keys into this empty store, in one transaction."""
