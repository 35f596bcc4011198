"""The two pictures of a negotiation on the page: its lanes along valid time, and its
events on both clocks.

The **timeline chart** puts every world event known at ``known_at`` in a lane by kind
(``LANE_OF``), with its interval and whether it is disputed, corrected or retracted as
known then. The **knowledge chart** puts every event, whenever recorded, at (valid time,
recorded time), links each dispute, correction and retraction to the event it names,
and says how far back each report reached: how much earlier it happened than the latest
valid time the log already knew when it was recorded (``reaches_back``). A report that
reaches back more than ``BACK_DATED`` is back-dated.

Both read the event index alone (``EventIndex.chart_rows``), so a 100,000-event
negotiation is a quick scan; only the items sent one by one are decoded, for their
intervals. A window holding more than ``max_items`` comes as counts instead: per lane
and time bucket for the timeline, per cell of a valid × recorded grid for the knowledge
chart, so that no answer holds much more than a thousand items. A window holds the
events that begin in it.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from domain.errors import NegotiationNotFoundError
from domain.events import KNOWLEDGE
from domain.instants import clamped, from_utc_key, utc_key
from domain.negotiation import Recorded
from domain.values import end_of_day
from projections.rows import ChartRow
from projections.state import jsonable
from store.log import ConflictLog

LANES = (
    "rounds",
    "proposals",
    "contacts",
    "agreements",
    "zones",
    "ceasefires",
    "allegations",
    "hostilities",
    "disputes",
)
LANE_OF: Mapping[str, str] = {
    "NegotiationOpened": "rounds",
    "DelegationNamed": "rounds",
    "RoundScheduled": "rounds",
    "HostAnnounced": "rounds",
    "RoundHeld": "rounds",
    "DocumentExchanged": "rounds",
    "ProposalMade": "proposals",
    "ProposalAnswered": "proposals",
    "CeasefireProposed": "ceasefires",
    "CeasefireDeclared": "ceasefires",
    "ContactHeld": "contacts",
    "StatementIssued": "contacts",
    "SecurityZoneDeclared": "zones",
    "ClaimDisputed": "disputes",
    "AgreementReached": "agreements",
    "AgreementSigned": "agreements",
    "AgreementRatified": "agreements",
    "AgreementSuspended": "agreements",
    "AgreementTerminated": "agreements",
    "ProvisionImplemented": "agreements",
    "CeasefireLifted": "ceasefires",
    "ViolationAlleged": "allegations",
    "HostilitiesReported": "hostilities",
}
"""The timeline lane of each world event type. Corrections and retractions are facts
about the log: they have no lane, and mark the event they name instead."""

DEFAULT_MAX_ITEMS = 1000
TIMELINE_BUCKETS = 200  # per lane: 9 lanes x 200 counts
GRID = (50, 20)  # valid x recorded cells of the knowledge chart: at most 1,000
BACK_DATED = timedelta(days=1)
"""How far behind what the log already knew a report must reach to count as back-dated
(less is the ordinary order in which same-day news arrives)."""

FLAGS = ("disputed", "corrected", "retracted")

Axis = Literal["recorded", "reported"]
"""The knowledge chart's vertical axis: when the log recorded an event, or when it was
reported (``domain.reported``)."""

# A world event's interval end, by position (None: it is an instant or a day).
Untils = Callable[[Sequence[int]], Mapping[int, datetime | None]]


@dataclass(frozen=True, slots=True)
class Chart:
    """The data of both charts for one window of valid time, as known at ``known_at``."""

    negotiation: str
    from_: datetime | None
    to: datetime | None
    as_of: datetime
    known_at: datetime
    position: int | None
    max_items: int
    timeline: dict[str, Any]
    knowledge: dict[str, Any]
    reported_at: datetime | None = None  # the third clock's bound, echoed

    def to_json(self) -> dict[str, Any]:
        raw = {
            "negotiation": self.negotiation,
            "from": self.from_,
            "to": self.to,
            "as_of": self.as_of,
            "known_at": self.known_at,
            "reported_at": self.reported_at,
            "position": self.position,
            "max_items": self.max_items,
            "lanes": LANES,
            "timeline": self.timeline,
            "knowledge": self.knowledge,
        }
        return cast(dict[str, Any], jsonable(raw))


class _Flags:
    """Which events are disputed, corrected or retracted, by position, as known then."""

    def __init__(self, known: Sequence[ChartRow]) -> None:
        self.retracted: set[int] = set()
        self.corrected: set[int] = set()
        disputes: list[tuple[int, int]] = []
        for row in known:
            if row.target is None:
                continue
            if row.type == "EventRetracted":
                self.retracted.add(row.target)
            elif row.type == "EventCorrected":
                self.corrected.add(row.target)
            elif row.type == "ClaimDisputed":
                disputes.append((row.position, row.target))
        # A retracted dispute no longer disputes anything.
        self.disputed = {target for dispute, target in disputes if dispute not in self.retracted}

    def of(self, position: int) -> list[str]:
        marks = (self.disputed, self.corrected, self.retracted)
        return [flag for flag, marked in zip(FLAGS, marks, strict=True) if position in marked]


def reaches_back(rows: Sequence[ChartRow]) -> dict[int, float]:
    """For each event (by position), how many seconds earlier it happened than the latest
    valid time among the events recorded before it; 0 when it was news. Rows come in
    position order, so ``recorded`` never decreases; a batch recorded at one instant is
    one piece of news."""
    latest = ""  # the latest valid key known before the current recorded instant
    pending = ""  # the latest valid key of the batch recorded at ``instant``
    instant = ""
    reached: dict[int, float] = {}
    for row in rows:
        if row.recorded != instant:
            latest, pending, instant = max(latest, pending), "", row.recorded
        pending = max(pending, row.valid)
        if latest and row.valid < latest:
            reached[row.position] = (from_utc_key(latest) - from_utc_key(row.valid)).total_seconds()
    return reached


class _Seconds(dict[str, float]):
    """Index keys as POSIX seconds, each distinct key converted once (a day-precision
    negotiation has a few thousand distinct valid times, and a batch one recorded time)."""

    def __missing__(self, key: str) -> float:
        value = self[key] = from_utc_key(key).timestamp()
        return value


def _instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _timeline(
    chosen: Sequence[ChartRow],
    flags: _Flags,
    untils: Untils,
    window: tuple[float, float],
    max_items: int,
    seconds: _Seconds,
) -> dict[str, Any]:
    if len(chosen) <= max_items:
        until = untils([row.position for row in chosen])
        items = [
            {
                "id": row.event_id,
                "type": row.type,
                "lane": LANE_OF.get(row.type, "rounds"),
                "position": row.position,
                "occurred_at": from_utc_key(row.valid),
                "occurred_until": until.get(row.position),
                "recorded_at": from_utc_key(row.recorded),
                "flags": flags.of(row.position),
            }
            for row in chosen
        ]
        return {"mode": "items", "count": len(chosen), "items": items}
    start, end = window
    width = max(end - start, 1.0) / TIMELINE_BUCKETS
    counts = {lane: [0] * TIMELINE_BUCKETS for lane in LANES}
    flagged = {lane: [0] * TIMELINE_BUCKETS for lane in LANES}
    marked = flags.disputed | flags.corrected | flags.retracted
    for row in chosen:
        bucket = min(int((seconds[row.valid] - start) / width), TIMELINE_BUCKETS - 1)
        lane = LANE_OF.get(row.type, "rounds")
        counts[lane][bucket] += 1
        if row.position in marked:
            flagged[lane][bucket] += 1
    return {
        "mode": "buckets",
        "count": len(chosen),
        "buckets": {
            "start": _instant(start),
            "seconds": width,
            "count": TIMELINE_BUCKETS,
            "lanes": counts,
            "flagged": flagged,
        },
    }


def _knowledge(
    chosen: Sequence[ChartRow],
    every: Sequence[ChartRow],
    flags: _Flags,
    knows: Callable[[ChartRow], bool],
    window: tuple[float, float],
    max_items: int,
    seconds: _Seconds,
    axis: Axis = "recorded",
) -> dict[str, Any]:
    reached = reaches_back(every)
    # The vertical axis: recorded time (never decreasing along positions) or reported.
    vertical: Callable[[ChartRow], str] = (
        (lambda row: row.recorded) if axis == "recorded" else (lambda row: row.reported_key)
    )
    first = every[0].recorded if axis == "recorded" else min(map(vertical, every))
    last = every[-1].recorded if axis == "recorded" else max(map(vertical, every))
    answer: dict[str, Any] = {
        "count": len(chosen),
        "axis": axis,
        f"{axis}_from": from_utc_key(first),
        f"{axis}_to": from_utc_key(last),
        "back_dated_after_seconds": BACK_DATED.total_seconds(),
    }
    if len(chosen) <= max_items:
        by_position = {row.position: row for row in every}
        points = []
        for row in chosen:
            target = by_position.get(row.target) if row.target is not None else None
            points.append(
                {
                    "id": row.event_id,
                    "type": row.type,
                    "position": row.position,
                    "occurred_at": from_utc_key(row.valid),
                    "recorded_at": from_utc_key(row.recorded),
                    "reported_at": from_utc_key(row.reported_key),
                    "reaches_back_seconds": reached.get(row.position, 0.0),
                    "flags": flags.of(row.position) if knows(row) else [],
                    "target": None
                    if target is None
                    else {
                        "id": target.event_id,
                        "occurred_at": from_utc_key(target.valid),
                        "recorded_at": from_utc_key(target.recorded),
                    },
                }
            )
        return {**answer, "mode": "points", "points": points}
    columns, lines = GRID
    start, end = window
    low, high = seconds[first], seconds[last]
    width = max(end - start, 1.0) / columns
    height = max(high - low, 1.0) / lines
    cells: dict[tuple[int, int], list[int]] = {}
    back_dated = BACK_DATED.total_seconds()
    for row in chosen:
        column = min(int((seconds[row.valid] - start) / width), columns - 1)
        line = min(int((seconds[vertical(row)] - low) / height), lines - 1)
        cell = cells.setdefault((column, line), [0, 0])
        cell[0] += 1
        if reached.get(row.position, 0.0) > back_dated:
            cell[1] += 1
    return {
        **answer,
        "mode": "grid",
        "grid": {
            "valid_start": _instant(start),
            "valid_seconds": width,
            "columns": columns,
            f"{axis}_start": _instant(low),
            f"{axis}_seconds": height,
            "lines": lines,
            # [column, line, events, back-dated events], non-empty cells only
            "cells": [[c, r, n, b] for (c, r), (n, b) in sorted(cells.items())],
        },
    }


def chart_of(
    rows: Sequence[ChartRow],
    untils: Untils,
    *,
    slug: str,
    from_: datetime | None,
    to: datetime | None,
    as_of: datetime,
    known_at: datetime,
    max_items: int = DEFAULT_MAX_ITEMS,
    reported_at: datetime | None = None,
    axis: Axis = "recorded",
) -> Chart:
    """Both charts of a negotiation's index rows (in position order) for the valid-time
    window ``[from_, to]`` (None: where its events begin or end), known at ``known_at``
    and reported by ``reported_at`` (None: no bound). The knowledge chart's vertical
    ``axis`` is recorded or reported time.

    ``untils`` gives the interval ends of the timeline items sent one by one.
    """
    if not rows:
        raise NegotiationNotFoundError(slug)
    known = utc_key(known_at)
    reported = None if reported_at is None else utc_key(reported_at)
    low = utc_key(from_) if from_ is not None else min(row.valid for row in rows)
    high = utc_key(to) if to is not None else max(row.valid for row in rows)
    seconds = _Seconds()
    window = (seconds[low], seconds[high])
    in_window = [row for row in rows if low <= row.valid <= high]
    # recorded_at never decreases along positions: the known rows are a prefix.
    cut = bisect.bisect_right([row.recorded for row in rows], known)
    known_rows = (
        rows[:cut] if reported is None else [r for r in rows[:cut] if r.reported_key <= reported]
    )
    counted = {row.position for row in known_rows}

    def knows(row: ChartRow) -> bool:
        return row.position in counted

    flags = _Flags(known_rows)
    on_timeline = [row for row in in_window if knows(row) and row.type not in KNOWLEDGE]
    return Chart(
        negotiation=slug,
        from_=from_ if from_ is not None else from_utc_key(low),
        to=to if to is not None else from_utc_key(high),
        as_of=as_of,
        known_at=known_at,
        reported_at=reported_at,
        position=known_rows[-1].position if known_rows else None,
        max_items=max_items,
        timeline=_timeline(on_timeline, flags, untils, window, max_items, seconds),
        knowledge=_knowledge(in_window, rows, flags, knows, window, max_items, seconds, axis),
    )


def chart(
    log: ConflictLog,
    slug: str,
    *,
    from_: datetime | None = None,
    to: datetime | None = None,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    max_items: int = DEFAULT_MAX_ITEMS,
    reported_at: datetime | None = None,
    axis: Axis = "recorded",
) -> Chart:
    """Both charts of a negotiation, read from the log (``as_of``, ``known_at`` and
    ``reported_at`` default to now, and the last two are clamped to it)."""
    now = datetime.now(UTC)

    def untils(positions: Sequence[int]) -> dict[int, datetime | None]:
        return {record.position or 0: _until(record) for record in log.records_at(positions)}

    return chart_of(
        log.chart_rows(slug, ChartRow),
        untils,
        slug=slug,
        from_=from_,
        to=to,
        as_of=as_of or now,
        known_at=clamped(known_at, now),
        max_items=max_items,
        reported_at=clamped(reported_at, now),
        axis=axis,
    )


def _until(recorded: Recorded) -> datetime | None:
    until = recorded.event.occurred_until
    return None if until is None else end_of_day(until)
