"""The global log: every negotiation's events in position order, and one event by id."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from api.http.deps import CanRead, LogDep
from api.http.filters import SearchDep, TypeFilter, types_of
from api.http.responses import json_bytes
from api.http.routes.negotiations import event_page
from api.invalid import InvalidRequestError
from api.parsing import MAX_VERSION, instant, known_instant
from api.schemas import EventDetailOut, LogPage, event_detail_json
from domain.negotiation import SLUG
from projections.codes import codings

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", response_model=LogPage, dependencies=[CanRead])
def global_log(
    log: LogDep,
    request: Request,
    after: Annotated[int, Query(ge=0, le=MAX_VERSION, description="position to read after")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    type: TypeFilter = None,
    negotiation: Annotated[str | None, Query(description="one negotiation's events")] = None,
    as_of: Annotated[str | None, Query(description="valid time: occurred_at <= as_of")] = None,
    known_at: Annotated[
        str | None, Query(description="recorded time: recorded_at <= known_at (at most now)")
    ] = None,
    reported_at: Annotated[
        str | None,
        Query(description="reported time: reported by reported_at (at most now); default: any"),
    ] = None,
    search: SearchDep = None,
) -> Response:
    """Events of every negotiation after a position, in position order; filtered by
    type, negotiation, valid, recorded and reported time (``as_of``, ``known_at``,
    ``reported_at``: the events known at ``known_at`` and reported by ``reported_at`` that
    occurred by ``as_of``; the last two clamped to now), actor, region, outlet, recorder and text.
    Every filter must match; ``next`` keeps them."""
    if negotiation is not None and not SLUG.match(negotiation):
        raise InvalidRequestError(
            [{"field": "negotiation", "message": "not a negotiation's slug", "value": negotiation}]
        )
    records = log.global_log(
        after=after,
        limit=limit,
        types=types_of(type),
        negotiation=negotiation,
        valid_lte=instant(as_of, "as_of") if as_of else None,
        recorded_lte=known_instant(known_at, "known_at") if known_at else None,
        reported_lte=known_instant(reported_at, "reported_at") if reported_at else None,
        search=search,
    )
    # As the live stream sends them (GET /events/stream): the log as stored, uncoded.
    return event_page(records, request, limit, after=records[-1].position or 0 if records else 0)


@router.get("/{event_id}", response_model=EventDetailOut, dependencies=[CanRead])
def one_event(event_id: UUID, log: LogDep) -> Response:
    """One event with its CAMEO and PLOVER coding, and the disputes, corrections and
    retractions that name it."""
    record = log.event(event_id)
    [coding] = codings(log, [record])
    return json_bytes(event_detail_json(record, log.about(event_id), coding))
