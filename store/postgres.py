"""The PostgreSQL recorder: the library's application recorder plus Parley's event index.

One transaction takes the library's EXCLUSIVE table lock (so positions become visible
in commit order), notifies listeners, inserts the events, their index rows and their
search rows (``store.search``). A
trigger refuses UPDATE, DELETE and TRUNCATE on both tables: the log is append-only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Identifier

from store.index import (
    COLUMNS,
    EventIndex,
    RecordingOrderError,
    RestoreBatch,
    StoreNotEmptyError,
    index_params,
    index_statements,
)
from store.keyring import PersonKey, PersonKeys, key_statements
from store.mapper import RECORDED_TOPIC
from store.search import (
    SearchRows,
    TextQuery,
    postgres_text_statements,
    search_params,
    terms_statements,
)
from store.tokens import token_statements

log = logging.getLogger("parley")

_REFUSE_FUNCTION = "parley_refuse_change"
_DDL_LOCK = 0x7061726C6579  # "parley": the advisory lock key for creating tables


class PostgresEventRecorder(EventIndex, PersonKeys, PostgresApplicationRecorder):
    """Stored events, their index and the person keys in one PostgreSQL schema."""

    backend = "postgres"
    placeholder = "%s"
    contiguous_positions = False  # a rolled-back transaction leaves a hole in a sequence

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        schema = self.datastore.schema
        self.index_table = f'"{schema}".{self.index_table}'
        self._search_tables = (self.terms_table, self.text_table)
        self.terms_table = f'"{schema}".{self.terms_table}'
        self.text_table = f'"{schema}".{self.text_table}'
        self.keys_table = f'"{schema}".{self.keys_table}'
        events = f'"{schema}".{self.events_table_name}'
        self.events_join = f"JOIN {events} e ON e.notification_id = i.position"
        self.sql_create_statements.extend(
            SQL(s).format()
            for s in (
                *index_statements("TIMESTAMPTZ", prefix=f'"{schema}".'),
                *token_statements("TIMESTAMPTZ", prefix=f'"{schema}".'),
                *terms_statements(self._search_tables[0], prefix=f'"{schema}".', sqlite=False),
                *postgres_text_statements(self._search_tables[1], prefix=f'"{schema}".'),
                *key_statements("BYTEA", prefix=f'"{schema}".'),
                *self._append_only_statements(schema, events),
            )
        )
        self._insert_index_sql = (
            f"INSERT INTO {self.index_table} ({COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)"
        )

    def create_table(self) -> None:
        """Create the tables once, though several processes may start together.

        Concurrent CREATE … IF NOT EXISTS (and CREATE OR REPLACE of the trigger function)
        deadlock or collide in PostgreSQL's catalogue; a session advisory lock, held on
        a connection of its own, makes the starters take turns.
        """
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_DDL_LOCK,))
            try:
                super().create_table()
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_DDL_LOCK,))

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        """Create the tables; a store made before search gets the search tables filled
        from its events in this same transaction (so a crash leaves neither)."""
        curs.execute("SELECT to_regclass(%s) AS found", (self.terms_table,))
        found = curs.fetchone()
        searchable = found is not None and found["found"] is not None
        super()._create_table(curs)
        if not searchable:

            def fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
                curs.execute(sql, params)
                return [tuple(row.values()) for row in curs.fetchall()]

            backfilled = self.backfill_search(fetch, lambda rows: self._insert_search(curs, rows))
            if backfilled:
                log.info("search: indexed the %d events stored before search existed", backfilled)

    def _insert_search(self, curs: Cursor[DictRow], rows: SearchRows) -> None:
        terms, texts = rows
        curs.executemany(
            f"INSERT INTO {self.terms_table} (position, kind, term) VALUES (%s,%s,%s)", terms
        )
        curs.executemany(f"INSERT INTO {self.text_table} (position, body) VALUES (%s,%s)", texts)

    def _text_clause(self, query: TextQuery) -> tuple[str, list[Any]]:
        tsquery, params = query.tsquery()
        return (
            f"i.position IN (SELECT position FROM {self.text_table} WHERE document @@ ({tsquery}))",
            list(params),
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
        with self.datastore.transaction(commit=True) as curs:
            self._lock_table(curs)
            self._notify_channel(curs)
            if made := kwargs.get("person_keys"):  # keys made to seal these events
                curs.executemany(self.insert_key_sql, self.key_params(made))
            positions: list[int] = []
            for stored in stored_events:
                curs.execute(
                    SQL(
                        "INSERT INTO {0}.{1} (originator_id, originator_version, topic, state) "
                        "VALUES (%s, %s, %s, %s) RETURNING notification_id"
                    ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name)),
                    (stored.originator_id, stored.originator_version, stored.topic, stored.state),
                    prepare=True,
                )
                row = curs.fetchone()
                assert row is not None
                positions.append(row["notification_id"])
            rows = index_params(stored_events, positions, self._ts)
            if rows:
                curs.execute(
                    f"SELECT recorded_at FROM {self.index_table} ORDER BY recorded_at DESC LIMIT 1"
                )
                latest = curs.fetchone()
                if latest is not None and latest["recorded_at"] > rows[0][7]:
                    raise RecordingOrderError(latest["recorded_at"])
                curs.executemany(self._insert_index_sql, rows)

                def fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
                    curs.execute(sql, params)
                    return [tuple(row.values()) for row in curs.fetchall()]

                # From what is stored, after the keys it is sealed under were looked up.
                self._insert_search(curs, self.stored_search(fetch, stored_events, positions))
            destroyed = [(key,) for s in stored_events if (key := getattr(s, "destroys", None))]
            if destroyed:
                curs.executemany(self.delete_key_sql, destroyed)
                self._redact_search(curs, [key for (key,) in destroyed])
        return positions

    def _redact_search(self, curs: Cursor[DictRow], destroyed: list[str]) -> None:
        """Search rows of the events sealed under destroyed keys, made again as they now
        read (``PersonKeys.redacted_search``), in the caller's transaction."""

        def fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
            curs.execute(sql, params)
            return [tuple(row.values()) for row in curs.fetchall()]

        positions, rows = self.redacted_search(fetch, destroyed)
        held = [(position,) for position in positions]
        curs.executemany(f"DELETE FROM {self.terms_table} WHERE position = %s", held)
        curs.executemany(f"DELETE FROM {self.text_table} WHERE position = %s", held)
        self._insert_search(curs, rows)

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
        inserted, last = 0, 0
        with self.datastore.transaction(commit=True) as curs:
            # Reading the dump between batches leaves the session idle in the transaction.
            curs.execute("SET LOCAL idle_in_transaction_session_timeout = '60s'")
            self._lock_table(curs)
            for held in (table, SQL(self.index_table)):
                curs.execute(SQL("SELECT EXISTS (SELECT 1 FROM {0}) AS held").format(held))
                found = curs.fetchone()
                if found is not None and found["held"]:
                    raise StoreNotEmptyError(held.as_string())
            curs.execute(f"DELETE FROM {self.keys_table}")
            curs.executemany(
                self.insert_key_sql, [(k.key_id, k.person, k.key, k.created_at) for k in keys]
            )
            self._notify_channel(curs)
            self._clear_search(curs)
            insert = SQL(
                "INSERT INTO {0} (notification_id, originator_id, originator_version, topic, "
                "state) VALUES (%s, %s, %s, %s, %s)"
            ).format(table)
            for positions, stored in batches:
                curs.executemany(
                    insert,
                    [
                        (p, s.originator_id, s.originator_version, s.topic, s.state)
                        for p, s in zip(positions, stored, strict=True)
                    ],
                )
                curs.executemany(self._insert_index_sql, index_params(stored, positions, self._ts))
                self._insert_search(curs, search_params(stored, positions))
                inserted += len(positions)
                last = positions[-1] if positions else last
            if last:
                curs.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s)",
                    (f'"{schema}"."{events}"', last),
                )
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

    def _ts(self, value: datetime) -> Any:
        return value

    def _from_ts(self, value: Any) -> datetime:
        assert isinstance(value, datetime)
        return value.astimezone(UTC)

    def _key_sql(self, column: str) -> str:
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"

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


__all__ = ["IntegrityError", "PostgresEventRecorder"]
