"""The SQLite recorder: the library's application recorder plus Parley's event index.

The index rows and the search rows (``store.search``) are inserted by the same cursor,
inside the same transaction, as the stored events, so none can exist without the
others. SQLite runs in WAL mode (set by the library's pool) with ``synchronous=FULL``:
a committed append survives a crash of the process or of the machine. After each
commit the recorder wakes this process's subscriptions to the same file
(store/subscription.py), since SQLite cannot notify.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    OperationalError,
    StoredEvent,
    Subscription,
)
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteCursor,
    SQLiteDatastore,
)
from eventsourcing.sqlite import SQLiteTransaction as LibraryTransaction

from store import metrics
from store.checkpoints import checkpoint_statements
from store.config import StoreConfig
from store.dialect import SQLITE
from store.index import (
    RestoreBatch,
    index_statements,
)
from store.keyring import PersonKey, key_statements
from store.mapper import RECORDED_TOPIC
from store.recorder import IndexedRecorder, Transaction
from store.search import (
    TextQuery,
    sqlite_text_statements,
    terms_statements,
)
from store.subscription import (
    SQLiteSubscription,
    committed,
    database_key,
)
from store.tokens import token_statements

log = logging.getLogger("parley")

LOCKED_ATTEMPTS = 20  # tries of a start-up step that SQLite refused at once as locked

T = TypeVar("T")


def again_while_locked(step: Callable[[], T], refused: type[Exception]) -> T:
    """``step()``, tried again while SQLite refuses it at once as "database is locked".

    SQLite waits for a lock (the busy timeout) only where waiting cannot deadlock. Two
    start-up steps it refuses at once instead, when processes start together: switching
    a new file to WAL (the library's first connection does) while another process opens
    it, and a transaction that read before it writes (the tables' creation) when another
    process wrote meanwhile. Neither leaves anything behind, and a moment later the
    other process is done.
    """
    for attempt in range(LOCKED_ATTEMPTS):
        try:
            return step()
        except refused as error:
            if "locked" not in str(error) or attempt == LOCKED_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))
    raise AssertionError("unreachable")


class WriteGate:
    """Who writes next to one SQLite file, among the threads of this process: the log's
    writer before any view.

    SQLite lets one connection write at a time, and one that finds the lock taken sleeps
    in its busy handler (1, 2, 5, 10... ms) and tries again: an append waited so for the
    inline projections' transactions (about 4 ms a group under load). Here the log's
    writer announces each group (``group``: from when it takes the group to its
    commit), and takes the gate for its transaction (``append``); a view takes the gate
    for each of its write transactions (``view``), and begins one only while no group
    is announced. So a view never begins to hold the write lock while an append waits;
    one that began before the group came ends while the writer prepares the group. A
    view that has waited ``VIEW_TURN`` seconds goes before the next group, so that
    views are not starved under a steady load (they write what piled up meanwhile in
    one transaction). Other processes (``parley project run``, a second worker) still
    meet at SQLite's lock.
    """

    VIEW_TURN = 0.05

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._owner: int | None = None  # the thread that holds the gate
        self._groups = 0  # groups announced
        self._views = 0  # views waiting
        self._view_since: float | None = None  # since when the first of them waits

    @contextmanager
    def group(self) -> Iterator[None]:
        """Announce a group of appends: no view begins a transaction until it ends."""
        with self._changed:
            while self._view_due():
                self._changed.wait(self.VIEW_TURN)
            self._groups += 1
        try:
            yield
        finally:
            with self._changed:
                self._groups -= 1
                self._changed.notify_all()

    @contextmanager
    def append(self) -> Iterator[None]:
        """Hold the gate for an append's transaction."""
        with self._changed:
            while self._owner is not None:
                self._changed.wait()
            self._owner = threading.get_ident()
        try:
            yield
        finally:
            self._release()

    @contextmanager
    def view(self) -> Iterator[None]:
        """Hold the gate for a view's transaction, once no group is announced."""
        with self._changed:
            self._views += 1
            if self._view_since is None:
                self._view_since = time.monotonic()
            while self._owner is not None or self._groups:
                self._changed.wait()
            self._owner = threading.get_ident()
            self._views -= 1
            self._view_since = time.monotonic() if self._views else None
        try:
            yield
        finally:
            self._release()

    def _view_due(self) -> bool:
        since = self._view_since
        return since is not None and time.monotonic() - since > self.VIEW_TURN

    def _release(self) -> None:
        with self._changed:
            self._owner = None
            self._changed.notify_all()


_gates: dict[str, WriteGate] = {}
_gates_lock = threading.Lock()


def write_gate(db_name: str) -> WriteGate:
    """The gate of the SQLite file ``db_name`` in this process (one per file)."""
    key = database_key(db_name)
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = WriteGate()
        return gate


def synchronous_on_connect(datastore: SQLiteDatastore, level: str) -> None:
    """Set ``PRAGMA synchronous`` on every connection the datastore's pool opens.

    Chosen, not inherited from how SQLite was built: FULL for the log (a commit that
    returned survives a power cut), NORMAL for rebuildable views (a crash may lose their
    last commits, but each keeps its tracking row with it, so a runner resumes there).
    ``secure_delete`` too, whatever the build's default: SQLite overwrites deleted
    content with zeros, so a destroyed person key or the old search rows of a redacted
    person do not stay in free pages or cells of the file.
    """
    pool = datastore.pool
    make = pool._create_connection

    def create() -> SQLiteConnection:
        connection = again_while_locked(make, sqlite3.OperationalError)
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA synchronous={level}")
        cursor.execute("PRAGMA secure_delete=ON")
        return connection

    setattr(pool, "_create_connection", create)  # noqa: B010 - the pool has no hook


class SQLiteEventRecorder(IndexedRecorder, SQLiteApplicationRecorder):
    """Stored events, their index and the person keys in one SQLite file."""

    backend = "sqlite"
    dialect = SQLITE
    text_key = "rowid"  # the FTS5 table's
    contiguous_positions = True
    poll_seconds = StoreConfig.poll_seconds  # how often subscriptions look for other processes

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        synchronous_on_connect(datastore, "FULL")
        super().__init__(datastore, events_table_name)
        self.events_join = f"JOIN {self.events_table_name} e ON e.rowid = i.position"
        self.database_key = database_key(datastore.pool.db_name)
        self.gate = write_gate(datastore.pool.db_name)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert the events with their index, search and key rows in ONE transaction,
        which takes the write lock at its start (``_WriteTransaction``), through this
        process's gate to the file (``WriteGate``)."""
        try:
            waiting = time.perf_counter()
            with (
                self.gate.append(),
                self.datastore.get_connection(commit=True) as connection,
                _WriteTransaction(connection) as c,
                c,
            ):
                metrics.LOCK.observe(time.perf_counter() - waiting)
                positions = self._insert_events(c, stored_events, **kwargs)
        except BaseException:
            self.keys_rolled_back()
            raise
        committed(self.database_key)  # after the commit, never before
        self.settle_commit()
        return positions

    def erase_redacted(self) -> None:
        """Copy the WAL into the main file and truncate it: its frames hold the pages as
        they were before the redaction (the key row, the old search rows). A reader of
        another connection can hold the checkpoint back; then the frames are reused
        from the start by the next writes, and the next redaction tries again."""
        busy = self._fetch("PRAGMA wal_checkpoint(TRUNCATE)", [])
        if busy and busy[0][0]:
            log.warning("redaction: the WAL could not be truncated now (a reader holds it)")

    def _erase_search_in(self, tx: Transaction) -> None:
        # SQLite here is older than 3.44 (FTS5's 'secure-delete'): merging every segment
        # into one drops the deleted rows' terms; with secure_delete the pages freed
        # are zeroed. It rewrites the whole full-text index, once per redaction.
        tx.execute(f"INSERT INTO {self.text_table}({self.text_table}) VALUES ('optimize')")

    def _adopt_keys(self) -> None:
        def adopt() -> None:
            with self.datastore.transaction(commit=True) as c:
                tx = SQLiteTransaction(c)
                # A write first, so the transaction holds the write lock from here on.
                tx.execute(f"UPDATE {self.keys_table} SET person = person WHERE 0")
                self._adopt_keys_in(tx)

        again_while_locked(adopt, sqlite3.OperationalError)

    def appending(self) -> AbstractContextManager[None]:
        """The writer announces each group at this process's gate to the file."""
        return self.gate.group()

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        """Notifications after ``gt``, woken in-process on commit and by polling."""
        return SQLiteSubscription(
            self, gt=gt, topics=topics, key=self.database_key, poll_seconds=self.poll_seconds
        )

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            *index_statements(SQLITE.timestamp_type),
            *token_statements(SQLITE.timestamp_type),
            *terms_statements(self.terms_table, sqlite=True),
            *sqlite_text_statements(self.text_table),
            *key_statements(SQLITE.blob_type),
            *checkpoint_statements(SQLITE.blob_type),
        ]

    def create_table(self) -> None:
        """Create the tables, though several processes may start together: the creating
        transaction reads (does the search index exist?) before it writes."""
        again_while_locked(super().create_table, OperationalError)

    def _create_table(self, c: SQLiteCursor) -> None:
        """Create the tables; a store made before search gets the search tables filled
        from its events in this same transaction (so a crash leaves neither), and one
        made before the third clock its index's ``reported_at``."""
        c.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (self.terms_table,))
        searchable = c.fetchone() is not None
        super()._create_table(c)
        c.execute(f"PRAGMA table_info({self.keys_table})")
        if "kek_id" not in [row[1] for row in c.fetchall()]:  # a store from before KEKs
            c.execute(f"ALTER TABLE {self.keys_table} ADD COLUMN kek_id TEXT")
        c.execute(f"PRAGMA table_info({self.index_table})")
        if "reported_at" not in [row[1] for row in c.fetchall()]:  # from before the third clock
            # SQLite adds no NOT NULL column without a default: it stays nullable here,
            # and every row is filled in this transaction.
            c.execute(f"ALTER TABLE {self.index_table} ADD COLUMN reported_at TEXT")
            self._backfill_reported_in(SQLiteTransaction(c))
        if not searchable:
            self._backfill_in(SQLiteTransaction(c))

    def _text_clause(self, query: TextQuery) -> tuple[str, list[Any]]:
        table = self.text_table
        return (
            f"i.position IN (SELECT rowid FROM {table} WHERE {table} MATCH ?)",
            [query.fts5()],
        )

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        assert positions is not None
        # The write lock is held from the first INSERT on (what follows reads ordered).
        tx = SQLiteTransaction(c)
        self._store_keys_in(tx, kwargs.get("person_keys") or ())  # keys made to seal them
        self._index_in(tx, stored_events, positions)
        return positions

    def restore_rows(
        self, batches: Iterable[RestoreBatch], keys: Sequence[PersonKey] = ()
    ) -> int:
        """Insert a dump's rows at their own positions (the rowid), with their index rows,
        and its person keys (in place of any key a store without events holds), into this
        empty store: ONE transaction, so a restore is all or nothing."""
        events = self.events_table_name
        insert = (
            f"INSERT INTO {events} (rowid, originator_id, originator_version, topic, state) "
            "VALUES (?,?,?,?,?)"
        )
        try:
            with self.datastore.transaction(commit=True) as c:
                tx = SQLiteTransaction(c)

                def insert_events(positions: Sequence[int], stored: Sequence[StoredEvent]) -> None:
                    tx.executemany(
                        insert,
                        [
                            (p, _id_text(s.originator_id), s.originator_version, s.topic, s.state)
                            for p, s in zip(positions, stored, strict=True)
                        ],
                    )

                inserted, _ = self._restore_in(tx, events, batches, keys, insert_events)
        except BaseException:
            self.keys_rolled_back()
            raise
        self.settle_commit()
        committed(self.database_key)
        return inserted

    def stored_rows(self, after: int, upto: int, limit: int) -> list[tuple[int, UUID, int, bytes]]:
        """(position, originator_id, version, state) of the stored events in (after, upto],
        in position order, whatever their topic: the rows as a dump writes them."""
        sql = (
            f"SELECT rowid, originator_id, originator_version, state FROM "
            f"{self.events_table_name} WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?"
        )
        return [
            (r[0], UUID(r[1]), r[2], bytes(r[3])) for r in self._fetch(sql, [after, upto, limit])
        ]

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self.datastore.transaction(commit=False) as c:
            cursor = c.sqlite_cursor
            cursor.row_factory = None  # plain tuples: the pool's sqlite3.Row costs per row
            cursor.execute(sql, params)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        with self.datastore.transaction(commit=True) as c:
            c.execute(sql, params)
            return int(c.sqlite_cursor.rowcount)

    def select_states(self, after: int, limit: int) -> list[tuple[int, int, bytes]]:
        """(position, version, state) of Parley events after ``after``, in position order:
        what ``select_notifications`` reads, without building a Notification per row."""
        sql = (
            f"SELECT rowid, originator_version, state FROM {self.events_table_name} "
            "WHERE rowid > ? AND topic = ? ORDER BY rowid LIMIT ?"
        )
        return cast(list[tuple[int, int, bytes]], self._fetch(sql, [after, RECORDED_TOPIC, limit]))

    def stored_count(self) -> tuple[int, int]:
        """(row count, highest position) of the stored events table."""
        row = self._fetch(
            f"SELECT COUNT(*), COALESCE(MAX(rowid), 0) FROM {self.events_table_name}", []
        )
        return int(row[0][0]), int(row[0][1])

    def pragma(self, name: str) -> Any:
        return self._fetch(f"PRAGMA {name}", [])[0][0]


class _WriteTransaction(LibraryTransaction):
    """The library's transaction (its errors mapped to the library's), begun IMMEDIATE:
    the write lock is taken once, at the start, rather than by the first INSERT; and its
    COMMIT timed (``metrics.COMMIT``)."""

    def __init__(self, connection: SQLiteConnection) -> None:
        super().__init__(connection, commit=True)

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        started = time.perf_counter()
        super().__exit__(exc_type, exc_val, exc_tb)
        if exc_val is None:
            metrics.COMMIT.observe(time.perf_counter() - started)


class SQLiteTransaction:
    """A SQLite write transaction as ``store.recorder.Transaction`` (``?`` is SQLite's)."""

    def __init__(self, cursor: SQLiteCursor) -> None:
        self.cursor = cursor

    def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        self.cursor.execute(sql, params)
        return [tuple(row) for row in self.cursor.fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cursor.executemany(sql, rows)


def _id_text(originator_id: UUID | str) -> str:
    """An originator id as the library's SQLite recorder stores it (hex, no dashes)."""
    return originator_id.hex if isinstance(originator_id, UUID) else originator_id
