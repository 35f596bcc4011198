"""The global log: every negotiation's events in position order, and one event by id."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from api.deps import CanRead, LogDep
from api.parsing import MAX_VERSION
from api.responses import json_bytes
from api.routes.negotiations import TypeFilter, event_page, types_of
from api.schemas import EventDetailOut, LogPage, event_detail_json
from projections.codes import codings

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", response_model=LogPage, dependencies=[CanRead])
def global_log(
    log: LogDep,
    request: Request,
    after: Annotated[int, Query(ge=0, le=MAX_VERSION, description="position to read after")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    type: TypeFilter = None,
) -> Response:
    """Events of every negotiation after a position, filtered by type."""
    records = log.global_log(after=after, limit=limit, types=types_of(type))
    # As the live stream sends them (GET /events/stream): the log as stored, uncoded.
    last = records[-1].position or 0 if records else 0
    return event_page(records, request, limit, after=last)


@router.get("/{event_id}", response_model=EventDetailOut, dependencies=[CanRead])
def one_event(event_id: UUID, log: LogDep) -> Response:
    """One event with its CAMEO and PLOVER coding, and the disputes, corrections and
    retractions that name it."""
    record = log.event(event_id)
    [coding] = codings(log, [record])
    return json_bytes(event_detail_json(record, log.about(event_id), coding))
