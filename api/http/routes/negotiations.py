"""Negotiations: open, list, summarise, append events and read them back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.http.deps import Appender, CanRead, LogDep, ProjectionsDep, SettingsDep
from api.http.errors import problem
from api.http.filters import SearchDep, TypeFilter, types_of
from api.http.observe import ANSWER_FROM_KEY
from api.http.openapi import json_body
from api.http.responses import json_bytes, next_page
from api.invalid import InvalidRequestError
from api.parsing import (
    MAX_VERSION,
    AppendBody,
    IfMatch,
    QueryTime,
    instant,
    known_instant,
    parse_events,
    parse_if_match,
)
from api.schemas import (
    AppendOut,
    DryRunOut,
    EventPage,
    NegotiationIn,
    NegotiationOut,
    coded_events_json,
    events_json,
    negotiation_out,
)
from api.settings import Settings
from domain.events import AnyEvent, NegotiationOpened, any_event
from domain.instants import utc_text
from domain.negotiation import Recorded, Slug
from domain.values import Source
from projections.codes import codings
from projections.negotiations_index import NAME as NEGOTIATIONS_INDEX
from projections.preview import preview
from projections.runner import Projections
from store import metrics
from store.log import Appended, ConflictLog

router = APIRouter(prefix="/negotiations", tags=["negotiations"])

STATEMENT_EXAMPLE = {
    "type": "StatementIssued",
    "occurred_at": "2025-05-28",
    "data": {"speaker": "RUS", "summary": "Moscow proposed a second round in Istanbul."},
    "sources": [{"outlet": "teleSUR", "via": ["TASS"]}],
}
"""An event to append, as the OpenAPI document shows one."""

def event_page(
    records: list[Recorded],
    request: Request,
    limit: int,
    *,
    log: ConflictLog | None = None,
    **cursor: int,
) -> Response:
    """A page of events as bytes, with the URL of the next page when it may have more;
    given the ``log``, each event carries its coding (``projections.codes``)."""
    next_url = next_page(request, **cursor) if len(records) == limit else None
    events = (
        events_json(records) if log is None else coded_events_json(records, codings(log, records))
    )
    return json_bytes(b'{"events":' + events + b',"next":' + orjson.dumps(next_url) + b"}")


def _summary(log: ConflictLog, slug: str) -> dict[str, Any]:
    return negotiation_out(log.opening(slug), log.summary(slug))


@router.post(
    "",
    status_code=201,
    response_model=NegotiationOut,
    responses={200: {"model": NegotiationOut, "description": "already open with this id"}},
)
def open_negotiation(
    body: NegotiationIn, log: LogDep, recorder: Appender, response: Response
) -> dict[str, Any]:
    """Open a negotiation (its NegotiationOpened event). Re-sending the same id is a no-op."""
    fields: dict[str, Any] = {
        "type": "NegotiationOpened",
        "occurred_at": body.occurred_at or datetime.now(UTC).date(),
        "sources": body.sources or [Source(outlet="Parley desk")],
        "data": {"title": body.title, "parties": body.parties, "mediators": body.mediators},
    }
    if body.id is not None:
        fields["id"] = body.id
    opened = any_event.validate_python(fields)
    assert isinstance(opened, NegotiationOpened)
    appended = log.open(body.slug, opened, recorded_by=recorder.name)
    if not appended.created:
        response.status_code = 200
    response.headers["Location"] = f"/negotiations/{body.slug}"
    return _summary(log, body.slug)


@router.get(
    "",
    dependencies=[CanRead],
    response_model=None,
    responses={
        200: {"description": "the negotiations, each as NegotiationOut"},
        503: {"description": "wait_for: the index did not reach the position in time"},
    },
)
async def list_negotiations(
    log: LogDep,
    projections: ProjectionsDep,
    settings: SettingsDep,
    response: Response,
    wait_for: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_VERSION,
            description="a position (from an append's response): answer only once the "
            "index includes it, waiting up to PARLEY_WAIT_FOR_SECONDS",
        ),
    ] = None,
) -> dict[str, Any] | JSONResponse:
    """Every negotiation with its event count and last activity, from the negotiations index.

    The index is a projection of the log and may be a moment behind it: the
    ``Parley-Projection-Position`` header names the last position it includes. To
    read your own write, pass its position as ``wait_for``. If the index has not
    reached it within PARLEY_WAIT_FOR_SECONDS (5 s), the answer is a 503 problem
    (``/problems/projection-behind``) with ``Retry-After``; a position beyond the
    log's last one is a 422.
    """
    index = projections.negotiations_index
    if wait_for is not None:
        behind = await _wait_for(log, projections, settings, wait_for)
        if behind is not None:
            return behind
    position = await run_in_threadpool(index.position)  # first: the rows include at least it
    rows = await run_in_threadpool(index.negotiations)
    response.headers[POSITION_HEADER] = str(position)
    return {"negotiations": [row.to_json() for row in rows]}


POSITION_HEADER = "Parley-Projection-Position"


async def _wait_for(
    log: ConflictLog, projections: Projections, settings: Settings, wait_for: int
) -> JSONResponse | None:
    """Wait until the negotiations index has processed ``wait_for``; else the problem."""
    name = NEGOTIATIONS_INDEX
    head = await run_in_threadpool(log.last_position)
    if wait_for > head:
        raise InvalidRequestError(
            [
                {
                    "field": "wait_for",
                    "message": f"position {wait_for} is beyond the log's last position {head}",
                    "value": wait_for,
                }
            ]
        )
    bound = settings.wait_for_seconds
    if await projections.wait_async(name, wait_for, bound):
        return None
    position = await run_in_threadpool(projections.view(name).position)
    hint = (
        "retry shortly, or read without wait_for for an answer that may be behind"
        if projections.running(name)
        else "no runner of it runs in this process (PARLEY_PROJECTIONS=off): "
        "is 'parley project run' running?"
    )
    return problem(
        503,
        f"the {name} projection has processed the log up to position {position}, "
        f"not yet {wait_for}, after waiting {bound:g} s; {hint}",
        kind="projection-behind",
        headers={"Retry-After": "1", POSITION_HEADER: str(position)},
        projection=name,
        position=position,
        wait_for=wait_for,
    )


@router.get("/{slug}", response_model=NegotiationOut, dependencies=[CanRead])
def get_negotiation(slug: Slug, log: LogDep, response: Response) -> dict[str, Any]:
    """One negotiation's summary. The ETag is its version, for If-Match on appends."""
    summary = _summary(log, slug)
    response.headers["ETag"] = f'"{summary["version"]}"'
    return summary


@router.post(
    "/{slug}/events",
    status_code=201,
    response_model=AppendOut,
    responses={
        200: {
            "model": AppendOut | DryRunOut,
            "description": "every event already stored (a retry); or a dry run's preview",
        }
    },
    openapi_extra=json_body(
        AppendBody,
        'one event, a list of events, or {"events": [...], "expected_version": n}; '
        "a list is stored atomically",
        example=STATEMENT_EXAMPLE,
    ),
)
async def append_events(
    slug: Slug,
    request: Request,
    log: LogDep,
    recorder: Appender,
    if_match: Annotated[IfMatch | None, Header()] = None,
    dry_run: Annotated[
        bool, Query(description="check and preview the events, and store nothing")
    ] = False,
) -> Response:
    """Append one event or a batch, atomically.

    Optimistic concurrency: ``expected_version`` in the body or ``If-Match: "n"``; a
    mismatch is 409 with the current version. Re-posting an id with identical content
    returns the original record with 200.

    With ``dry_run=true`` the events are checked exactly as an append would check them
    (the same errors) and nothing is stored: the 200 answer shows what would be stored
    and the part of the state that would change, before and after
    (``projections.preview``).
    """
    events, expected = parse_events(await request.body())
    header_version = parse_if_match(if_match)
    if expected is None:
        expected = header_version
    if dry_run:
        return await run_in_threadpool(
            dry_run_answer, log, slug, events, expected, recorder.name
        )
    appended: Appended = await asyncio.wrap_future(
        log.submit(slug, events, expected, recorded_by=recorder.name)
    )
    return append_answer(request.scope, slug, appended)


def append_answer(scope: MutableMapping[str, Any], slug: str, appended: Appended) -> Response:
    """The answer to an append the writer has committed: 201 with the records (200 when
    every event was stored already), its ETag and, for one event, its Location. The
    route and ``api.http.fast`` answer with it, so both send the same bytes."""
    resumed = scope[ANSWER_FROM_KEY] = time.perf_counter()
    metrics.RESOLUTION.observe(resumed - appended.resolved)
    records = appended.records
    created = {id(r) for r in appended.created}
    version = max(r.originator_version for r in records)
    body = orjson.dumps(
        {
            "negotiation": slug,
            "version": version,
            "events": [
                {
                    "id": r.event.id,
                    "type": r.type,
                    "position": r.position,
                    "version": r.originator_version,
                    "recorded_at": utc_text(r.timestamp),
                    "hash": r.hash,
                    "stored": "created" if id(r) in created else "existing",
                }
                for r in records
            ],
        }
    )
    headers = {"ETag": f'"{version}"'} if appended.created else {}
    if len(records) == 1:
        headers["Location"] = f"/events/{records[0].event.id}"
    return json_bytes(body, 201 if appended.created else 200, headers)


def dry_run_answer(
    log: ConflictLog,
    slug: str,
    events: list[AnyEvent],
    expected: int | None,
    recorded_by: str,
) -> Response:
    """The answer to a dry run: what would be stored, and the state before and after."""
    checked = log.check(slug, events, expected, recorded_by=recorded_by).result()
    stored = log.negotiation_events(slug) if log.exists(slug) else []
    new = checked.created
    body = {
        "negotiation": slug,
        "dry_run": True,
        "version": max([r.originator_version for r in checked.records], default=0),
        "events": [
            {
                "id": r.event.id,
                "type": r.type,
                "version": r.originator_version,
                "stored": "would be created" if r in new else "existing",
                "event": orjson.loads(r.json),
            }
            for r in checked.records
        ],
        "state": preview(stored, new, slug, log.last_position()) if new else None,
    }
    return json_bytes(orjson.dumps(body))


@router.get("/{slug}/events", response_model=EventPage, dependencies=[CanRead])
def negotiation_events(
    slug: Slug,
    log: LogDep,
    request: Request,
    after_version: Annotated[
        int, Query(ge=0, le=MAX_VERSION, description="page after this version")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    type: TypeFilter = None,
    as_of: Annotated[
        QueryTime | None, Query(description="valid time: occurred_at <= as_of")
    ] = None,
    known_at: Annotated[
        QueryTime | None,
        Query(description="recorded time: recorded_at <= known_at (at most now)"),
    ] = None,
    reported_at: Annotated[
        QueryTime | None,
        Query(description="reported time: reported by reported_at (at most now); default: any"),
    ] = None,
    search: SearchDep = None,
) -> Response:
    """A negotiation's events in version order, paged, time-sliced along the three clocks
    (``known_at`` and ``reported_at`` clamped to now), and searched by actor, region,
    outlet, recorder and text (every filter must match)."""
    valid_lte = instant(as_of, "as_of") if as_of is not None else None
    recorded_lte = known_instant(known_at, "known_at")
    reported_lte = known_instant(reported_at, "reported_at")
    records = log.negotiation_events(
        slug,
        after_version=after_version or None,
        limit=limit,
        types=types_of(type),
        valid_lte=valid_lte,
        recorded_lte=recorded_lte,
        reported_lte=reported_lte,
        search=search,
    )
    last = records[-1].version if records else 0
    return event_page(records, request, limit, log=log, after_version=last)
