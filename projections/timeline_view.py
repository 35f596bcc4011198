"""The persisted timeline: one row per event of the log, queried along valid time.

The ``TimelineProjection`` writes each event as a row: negotiation, position, version,
event id and type, its kind (a world ``event``, a ``dispute``, a ``correction`` or a
``retraction``) and the event a log fact names (``subject_id``), its valid interval
(``valid_from``, the start of ``occurred_at``; ``valid_until``, the end of
``occurred_until`` or else of ``occurred_at``: a date lasts the whole day),
``occurred_until`` (its start) when given, ``recorded_at``, and the stored JSON of the
record (``record_json``: ``store.mapper.encode_state``), from which the ``Recorded`` is
rebuilt exactly.

``rows`` answers "what happened between these valid times": the events whose interval
overlaps the range, without loading the whole negotiation. ``timeline_records`` gives
what ``projections.timeline.timeline`` needs to answer the same range: those events
plus every dispute, correction and retraction of the negotiation (they act whatever
valid time they name), in position order. The JSON is TEXT on both backends: JSONB
would refuse a ``\\u0000`` that the log itself accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.events import AnyEvent, ClaimDisputed, EventCorrected, EventRetracted
from domain.negotiation import Recorded
from domain.values import end_of_day, start_of
from projections.views import Execute, ParleyProjection, PostgresView, SQLiteView, View
from store.mapper import decode, encode_state

NAME = "timeline"
TABLE = "timeline_events"

KINDS = ("event", "dispute", "correction", "retraction")


def kind_of(event: AnyEvent) -> str:
    """``event`` for a world event; otherwise which log fact it is."""
    if isinstance(event, ClaimDisputed):
        return "dispute"
    if isinstance(event, EventCorrected):
        return "correction"
    if isinstance(event, EventRetracted):
        return "retraction"
    return "event"


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One row of the timeline table, with the record rebuilt from its JSON."""

    negotiation: str
    position: int
    version: int
    event_id: UUID
    type: str
    kind: str
    subject_id: UUID | None
    valid_from: datetime
    valid_until: datetime
    occurred_until: datetime | None
    recorded_at: datetime
    record: Recorded


_COLUMNS = (
    "negotiation, position, version, event_id, type, kind, subject_id, valid_from, "
    "valid_until, occurred_until, recorded_at, originator_id, record_json"
)


class TimelineView(View):
    """The timeline table, on either backend."""

    projection_name = NAME
    tables = (TABLE,)

    def table_statements(self) -> list[str]:
        ts = self.timestamp_type
        table = self._table(TABLE)
        return [
            f"CREATE TABLE IF NOT EXISTS {table} ("
            "position BIGINT NOT NULL PRIMARY KEY, "
            "negotiation TEXT NOT NULL, "
            "version BIGINT NOT NULL, "
            "event_id TEXT NOT NULL UNIQUE, "
            "type TEXT NOT NULL, "
            "kind TEXT NOT NULL, "
            "subject_id TEXT, "
            f"valid_from {ts} NOT NULL, "
            f"valid_until {ts} NOT NULL, "
            f"occurred_until {ts}, "
            f"recorded_at {ts} NOT NULL, "
            "originator_id TEXT NOT NULL, "
            "record_json TEXT NOT NULL, "
            "UNIQUE (negotiation, version))",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_valid ON {table} (negotiation, valid_from)",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_facts ON {table} (negotiation, position) "
            "WHERE kind <> 'event'",
        ]

    def write(self, execute: Execute, recorded: Recorded) -> None:
        event = recorded.event
        subject = event.subject_id
        until = event.occurred_until
        execute(
            f"INSERT INTO {self._table(TABLE)} ({_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                recorded.negotiation,
                recorded.position,
                recorded.originator_version,
                str(event.id),
                event.type,
                kind_of(event),
                str(subject) if subject else None,
                self._ts(event.valid_from),
                self._ts(end_of_day(until or event.occurred_at)),
                self._ts(start_of(until)) if until is not None else None,
                self._ts(recorded.recorded_at),
                str(recorded.originator_id),
                encode_state(recorded).decode(),
            ],
        )

    def rows(
        self,
        slug: str,
        from_: datetime | None = None,
        to: datetime | None = None,
        known_at: datetime | None = None,
        *,
        with_log_facts: bool = False,
    ) -> list[TimelineRow]:
        """The negotiation's events whose valid interval overlaps ``[from_, to]`` (None:
        unbounded), recorded by ``known_at``, in ``(valid_from, position)`` order.

        ``with_log_facts`` adds every dispute, correction and retraction whatever its
        valid time, and orders all by position.
        """
        overlap: list[str] = []
        params: list[Any] = [slug]
        if to is not None:
            overlap.append("valid_from <= ?")
            params.append(self._ts(to))
        if from_ is not None:
            overlap.append("valid_until >= ?")
            params.append(self._ts(from_))
        where = "negotiation = ?"
        if overlap:
            inside = " AND ".join(overlap)
            where += f" AND (kind <> 'event' OR ({inside}))" if with_log_facts else f" AND {inside}"
        if known_at is not None:
            where += " AND recorded_at <= ?"
            params.append(self._ts(known_at))
        order = "position" if with_log_facts else "valid_from, position"
        sql = f"SELECT {_COLUMNS} FROM {self._table(TABLE)} WHERE {where} ORDER BY {order}"
        return [self._row(row) for row in self._fetch(sql, params)]

    def timeline_records(
        self,
        slug: str,
        from_: datetime | None = None,
        to: datetime | None = None,
        known_at: datetime | None = None,
    ) -> list[Recorded]:
        """What ``projections.timeline.timeline(records, from_, to, known_at)`` needs to
        answer for one negotiation, in position order: with no bounds, every event."""
        return [r.record for r in self.rows(slug, from_, to, known_at, with_log_facts=True)]

    def count(self, slug: str | None = None) -> int:
        """Rows in the table (of one negotiation)."""
        where, params = ("WHERE negotiation = ?", [slug]) if slug else ("", [])
        return int(self._fetch(f"SELECT COUNT(*) FROM {self._table(TABLE)} {where}", params)[0][0])

    def positions(self) -> list[int]:
        """Every position the view holds, ascending: each processed event once."""
        sql = f"SELECT position FROM {self._table(TABLE)} ORDER BY position"
        return [int(row[0]) for row in self._fetch(sql, [])]

    def _row(self, row: tuple[Any, ...]) -> TimelineRow:
        position, version, originator_id, state = int(row[1]), int(row[2]), row[11], row[12]
        return TimelineRow(
            negotiation=row[0],
            position=position,
            version=version,
            event_id=UUID(row[3]),
            type=row[4],
            kind=row[5],
            subject_id=UUID(row[6]) if row[6] else None,
            valid_from=self._from_ts(row[7]),
            valid_until=self._from_ts(row[8]),
            occurred_until=self._from_ts(row[9]) if row[9] is not None else None,
            recorded_at=self._from_ts(row[10]),
            record=decode(originator_id, version, state.encode(), position),
        )


class TimelineSQLite(TimelineView, SQLiteView):
    """The timeline table in the log's SQLite file."""


class TimelinePostgres(TimelineView, PostgresView):
    """The timeline table in the log's PostgreSQL schema."""


class TimelineProjection(ParleyProjection[TimelineView]):
    """Writes every event of the log as a row of the timeline table."""

    name = NAME
