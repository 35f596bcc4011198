"""The data of the page's two charts: a negotiation's lanes along valid time, and its
events on both clocks (``projections.charts``)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from api.http.deps import CanRead, LogDep
from api.http.responses import json_bytes
from api.http.routes.state import KnownAtParam, ReportedAtParam
from api.parsing import QueryTime, in_order, instant, known_instant
from domain.negotiation import Slug
from projections.charts import DEFAULT_MAX_ITEMS, Axis, chart

router = APIRouter(prefix="/negotiations", tags=["as of"])


@router.get("/{slug}/chart", dependencies=[CanRead])
async def negotiation_chart(
    slug: Slug,
    log: LogDep,
    from_: Annotated[
        QueryTime | None,
        Query(alias="from", description="valid time, inclusive; default: the first"),
    ] = None,
    to: Annotated[
        QueryTime | None, Query(description="valid time, inclusive; default: the last")
    ] = None,
    as_of: Annotated[
        QueryTime | None, Query(description="valid time of the state; default now")
    ] = None,
    known_at: KnownAtParam = None,
    reported_at: ReportedAtParam = None,
    axis: Annotated[
        Axis,
        Query(description="the knowledge chart's vertical axis: recorded or reported time"),
    ] = "recorded",
    max_items: Annotated[
        int, Query(ge=10, le=10_000, description="beyond this many events a chart sends counts")
    ] = DEFAULT_MAX_ITEMS,
) -> Response:
    """Both charts of the page for the valid-time window [``from``, ``to``].

    ``timeline``: the world events known at ``known_at`` and reported by ``reported_at``
    (both clamped to now), each in its lane with its
    interval and flags (disputed, corrected, retracted), or, past ``max_items``, counts
    per lane and time bucket. ``knowledge``: every event in the window whenever it was
    recorded, at (occurred_at, recorded_at) or, with ``axis=reported``, at (occurred_at,
    reported time), linked to the event it names, with how far
    back it reached; past ``max_items``, counts per cell of a valid × recorded grid.
    """
    start = instant(from_, "from", bound="start") if from_ is not None else None
    end = instant(to, "to") if to is not None else None
    in_order(start, end)
    valid = instant(as_of, "as_of") if as_of is not None else None
    known = known_instant(known_at, "known_at")
    reported = known_instant(reported_at, "reported_at")
    answer = await run_in_threadpool(
        lambda: chart(
            log,
            slug,
            from_=start,
            to=end,
            as_of=valid,
            known_at=known,
            reported_at=reported,
            axis=axis,
            max_items=max_items,
        )
    )
    return json_bytes(orjson.dumps(answer.to_json()))
