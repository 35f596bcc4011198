"""The charts' data from index rows alone (``projections.charts``), without a store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from domain.events import EVENT_TYPES, KNOWLEDGE
from projections.charts import LANE_OF, LANES, chart_of, reaches_back
from projections.rows import ChartRow

DAY = timedelta(days=1).total_seconds()


def row(
    position: int, type_: str, valid: str, recorded: str, target: int | None = None
) -> ChartRow:
    def key(day: str) -> str:
        return datetime.fromisoformat(day).isoformat(timespec="microseconds")

    return ChartRow(position, f"id-{position}", type_, key(valid), key(recorded), target)


def no_intervals(positions: Sequence[int]) -> dict[int, datetime | None]:
    return {}


def test_every_world_event_type_has_a_lane_and_log_facts_have_none() -> None:
    assert set(LANE_OF) == set(EVENT_TYPES) - KNOWLEDGE
    assert set(LANE_OF.values()) == set(LANES)


def test_a_report_older_than_what_the_log_already_knew_reaches_back_to_it() -> None:
    rows = [
        row(1, "NegotiationOpened", "2025-05-01", "2025-06-01T10:00"),
        row(2, "RoundHeld", "2025-05-16", "2025-06-01T10:00"),  # same batch: one piece of news
        row(3, "StatementIssued", "2025-05-20", "2025-06-02T10:00"),
        row(4, "ContactHeld", "2025-05-10", "2025-06-03T10:00"),  # 10 days behind 20 May
        row(5, "ContactHeld", "2025-05-20", "2025-06-03T10:00"),  # same day as the latest known
    ]

    assert reaches_back(rows) == {4: 10 * DAY}


def test_flags_and_the_timeline_follow_known_at_while_the_knowledge_chart_keeps_everything() -> (
    None
):
    rows = [
        row(1, "NegotiationOpened", "2025-05-01", "2025-06-01T10:00"),
        row(2, "ContactHeld", "2025-05-16", "2025-06-01T10:00"),
        row(3, "ClaimDisputed", "2025-05-17", "2025-06-02T10:00", target=2),
        row(4, "EventRetracted", "2025-05-18", "2025-06-03T10:00", target=3),
    ]
    at = datetime(2025, 6, 1, 12, tzinfo=UTC)

    def chart(known_at: datetime) -> dict[str, dict[str, list[str]]]:
        answer = chart_of(
            rows, no_intervals, slug="t", from_=None, to=None, as_of=at, known_at=known_at
        )
        items = {i["id"]: i["flags"] for i in answer.timeline["items"]}
        points = {p["id"]: p["flags"] for p in answer.knowledge["points"]}
        return {"timeline": items, "knowledge": points}

    first = chart(datetime(2025, 6, 1, 12, tzinfo=UTC))
    assert first["timeline"] == {"id-1": [], "id-2": []}
    assert set(first["knowledge"]) == {"id-1", "id-2", "id-3", "id-4"}
    second = chart(datetime(2025, 6, 2, 12, tzinfo=UTC))
    assert second["timeline"]["id-2"] == ["disputed"]
    assert second["timeline"]["id-3"] == []  # the dispute, in its own lane
    # A retracted dispute no longer disputes anything.
    third = chart(datetime(2025, 6, 3, 12, tzinfo=UTC))
    assert third["timeline"]["id-2"] == [] and third["timeline"]["id-3"] == ["retracted"]
    assert "id-4" not in third["timeline"]  # a retraction has no lane
