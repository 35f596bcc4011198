"""The event index: a side table written in the same transaction as the stored events.

It holds one row per Parley event (id, negotiation, version, position, type, the event
it speaks about, occurred_at, recorded_at, hash) and serves idempotency, lookup by id,
time-sliced reads and the global log. The SQL here is shared by both backends: each
recorder supplies its dialect (``store.dialect``: placeholders, timestamps) and the join
to its events table. Rows the projections fold are made by a row type they pass in
(``projections.rows``); the store does not decide what a fold needs.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, TypeVar, Unpack
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain.events import types_where
from domain.negotiation import (
    WRITE_SIDE_CONTENT,
    Recorded,
    WriteSideFact,
    negotiation_id,
)
from store.codec import decode_record
from store.dialect import SQLITE, Database, Dialect
from store.gc_pause import paused_gc
from store.keyring import Keyring
from store.search import (
    TERMS_TABLE,
    TEXT_TABLE,
    Search,
    SearchRows,
    TextQuery,
    backfill_params,
)

R = TypeVar("R")

INDEX_TABLE = "parley_event_index"
COLUMNS = (
    "event_id, negotiation, version, position, type, subject_id, occurred_at, recorded_at, hash, "
    "reported_at"
)


class Slice(TypedDict, total=False):
    """Which events a read keeps: of these types, valid, recorded and reported by these
    times, matching a search; a filter left out (or None) keeps all."""

    types: Sequence[str]
    valid_lte: datetime | None
    recorded_lte: datetime | None
    reported_lte: datetime | None
    search: Search | None


class RecordFilters(Slice, total=False):
    """A slice of one negotiation (or all), after a position or a version."""

    negotiation: str | None
    after_position: int | None
    after_version: int | None


class UpTo(TypedDict, total=False):
    """How far a read sees: events recorded by ``recorded_lte`` and reported by
    ``reported_lte``, at or before ``upto_position``."""

    recorded_lte: datetime | None
    reported_lte: datetime | None
    upto_position: int | None


class RecordSelection(RecordFilters, total=False):
    """Filters, and the order and page of the answer (see ``EventIndex.select_records``)."""

    by_version: bool | None
    latest_in_valid_time: bool
    limit: int | None


class RecordingOrderError(Exception):
    """A concurrent writer committed a later ``recorded_at`` first; retry with a new clock."""


class StoreNotEmptyError(Exception):
    """A restore into a store that already holds events (``store.dump``)."""


RestoreBatch = tuple[Sequence[int], Sequence[StoredEvent]]
"""Rows of a dump for a recorder's ``restore_rows``: their positions, and the stored
events (``IndexedStoredEvent``, each with its index row) to insert there."""


CONTENT_FREE = types_where(lambda t: t.content_free)
"""Types the state fold needs nothing of but their index row: statements and contacts
are only counted, a retraction only names its target, and a redaction only tells the
engine to read its negotiation again (``projections.service``)."""

def index_params(
    stored_events: Sequence[StoredEvent], positions: Sequence[int], ts: Callable[[datetime], Any]
) -> list[tuple[Any, ...]]:
    """The index rows' parameters (``COLUMNS`` order) for the stored events that carry one
    (``IndexedStoredEvent``; other topics are not indexed). ``ts`` writes a timestamp."""
    params = []
    for stored, position in zip(stored_events, positions, strict=True):
        row = getattr(stored, "index", None)
        if row is None:
            continue
        params.append(
            (
                str(row.event_id),
                row.negotiation,
                row.version,
                position,
                row.type,
                None if row.subject_id is None else str(row.subject_id),
                ts(row.occurred_at),
                ts(row.recorded_at),
                row.hash,
                ts(row.recorded_at if row.reported_at is None else row.reported_at),
            )
        )
    return params


LOOKUP_CHUNK = 500
"""Ids looked up per query (well under either backend's limit on parameters)."""


@dataclass(frozen=True, slots=True)
class StoredFact:
    """What the writer needs to know of a stored event a request names."""

    negotiation: str
    type: str
    retracted: bool


@dataclass(frozen=True)
class NegotiationSummary:
    negotiation: str
    event_count: int
    version: int
    last_occurred_at: datetime | None
    last_recorded_at: datetime | None
    last_position: int


class EventIndex:
    """Queries over the index joined to the stored events. Mixed into each recorder."""

    dialect: Dialect = SQLITE
    events_join = ""  # "JOIN <events table> e ON e.<position column> = i.position"
    index_table = INDEX_TABLE
    terms_table = TERMS_TABLE
    text_table = TEXT_TABLE
    contiguous_positions = False  # whether positions never have holes (SQLite's do not)
    keyring: Keyring  # opens sealed fields as rows are decoded (``store.keyring.PersonKeys``)

    def appending(self) -> AbstractContextManager[None]:
        """Held by the writer while it prepares and commits a group: where the backend
        lets appends go before its other writers in this process (SQLite's
        ``store.sqlite.WriteGate.group``); nothing else here."""
        return nullcontext()

    @abstractmethod
    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run a read query and return its rows as tuples."""

    @abstractmethod
    def _write(self, sql: str, params: Sequence[Any]) -> int:
        """Run one statement in a transaction of its own; return the rows it changed."""

    @abstractmethod
    def stored_count(self) -> tuple[int, int]:
        """(row count, highest position) of the stored events table."""

    @abstractmethod
    def _text_clause(self, query: TextQuery) -> tuple[str, list[Any]]:
        """SQL (``?`` placeholders) true of ``i.position`` when its prose matches."""

    def _id(self, value: UUID) -> Any:
        return str(value)

    @property
    def database(self) -> Database:
        """The narrow handle the store's side tables use (``store.tokens``)."""
        return Database(self.dialect, self._fetch, self._write)

    def _ts(self, value: datetime) -> Any:
        return self.dialect.ts(value)

    def _from_ts(self, value: Any) -> datetime:
        return self.dialect.from_ts(value)

    def _key_sql(self, column: str) -> str:
        return self.dialect.key_sql(column)

    def _sql(self, sql: str) -> str:
        return self.dialect.sql(sql)

    def _records(self, where: str, params: list[Any], tail: str = "") -> list[Recorded]:
        sql = (
            "SELECT i.position, e.originator_id, e.originator_version, e.state "
            f"FROM {self.index_table} i {self.events_join} {where} {tail}"
        )
        rows = self._fetch(self._sql(sql), params)
        opener = self.keyring.opener(bytes(row[3]) for row in rows)
        with paused_gc(len(rows) > 1000):
            return [
                decode_record(originator_id, version, bytes(state), position, opener)
                for position, originator_id, version, state in rows
            ]

    def select_records(self, **selection: Unpack[RecordSelection]) -> list[Recorded]:
        """Events in position order (per negotiation: version order, unless ``by_version``
        is False; or the latest in valid time first), filtered and paged."""
        where, params = self._where(selection)
        by_version = selection.get("by_version")
        if by_version is None:
            by_version = selection.get("negotiation") is not None
        if selection.get("latest_in_valid_time", False):
            tail = "ORDER BY i.occurred_at DESC, i.position DESC"
        else:
            tail = "ORDER BY i.version" if by_version else "ORDER BY i.position"
        limit = selection.get("limit")
        if limit is not None:
            tail += " LIMIT ?"
            params.append(limit)
        return self._records(where, params, tail)

    def count_records(self, **filters: Unpack[RecordFilters]) -> int:
        """How many events ``select_records`` would give with these filters."""
        where, params = self._where(filters)
        rows = self._fetch(self._sql(f"SELECT COUNT(*) FROM {self.index_table} i {where}"), params)
        return int(rows[0][0])

    def _where(self, filters: RecordFilters) -> tuple[str, list[Any]]:
        search = filters.get("search")
        negotiation = filters.get("negotiation")
        after_position = filters.get("after_position")
        after_version = filters.get("after_version")
        types = filters.get("types", ())
        valid_lte = filters.get("valid_lte")
        recorded_lte = filters.get("recorded_lte")
        reported_lte = filters.get("reported_lte")
        clauses: list[str] = []
        params: list[Any] = []
        if search is not None:
            for kind, term in search.terms:
                clauses.append(
                    f"i.position IN (SELECT position FROM {self.terms_table} "
                    "WHERE kind = ? AND term = ?)"
                )
                params += [kind, term]
            if search.text is not None:
                clause, text_params = self._text_clause(search.text)
                clauses.append(clause)
                params += text_params
        if negotiation is not None:
            clauses.append("i.negotiation = ?")
            params.append(negotiation)
        if after_position is not None:
            clauses.append("i.position > ?")
            params.append(after_position)
        if after_version is not None:
            clauses.append("i.version > ?")
            params.append(after_version)
        if types:
            clauses.append(f"i.type IN ({', '.join('?' * len(types))})")
            params.extend(types)
        if valid_lte is not None:
            clauses.append("i.occurred_at <= ?")
            params.append(self._ts(valid_lte))
        if recorded_lte is not None:
            clauses.append("i.recorded_at <= ?")
            params.append(self._ts(recorded_lte))
        if reported_lte is not None:
            clauses.append("i.reported_at <= ?")
            params.append(self._ts(reported_lte))
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params

    def engine_rows(
        self, negotiation: str, make: Callable[..., R], *, after_version: int = 0
    ) -> list[R]:
        """A negotiation's events after a version, as the as-of engine reads them: index
        columns, targets resolved by a join, stored rows only where the fold needs them.

        Each is made by ``make(position, version, type, valid, recorded, target,
        target_valid, record, reported)``: the projections' row type (``projections.rows``);
        times are ``utc_key`` text, ``record`` is None for ``CONTENT_FREE`` types."""
        free = ", ".join(f"'{t}'" for t in sorted(CONTENT_FREE))
        sql = (
            "SELECT i.position, i.version, i.type, "
            f"{self._key_sql('i.occurred_at')}, {self._key_sql('i.recorded_at')}, "
            f"t.position, {self._key_sql('t.occurred_at')}, "
            f"CASE WHEN i.type IN ({free}) THEN NULL ELSE e.state END, "
            f"{self._key_sql('i.reported_at')} "
            f"FROM {self.index_table} i {self.events_join} "
            f"LEFT JOIN {self.index_table} t ON t.event_id = i.subject_id "
            "WHERE i.negotiation = ? AND i.version > ? ORDER BY i.version"
        )
        rows = self._fetch(self._sql(sql), [negotiation, after_version])
        opener = self.keyring.opener(bytes(row[7]) for row in rows if row[7] is not None)
        aggregate = negotiation_id(negotiation)
        # One string object per type and per recorded_at (a group commit gives many
        # events the same one), rather than one per row: a third less memory per event.
        shared: dict[str, str] = {}
        keep = shared.setdefault
        with paused_gc(len(rows) > 1000):
            return [
                make(
                    position,
                    version,
                    keep(type_, type_),
                    valid,
                    keep(recorded, recorded),
                    target,
                    target_valid,
                    None
                    if state is None
                    else decode_record(aggregate, version, bytes(state), position, opener),
                    keep(reported, reported),
                )
                for (
                    position,
                    version,
                    type_,
                    valid,
                    recorded,
                    target,
                    target_valid,
                    state,
                    reported,
                ) in rows
            ]

    def chart_rows(self, negotiation: str, make: Callable[..., R]) -> list[R]:
        """A negotiation's events in position order as the charts read them: index
        columns only, the target of each log fact resolved by a join (``projections.charts``).

        Each is made by ``make(position, event_id, type, valid, recorded, target,
        reported)``."""
        sql = (
            "SELECT i.position, i.event_id, i.type, "
            f"{self._key_sql('i.occurred_at')}, {self._key_sql('i.recorded_at')}, t.position, "
            f"{self._key_sql('i.reported_at')} "
            f"FROM {self.index_table} i "
            f"LEFT JOIN {self.index_table} t ON t.event_id = i.subject_id "
            "WHERE i.negotiation = ? ORDER BY i.position"
        )
        rows = self._fetch(self._sql(sql), [negotiation])
        with paused_gc(len(rows) > 1000):
            return [
                make(position, str(event_id), type_, valid, recorded, target, reported)
                for position, event_id, type_, valid, recorded, target, reported in rows
            ]

    def records_at(self, positions: Sequence[int]) -> list[Recorded]:
        """The stored events at these log positions, in position order."""
        if not positions:
            return []
        marks = ", ".join("?" * len(positions))
        return self._records(
            f"WHERE i.position IN ({marks})", list(positions), "ORDER BY i.position"
        )

    def write_side_facts(self, negotiation: str, *, after_version: int = 0) -> list[WriteSideFact]:
        """What the aggregate folds of a negotiation's events after a version: the
        events whose content its invariants read (``WRITE_SIDE_CONTENT``, decoded), and
        the head of the chain (its version, hash and clock) last. Empty when nothing
        was stored after ``after_version``."""
        head = self._fetch(
            self._sql(
                f"SELECT version, hash, recorded_at FROM {self.index_table} "
                "WHERE negotiation = ? ORDER BY version DESC LIMIT 1"
            ),
            [negotiation],
        )
        if not head or head[0][0] <= after_version:
            return []
        needed = ", ".join(f"'{t}'" for t in sorted(WRITE_SIDE_CONTENT))
        sql = (  # the range of versions, read by the (negotiation, version) key
            "SELECT i.version, i.hash, i.position, e.state "
            f"FROM {self.index_table} i {self.events_join} "
            "WHERE i.negotiation = ? AND i.version > ? AND i.version <= ? "
            f"AND i.type IN ({needed}) ORDER BY i.version"
        )
        version, hash_, recorded = head[0]
        rows = self._fetch(self._sql(sql), [negotiation, after_version, version])
        aggregate = negotiation_id(negotiation)
        with paused_gc(len(rows) > 1000):
            facts = [
                WriteSideFact(
                    version=row_version,
                    hash=row_hash,
                    recorded_at=None,
                    content=decode_record(aggregate, row_version, bytes(state), position).event,
                )
                for row_version, row_hash, position, state in rows
            ]
        # Only the head's clock matters to the writer: one conversion, not n.
        facts.append(WriteSideFact(version, hash_, self._from_ts(recorded), None))
        return facts

    def chain_link(self, negotiation: str, version: int) -> tuple[str, datetime] | None:
        """The hash and recorded_at of a negotiation's event at ``version`` (None when
        the log holds none): what a write-side checkpoint is checked against."""
        rows = self._fetch(
            self._sql(
                f"SELECT hash, recorded_at FROM {self.index_table} "
                "WHERE negotiation = ? AND version = ?"
            ),
            [negotiation, version],
        )
        return (rows[0][0], self._from_ts(rows[0][1])) if rows else None

    def stored_facts(self, ids: Sequence[UUID]) -> dict[UUID, StoredFact]:
        """Of these event ids, those the log holds: their negotiation, their type, and
        whether a stored retraction names them (served by the index's keys)."""
        found: dict[UUID, StoredFact] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), LOOKUP_CHUNK):
            chunk = unique[start : start + LOOKUP_CHUNK]
            sql = (
                "SELECT i.event_id, i.negotiation, i.type, EXISTS (SELECT 1 FROM "
                f"{self.index_table} r WHERE r.subject_id = i.event_id "
                "AND r.type = 'EventRetracted') "
                f"FROM {self.index_table} i WHERE i.event_id IN ({', '.join('?' * len(chunk))})"
            )
            for event_id, negotiation, type_, retracted in self._fetch(
                self._sql(sql), [self._id(i) for i in chunk]
            ):
                found[UUID(str(event_id))] = StoredFact(negotiation, type_, bool(retracted))
        return found

    def backfill_search(
        self,
        fetch: Callable[[str, list[Any]], Sequence[tuple[Any, ...]]],
        insert: Callable[[SearchRows], None],
        page: int = 2000,
    ) -> int:
        """Fill the search tables for every event stored, page by page, through the
        caller's transaction (``fetch`` reads, ``insert`` writes): a store made before
        search existed. Returns how many events it read."""
        sql = self._sql(
            "SELECT i.position, e.originator_id, e.originator_version, e.state "
            f"FROM {self.index_table} i {self.events_join} "
            "WHERE i.position > ? ORDER BY i.position LIMIT ?"
        )
        after, count = 0, 0
        while rows := fetch(sql, [after, page]):
            opener = self.keyring.store.opener_through(fetch, [bytes(row[3]) for row in rows])
            with paused_gc():
                insert(backfill_params(rows, opener))
            after, count = rows[-1][0], count + len(rows)
        return count

    def records_by_ids(self, ids: Sequence[UUID]) -> list[Recorded]:
        """The stored events with these ids, in position order."""
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        return self._records(
            f"WHERE i.event_id IN ({marks})", [self._id(i) for i in ids], "ORDER BY i.position"
        )

    def records_about(self, event_id: UUID) -> list[Recorded]:
        """Disputes, corrections and retractions that name ``event_id``."""
        return self._records("WHERE i.subject_id = ?", [self._id(event_id)], "ORDER BY i.position")

    def records_about_any(self, ids: Sequence[UUID], **upto: Unpack[UpTo]) -> list[Recorded]:
        """Disputes, corrections and retractions that name any of ``ids``, recorded by
        ``recorded_lte`` and at or before ``upto_position``, in position order (a page of
        an export asks once for all its events)."""
        if not ids:
            return []
        recorded_lte = upto.get("recorded_lte")
        reported_lte = upto.get("reported_lte")
        upto_position = upto.get("upto_position")
        clauses = [f"i.subject_id IN ({', '.join('?' * len(ids))})"]
        params: list[Any] = [self._id(i) for i in ids]
        if recorded_lte is not None:
            clauses.append("i.recorded_at <= ?")
            params.append(self._ts(recorded_lte))
        if reported_lte is not None:
            clauses.append("i.reported_at <= ?")
            params.append(self._ts(reported_lte))
        if upto_position is not None:
            clauses.append("i.position <= ?")
            params.append(upto_position)
        return self._records("WHERE " + " AND ".join(clauses), params, "ORDER BY i.position")

    def last_known_position(self, negotiation: str, recorded_lte: datetime) -> int | None:
        """The position of a negotiation's last event recorded by ``recorded_lte``."""
        sql = (
            f"SELECT position FROM {self.index_table} WHERE negotiation = ? "
            "AND recorded_at <= ? ORDER BY version DESC LIMIT 1"
        )
        rows = self._fetch(self._sql(sql), [negotiation, self._ts(recorded_lte)])
        return int(rows[0][0]) if rows else None

    def summaries(self, negotiation: str | None = None) -> list[NegotiationSummary]:
        """Counts and last activity per negotiation."""
        where, params = ("WHERE negotiation = ?", [negotiation]) if negotiation else ("", [])
        sql = (
            "SELECT negotiation, COUNT(*), MAX(version), MAX(occurred_at), MAX(recorded_at), "
            f"MAX(position) FROM {self.index_table} {where} "
            "GROUP BY negotiation ORDER BY negotiation"
        )
        return [
            NegotiationSummary(
                negotiation=row[0],
                event_count=row[1],
                version=row[2],
                last_occurred_at=self._from_ts(row[3]) if row[3] is not None else None,
                last_recorded_at=self._from_ts(row[4]) if row[4] is not None else None,
                last_position=row[5],
            )
            for row in self._fetch(self._sql(sql), params)
        ]

    def max_recorded_at(self) -> datetime | None:
        """The latest recorded_at in the log (served by its index, not a scan)."""
        rows = self._fetch(self.dialect.latest_recorded_sql(self.index_table), [])
        return self._from_ts(rows[0][0]) if rows else None

    def last_position(self) -> int:
        sql = f"SELECT position FROM {self.index_table} ORDER BY position DESC LIMIT 1"
        rows = self._fetch(sql, [])
        return int(rows[0][0]) if rows else 0

    def index_count(self) -> int:
        return int(self._fetch(f"SELECT COUNT(*) FROM {self.index_table}", [])[0][0])

    def iter_chain(self, page: int = 5000) -> Iterator[ChainRow]:
        """Every stored event as its raw row, negotiation by negotiation, in version order
        (for ``verify``, which must read what no decoder can)."""
        last: tuple[str, int] = ("", 0)
        sql = self._sql(
            "SELECT i.negotiation, i.version, i.position, i.event_id, i.hash, e.state "
            f"FROM {self.index_table} i {self.events_join} "
            "WHERE (i.negotiation > ?) OR (i.negotiation = ? AND i.version > ?) "
            f"ORDER BY i.negotiation, i.version LIMIT {int(page)}"
        )
        while True:
            rows = self._fetch(sql, [last[0], last[0], last[1]])
            if not rows:
                return
            for negotiation, version, position, event_id, hash_, state in rows:
                yield ChainRow(negotiation, version, position, str(event_id), hash_, bytes(state))
            last = (rows[-1][0], rows[-1][1])


@dataclass(frozen=True, slots=True)
class ChainRow:
    """One stored event as ``verify`` reads it: the index's columns and the raw state."""

    negotiation: str
    version: int
    position: int
    event_id: str
    hash: str
    state: bytes


def index_statements(ts_type: str, table: str = INDEX_TABLE, prefix: str = "") -> list[str]:
    """DDL for the index table in either dialect (``prefix`` qualifies the schema)."""
    t = f"{prefix}{table}"
    return [
        f"CREATE TABLE IF NOT EXISTS {t} ("
        "event_id TEXT PRIMARY KEY, "
        "negotiation TEXT NOT NULL, "
        "version BIGINT NOT NULL, "
        "position BIGINT NOT NULL UNIQUE, "
        "type TEXT NOT NULL, "
        "subject_id TEXT, "
        f"occurred_at {ts_type} NOT NULL, "
        f"recorded_at {ts_type} NOT NULL, "
        "hash TEXT NOT NULL, "
        f"reported_at {ts_type} NOT NULL, "
        "UNIQUE (negotiation, version))",
        f"CREATE INDEX IF NOT EXISTS {table}_valid ON {t} (negotiation, occurred_at)",
        f"CREATE INDEX IF NOT EXISTS {table}_recorded ON {t} (recorded_at)",
        f"CREATE INDEX IF NOT EXISTS {table}_type ON {t} (type, position)",
        f"CREATE INDEX IF NOT EXISTS {table}_subject ON {t} (subject_id) "
        "WHERE subject_id IS NOT NULL",
    ]
