"""The global log: every negotiation's events in position order, and one event by id."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request

from api.deps import CanRead, LogDep
from api.routes.negotiations import TypeFilter, types_of
from api.schemas import EventDetailOut, EventPage, event_out

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", response_model=EventPage, dependencies=[CanRead])
def global_log(
    log: LogDep,
    request: Request,
    after: Annotated[int, Query(ge=0, description="position to read after")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    type: TypeFilter = None,
) -> dict[str, Any]:
    """Events of every negotiation after a position, filtered by type."""
    records = log.global_log(after=after, limit=limit, types=types_of(type))
    next_url = None
    if len(records) == limit:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "after"]
        params.append(("after", str(records[-1].position)))
        next_url = f"{request.url.path}?" + "&".join(f"{k}={v}" for k, v in params)
    return {"events": [event_out(r) for r in records], "next": next_url}


@router.get("/{event_id}", response_model=EventDetailOut, dependencies=[CanRead])
def one_event(event_id: UUID, log: LogDep) -> dict[str, Any]:
    """One event with the disputes, corrections and retractions that name it."""
    record = log.event(event_id)
    about = log.about(event_id)
    return {
        **event_out(record),
        "disputes": [event_out(r) for r in about if r.event.type == "ClaimDisputed"],
        "corrections": [event_out(r) for r in about if r.event.type == "EventCorrected"],
        "retractions": [event_out(r) for r in about if r.event.type == "EventRetracted"],
    }
