"""CAMEO and PLOVER codes of stored events, with what a code needs from the rest of the log.

``domain.coding`` codes an event by what it says. A ``ProposalAnswered`` does not say
what the proposal was about, so its code needs the ``subject`` of the proposal it
answers, which only that proposal's ``ProposalMade`` says: ``read_proposals`` reads a
negotiation's proposals from the store, with the corrections known by a moment
applied, so an answer is coded by what the proposal is known to have offered. A
``ProvisionImplemented`` names its provision by id, and is coded by the topic that its
agreement's texts give it (``read_provisions``), read the same way.

The event answers (``GET /events/{id}``, a negotiation's events) code each event as
it was recorded, beside the data they show; the timeline and the exports code it as
corrected by their ``known_at``, beside the corrected data they show. The global log
and the live stream stay the log as stored, uncoded.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from uuid import UUID

from domain.coding import (
    Coding,
    Proposal,
    ProvisionKey,
    coding_for,
    proposals_of,
    provisions_of,
)
from domain.events import (
    AnyEvent,
    ClaimDisputed,
    EventCorrected,
    ProvisionTopic,
)
from domain.negotiation import Recorded
from projections.as_of import Knowledge, correct
from store.log import ConflictLog

PAGE = 1000
"""Events read from the store at once by the readers that page through a negotiation."""


def pages(
    log: ConflictLog,
    slug: str,
    *,
    types: Sequence[str] = (),
    valid_lte: datetime | None = None,
    recorded_lte: datetime | None = None,
    upto_position: int | None = None,
    page: int = PAGE,
    reported_lte: datetime | None = None,
) -> Iterator[list[Recorded]]:
    """A negotiation's events in version (and so position) order, ``page`` at a time,
    filtered in the store, and none after ``upto_position``: memory stays one page."""
    after = 0
    while True:
        batch = log.records(
            negotiation=slug,
            after_version=after,
            types=types,
            valid_lte=valid_lte,
            recorded_lte=recorded_lte,
            reported_lte=reported_lte,
            limit=page,
        )
        if upto_position is not None:
            batch = [r for r in batch if (r.position or 0) <= upto_position]
        if batch:
            yield batch
        if len(batch) < page:
            return
        after = batch[-1].version


def corrected_events(
    log: ConflictLog,
    records: Sequence[Recorded],
    *,
    recorded_lte: datetime | None = None,
    upto_position: int | None = None,
    reported_lte: datetime | None = None,
) -> tuple[list[AnyEvent], list[Recorded]]:
    """``records``' events with the corrections known by ``recorded_lte`` (and reported
    by ``reported_lte``) applied (in position order, as the as-of reference applies
    them), and every dispute, correction and retraction of them known then."""
    about = log.records_about_any(
        [r.event.id for r in records],
        recorded_lte=recorded_lte,
        reported_lte=reported_lte,
        upto_position=upto_position,
    )
    events = {r.event.id: r.event for r in records}
    for fact in about:
        event = fact.event
        if isinstance(event, EventCorrected) and event.data.event_id in events:
            target = event.data.event_id
            events[target] = correct(events[target], event.data.data)
    return [events[r.event.id] for r in records], about


def standing(events: Sequence[AnyEvent], about: Sequence[Recorded]) -> list[AnyEvent]:
    """``events`` that still count by their log facts ``about`` them (``Knowledge.counts``):
    a retracted proposal or agreement text was, the log says, never made, so it gives no
    subject or topic to code by (as it gives the state none)."""
    knowledge = Knowledge(about)
    return [e for e in events if knowledge.counts(e.id)]


def read_proposals(
    log: ConflictLog,
    slug: str,
    *,
    recorded_lte: datetime | None = None,
    upto_position: int | None = None,
    reported_lte: datetime | None = None,
) -> dict[str, Proposal]:
    """A negotiation's proposals known by ``recorded_lte``, corrected as known then.

    Kept whole while an export runs: a few dozen bytes per proposal, not per event.
    """
    found: dict[str, Proposal] = {}
    for batch in pages(
        log,
        slug,
        types=["ProposalMade"],
        recorded_lte=recorded_lte,
        reported_lte=reported_lte,
        upto_position=upto_position,
    ):
        events, about = corrected_events(
            log,
            batch,
            recorded_lte=recorded_lte,
            reported_lte=reported_lte,
            upto_position=upto_position,
        )
        for proposal_id, proposal in proposals_of(standing(events, about)).items():
            found.setdefault(proposal_id, proposal)
    return found


AGREEMENT_TEXTS = ("AgreementReached", "AgreementSigned")
"""The types that list an agreement's provisions."""


def read_provisions(
    log: ConflictLog,
    slug: str,
    *,
    recorded_lte: datetime | None = None,
    upto_position: int | None = None,
) -> dict[ProvisionKey, ProvisionTopic]:
    """The topics of a negotiation's provisions known by ``recorded_lte``, corrected as
    known then, by (agreement id, provision id); a later text's topic wins."""
    found: dict[ProvisionKey, ProvisionTopic] = {}
    for batch in pages(
        log,
        slug,
        types=AGREEMENT_TEXTS,
        recorded_lte=recorded_lte,
        upto_position=upto_position,
    ):
        events, about = corrected_events(
            log, batch, recorded_lte=recorded_lte, upto_position=upto_position
        )
        found.update(provisions_of(standing(events, about)))
    return found


def disputed_events(
    log: ConflictLog,
    events: Sequence[AnyEvent],
    *,
    recorded_lte: datetime | None = None,
    upto_position: int | None = None,
) -> dict[UUID, AnyEvent]:
    """The events that the disputes among ``events`` dispute, by id, corrected as known
    by ``recorded_lte``: an export names a denial's recipient, the disputed claim's
    author, from them. One query for a page of events."""
    targets = sorted({e.data.event_id for e in events if isinstance(e, ClaimDisputed)}, key=str)
    if not targets:
        return {}
    records = [
        r
        for r in log.records_by_ids(targets)
        if upto_position is None or (r.position or 0) <= upto_position
    ]
    found, _ = corrected_events(
        log, records, recorded_lte=recorded_lte, upto_position=upto_position
    )
    return {e.id: e for e in found}


def codings(log: ConflictLog, records: Sequence[Recorded]) -> list[Coding]:
    """The codings of stored events as recorded, for an answer that shows them; the
    proposals of each negotiation with an answer among them, and the provisions of
    each with an implementation step, are read once (their ids are unique within a
    negotiation only)."""
    answered = sorted({r.negotiation for r in records if r.type == "ProposalAnswered"})
    proposals = {slug: read_proposals(log, slug) for slug in answered}
    implemented = sorted({r.negotiation for r in records if r.type == "ProvisionImplemented"})
    provisions = {slug: read_provisions(log, slug) for slug in implemented}
    return [
        coding_for(r.event, proposals.get(r.negotiation, {}), provisions.get(r.negotiation))
        for r in records
    ]
