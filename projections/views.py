"""The machinery every subscribing view shares: tracking, one transaction, both backends.

A view is an ``eventsourcing`` ``TrackingRecorder`` that also holds read-model tables.
``View.record`` writes one event's update and its tracking position in ONE transaction,
and writes the tracking row FIRST: the library's single-row tracking statement
(``INSERT … ON CONFLICT (application_name) DO UPDATE … WHERE notification_id < new``)
returns no row when this position, or a later one, is already recorded, and the
library raises ``IntegrityError``. That is the exactly-once guard: the transaction
rolls back, the view is left as it was, and ``record`` returns False, so a position
delivered twice (a restarted runner, two runners of one view) is applied once. The
tracking row stays locked until commit (PostgreSQL row lock; SQLite has one writer),
so two runners of one view cannot both apply a position.

Each view has a tracking table of its own, ``<projection name>_tracking``. The
library's PostgreSQL factory names it so by itself; its SQLite recorder hard-codes one
``tracking`` table keyed by application name, which is "Parley" for every view, so two
views in one file would overwrite each other's position: ``SQLiteView`` renames it.
The views live beside the log (the same SQLite file, the same PostgreSQL schema), in
tables of their own, so a view can also tell how far behind the log it is.
"""

from __future__ import annotations

import logging
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

import psycopg.errors
from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.sqlite import SQLiteDatastore, SQLiteRecorder, SQLiteTrackingRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL

from domain.negotiation import Recorded
from store.dialect import POSTGRES, SQLITE, Dialect
from store.index import INDEX_TABLE
from store.log import ConflictLog
from store.sqlite import synchronous_on_connect, write_gate

logger = logging.getLogger("parley.projections")

APPLICATION_NAME = ConflictLog.name
"""Whose positions the views track: the log's application name."""

Execute = Callable[[str, Sequence[Any]], None]
"""Run one statement (written with ``?`` placeholders) in the view's transaction."""

Statement = tuple[str, Sequence[Any]]
"""One statement (``?`` placeholders) and its parameters."""

IndexRow = tuple[int, str, int, str, Any, Any]
"""A row of the log's event index as a catch-up reads it: position, negotiation,
version, type, occurred_at (the event's valid_from) and recorded_at, the two times as
the backend stores them (``View._ts``)."""

RecordsAt = Callable[[Sequence[int]], Sequence[Recorded]]
"""The stored events at some positions, in position order (``ConflictLog.records_at``)."""


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a view has got: its position, the log's last position, events between."""

    position: int  # the last position the view has processed (0: none)
    head: int  # the log's last position
    lag: int  # events in the log after ``position``


class _AlreadyProcessed(Exception):
    """The tracking table already holds this position or a later one."""


class View(TrackingRecorder):
    """A read model kept by a projection; concrete classes add a backend and tables.

    Subclasses name their ``tables`` (dropped by ``reset``), give their DDL in
    ``table_statements`` and apply one event in ``write``.
    """

    projection_name: ClassVar[str] = ""
    tables: ClassVar[tuple[str, ...]] = ()
    dialect: ClassVar[Dialect] = SQLITE
    timestamp_type: ClassVar[str] = SQLITE.timestamp_type

    # Backend hooks.
    @abstractmethod
    def _write_transaction(self) -> Any:
        """A context manager: one committed transaction, yielding ``(execute, track)``."""

    @abstractmethod
    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run a read query (``?`` placeholders) and return its rows as tuples."""

    @abstractmethod
    def _table(self, name: str) -> str:
        """A table's name as SQL (schema-qualified where the backend has schemas)."""

    @property
    @abstractmethod
    def tracking_table(self) -> str:
        """This view's tracking table, as SQL."""

    # Projection hooks.
    @abstractmethod
    def table_statements(self) -> list[str]:
        """DDL for the view's tables and indexes, idempotent (IF NOT EXISTS)."""

    @abstractmethod
    def write(self, execute: Execute, recorded: Recorded) -> None:
        """Apply one event to the view's tables (inside ``record``'s transaction)."""

    # What every view does.
    def _sql(self, sql: str) -> str:
        return self.dialect.sql(sql)

    def _ts(self, value: datetime) -> Any:
        """A UTC datetime as the backend stores it."""
        return self.dialect.ts(value)

    def _from_ts(self, value: Any) -> datetime:
        """A stored timestamp as an aware UTC datetime."""
        return self.dialect.from_ts(value)

    def record_many(self, items: Sequence[tuple[Recorded | None, Tracking]]) -> int:
        """Apply a run of events, each with its position, in ONE transaction.

        Each position still goes through the tracking guard, so one already processed
        (by another runner of this view) is skipped, not applied twice; the guard's
        refusal is the library's own check, not a database error, so the transaction
        goes on. Returns how many were applied. A catch-up pays one commit per run
        instead of one per event.
        """
        applied = 0
        with self._write_transaction() as (execute, track):
            for recorded, tracking in items:
                try:
                    track(tracking)
                except IntegrityError:
                    continue
                if recorded is not None:
                    self.write(execute, recorded)
                applied += 1
        return applied

    # Catching up from the log's index (a rebuild, a runner's start).
    folds_index: ClassVar[bool] = False
    """Whether a catch-up may fold pages of the log's index (``fold_index``) rather
    than apply every event through ``write``."""

    def fold_index(self, rows: Sequence[IndexRow], records_at: RecordsAt) -> list[Statement]:
        """The statements that apply a page of the log's index rows (in position order),
        for a view that needs no more of most events than their index row: a catch-up
        then reads those rows rather than decoding every stored event, and writes a few
        statements per page rather than one per event (``record_page``). Only for a
        view with ``folds_index``."""
        raise NotImplementedError(f"{type(self).__name__} does not fold the index")

    def index_page(self, after: int, limit: int) -> list[IndexRow]:
        """Up to ``limit`` rows of the log's index after position ``after``, in position
        order. The index row of an event commits with the event, and positions become
        visible in order (projections.runner), so a page holds every event up to its
        last position."""
        sql = (
            "SELECT position, negotiation, version, type, occurred_at, recorded_at "
            f"FROM {self._table(INDEX_TABLE)} WHERE position > ? ORDER BY position LIMIT ?"
        )
        return self._fetch(sql, [after, limit])

    def record_page(self, first: int, last: int, statements: Sequence[Statement]) -> bool:
        """Apply a page of events folded into ``statements`` (positions ``first`` to
        ``last``) and track ``last``, in ONE transaction; False, writing nothing, when
        the view has processed ``first`` or a later position already.

        The guard is the library's tracking statement for ``first``: it refuses when the
        tracked position is ``first`` or later, and otherwise holds the tracking row
        (PostgreSQL row lock; SQLite's one writer) until the commit. A view applies
        positions in order, so a tracked position below ``first`` means that nothing of
        this page has been applied, by anyone, and nothing can be until this commits."""
        try:
            with self._write_transaction() as (execute, track):
                try:
                    track(Tracking(APPLICATION_NAME, first))
                except IntegrityError:
                    raise _AlreadyProcessed from None
                if last != first:
                    execute(
                        f"UPDATE {self.tracking_table} SET notification_id = ? "
                        "WHERE application_name = ?",
                        [last, APPLICATION_NAME],
                    )
                for sql, params in statements:
                    execute(sql, params)
        except _AlreadyProcessed:
            logger.debug(
                "%s: positions from %s on were already processed; page skipped",
                self.projection_name,
                first,
            )
            return False
        return True

    def record(self, recorded: Recorded | None, tracking: Tracking) -> bool:
        """Apply ``recorded`` and track its position, atomically; False if already done.

        ``recorded`` None tracks the position alone (an event this view ignores).
        """
        try:
            with self._write_transaction() as (execute, track):
                try:
                    track(tracking)
                except IntegrityError:
                    raise _AlreadyProcessed from None
                if recorded is not None:
                    self.write(execute, recorded)
        except _AlreadyProcessed:
            logger.debug(
                "%s: position %s was already processed; skipped",
                self.projection_name,
                tracking.notification_id,
            )
            return False
        return True

    def position(self) -> int:
        """The last log position this view has processed (0 before any)."""
        return self.max_tracking_id(APPLICATION_NAME) or 0

    def progress(self) -> Progress:
        """Position, log head and lag, read in one statement (one snapshot)."""
        index = self._table(INDEX_TABLE)
        tracked = f"SELECT notification_id FROM {self.tracking_table} WHERE application_name = ?"
        sql = (
            f"SELECT ({tracked}), "
            f"(SELECT position FROM {index} ORDER BY position DESC LIMIT 1), "
            f"(SELECT COUNT(*) FROM {index} WHERE position > COALESCE(({tracked}), 0))"
        )
        ((position, head, lag),) = self._fetch(sql, [APPLICATION_NAME, APPLICATION_NAME])
        return Progress(position=int(position or 0), head=int(head or 0), lag=int(lag))

    def reset(self) -> None:
        """Empty the view and forget its position, in one transaction: a rebuild starts
        from zero. Only while no runner of this view is running, anywhere."""
        with self._write_transaction() as (execute, _):
            for table in self.tables:
                execute(f"DELETE FROM {self._table(table)}", [])
            execute(
                f"DELETE FROM {self.tracking_table} WHERE application_name = ?",
                [APPLICATION_NAME],
            )


_create_lock = threading.Lock()


def _create_once(create: Callable[[], None]) -> None:
    """Create a view's tables, though another recorder may be creating them too.

    Two recorders that find no tracking table both create it and both insert the
    library's migration row, and the second insert fails; PostgreSQL's catalogue can
    also refuse a concurrent CREATE … IF NOT EXISTS. The second attempt finds all made.
    """
    with _create_lock:
        for attempt in range(3):
            try:
                create()
                return
            except (psycopg.errors.UniqueViolation, IntegrityError):
                if attempt == 2:
                    raise


class SQLiteView(SQLiteTrackingRecorder, View):
    """A view in the log's SQLite file, with its own ``<projection>_tracking`` table."""

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        if not datastore.single_row_tracking:
            raise ValueError("Parley's views need single-row tracking (the library default)")
        synchronous_on_connect(datastore, "NORMAL")
        super().__init__(datastore, **kwargs)
        self.gate = write_gate(datastore.pool.db_name)  # the log's writer goes first
        table = self.tracking_table
        self.insert_tracking_statement = (
            f"INSERT INTO {table} VALUES (:application_name, :notification_id) "
            "ON CONFLICT (application_name) DO UPDATE SET notification_id = :notification_id "
            f"WHERE {table}.notification_id < :notification_id RETURNING notification_id"
        )
        self.select_max_tracking_id_statement = (
            f"SELECT MAX(notification_id) FROM {table} WHERE application_name=?"
        )

    @property
    def tracking_table(self) -> str:
        return f"{self.projection_name}_tracking"

    def construct_create_table_statements(self) -> list[str]:
        # Not the library's shared "tracking" table: one per view.
        return [
            *SQLiteRecorder.construct_create_table_statements(self),
            f"CREATE TABLE IF NOT EXISTS {self.tracking_table} ("
            "application_name TEXT, notification_id INTEGER, "
            "PRIMARY KEY (application_name)) WITHOUT ROWID",
            *self.table_statements(),
        ]

    def create_table(self) -> None:
        _create_once(super().create_table)

    @contextmanager
    def _write_transaction(self) -> Iterator[tuple[Execute, Callable[[Tracking], None]]]:
        with self.gate.view(), self.datastore.transaction(commit=True) as c:
            yield (
                lambda sql, params: c.execute(sql, params),
                lambda tracking: self._insert_tracking(c, tracking),
            )

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self.datastore.transaction(commit=False) as c:
            cursor = c.sqlite_cursor
            cursor.row_factory = None  # plain tuples: the pool's sqlite3.Row costs per row
            cursor.execute(sql, params)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows

    def _table(self, name: str) -> str:
        return name


class PostgresView(PostgresTrackingRecorder, View):
    """A view in the log's PostgreSQL schema; the factory names its tracking table."""

    dialect = POSTGRES
    timestamp_type = POSTGRES.timestamp_type

    def __init__(
        self, datastore: PostgresDatastore, *, tracking_table_name: str = "", **kwargs: Any
    ) -> None:
        if not datastore.single_row_tracking:
            raise ValueError("Parley's views need single-row tracking (the library default)")
        super().__init__(
            datastore,
            tracking_table_name=tracking_table_name or f"{self.projection_name}_tracking",
            **kwargs,
        )
        self.sql_create_statements.extend(SQL(s).format() for s in self.table_statements())

    @property
    def tracking_table(self) -> str:
        return self._table(self.tracking_table_name)

    def create_table(self) -> None:
        _create_once(super().create_table)

    @contextmanager
    def _write_transaction(self) -> Iterator[tuple[Execute, Callable[[Tracking], None]]]:
        with self.datastore.transaction(commit=True) as curs:

            def execute(sql: str, params: Sequence[Any]) -> None:
                curs.execute(self._sql(sql), params)

            yield execute, lambda tracking: self._insert_tracking(curs, tracking)

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self._sql(sql), params)
            return curs.fetchall()

    def _table(self, name: str) -> str:
        return f'"{self.datastore.schema}".{name}'



TView = TypeVar("TView", bound=View)


BATCH = 1000  # events a projection writes in one transaction at most
BACKLOG = 10 * BATCH  # events handed over and not yet written before the runner waits


class ParleyProjection(Projection[TView], Generic[TView]):
    """A projection of the log into a ``View``: each event once, with its position.

    The library's runner hands over one event at a time; a writer thread of the
    projection's own writes whatever has piled up meanwhile (up to ``BATCH`` events) in
    ONE transaction, tracking each position, so a burst of appends costs one commit
    rather than one per event (the same group commit as the log's). A failed write is
    raised by the next ``process_event``: the runner fails, and its supervisor restarts
    it from the view's tracked position, so nothing is lost or doubled.

    ``listeners`` are called with the last position of each run once it is committed
    (or found already processed), in the writer thread; waiters use them to wake early.
    """

    def __init__(self, view: TView) -> None:
        super().__init__(view)
        self.listeners: list[Callable[[int], None]] = []
        self._pending: list[tuple[Recorded | None, Tracking]] = []
        self._changed = threading.Condition()
        self._writing = False
        self._closed = False
        self._error: BaseException | None = None
        self._writer = threading.Thread(
            target=self._write_runs, name=f"parley-projection-writer-{self.name}", daemon=True
        )
        self._writer.start()

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        recorded = None
        if isinstance(domain_event, Recorded):
            # The library's mapper knows no position: it is the tracked notification id.
            recorded = domain_event.placed(tracking.notification_id)
        with self._changed:
            while len(self._pending) >= BACKLOG and self._error is None:
                self._changed.wait()
            if self._error is not None:
                raise self._error
            self._pending.append((recorded, tracking))
            self._changed.notify_all()

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every event handed over is written (or raise the write's error)."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._error is not None or not (self._pending or self._writing), timeout
            )
            if self._error is not None:
                raise self._error

    def close(self) -> None:
        """Write what is pending, then stop the writer thread."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._writer.join(timeout=30)

    def _write_runs(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending or self._closed)
                if not self._pending:
                    return
                run, self._pending = self._pending[:BATCH], self._pending[BATCH:]
                self._writing = True
                self._changed.notify_all()
            try:
                self.view.record_many(run)
            except BaseException as error:
                logger.exception("%s: writing a run of events failed", self.name)
                with self._changed:
                    self._error = error
                    self._pending.clear()
                    self._writing = False
                    self._changed.notify_all()
                return
            with self._changed:
                self._writing = False
                self._changed.notify_all()
            for listener in list(self.listeners):
                listener(run[-1][1].notification_id)
