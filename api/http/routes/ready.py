"""Readiness: whether this process's store can serve, and if not, why (``store.damage``).

``/health`` stays the cheap liveness check; a load balancer or orchestrator asks
``/health/ready`` whether to send traffic here. It answers 503 with a problem naming the
store and the database's own message when the store is damaged (a corrupt SQLite page,
a PostgreSQL table gone) or cannot be reached or written.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.http.deps import LogDep
from api.http.errors import problem
from store.damage import StoreHealth

router = APIRouter(tags=["service"])


@router.get("/health/ready", response_model=None)
async def ready(request: Request, log: LogDep) -> dict[str, Any] | JSONResponse:
    """Readiness: 200 when the store answers and SQLite's `quick_check` finds it whole
    (run at most every 30 s); else 503, naming the store and what is wrong."""
    health: StoreHealth = request.app.state.store_health
    failure = await run_in_threadpool(health.check)
    if failure is not None:
        return problem(
            503, str(failure), kind=f"store-{failure.kind}", headers={"Retry-After": "30"}
        )
    return {"status": "ready", "backend": log.backend}
