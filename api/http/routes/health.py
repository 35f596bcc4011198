"""Service checks: liveness with the log's head, and the hash-chain verification."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.http.deps import CanRead, LogDep
from api.version import version

router = APIRouter(tags=["service"])


@router.get("/health")
def health(log: LogDep) -> dict[str, Any]:
    """Liveness, the backend, the last position and Parley's version.

    ``api.http.guard`` answers it first; this route documents it in the OpenAPI."""
    return {
        "status": "ok",
        "backend": log.backend,
        "position": log.last_position(),
        "version": version(),
    }


@router.get("/verify", dependencies=[CanRead])
async def verify(log: LogDep) -> dict[str, Any]:
    """Walk every hash chain and check positions; reports the first break, if any."""
    report = await run_in_threadpool(log.verify)
    return asdict(report)
