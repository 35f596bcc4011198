"""Exports of a negotiation at (as_of, known_at): NDJSON, ACLED-style CSV, PLOVER JSON lines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.formats import MEDIA_TYPES, Format, file_name, write
from api.http.deps import CanRead, LogDep
from api.http.filters import TypeFilter, types_of
from api.http.routes.state import AsOfParam, KnownAtParam, ReportedAtParam
from api.parsing import QueryTime, export_query
from domain.negotiation import Slug
from projections.export import start

router = APIRouter(prefix="/negotiations", tags=["export"])


@router.get(
    "/{slug}/export",
    dependencies=[CanRead],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "the export, streamed: a metadata line (or '#' comment lines "
            "for CSV) naming as_of, known_at, reported_at and the last position, then one "
            "event a line",
            "content": {"application/x-ndjson": {}, "text/csv": {}},
        }
    },
)
async def export(
    slug: Slug,
    log: LogDep,
    format: Annotated[
        Format, Query(description="ndjson (as GET /events/{id}), csv (ACLED-style), plover")
    ] = "ndjson",
    as_of: AsOfParam = None,
    known_at: KnownAtParam = None,
    reported_at: ReportedAtParam = None,
    from_: Annotated[
        QueryTime | None, Query(alias="from", description="valid time: events overlapping from…")
    ] = None,
    to: Annotated[QueryTime | None, Query(description="valid time: …to, inclusive")] = None,
    type: TypeFilter = None,
) -> StreamingResponse:
    """The events the state at (``as_of``, ``known_at``, ``reported_at``) folds, streamed
    in position order: retracted events left out, corrections known then applied (CSV, PLOVER) or
    attached (NDJSON), each with its CAMEO and PLOVER codes, sources, recorded_at,
    position, hash and recorded_by. The first line names what repeats it exactly."""
    query = export_query(
        slug,
        as_of=as_of,
        known_at=known_at,
        reported_at=reported_at,
        from_=from_,
        to=to,
        types=types_of(type),
    )
    head, rows = await run_in_threadpool(start, log, query)
    headers = {
        "Content-Disposition": f'attachment; filename="{file_name(format, head)}"',
        "Parley-Export-Position": "" if head.position is None else str(head.position),
    }
    # A plain iterator: Starlette pulls it in the thread pool, a page of reads at a time.
    return StreamingResponse(
        write(format, head, rows), media_type=MEDIA_TYPES[format], headers=headers
    )
