"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.limits import BodyLimit
from api.routes import events, health, negotiations, state
from api.settings import Settings
from api.tokens import admin_token
from projections.service import AsOf
from store.log import ConflictLog

DESCRIPTION = """
An event-sourced log of a conflict's diplomacy. Append sourced events; ask what the
state of a negotiation was on date V, as the log knew it on date K.

Writes need `Authorization: Bearer <token>`; reads are open unless configured otherwise.
"""


def create_app(settings: Settings | None = None, log: ConflictLog | None = None) -> FastAPI:
    """Build the app. ``log`` lets a caller share an already open store."""
    settings = settings or Settings()
    owned = log is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.log is None:
            app.state.log = ConflictLog(settings.store_config())
        app.state.as_of = AsOf(app.state.log)
        yield
        if owned:
            app.state.log.close()

    app = FastAPI(
        title="Parley",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.log = log
    app.state.admin_token = admin_token(settings)
    errors.install(app)
    app.include_router(health.router)
    app.include_router(negotiations.router)
    app.include_router(state.router)
    app.include_router(events.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
