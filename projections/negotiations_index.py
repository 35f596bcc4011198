"""The negotiations index: one row per negotiation, behind ``GET /negotiations``.

Each row holds what the list shows: the opening's title, parties, mediators and valid
time, the event count and version, and the last occurred_at, recorded_at and position.
The ``NegotiationsIndex`` projection folds every event of the log into it, together
with the view's tracking position (projections.views). Versions, recorded times and
positions only grow along the log, and occurred_at is kept at its maximum, so the row
equals what the log's own index computes by GROUP BY.

All but the opening's fields are in the log's index row of each event, so a catch-up
(a rebuild, a runner's start) reads pages of index rows, folds each page into one row
per negotiation in it, and upserts those in the page's transaction (``fold_index``):
only the openings are read from the stored events. Following the log live, each event
is applied as it comes (``write``); both use the same upsert, which adds counts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.events import NegotiationOpened
from domain.negotiation import Recorded
from projections.views import (
    Execute,
    IndexRow,
    ParleyProjection,
    PostgresView,
    RecordsAt,
    SQLiteView,
    Statement,
    View,
)

NAME = "negotiations_index"
TABLE = "negotiations_index"


@dataclass(frozen=True, slots=True)
class IndexedNegotiation:
    """One row of the index: the fields of ``api.schemas.NegotiationOut``."""

    negotiation: str
    title: str
    parties: list[dict[str, Any]]
    mediators: list[dict[str, Any]]
    opened_at: str  # the opening's occurred_at as sent: a date or a datetime, ISO 8601
    version: int
    event_count: int
    last_occurred_at: datetime
    last_recorded_at: datetime
    last_position: int

    def to_json(self) -> dict[str, Any]:
        return {
            "negotiation": self.negotiation,
            "title": self.title,
            "parties": self.parties,
            "mediators": self.mediators,
            "opened_at": self.opened_at,
            "version": self.version,
            "event_count": self.event_count,
            "last_occurred_at": self.last_occurred_at,
            "last_recorded_at": self.last_recorded_at,
            "last_position": self.last_position,
        }


def _opening(recorded: Recorded) -> tuple[str, str, str, str]:
    """The opening's columns: title, parties and mediators (JSON), opened_at."""
    event = recorded.event
    assert isinstance(event, NegotiationOpened)
    data = event.data.model_dump(mode="json")
    return (
        data["title"],
        json.dumps(data["parties"], ensure_ascii=False),
        json.dumps(data["mediators"], ensure_ascii=False),
        event.occurred_at.isoformat(),
    )


_NO_OPENING = (None, None, None, None)

_COLUMNS = (
    "negotiation, title, parties, mediators, opened_at, version, event_count, "
    "last_occurred_at, last_recorded_at, last_position"
)


class NegotiationsIndexView(View):
    """The index table, on either backend."""

    projection_name = NAME
    tables = (TABLE,)
    folds_index = True

    def table_statements(self) -> list[str]:
        ts = self.timestamp_type
        return [
            f"CREATE TABLE IF NOT EXISTS {self._table(TABLE)} ("
            "negotiation TEXT NOT NULL PRIMARY KEY, "
            "title TEXT, "  # the opening's fields: NULL only if a stream lacked its opening
            "parties TEXT, "
            "mediators TEXT, "
            "opened_at TEXT, "
            "version BIGINT NOT NULL, "
            "event_count BIGINT NOT NULL, "
            f"last_occurred_at {ts} NOT NULL, "
            f"last_recorded_at {ts} NOT NULL, "
            "last_position BIGINT NOT NULL)"
        ]

    def _upsert(self) -> str:
        """Adds ``event_count`` events to a negotiation's row, ending with the version,
        times and position given; the opening's fields are kept once set."""
        return (
            f"INSERT INTO {self._table(TABLE)} AS n ({_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (negotiation) DO UPDATE SET "
            "title = COALESCE(n.title, excluded.title), "
            "parties = COALESCE(n.parties, excluded.parties), "
            "mediators = COALESCE(n.mediators, excluded.mediators), "
            "opened_at = COALESCE(n.opened_at, excluded.opened_at), "
            "version = excluded.version, "
            "event_count = n.event_count + excluded.event_count, "
            "last_occurred_at = CASE WHEN excluded.last_occurred_at > n.last_occurred_at "
            "THEN excluded.last_occurred_at ELSE n.last_occurred_at END, "
            "last_recorded_at = excluded.last_recorded_at, "
            "last_position = excluded.last_position"
        )

    def write(self, execute: Execute, recorded: Recorded) -> None:
        opening = _opening(recorded) if recorded.type == "NegotiationOpened" else _NO_OPENING
        execute(
            self._upsert(),
            [
                recorded.negotiation,
                *opening,
                recorded.originator_version,
                1,
                self._ts(recorded.valid_from),
                self._ts(recorded.recorded_at),
                recorded.position,
            ],
        )

    def fold_index(self, rows: Sequence[IndexRow], records_at: RecordsAt) -> list[Statement]:
        """One upsert per negotiation of the page: what ``write`` of each event in turn
        would leave (the count added up, the last version, recorded time and position,
        the latest occurred_at: the index stores times so that they compare as they
        sort), with the opening's fields read from the stored openings in the page."""
        # negotiation -> [version, count, occurred_at, recorded_at, position]
        folded: dict[str, list[Any]] = {}
        openings: list[int] = []
        for position, negotiation, version, kind, occurred, recorded in rows:
            row = folded.get(negotiation)
            if row is None:
                folded[negotiation] = [version, 1, occurred, recorded, position]
            else:
                row[0] = version
                row[1] += 1
                if occurred > row[2]:
                    row[2] = occurred
                row[3] = recorded
                row[4] = position
            if kind == "NegotiationOpened":
                openings.append(position)
        opened: dict[str, tuple[Any, ...]] = {}
        for record in records_at(openings):
            opened.setdefault(record.negotiation, _opening(record))  # the first one counts
        sql = self._upsert()
        return [
            (sql, [negotiation, *opened.get(negotiation, _NO_OPENING), *row])
            for negotiation, row in folded.items()
        ]

    def negotiations(self, slug: str | None = None) -> list[IndexedNegotiation]:
        """Every opened negotiation (or the one named), ordered by slug."""
        where, params = ("AND negotiation = ?", [slug]) if slug else ("", [])
        sql = (
            f"SELECT {_COLUMNS} FROM {self._table(TABLE)} "
            f"WHERE title IS NOT NULL {where} ORDER BY negotiation"
        )
        return [
            IndexedNegotiation(
                negotiation=row[0],
                title=row[1],
                parties=json.loads(row[2]),
                mediators=json.loads(row[3]),
                opened_at=row[4],
                version=int(row[5]),
                event_count=int(row[6]),
                last_occurred_at=self._from_ts(row[7]),
                last_recorded_at=self._from_ts(row[8]),
                last_position=int(row[9]),
            )
            for row in self._fetch(sql, params)
        ]


class NegotiationsIndexSQLite(NegotiationsIndexView, SQLiteView):
    """The negotiations index in the log's SQLite file."""


class NegotiationsIndexPostgres(NegotiationsIndexView, PostgresView):
    """The negotiations index in the log's PostgreSQL schema."""


class NegotiationsIndex(ParleyProjection[NegotiationsIndexView]):
    """Folds every event into its negotiation's row of the index."""

    name = NAME
