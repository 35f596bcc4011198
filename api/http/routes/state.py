"""As of any moment: a negotiation's state, timeline and diff along valid and recorded time."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from api.http.deps import AsOfDep, CanRead
from api.http.responses import json_bytes
from api.parsing import QueryTime, in_order, instant, known_instant
from domain.negotiation import Slug

router = APIRouter(prefix="/negotiations", tags=["as of"])

AsOfParam = Annotated[
    QueryTime | None,
    Query(description="valid time: a date (end of that day, UTC) or a datetime with offset"),
]
KnownAtParam = Annotated[
    QueryTime | None,
    Query(description="recorded time: what the log knew then; default now, a later time is now"),
]
ReportedAtParam = Annotated[
    QueryTime | None,
    Query(
        description="reported time: count only what was reported by then (an event from "
        "its sources' earliest published_at, or its recorded_at when none names one); "
        "default now, a later time is now"
    ),
]


@router.get("/{slug}/state", dependencies=[CanRead])
async def state(
    slug: Slug,
    as_of_service: AsOfDep,
    as_of: AsOfParam = None,
    known_at: KnownAtParam = None,
    reported_at: ReportedAtParam = None,
) -> Response:
    """The state of the talks at valid time ``as_of``, as the log knew it at ``known_at``,
    of what was reported by ``reported_at``.

    Folds exactly the events with occurred_at <= as_of, recorded_at <= known_at and
    reported by reported_at; corrections and retractions count from their own
    recorded_at and reported time. The answer echoes ``as_of``, ``known_at``,
    ``reported_at`` (clamped to now) and the last ``position`` included, to repeat it.
    """
    valid = instant(as_of, "as_of") if as_of is not None else None
    known = known_instant(known_at, "known_at")
    reported = known_instant(reported_at, "reported_at")
    answer = await run_in_threadpool(as_of_service.state, slug, valid, known, reported)
    return json_bytes(answer.to_json_bytes())


@router.get("/{slug}/timeline", dependencies=[CanRead])
async def timeline(
    slug: Slug,
    as_of_service: AsOfDep,
    from_: Annotated[
        QueryTime | None, Query(alias="from", description="valid time, inclusive")
    ] = None,
    to: Annotated[QueryTime | None, Query(description="valid time, inclusive")] = None,
    known_at: KnownAtParam = None,
    reported_at: ReportedAtParam = None,
    latest: Annotated[
        int | None, Query(ge=1, le=10_000, description="only the latest N events in valid time")
    ] = None,
) -> Response:
    """The dated events in valid-time order, each with its sources, and whether it is
    disputed, corrected or retracted, and by which event, as known at ``known_at``;
    ``total`` counts them all when ``latest`` keeps only the last ones."""
    start = instant(from_, "from", bound="start") if from_ is not None else None
    end = instant(to, "to") if to is not None else None
    in_order(start, end)
    known = known_instant(known_at, "known_at")
    reported = known_instant(reported_at, "reported_at")
    # Encoded in the thread too: a full timeline's JSON would hold the event loop.
    body = await run_in_threadpool(
        lambda: orjson.dumps(
            as_of_service.timeline(slug, start, end, known, latest, reported).to_json()
        )
    )
    return json_bytes(body)


@router.get("/{slug}/diff", dependencies=[CanRead])
async def diff(
    slug: Slug,
    as_of_service: AsOfDep,
    from_: Annotated[QueryTime, Query(alias="from", description="valid time V1")],
    to: Annotated[QueryTime, Query(description="valid time V2")],
    known_at: KnownAtParam = None,
    reported_at: ReportedAtParam = None,
) -> Response:
    """What changed between valid times ``from`` and ``to``: rounds, proposals, zones and
    ceasefires added or changed, each with the events that changed it."""
    start, end = instant(from_, "from"), instant(to, "to")
    in_order(start, end)
    known = known_instant(known_at, "known_at")
    reported = known_instant(reported_at, "reported_at")
    answer = await run_in_threadpool(as_of_service.diff, slug, start, end, known, reported)
    return json_bytes(orjson.dumps(answer.to_json()))
