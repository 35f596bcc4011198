"""The timeline (what was said, along valid time) and the diff (what changed between two times).

The timeline lists every world event known at ``known_at`` in ``(valid_from,
position)`` order, disputes included, with its data as corrected by then and the log
facts about it: who disputes it, which corrections and which retraction apply. A
retracted event stays, flagged: a timeline is a record of what was said. The diff
compares the state at two valid times under one knowledge horizon, and names for
each round, proposal, security zone and ceasefire added or changed the events that
changed it in between.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar, cast
from uuid import UUID

from domain.coding import Coding, coding_for, proposals_of, provisions_of
from domain.events import AnyEvent, ClaimDisputed
from domain.negotiation import Recorded
from domain.values import end_of_day
from projections.as_of import (
    Knowledge,
    check_instant,
    is_world_event,
    naive_state,
    record_position,
    reported,
)
from projections.state import Dispute, EventIds, Item, State, jsonable


@dataclass(frozen=True, slots=True)
class TimelineEntry(Item):
    """A world event as known at the timeline's ``known_at`` (``event`` is corrected)."""

    event: AnyEvent
    position: int
    recorded_at: datetime
    disputed_by: tuple[Dispute, ...]
    corrected_by: EventIds
    retracted_by: UUID | None
    recorded_by: str | None  # the token that appended it (None before named tokens)
    coding: Coding  # of ``event`` as corrected
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def raw(self) -> dict[str, Any]:
        event = self.event
        return {
            "id": event.id,
            "type": event.type,
            "occurred_at": event.occurred_at,
            "occurred_until": event.occurred_until,
            "precision": event.precision,
            "position": self.position,
            "recorded_at": self.recorded_at,
            "recorded_by": self.recorded_by,
            "data": event.data,
            "sources": event.sources,
            "asserted_by": event.asserted_by,
            "disputed_by": [dispute.raw() for dispute in self.disputed_by],
            "corrected_by": self.corrected_by,
            "retracted_by": self.retracted_by,
            "coding": self.coding.as_json(),
        }


@dataclass(frozen=True, slots=True)
class Timeline:
    """The dated events from ``from_`` to ``to`` (None: unbounded), known at ``known_at``."""

    from_: datetime | None
    to: datetime | None
    known_at: datetime | None
    position: int | None
    events: tuple[TimelineEntry, ...]
    total: int = -1  # the entries in the window, of which ``events`` may be the latest
    reported_at: datetime | None = None  # the third clock's bound, echoed

    def latest(self, count: int) -> Timeline:
        """Only the latest ``count`` entries in valid time; ``total`` still counts all,
        and ``position`` is the highest of those kept."""
        kept = self.events[-count:]
        position = max((entry.position for entry in kept), default=None)
        return replace(self, events=kept, total=len(self.events), position=position)

    def to_json(self) -> dict[str, Any]:
        raw = {
            **_window(self),
            "total": len(self.events) if self.total < 0 else self.total,
            "events": [entry.raw() for entry in self.events],
        }
        return cast(dict[str, Any], jsonable(raw))


def timeline(
    records: Iterable[Recorded],
    from_: datetime | None = None,
    to: datetime | None = None,
    known_at: datetime | None = None,
    reported_at: datetime | None = None,
) -> Timeline:
    """The world events whose valid time overlaps ``[from_, to]``, known at ``known_at``
    and reported by ``reported_at`` (each record by its own reported time).

    An event overlaps when it begins by ``to`` and ends (``occurred_until``, or its own
    time; a date lasts the whole day) at or after ``from_``. Disputes, corrections and
    retractions are those recorded by ``known_at``; a retracted dispute no longer
    disputes anything.
    """
    bounds = (("from", from_), ("to", to), ("known_at", known_at), ("reported_at", reported_at))
    for name, value in bounds:
        if value is not None:
            check_instant(value, name)
    known = sorted(
        (
            r
            for r in records
            if (known_at is None or r.recorded_at <= known_at)
            and (reported_at is None or reported(r) <= reported_at)
        ),
        key=record_position,
    )
    knowledge = Knowledge(known)
    disputes: dict[UUID, list[Dispute]] = {}
    for recorded in known:
        dispute = knowledge.events[recorded.event.id]
        if isinstance(dispute, ClaimDisputed) and dispute.id not in knowledge.retracted_by:
            disputes.setdefault(dispute.data.event_id, []).append(
                Dispute(dispute.id, dispute.data.disputed_by, dispute.data.counter_claim)
            )
    chosen = [
        r
        for r in known
        if is_world_event(r.event)
        and (to is None or r.event.valid_from <= to)
        and (from_ is None or end_of_day(r.event.occurred_until or r.event.occurred_at) >= from_)
    ]
    chosen.sort(key=lambda r: (r.event.valid_from, record_position(r)))
    # An answer is coded by the subject of its proposal, and an implementation step by
    # its provision's topic, as known then: a retracted proposal or text gives none.
    standing = [e for event_id, e in knowledge.events.items() if knowledge.counts(event_id)]
    proposals = proposals_of(standing)
    provisions = provisions_of(standing)
    entries = tuple(
        TimelineEntry(
            event=knowledge.events[r.event.id],
            position=record_position(r),
            recorded_at=r.recorded_at,
            disputed_by=tuple(disputes.get(r.event.id, ())),
            corrected_by=tuple(knowledge.corrected_by.get(r.event.id, ())),
            retracted_by=knowledge.retracted_by.get(r.event.id),
            recorded_by=r.recorded_by,
            coding=coding_for(knowledge.events[r.event.id], proposals, provisions),
        )
        for r in chosen
    )
    position = max((entry.position for entry in entries), default=None)
    return Timeline(
        from_=from_,
        to=to,
        known_at=known_at,
        position=position,
        events=entries,
        reported_at=reported_at,
    )


class _Made(Protocol):
    @property
    def events(self) -> EventIds: ...

    def raw(self) -> dict[str, Any]: ...

    def to_json(self) -> dict[str, Any]: ...


_ItemT = TypeVar("_ItemT", bound=_Made)


@dataclass(frozen=True, slots=True)
class Change(Item):
    """One state item added or changed between two valid times, and the events that did it."""

    identity: Mapping[str, Any]
    change: Literal["added", "changed"]
    before: _Made | None
    after: _Made
    events: EventIds
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def raw(self) -> dict[str, Any]:
        return {
            **self.identity,
            "change": self.change,
            # Whole JSON, not ``raw()``: an item's raw fields may hold items (a proposal's
            # answers), which pydantic would serialise with their cache slot (``_json``).
            "before": None if self.before is None else self.before.to_json(),
            "after": self.after.to_json(),
            "events": self.events,
        }


@dataclass(frozen=True, slots=True)
class Diff:
    """What changed in the state from valid time ``from_`` to ``to``, known at ``known_at``."""

    from_: datetime | None
    to: datetime | None
    known_at: datetime | None
    position: int | None
    rounds: tuple[Change, ...]
    proposals: tuple[Change, ...]
    security_zones: tuple[Change, ...]
    ceasefires: tuple[Change, ...]
    reported_at: datetime | None = None  # the third clock's bound, echoed

    def to_json(self) -> dict[str, Any]:
        raw = {
            **_window(self),
            "rounds": [change.raw() for change in self.rounds],
            "proposals": [change.raw() for change in self.proposals],
            "security_zones": [change.raw() for change in self.security_zones],
            "ceasefires": [change.raw() for change in self.ceasefires],
        }
        return cast(dict[str, Any], jsonable(raw))


def _changes(
    before: Sequence[_ItemT],
    after: Sequence[_ItemT],
    key: Callable[[_ItemT], Hashable],
    identity: Callable[[_ItemT], dict[str, Any]],
) -> tuple[Change, ...]:
    earlier = {key(item): item for item in before}
    changes: list[Change] = []
    for item in after:
        previous = earlier.get(key(item))
        if previous == item:
            continue
        # With one knowledge horizon, a later state only adds events to an item, so
        # the ones it did not have before are those of the interval.
        seen = set(previous.events) if previous is not None else set()
        changes.append(
            Change(
                identity=identity(item),
                change="added" if previous is None else "changed",
                before=previous,
                after=item,
                events=tuple(event_id for event_id in item.events if event_id not in seen),
            )
        )
    return tuple(changes)


def diff_states(before: State, after: State) -> Diff:
    """What changed from ``before`` to ``after``: two states of one negotiation and horizon."""
    if before.negotiation != after.negotiation:
        raise ValueError("a diff compares two states of the same negotiation")
    if before.known_at != after.known_at or before.reported_at != after.reported_at:
        raise ValueError("a diff compares two valid times under one known_at and reported_at")
    if before.as_of is not None and after.as_of is not None and before.as_of > after.as_of:
        raise ValueError("from must not be later than to")
    return Diff(
        from_=before.as_of,
        to=after.as_of,
        known_at=after.known_at,
        reported_at=after.reported_at,
        position=after.position,
        rounds=_changes(
            before.rounds, after.rounds, lambda r: r.round, lambda r: {"round": r.round}
        ),
        proposals=_changes(
            before.proposals,
            after.proposals,
            lambda p: p.proposal_id,
            lambda p: {"proposal_id": p.proposal_id},
        ),
        security_zones=_changes(
            before.security_zones,
            after.security_zones,
            lambda z: z.key,
            lambda z: {"declared_by": z.declared_by, "regions": z.regions},
        ),
        ceasefires=_changes(
            before.ceasefires,
            after.ceasefires,
            lambda c: c.events[0],
            lambda c: {"event_id": c.events[0]},
        ),
    )


def diff(
    records: Iterable[Recorded],
    from_: datetime,
    to: datetime,
    known_at: datetime,
    *,
    slug: str | None = None,
    reported_at: datetime | None = None,
) -> Diff:
    """What changed between valid times ``from_`` (excluded) and ``to`` (included).

    Both states are those known at ``known_at``; ``slug`` defaults to the records'
    negotiation.
    """
    if from_ > to:
        raise ValueError("from must not be later than to")
    records = list(records)
    negotiation = slug or (records[0].negotiation if records else "")
    return diff_states(
        naive_state(records, negotiation, from_, known_at, reported_at),
        naive_state(records, negotiation, to, known_at, reported_at),
    )


def _window(answer: Timeline | Diff) -> dict[str, Any]:
    """The valid times and the knowledge an answer is for, and the position it reflects."""
    return {
        "from": answer.from_,
        "to": answer.to,
        "known_at": answer.known_at,
        "reported_at": answer.reported_at,
        "position": answer.position,
    }
