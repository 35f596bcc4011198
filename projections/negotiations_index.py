"""The negotiations index: one row per negotiation, behind ``GET /negotiations``.

Each row holds what the list shows: the opening's title, parties, mediators and valid
time, the event count and version, and the last occurred_at, recorded_at and position.
The ``NegotiationsIndex`` projection folds every event of the log into it, one
transaction per event together with the view's tracking position (projections.views).
Versions, recorded times and positions only grow along the log, and occurred_at is
kept at its maximum, so the row equals what the log's own index computes by GROUP BY.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.events import NegotiationOpened
from domain.negotiation import Recorded
from projections.views import Execute, ParleyProjection, PostgresView, SQLiteView, View

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


_COLUMNS = (
    "negotiation, title, parties, mediators, opened_at, version, event_count, "
    "last_occurred_at, last_recorded_at, last_position"
)


class NegotiationsIndexView(View):
    """The index table, on either backend."""

    projection_name = NAME
    tables = (TABLE,)

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

    def write(self, execute: Execute, recorded: Recorded) -> None:
        title = parties = mediators = opened_at = None
        if recorded.type == "NegotiationOpened":
            event = recorded.event
            assert isinstance(event, NegotiationOpened)
            data = event.data.model_dump(mode="json")
            title = data["title"]
            parties = json.dumps(data["parties"], ensure_ascii=False)
            mediators = json.dumps(data["mediators"], ensure_ascii=False)
            opened_at = event.occurred_at.isoformat()
        occurred = self._ts(recorded.valid_from)
        execute(
            f"INSERT INTO {self._table(TABLE)} AS n ({_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?) "
            "ON CONFLICT (negotiation) DO UPDATE SET "
            "title = COALESCE(n.title, excluded.title), "
            "parties = COALESCE(n.parties, excluded.parties), "
            "mediators = COALESCE(n.mediators, excluded.mediators), "
            "opened_at = COALESCE(n.opened_at, excluded.opened_at), "
            "version = excluded.version, "
            "event_count = n.event_count + 1, "
            "last_occurred_at = CASE WHEN excluded.last_occurred_at > n.last_occurred_at "
            "THEN excluded.last_occurred_at ELSE n.last_occurred_at END, "
            "last_recorded_at = excluded.last_recorded_at, "
            "last_position = excluded.last_position",
            [
                recorded.negotiation,
                title,
                parties,
                mediators,
                opened_at,
                recorded.originator_version,
                occurred,
                self._ts(recorded.recorded_at),
                recorded.position,
            ],
        )

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
