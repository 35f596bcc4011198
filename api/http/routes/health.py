"""Service checks: liveness with the log's head, and the hash-chain verification."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.http.deps import CanRead, LogDep

router = APIRouter(tags=["service"])


@router.get("/health")
def health(log: LogDep) -> dict[str, Any]:
    """Liveness, the backend and the last position."""
    return {"status": "ok", "backend": log.backend, "position": log.last_position()}


@router.get("/verify", dependencies=[CanRead])
async def verify(log: LogDep) -> dict[str, Any]:
    """Walk every hash chain and check positions; reports the first break, if any."""
    report = await run_in_threadpool(log.verify)
    return asdict(report)
