"""Readiness: whether this process's store can serve, and if not, why (``store.damage``).

``/health`` stays the cheap liveness check; a load balancer or orchestrator asks
``/health/ready`` whether to send traffic here. It answers 503 with a problem naming the
store and the database's own message when the store is damaged (a corrupt SQLite page,
a PostgreSQL table gone) or cannot be reached or written, and, when the projections run
inline, while one of them is more than ``PARLEY_READY_MAX_LAG`` events behind the log
(start-up waits for them at most ``PARLEY_WAIT_FOR_SECONDS``, then serves anyway).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.http.deps import LogDep
from api.http.errors import problem
from api.settings import Settings
from projections.runner import Projections
from store.damage import StoreHealth

router = APIRouter(tags=["service"])


@router.get("/health/ready", response_model=None)
async def ready(request: Request, log: LogDep) -> dict[str, Any] | JSONResponse:
    """Readiness: 200 when the store answers and SQLite's `quick_check` finds it whole
    (run at most every 30 s), and inline projections are within `PARLEY_READY_MAX_LAG`
    events of the log; else 503, naming what is wrong."""
    health: StoreHealth = request.app.state.store_health
    failure = await run_in_threadpool(health.check)
    if failure is not None:
        return problem(
            503, str(failure), kind=f"store-{failure.kind}", headers={"Retry-After": "30"}
        )
    settings: Settings = request.app.state.settings
    if settings.projections == "inline":
        projections: Projections = request.app.state.projections
        statuses = await run_in_threadpool(projections.status)
        behind = [s for s in statuses if s.lag > settings.ready_max_lag]
        if behind:
            named = ", ".join(f"{s.name} ({s.lag} events)" for s in behind)
            return problem(
                503,
                f"projections behind the log by more than {settings.ready_max_lag} events: "
                f"{named} (PARLEY_READY_MAX_LAG)",
                kind="projections-behind",
                headers={"Retry-After": "5"},
            )
    return {"status": "ready", "backend": log.backend}
