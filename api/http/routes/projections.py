"""The subscribing projections: how far each has got, and whether it runs here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.http.deps import CanRead, ProjectionsDep, SettingsDep

router = APIRouter(tags=["service"])


class ProjectionOut(BaseModel):
    name: str
    position: int = Field(description="the last log position the projection has processed")
    head: int = Field(description="the log's last position")
    lag: int = Field(description="events in the log after the projection's position")
    running: bool = Field(description="whether a runner of it runs in this API process")
    error: str | None = Field(description="the last failure of this process's runner, if any")


class ProjectionsOut(BaseModel):
    mode: str = Field(description="PARLEY_PROJECTIONS: inline (run here) or off (workers)")
    projections: list[ProjectionOut]


@router.get("/projections", response_model=ProjectionsOut, dependencies=[CanRead])
async def projections_status(projections: ProjectionsDep, settings: SettingsDep) -> dict[str, Any]:
    """Each projection's position, the log's head and the lag between, in events.

    With ``PARLEY_PROJECTIONS=off`` the runners are ``parley project run`` workers:
    ``running`` is false here, and the positions show whether the workers keep up.
    """
    statuses = await run_in_threadpool(projections.status)
    return {"mode": settings.projections, "projections": [s.to_json() for s in statuses]}
