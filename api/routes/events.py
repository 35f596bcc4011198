"""The global log: every negotiation's events in position order, and one event by id."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from api.deps import CanRead, LogDep
from api.parsing import MAX_VERSION
from api.responses import json_bytes
from api.routes.negotiations import TypeFilter, event_page, types_of
from api.schemas import EventDetailOut, EventPage, events_json
from store.codec import answer_json

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", response_model=EventPage, dependencies=[CanRead])
def global_log(
    log: LogDep,
    request: Request,
    after: Annotated[int, Query(ge=0, le=MAX_VERSION, description="position to read after")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    type: TypeFilter = None,
) -> Response:
    """Events of every negotiation after a position, filtered by type."""
    records = log.global_log(after=after, limit=limit, types=types_of(type))
    return event_page(records, request, limit, after=records[-1].position or 0 if records else 0)


@router.get("/{event_id}", response_model=EventDetailOut, dependencies=[CanRead])
def one_event(event_id: UUID, log: LogDep) -> Response:
    """One event with the disputes, corrections and retractions that name it."""
    record = log.event(event_id)
    about = log.about(event_id)

    def of(kind: str) -> bytes:
        return events_json([r for r in about if r.type == kind])

    return json_bytes(
        answer_json(record)[:-1]
        + b',"disputes":'
        + of("ClaimDisputed")
        + b',"corrections":'
        + of("EventCorrected")
        + b',"retractions":'
        + of("EventRetracted")
        + b"}"
    )
