"""``GET /metrics``: the Prometheus exposition (``api.http.observe``).

It reads like the other read routes: open unless ``PARLEY_READ_TOKEN`` is set, then any
known token (a scraper's ``authorization`` with a bearer token). The figures name
routes, event types, projections and token names, never a token or a negotiation."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.http.deps import CanRead
from api.http.observe import exposition
from projections.metrics import observe_lag
from projections.runner import Projections

router = APIRouter(tags=["service"])


@router.get("/metrics", dependencies=[CanRead], response_class=Response)
async def metrics(request: Request) -> Response:
    """Metrics in Prometheus's text format: requests by route template and status with
    their latency, events appended by type, the writer's group sizes and commit latency,
    each projection's lag, stream subscribers, the as-of cache, 401s and 429s by token
    name. Under several workers, every worker's figures added up."""
    projections: Projections = request.app.state.projections
    statuses = await run_in_threadpool(projections.status)
    observe_lag((status.name, status.lag) for status in statuses)
    body, kind = await run_in_threadpool(exposition)
    return Response(body, media_type=kind)
