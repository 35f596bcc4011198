"""What both recorders do inside a write transaction, written once.

The SQLite and PostgreSQL recorders differ in how they insert the stored events (the
library's SQLite insert, PostgreSQL's table lock and ``RETURNING``) and in how a
restore places rows at their positions; what follows the events into the same
transaction is the same on both, given the transaction as a ``Transaction`` (its
cursor, with ``?`` SQL turned into the backend's by ``store.dialect``):

- ``_index_in``: the index rows (refusing a ``recorded_at`` that would go back in
  time), the search rows, and the keys a ``PersonRedacted`` destroys, with the search
  rows of the events sealed under them made again;
- ``_restore_in``: a dump's keys and rows into an empty store;
- the key-encryption keys (``store.kek``): new keys wrapped under the current KEK
  (``_store_keys_in``); on a redaction, the remaining keys re-wrapped under a new KEK
  made durable before the commit, the old one destroyed after it (``settle_commit``);
  at open, bare keys of an older store wrapped and stray KEK files destroyed
  (``_adopt_keys_in``).
"""

from __future__ import annotations

import logging
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain.reported import reported_time
from store.checkpoints import CHECKPOINTS_TABLE, drop_in_sql
from store.codec import decode_record
from store.index import (
    COLUMNS,
    EventIndex,
    RecordingOrderError,
    RestoreBatch,
    StoreNotEmptyError,
    index_params,
)
from store.kek import KeyFolder
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


class _KekWork(threading.local):
    """What a write transaction did to the KEK files, settled once it ends."""

    def __init__(self) -> None:
        self.made: list[str] = []  # KEKs made for it: destroyed if it rolls back
        self.retired: list[str] = []  # KEKs it stopped using: destroyed once it commits
        self.redacted = False  # it destroyed a person key


class IndexedRecorder(EventIndex, PersonKeys):
    """The event index and the person keys, and what a write does with both."""

    text_key = "position"  # the search text table's column for an event's position
    checkpoints_table = CHECKPOINTS_TABLE  # the as-of folds' cache (store.checkpoints)

    @cached_property
    def _kek_work(self) -> _KekWork:
        return _KekWork()

    # Key-encryption keys.
    def _current_kek_in(self, tx: Transaction) -> str | None:
        sql = f"SELECT kek_id FROM {self.keys_table} WHERE kek_id IS NOT NULL LIMIT 1"
        rows = tx.fetch(sql, [])
        return str(rows[0][0]) if rows else None

    def _new_kek(self) -> str:
        kek_id = self.folder.make()
        self._kek_work.made.append(kek_id)
        return kek_id

    def _store_keys_in(self, tx: Transaction, keys: Sequence[PersonKey]) -> None:
        """Insert keys made for the events of ``tx``, wrapped under the KEK the stored
        keys use (read under the write lock, so ordered with any redaction's)."""
        if not keys:
            return
        kek_id = self._current_kek_in(tx) or self._new_kek()
        tx.executemany(self.insert_key_sql, self.wrapped_params(keys, kek_id))

    def _rewrap_in(self, tx: Transaction, old: str | None) -> None:
        """Every stored key wrapped under a new KEK, made durable now; ``old`` is
        destroyed once ``tx`` commits (``keys_committed``)."""
        rows = tx.fetch(f"SELECT key_id, key, kek_id FROM {self.keys_table}", [])
        if old is not None:
            self._kek_work.retired.append(old)
        if not rows:
            return
        kek_id = self._new_kek()
        wrap = self.folder.wrap
        tx.executemany(
            f"UPDATE {self.keys_table} SET key = ?, kek_id = ? WHERE key_id = ?",
            [(wrap(kek_id, k, self.bare_key(k, key, held)), kek_id, k) for k, key, held in rows],
        )

    def keys_committed(self) -> bool:
        """After a write transaction committed: destroy the KEKs it retired. True when
        it destroyed a person key (the backend then erases what its files keep)."""
        work, self._kek_work.made = self._kek_work, []
        retired, work.retired = work.retired, []
        redacted, work.redacted = work.redacted, False
        for kek_id in retired:
            self.folder.destroy(kek_id)
        return redacted

    def settle_commit(self) -> None:
        """After a write transaction committed: destroy the KEKs it retired and, after a
        redaction, erase what the backend's files keep. Neither may fail the write that
        committed: a KEK left behind is destroyed at the next start (``sweep``), and the
        next redaction erases again; both are logged."""
        try:
            redacted = self.keys_committed()
        except OSError:
            log.exception("keys: a retired key-encryption key could not be destroyed now")
            redacted = True
        if redacted:
            try:
                self.erase_redacted()
            except Exception:
                log.exception("redaction: the old rows could not be erased from the files now")

    def keys_rolled_back(self) -> None:
        """After a write transaction failed: the KEKs it made wrap nothing stored."""
        work = self._kek_work
        made, work.made, work.retired, work.redacted = work.made, [], [], False
        for kek_id in made:
            self.folder.destroy(kek_id)

    def _adopt_keys_in(self, tx: Transaction) -> None:
        """At open, holding the write lock: wrap the bare keys an older release stored,
        and destroy the KEK files no key uses; a KEK a key uses and whose file is
        missing raises ``MissingKekError``."""
        rows = tx.fetch(f"SELECT key_id, key, kek_id FROM {self.keys_table}", [])
        referenced = {str(held) for _, _, held in rows if held is not None}
        bare = [(key_id, bytes(key)) for key_id, key, held in rows if held is None]
        if bare:
            kek_id = min(referenced) if referenced else self._new_kek()
            wrap = self.folder.wrap
            tx.executemany(
                f"UPDATE {self.keys_table} SET key = ?, kek_id = ? WHERE key_id = ?",
                [(wrap(kek_id, k, key), kek_id, k) for k, key in bare],
            )
            referenced.add(kek_id)
            self._kek_work.redacted = True  # the bare rows' old copies are to be erased
            log.info(
                "keys: wrapped the %d person keys stored bare under a key-encryption key "
                "in %s",
                len(bare),
                self.folder.path,
            )
        self.folder.sweep(referenced)
        # Read now what the first append or sealed read would: the open pays for it,
        # not a request, and a damaged file stops the open as a missing one does.
        for kek_id in sorted(referenced):
            self.folder.load(kek_id)

    def open_keys(self, folder: KeyFolder) -> None:
        """Use ``folder``'s KEKs, adopting the store's keys (``_adopt_keys_in``)."""
        self.key_folder = folder
        try:
            self._adopt_keys()
        except BaseException:
            self.keys_rolled_back()
            raise
        self.settle_commit()

    @abstractmethod
    def _adopt_keys(self) -> None:
        """Run ``_adopt_keys_in`` in a write transaction holding the write lock."""

    def erase_redacted(self) -> None:
        """After a redaction committed: what the backend does so its files no longer
        hold what the redaction made unreadable (its search rows' old text)."""

    @property
    def _insert_index_sql(self) -> str:
        return f"INSERT INTO {self.index_table} ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)"

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
            old = self._current_kek_in(tx)
            tx.executemany(self.delete_key_sql, destroyed)
            self._rewrap_in(tx, old)
            self._redact_search(tx, [key for (key,) in destroyed])
            self._erase_search_in(tx)
            tx.execute(drop_in_sql(self.checkpoints_table))  # folds that may show them
            self._kek_work.redacted = True

    def _backfill_in(self, tx: Transaction) -> None:
        """Fill the search tables of a store made before search existed, in ``tx``: the
        transaction that creates them (so a crash leaves neither)."""
        backfilled = self.backfill_search(tx.fetch, lambda rows: self._insert_search(tx, rows))
        if backfilled:
            log.info("search: indexed the %d events stored before search existed", backfilled)

    def _backfill_reported_in(self, tx: Transaction, page: int = 2000) -> int:
        """Fill ``reported_at`` of the index rows a store made before the third clock
        holds (NULL there), from their stored events, in ``tx``: the transaction that
        added the column (so a crash leaves neither). Returns how many rows it filled.

        Sealed fields are not opened: no source's ``published_at`` is ever sealed."""
        select = (
            "SELECT i.position, e.originator_id, e.originator_version, e.state "
            f"FROM {self.index_table} i {self.events_join} "
            "WHERE i.reported_at IS NULL AND i.position > ? ORDER BY i.position LIMIT ?"
        )
        update = f"UPDATE {self.index_table} SET reported_at = ? WHERE position = ?"
        after, count = 0, 0
        while rows := tx.fetch(select, [after, page]):
            filled = []
            for position, originator_id, version, state in rows:
                record = decode_record(originator_id, version, bytes(state), position)
                moment = reported_time(record.event.sources, record.timestamp)
                filled.append((self.dialect.ts(moment), position))
            tx.executemany(update, filled)
            after, count = rows[-1][0], count + len(rows)
        if count:
            log.info("index: filled the reported time of the %d events stored before it", count)
        return count

    def _redact_search(self, tx: Transaction, destroyed: list[str]) -> None:
        """Search rows of the events sealed under destroyed keys, made again as they now
        read (``PersonKeys.redacted_search``), in the caller's transaction."""
        positions, rows = self.redacted_search(tx.fetch, destroyed)
        held = [(position,) for position in positions]
        tx.executemany(f"DELETE FROM {self.terms_table} WHERE position = ?", held)
        tx.executemany(f"DELETE FROM {self.text_table} WHERE {self.text_key} = ?", held)
        self._insert_search(tx, rows)

    def _erase_search_in(self, tx: Transaction) -> None:
        """In a redaction's transaction, after its search rows were made again: what the
        backend does so that the search tables drop the old rows' terms (SQLite: FTS5
        keeps deleted terms in its segments until they are merged)."""

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
        old = self._current_kek_in(tx)
        tx.execute(f"DELETE FROM {self.keys_table}")
        if old is not None:
            self._kek_work.retired.append(old)
        self._store_keys_in(tx, keys)
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
