"""What an export of a negotiation at (as_of, known_at) holds, read page by page.

An export holds the events that the state at ``(as_of, known_at)`` folds (DESIGN.md §3):
the world events of the negotiation recorded by ``known_at`` whose valid time begins by
``as_of``, less those retracted by then, each with the corrections known by then
applied, in position order (the order the log recorded them). ``from``, ``to`` and
``type`` narrow it further: an event is kept when its valid time overlaps ``[from,
to]`` (as in the timeline) and its type is one of ``type``. Corrections and
retractions are facts about the log, not rows: each row names the corrections
applied to it and the disputes of it that count, as known at ``known_at``.

The export is fixed when it starts: ``known_at`` (default now) and the negotiation's
last position known then (``ExportHead.position``), which every page is bounded by.
So an export names what repeats it exactly, and appends made while it streams do not
change it. It is read from the store one page at a time (``projections.codes.pages``),
so memory stays one page whatever the negotiation's size, plus the negotiation's
proposals (an answer is coded by its proposal's subject; a few dozen bytes each) and
the topics of its agreements' provisions (an implementation step is coded by them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from domain.coding import Coding, Proposal, coding_for
from domain.events import (
    CODEBOOK,
    EVENT_TYPES,
    KNOWLEDGE,
    AnyEvent,
    ClaimDisputed,
    EventCorrected,
    EventRetracted,
    NegotiationOpened,
    ProposalAnswered,
)
from domain.instants import clamped
from domain.negotiation import Recorded
from domain.values import Actor, end_of_day
from projections.as_of import reported
from projections.codes import (
    corrected_events,
    disputed_events,
    pages,
    read_proposals,
    read_provisions,
)
from store.log import ConflictLog

EXPORT_PAGE = 100
"""Rows an export holds at once. Its page is alive while its client reads it, so every
object of it is walked by each garbage collection the process makes: eight exports of
1,000-row pages (``PAGE``) held a million objects, and a full collection took 0.6 s with
the GIL held (issue 15). A tenth of that costs nothing measurable: a 10,000-event NDJSON
export took 1.8 s at either size."""

WORLD_TYPES = tuple(sorted(set(EVENT_TYPES) - KNOWLEDGE))
"""The types an export can hold: every type but the facts about the log."""


@dataclass(frozen=True)
class ExportQuery:
    """What to export: one negotiation at (as_of, known_at, reported_at), narrowed by
    valid time and type. None times mean the moment the export starts; a ``known_at``
    or ``reported_at`` later than that is clamped to it."""

    negotiation: str
    as_of: datetime | None = None
    known_at: datetime | None = None
    from_: datetime | None = None
    to: datetime | None = None
    types: tuple[str, ...] = ()
    reported_at: datetime | None = None


@dataclass(frozen=True)
class ExportHead:
    """What an export names first, so anyone can repeat it exactly."""

    negotiation: str
    title: str
    parties: tuple[Actor, ...]
    as_of: datetime
    known_at: datetime
    from_: datetime | None
    to: datetime | None
    types: tuple[str, ...]
    position: int | None  # the negotiation's last position known at known_at
    codebook: str = CODEBOOK
    reported_at: datetime | None = None  # None only for heads made before the third clock


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One exported event: as stored (``record``) and as known (``event``, corrected)."""

    record: Recorded
    event: AnyEvent
    coding: Coding  # of ``event``, as known
    recorded_coding: Coding  # of the event as stored (differs only if corrected)
    disputes: tuple[Recorded, ...]  # the disputes of it that count, known at known_at
    corrections: tuple[Recorded, ...]  # applied to ``event``, in position order
    proposal: Proposal | None = None  # for an answer: the proposal it answers
    disputed: AnyEvent | None = None  # for a dispute: the event it disputes, as known

    @property
    def disputed_by(self) -> list[UUID]:
        return [d.event.id for d in self.disputes]

    @property
    def corrected_by(self) -> list[UUID]:
        return [c.event.id for c in self.corrections]


class ExportTypeError(ValueError):
    """An export asked for a type that no export holds."""

    def __init__(self, unknown: Sequence[str]) -> None:
        super().__init__(
            f"unknown or unexportable event type(s) {', '.join(unknown)}; "
            f"an export holds {', '.join(WORLD_TYPES)}"
        )
        self.unknown = list(unknown)


def start(log: ConflictLog, query: ExportQuery) -> tuple[ExportHead, Iterator[ExportRow]]:
    """The export's head, fixed now, and its rows, read from the store as they are asked
    for. Raises ``NegotiationNotFoundError`` (before any row) for an unknown slug, and
    ``ExportTypeError`` for a type no export holds."""
    unknown = [t for t in query.types if t not in WORLD_TYPES]
    if unknown:
        raise ExportTypeError(unknown)
    slug = query.negotiation
    log.summary(slug)  # raises NegotiationNotFoundError
    now = datetime.now(UTC)
    as_of = query.as_of or now
    known_at, reported_at = clamped(query.known_at, now), clamped(query.reported_at, now)
    opened = log.opening(slug).event
    assert isinstance(opened, NegotiationOpened)
    head = ExportHead(
        negotiation=slug,
        title=opened.data.title,
        parties=tuple(opened.data.parties),
        as_of=as_of,
        known_at=known_at,
        from_=query.from_,
        to=query.to,
        types=tuple(query.types),
        position=log.last_known_position(slug, known_at),
        reported_at=reported_at,
    )
    return head, _rows(log, head)


def _rows(log: ConflictLog, head: ExportHead) -> Iterator[ExportRow]:
    if head.position is None:
        return
    known, upto, reported = head.known_at, head.position, head.reported_at
    answers = not head.types or "ProposalAnswered" in head.types
    proposals = (
        read_proposals(
            log, head.negotiation, recorded_lte=known, reported_lte=reported, upto_position=upto
        )
        if answers
        else {}
    )
    implemented = not head.types or "ProvisionImplemented" in head.types
    provisions = (
        read_provisions(log, head.negotiation, recorded_lte=known, upto_position=upto)
        if implemented
        else {}
    )
    valid_lte = head.as_of if head.to is None else min(head.as_of, head.to)
    for batch in pages(
        log,
        head.negotiation,
        types=head.types or WORLD_TYPES,
        valid_lte=valid_lte,
        recorded_lte=known,
        reported_lte=reported,
        upto_position=upto,
        page=EXPORT_PAGE,
    ):
        events, about = corrected_events(
            log, batch, recorded_lte=known, reported_lte=reported, upto_position=upto
        )
        retracted = _retracted(log, batch, about, head)
        counting = _counting_disputes(log, about, head, retracted)
        targets = disputed_events(log, events, recorded_lte=known, upto_position=upto)
        facts: dict[UUID | None, list[Recorded]] = {}
        for fact in about:
            facts.setdefault(fact.event.subject_id, []).append(fact)
        for record, event in zip(batch, events, strict=True):
            if record.event.id in retracted:
                continue
            if (
                head.from_ is not None
                and end_of_day(event.occurred_until or event.occurred_at) < head.from_
            ):
                continue
            mine = facts.get(event.id, [])
            corrections = tuple(f for f in mine if isinstance(f.event, EventCorrected))
            coding = coding_for(event, proposals, provisions)
            yield ExportRow(
                record=record,
                event=event,
                coding=coding,
                recorded_coding=coding_for(record.event, proposals, provisions)
                if corrections
                else coding,
                disputes=tuple(f for f in mine if f.event.id in counting),
                corrections=corrections,
                proposal=proposals.get(event.data.proposal_id)
                if isinstance(event, ProposalAnswered)
                else None,
                disputed=targets.get(event.data.event_id)
                if isinstance(event, ClaimDisputed)
                else None,
            )


def _retracted(
    log: ConflictLog,
    batch: Sequence[Recorded],
    about: Sequence[Recorded],
    head: ExportHead,
) -> set[UUID]:
    """The events of ``batch`` that no longer count as known then: retracted, or
    disputes whose disputed claim (or its own disputed claim, and so on) is retracted."""
    gone = {f.event.subject_id for f in about if isinstance(f.event, EventRetracted)}
    # A dispute goes with the claim it disputes: follow each dispute's chain of targets
    # outside this page, a level per query, until a retraction or a non-dispute.
    chains = {
        r.event.id: r.event.data.event_id
        for r in batch
        if isinstance(r.event, ClaimDisputed) and r.event.id not in gone
    }
    seen: set[UUID] = set()
    while chains:
        targets = sorted(set(chains.values()) - seen, key=str)
        seen.update(targets)
        facts = log.records_about_any(
            targets,
            recorded_lte=head.known_at,
            reported_lte=head.reported_at,
            upto_position=head.position,
        )
        retracted_targets = {
            f.event.subject_id for f in facts if isinstance(f.event, EventRetracted)
        }
        next_targets: dict[UUID, UUID] = {}
        # Only a target known then continues a chain, as in the as-of reference.
        found = {r.event.id: r.event for r in log.records_by_ids(targets) if _known(r, head)}
        for dispute, target in chains.items():
            if target in retracted_targets or target in gone:
                gone.add(dispute)
                continue
            event = found.get(target)
            if isinstance(event, ClaimDisputed) and event.data.event_id not in seen:
                next_targets[dispute] = event.data.event_id
        chains = next_targets
    return {r.event.id for r in batch if r.event.id in gone}


def _known(record: Recorded, head: ExportHead) -> bool:
    """Whether the export's head knows the record: recorded, reported and placed by then."""
    return (
        record.recorded_at <= head.known_at
        and (head.reported_at is None or reported(record) <= head.reported_at)
        and (head.position is None or (record.position or 0) <= head.position)
    )


def _counting_disputes(
    log: ConflictLog,
    about: Sequence[Recorded],
    head: ExportHead,
    retracted: set[UUID],
) -> set[UUID]:
    """The disputes among ``about`` that count: folded by the state (begun by as_of)
    and not retracted themselves, as known then."""
    disputes = [
        f for f in about if isinstance(f.event, ClaimDisputed) and f.event.valid_from <= head.as_of
    ]
    if not disputes:
        return set()
    facts = log.records_about_any(
        [d.event.id for d in disputes],
        recorded_lte=head.known_at,
        reported_lte=head.reported_at,
        upto_position=head.position,
    )
    withdrawn = {f.event.subject_id for f in facts if isinstance(f.event, EventRetracted)}
    return {d.event.id for d in disputes if d.event.id not in withdrawn | retracted}


__all__ = [
    "WORLD_TYPES",
    "ExportHead",
    "ExportQuery",
    "ExportRow",
    "ExportTypeError",
    "start",
]
