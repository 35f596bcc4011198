"""The PostgreSQL recorder: the library's application recorder plus Parley's event index.

One transaction takes the library's EXCLUSIVE table lock (so positions become visible
in commit order), notifies listeners, inserts the events, their index rows and their
search rows (``store.search``). A
trigger refuses UPDATE, DELETE and TRUNCATE on both tables: the log is append-only.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Connection, Cursor
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Composed, Identifier

from store import metrics
from store.checkpoints import checkpoint_statements
from store.dialect import POSTGRES
from store.index import (
    RestoreBatch,
    index_statements,
)
from store.keyring import PersonKey, key_statements
from store.mapper import RECORDED_TOPIC
from store.recorder import IndexedRecorder
from store.search import (
    TextQuery,
    postgres_text_statements,
    terms_statements,
)
from store.tokens import token_statements

log = logging.getLogger("parley")

SNAPSHOT_WAIT = 10.0  # seconds a redaction's erasure waits for older transactions to end
_REFUSE_FUNCTION = "parley_refuse_change"
_DDL_LOCK = 0x7061726C6579  # "parley": the advisory lock key for creating tables


class PostgresEventRecorder(IndexedRecorder, PostgresApplicationRecorder):
    """Stored events, their index and the person keys in one PostgreSQL schema."""

    backend = "postgres"
    dialect = POSTGRES
    contiguous_positions = False  # a rolled-back transaction leaves a hole in a sequence

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        pool = datastore.pool
        if pool.closed:
            # Its first connection is awaited (store.config: the pool starts with one): a
            # request queued behind it instead grows the pool by a second session.
            try:
                pool.open(wait=True, timeout=pool.timeout)
            except psycopg.OperationalError as error:  # psycopg_pool.PoolTimeout
                raise OperationalError(str(error)) from error
        super().__init__(datastore, events_table_name=events_table_name)
        schema = self.datastore.schema
        self.index_table = f'"{schema}".{self.index_table}'
        self._search_tables = (self.terms_table, self.text_table)
        self.terms_table = f'"{schema}".{self.terms_table}'
        self.text_table = f'"{schema}".{self.text_table}'
        self.keys_table = f'"{schema}".{self.keys_table}'
        self.checkpoints_table = f'"{schema}".{self.checkpoints_table}'
        events = f'"{schema}".{self.events_table_name}'
        self.events_join = f"JOIN {events} e ON e.notification_id = i.position"
        self.sql_create_statements.extend(
            SQL(s).format()
            for s in (
                *index_statements(POSTGRES.timestamp_type, prefix=f'"{schema}".'),
                *token_statements(POSTGRES.timestamp_type, prefix=f'"{schema}".'),
                *terms_statements(self._search_tables[0], prefix=f'"{schema}".', sqlite=False),
                *postgres_text_statements(self._search_tables[1], prefix=f'"{schema}".'),
                *key_statements(POSTGRES.blob_type, prefix=f'"{schema}".'),
                *checkpoint_statements(POSTGRES.blob_type, prefix=f'"{schema}".'),
                self._kek_column_statement(),
                *self._append_only_statements(schema, events),
            )
        )

    def create_table(self) -> None:
        """Create the tables once, though several processes may start together.

        Concurrent CREATE … IF NOT EXISTS (and CREATE OR REPLACE of the trigger function)
        deadlock or collide in PostgreSQL's catalogue; a session advisory lock makes the
        starters take turns. The lock and the statements share one connection (the
        library's ``create_table`` took another for its transaction): opening a store
        starts one PostgreSQL session, each of which costs the server ~5 ms of CPU.
        """
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_DDL_LOCK,))
            try:
                for statement in self.sql_create_statements:
                    if "CREATE TYPE" in statement.as_string():
                        # No IF NOT EXISTS for a type: a transaction of its own each,
                        # rolled back if it exists (as the library does).
                        with contextlib.suppress(psycopg.errors.DuplicateObject):
                            with conn.transaction():
                                conn.execute(statement, prepare=False)
                with conn.transaction():
                    self._create_table(conn.cursor())
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_DDL_LOCK,))
        self.datastore.register_type_adapters()

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        """Create the tables; a store made before search gets the search tables filled
        from its events in this same transaction (so a crash leaves neither)."""
        curs.execute("SELECT to_regclass(%s) AS found", (self.terms_table,))
        found = curs.fetchone()
        searchable = found is not None and found["found"] is not None
        super()._create_table(curs)
        self._add_reported_in(curs)
        if not searchable:
            self._backfill_in(PostgresTransaction(curs))

    def _add_reported_in(self, curs: Cursor[DictRow]) -> None:
        """The index's ``reported_at``, added to a store from before the third clock and
        filled from its events in the creating transaction (checked first: ALTER would
        lock the table at every start). The append-only trigger is off for the fill only,
        inside the transaction: no other writer sees the table without it."""
        curs.execute(  # the catalogue itself: information_schema's view costs far more
            "SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass(%s) "
            "AND attname = 'reported_at' AND NOT attisdropped",
            (self.index_table,),
        )
        if curs.fetchone() is not None:
            return
        table = self.index_table
        curs.execute(f"ALTER TABLE {table} ADD COLUMN reported_at TIMESTAMPTZ")
        curs.execute(f"ALTER TABLE {table} DISABLE TRIGGER parley_append_only_index")
        self._backfill_reported_in(PostgresTransaction(curs))
        curs.execute(f"ALTER TABLE {table} ENABLE TRIGGER parley_append_only_index")
        curs.execute(f"ALTER TABLE {table} ALTER COLUMN reported_at SET NOT NULL")

    def _text_clause(self, query: TextQuery) -> tuple[str, list[Any]]:
        tsquery, params = query.tsquery()
        return (
            f"i.position IN (SELECT position FROM {self.text_table} WHERE document @@ ({tsquery}))",
            list(params),
        )

    def _kek_column_statement(self) -> str:
        """The keys table's ``kek_id``, added to a store from before KEKs (checked
        first: ALTER would lock the table at every start)."""
        literal = self.keys_table.replace("'", "''")
        return (
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE "
            f"attrelid = to_regclass('{literal}') AND attname = 'kek_id' AND NOT "
            f"attisdropped) THEN ALTER TABLE {self.keys_table} ADD COLUMN kek_id "
            "TEXT; END IF; END $$"
        )

    def _append_only_statements(self, schema: str, events: str) -> list[str]:
        function = f'"{schema}".{_REFUSE_FUNCTION}'
        statements = [
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'the Parley log is append-only: % on % refused', "
            "TG_OP, TG_TABLE_NAME; END $$",
        ]
        for name, table in (("events", events), ("index", self.index_table)):
            statements += [
                f"CREATE OR REPLACE TRIGGER parley_append_only_{name} "
                f"BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {function}()",
                f"CREATE OR REPLACE TRIGGER parley_no_truncate_{name} "
                f"BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
            ]
        return statements

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        try:
            positions = self._insert_locked(stored_events, **kwargs)
        except BaseException:
            self.keys_rolled_back()
            raise
        self.settle_commit()
        return positions

    def erase_redacted(self) -> None:
        """Rewrite the search tables and the keys table into new files (``VACUUM
        FULL``): a DELETE or UPDATE leaves the old row as a dead tuple in the table's
        file, and the search rows replaced by the redaction hold the person's name and
        words in plain text. Cost: each table and its indexes are copied, under an
        ACCESS EXCLUSIVE lock (searches, and appends that index, wait meanwhile), once
        per redaction. The old files are unlinked; PostgreSQL's WAL (``pg_wal``) still
        holds the old rows until it is recycled, as does a base backup taken before."""
        with self.datastore.get_connection() as conn:
            autocommit = conn.autocommit
            conn.autocommit = True
            try:
                self._wait_for_older_snapshots(conn)
                tables = (self.terms_table, self.text_table, self.keys_table)
                for table in (*tables, self.checkpoints_table):
                    conn.execute(f"VACUUM FULL {table}")
            finally:
                conn.autocommit = autocommit

    def _wait_for_older_snapshots(self, conn: Any) -> None:
        """Wait (at most ``SNAPSHOT_WAIT`` seconds) for the transactions of this database
        that began before now to end: VACUUM FULL copies a dead row that a running
        transaction's snapshot may still see (an ``ANALYZE``, a long read), so the old
        search rows would move into the new file with it."""
        curs = conn.cursor(row_factory=tuple_row)
        since = curs.execute("SELECT clock_timestamp()").fetchone()[0]
        deadline = time.monotonic() + SNAPSHOT_WAIT
        older = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xmin IS NOT NULL AND xact_start < %s"
        )
        while curs.execute(older, (since,)).fetchone()[0]:
            if time.monotonic() > deadline:
                log.warning(
                    "redaction: a transaction older than it still runs; the search tables "
                    "are rewritten now, and may keep rows it can see until the next one"
                )
                return
            time.sleep(0.05)

    def _adopt_keys(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._lock_table(curs)
            self._adopt_keys_in(PostgresTransaction(curs))

    def _insert_locked(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        """One group's transaction in psycopg's pipeline mode: two round trips to the
        server, however many events (it took 14 + one per event, each statement waiting
        for its answer).

        1. BEGIN, the table lock, NOTIFY, the reads the checks need (the latest
           ``recorded_at`` of the index; the keys that sealed the events) and the
           events' INSERT (one statement over arrays, ``RETURNING`` the positions) are
           sent together, and answered together;
        2. the index and search rows (which need the positions) and COMMIT, answered
           once the commit is durable.

        BEGIN and COMMIT are statements of the pipeline, not psycopg's ``transaction()``
        (which waits for BEGIN's answer, and syncs before COMMIT: three round trips
        more). The lock is taken first and held to the commit, so positions still become
        visible in commit order. A group that makes person keys reads the keys table
        through the transaction after storing them (a round trip more, for that group).
        """
        with self.datastore.get_connection() as conn:
            failed: BaseException | None = None
            positions: list[int] = []
            try:
                with conn.pipeline():
                    try:
                        positions = self._pipelined(conn, stored_events, **kwargs)
                    except BaseException as error:
                        failed = error  # raised once the pipeline is closed (psycopg's advice)
                    committing = time.perf_counter()
                if failed is None:
                    metrics.COMMIT.observe(time.perf_counter() - committing)
            except BaseException:
                self._roll_back(conn)
                raise
            if failed is not None:
                self._roll_back(conn)
                raise failed
        return positions

    @staticmethod
    def _roll_back(conn: Connection[DictRow]) -> None:
        """End the transaction a failed pipeline left open (or aborted)."""
        if conn.closed or conn.info.transaction_status == TransactionStatus.IDLE:
            return
        try:
            conn.execute("ROLLBACK")
        except psycopg.Error:  # a broken connection: the pool discards it
            log.debug("the rollback of a failed append failed", exc_info=True)

    def _pipelined(
        self, conn: Connection[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> list[int]:
        curs = conn.cursor()
        started = time.perf_counter()
        curs.execute("BEGIN")
        self._lock_table(curs)
        self._notify_channel(curs)
        keys = kwargs.get("person_keys") or ()
        latest = self.dialect.latest_recorded_sql(self.index_table)
        reads: list[tuple[str, list[Any]]] = [(latest, [])]
        if not keys:
            # The keys that open these events, read now as later: nothing before the
            # search rows changes the keys table in this transaction.
            opener = self.opener_query([s.state for s in stored_events])
            reads += [opener] if opener else []
        answers = []
        for sql, params in reads:
            read = conn.cursor(row_factory=tuple_row)
            read.execute(POSTGRES.sql(sql), params, prepare=not params)
            answers.append(((sql, tuple(params)), read))
        inserted = conn.cursor(row_factory=tuple_row)
        inserted.execute(
            self._insert_events_sql,
            (
                [s.originator_id for s in stored_events],
                [s.originator_version for s in stored_events],
                [s.topic for s in stored_events],
                [s.state for s in stored_events],
            ),
            prepare=True,
        )
        returned = {(row[1], row[2]): row[0] for row in inserted.fetchall()}  # round trip 1
        # PostgreSQL answers the lock and the events' INSERT together: "lock" is that
        # first round trip, and "commit" the second (the index rows and COMMIT).
        metrics.LOCK.observe(time.perf_counter() - started)
        positions = [returned[(s.originator_id, s.originator_version)] for s in stored_events]
        if any(a >= b for a, b in zip(positions, positions[1:], strict=False)):
            raise RuntimeError(f"positions out of the events' order: {positions}")
        tx = PostgresTransaction(
            curs,
            ahead={key: read.fetchall() for key, read in answers},
            column_types=self._column_types,
        )
        self._store_keys_in(tx, keys)  # keys made to seal them
        self._index_in(tx, stored_events, positions)
        curs.execute("COMMIT")  # answered at the pipeline's end: round trip 2
        return positions

    @cached_property
    def _column_types(self) -> dict[str, dict[str, str]]:
        """The types of each table's columns, by table, as ``PostgresTransaction`` reads
        them (once per table) to send an INSERT of many rows as one over arrays."""
        return {}

    @cached_property
    def _insert_events_sql(self) -> Composed:
        """The events' INSERT: one statement over four arrays, its rows in their order
        (``WITH ORDINALITY``), so their positions are drawn from the sequence in it."""
        return SQL(
            "INSERT INTO {0}.{1} (originator_id, originator_version, topic, state) "
            "SELECT i, v, t, s FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) "
            "WITH ORDINALITY AS e (i, v, t, s, n) ORDER BY n "
            "RETURNING notification_id, originator_id, originator_version"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))

    def restore_rows(
        self, batches: Iterable[RestoreBatch], keys: Sequence[PersonKey] = ()
    ) -> int:
        """Insert a dump's rows at their own positions (``notification_id``), with their
        index rows and its person keys (in place of any key a store without events
        holds), into this empty store: ONE transaction, so a restore is all or
        nothing. The sequence then moves past the last position, so appends go on after
        it; the table lock keeps writers out meanwhile."""
        schema, events = self.datastore.schema, self.events_table_name
        table = SQL("{0}.{1}").format(Identifier(schema), Identifier(events))
        insert = SQL(
            "INSERT INTO {0} (notification_id, originator_id, originator_version, topic, "
            "state) VALUES (%s, %s, %s, %s, %s)"
        ).format(table)
        try:
            with self.datastore.transaction(commit=True) as curs:
                # Reading the dump between batches leaves the session idle in the transaction.
                curs.execute("SET LOCAL idle_in_transaction_session_timeout = '60s'")
                self._lock_table(curs)
                self._notify_channel(curs)
                tx = PostgresTransaction(curs)

                def insert_events(positions: Sequence[int], stored: Sequence[StoredEvent]) -> None:
                    curs.executemany(
                        insert,
                        [
                            (p, s.originator_id, s.originator_version, s.topic, s.state)
                            for p, s in zip(positions, stored, strict=True)
                        ],
                    )

                inserted, last = self._restore_in(
                    tx, f'"{schema}"."{events}"', batches, keys, insert_events
                )
                if last:
                    curs.execute(
                        "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s)",
                        (f'"{schema}"."{events}"', last),
                    )
        except BaseException:
            self.keys_rolled_back()
            raise
        self.settle_commit()
        return inserted

    def stored_rows(self, after: int, upto: int, limit: int) -> list[tuple[int, UUID, int, bytes]]:
        """(position, originator_id, version, state) of the stored events in (after, upto],
        in position order, whatever their topic: the rows as a dump writes them."""
        sql = (
            f"SELECT notification_id, originator_id, originator_version, state FROM "
            f'"{self.datastore.schema}".{self.events_table_name} '
            "WHERE notification_id > %s AND notification_id <= %s "
            "ORDER BY notification_id LIMIT %s"
        )
        return [(r[0], r[1], r[2], bytes(r[3])) for r in self._fetch(sql, [after, upto, limit])]

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(sql, params)
            return curs.fetchall()

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(sql, params)
            return int(curs.rowcount)

    def _contains(self, column: str) -> str:
        return f"position(%s::bytea in {column}) > 0"

    def select_states(self, after: int, limit: int) -> list[tuple[int, int, bytes]]:
        """(position, version, state) of Parley events after ``after``, in position order:
        what ``select_notifications`` reads, without building a Notification per row."""
        sql = (
            f'SELECT notification_id, originator_version, state FROM "{self.datastore.schema}".'
            f"{self.events_table_name} WHERE notification_id > %s AND topic = %s "
            "ORDER BY notification_id LIMIT %s"
        )
        return [(r[0], r[1], bytes(r[2])) for r in self._fetch(sql, [after, RECORDED_TOPIC, limit])]

    def stored_count(self) -> tuple[int, int]:
        sql = (
            f'SELECT COUNT(*), COALESCE(MAX(notification_id), 0) FROM "{self.datastore.schema}".'
            f"{self.events_table_name}"
        )
        row = self._fetch(sql, [])
        return int(row[0][0]), int(row[0][1])


_Read = tuple[str, tuple[Any, ...]]  # a read's SQL and parameters
_ROW_INSERT = re.compile(r"^INSERT INTO (\S+) \(([^)]*)\) VALUES \(\?(?:, ?\?)*\)$")


class PostgresTransaction:
    """A PostgreSQL write transaction as ``store.recorder.Transaction``: ``?`` SQL is
    written with psycopg's placeholders. ``ahead`` holds the answers of reads sent earlier
    in the same transaction (with the events' INSERT, in one round trip), by their SQL
    and parameters: ``fetch`` returns each once instead of asking again."""

    def __init__(
        self,
        cursor: Cursor[DictRow],
        ahead: dict[_Read, list[tuple[Any, ...]]] | None = None,
        column_types: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.cursor = cursor
        self.ahead = ahead or {}
        self.column_types = column_types

    def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        ahead = self.ahead.pop((sql, tuple(params)), None)
        if ahead is not None:  # read earlier in this transaction
            return ahead
        # A cursor of its own: in pipeline mode a cursor's answer is that of the last
        # statement it sent, which a statement queued after this one would replace.
        with self.cursor.connection.cursor(row_factory=tuple_row) as curs:
            curs.execute(POSTGRES.sql(sql), params)
            return curs.fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(POSTGRES.sql(sql), params or None)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement per row; but given ``column_types``, an INSERT of one row's
        VALUES is sent once, over one array per column (``unnest``): the server runs
        one statement where it ran one per row, and psycopg sends one message."""
        insert = _ROW_INSERT.match(sql) if self.column_types is not None else None
        if insert is None or len(rows) < 2:
            self.cursor.executemany(POSTGRES.sql(sql), rows)
            return
        table, columns = insert.group(1), [c.strip() for c in insert.group(2).split(",")]
        types = self._types(table)
        arrays = ", ".join(f"%b::{types[c]}[]" for c in columns)
        self.cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})",
            [list(column) for column in zip(*rows, strict=True)],
        )

    def _types(self, table: str) -> dict[str, str]:
        assert self.column_types is not None
        types = self.column_types.get(table)
        if types is None:
            read = (
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = ?::regclass AND attnum > 0 AND NOT attisdropped"
            )
            types = self.column_types[table] = dict(self.fetch(read, [table]))
        return types


__all__ = ["IntegrityError", "PostgresEventRecorder"]
