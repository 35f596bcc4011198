"""The EventSourcingDB-compatible API (v1) under /api/v1, beside Parley's own.

It answers the subset of EventSourcingDB's HTTP API that its official SDKs use, so an
EventSourcingDB client can append to a negotiation with preconditions, read it and
follow the log live. The mapping and the wire format are in api/esdb/wire.py; the
requests in api/esdb/requests.py; the work on the log in api/esdb/service.py. API v2
stays unrouted: an SDK that pings /api/v2/system/ping gets a 404 and speaks v1.

Tokens and scopes are Parley's: a token with the ``append`` scope writes (and is
recorded as each event's ``recorded_by``), any token reads, and reads are open when no
PARLEY_READ_TOKEN is set. A token that is sent must be known and not revoked, as
EventSourcingDB has it, so a client with a wrong token learns it on its first call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from api.esdb import service as esdb_log
from api.esdb.requests import (
    ObserveEventsIn,
    ReadEventsIn,
    ReadEventTypeIn,
    ReadSubjectsIn,
    RegisterEventSchemaIn,
    WriteEvents,
    WriteEventsIn,
    parse_body,
    plan_write,
)
from api.esdb.wire import (
    HEARTBEAT_SECONDS,
    NDJSON,
    EsdbError,
    EsdbRoute,
    api_event,
    event_type_info,
    line,
    parley_type,
)
from api.http.deps import Appender, Authenticated, CanAppend, CanRead, LogDep, SettingsDep
from api.http.openapi import TEXT_PROBLEMS, json_body
from api.http.routes.negotiations import STATEMENT_EXAMPLE
from domain.events import EVENT_TYPES
from projections.tail import LogTail

router = APIRouter(
    prefix="/api/v1", tags=["eventsourcingdb"], route_class=EsdbRoute, responses=TEXT_PROBLEMS
)

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def require_token(identity: Authenticated) -> None:
    """verify-api-token: the token must be one of Parley's (any scope)."""
    if identity is None:
        raise HTTPException(401, "the bearer token is not recognised", _CHALLENGE)


# Reads as Parley's own: open without PARLEY_READ_TOKEN, but a token that is sent must
# be known (``authenticate``), as EventSourcingDB has it.
CanReadEsdb = CanRead


class NdjsonResponse(StreamingResponse):
    """NDJSON lines; as a route's ``response_class`` it names the media type in the
    OpenAPI document."""

    media_type = NDJSON


def _ndjson(lines: AsyncIterator[bytes] | Iterator[bytes]) -> StreamingResponse:
    return NdjsonResponse(lines, headers=_STREAM_HEADERS)


@router.get("/ping")
def ping() -> JSONResponse:
    """Is the server up? Needs no token."""
    return JSONResponse(api_event("ping-received", "/api/ping"))


@router.post("/verify-api-token", dependencies=[Depends(require_token)])
def verify_api_token() -> JSONResponse:
    """Is the bearer token one of Parley's? 401 when it is not."""
    return JSONResponse(api_event("api-token-verified", "/api/verify-api-token"))


@router.post(
    "/write-events",
    openapi_extra=json_body(
        WriteEvents,
        "candidates of one negotiation, and preconditions on it",
        example={
            "events": [
                {
                    "source": "https://desk.example.org",
                    "subject": "/negotiations/istanbul-2025",
                    "type": "io.parley.StatementIssued",
                    "data": {k: v for k, v in STATEMENT_EXAMPLE.items() if k != "type"},
                }
            ]
        },
    ),
)
async def write_events(request: Request, log: LogDep, recorder: Appender) -> JSONResponse:
    """Append events to one negotiation, atomically, if the preconditions hold.

    Candidates are `{source, subject: /negotiations/{slug}, type: io.parley.{Type},
    data}`; `data` is a Parley event without `type`. Preconditions: `isSubjectPristine`,
    `isSubjectPopulated`, `isSubjectOnEventId`, on the subject written to. The answer
    is the stored events; a failed precondition is 409 `state conflict: precondition
    failed…`.
    """
    plan = plan_write(parse_body(WriteEventsIn, await request.body()))
    return JSONResponse(await esdb_log.write(log, plan, recorded_by=recorder.name))


@router.post(
    "/read-events",
    dependencies=[CanReadEsdb],
    response_class=NdjsonResponse,
    openapi_extra=json_body(ReadEventsIn, "a subject and how to read it"),
)
async def read_events(request: Request, log: LogDep) -> StreamingResponse:
    """A subject's events as NDJSON: `recursive`, `order`, `lowerBound`, `upperBound`,
    `fromLatestEvent`. `/negotiations` or `/` with `recursive` read every negotiation."""
    plan = await esdb_log.plan_read(log, parse_body(ReadEventsIn, await request.body()))
    return _ndjson(esdb_log.read_lines(log, plan))


@router.post(
    "/observe-events",
    dependencies=[CanReadEsdb],
    response_class=NdjsonResponse,
    openapi_extra=json_body(ObserveEventsIn, "a subject and where to start"),
)
async def observe_events(request: Request, log: LogDep, settings: SettingsDep) -> StreamingResponse:
    """A subject's events, then new ones live, as NDJSON with heartbeats; resume with
    `lowerBound`. A stream that must end ends with an error line saying where to resume."""
    plan = await esdb_log.plan_observe(log, parse_body(ObserveEventsIn, await request.body()))
    tail: LogTail = request.app.state.tail
    heartbeat = min(settings.heartbeat_seconds, HEARTBEAT_SECONDS)
    return _ndjson(esdb_log.observe_lines(tail, plan, heartbeat))


@router.post(
    "/read-subjects",
    dependencies=[CanReadEsdb],
    response_class=NdjsonResponse,
    openapi_extra=json_body(ReadSubjectsIn, "the subject to list from"),
)
async def read_subjects(request: Request, log: LogDep) -> StreamingResponse:
    """`baseSubject` and every subject under it: `/`, `/negotiations`, each negotiation."""
    base = parse_body(ReadSubjectsIn, await request.body()).baseSubject
    subjects = await esdb_log.read_subjects(log, base)
    return _ndjson(iter([b"".join(line("subject", {"subject": s}) for s in subjects)]))


@router.post("/read-event-types", dependencies=[CanReadEsdb], response_class=NdjsonResponse)
def read_event_types() -> StreamingResponse:
    """Parley's event types (every type a client may send), each with the JSON Schema of
    its `data`."""
    infos = [event_type_info(name) for name in sorted(EVENT_TYPES)]
    return _ndjson(iter([b"".join(line("eventType", info) for info in infos)]))


@router.post(
    "/read-event-type", dependencies=[CanReadEsdb],
    openapi_extra=json_body(ReadEventTypeIn, "the event type"),
)
async def read_event_type(request: Request) -> JSONResponse:
    """One event type with its schema; 404 for a type Parley does not have."""
    wanted = parse_body(ReadEventTypeIn, await request.body()).eventType
    name = parley_type(wanted)
    if name is None:
        raise EsdbError(404, f"event type {wanted!r} not found; Parley's are io.parley.*")
    return JSONResponse(event_type_info(name))


@router.post("/register-event-schema", dependencies=[CanAppend], include_in_schema=False)
async def register_event_schema(request: Request) -> Response:
    """Not offered: Parley's schemas are fixed by its code (read them instead)."""
    wanted = parse_body(RegisterEventSchemaIn, await request.body()).eventType
    if parley_type(wanted) is not None:
        raise EsdbError(
            409,
            f"schema conflict: schema already exists: {wanted}'s schema is fixed by "
            "Parley's code; read it with read-event-type",
        )
    raise EsdbError(
        400,
        f"Parley records only its own event types (io.parley.*), not {wanted!r}; their "
        "schemas are fixed by its code",
    )


@router.post("/run-eventql-query", dependencies=[CanReadEsdb], include_in_schema=False)
def run_eventql_query() -> Response:
    """Not offered: Parley has no EventQL. Use read-events, or Parley's own API."""
    raise EsdbError(
        400,
        "EventQL is not supported: Parley offers read-events and observe-events here, "
        "and its own API (see /docs) for state as of any moment",
    )


_ROUTES = {
    "ping": "GET",
    "verify-api-token": "POST",
    "write-events": "POST",
    "read-events": "POST",
    "observe-events": "POST",
    "read-subjects": "POST",
    "read-event-types": "POST",
    "read-event-type": "POST",
    "register-event-schema": "POST",
    "run-eventql-query": "POST",
}


@router.api_route(
    "/{path:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
)
def unknown(path: str) -> Response:
    """Anything else under /api/v1: 404, or 405 for a known path and another method."""
    allowed = _ROUTES.get(path)
    if allowed is not None:
        return PlainTextResponse(
            f"use {allowed} for /api/v1/{path}", status_code=405, headers={"Allow": allowed}
        )
    return PlainTextResponse(f"/api/v1/{path} is not part of the API", status_code=404)
