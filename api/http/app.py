"""The FastAPI application factory."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from api.esdb import routes as esdb
from api.esdb.wire import SERVER
from api.http import errors, openapi
from api.http.fast import FastAppend
from api.http.guard import Guard
from api.http.limits import BodyLimit
from api.http.observe import Observe, forget_this_process
from api.http.routes import (
    charts,
    events,
    export,
    heads,
    health,
    imports,
    metrics,
    negotiations,
    projections,
    ready,
    redactions,
    reference,
    state,
    stream,
    tokens,
    web,
)
from api.http.warm import warm_up
from api.logs import configure_logging
from api.settings import Settings
from api.signing import signing_key
from api.tokens import Authenticator, admin_token
from api.version import version
from projections.runner import Projections
from projections.service import AsOf
from projections.tail import LogTail
from store.damage import StoreHealth
from store.log import ConflictLog

DESCRIPTION = """
An event-sourced log of a conflict's diplomacy. Append sourced events; ask what the
state of a negotiation was on date V, as the log knew it on date K.

Writes need `Authorization: Bearer <token>` with the `append` scope, and each event
records the token's name (`recorded_by`); managing tokens (`/tokens`) needs `admin`.
Reads are open unless configured otherwise.
"""


logger = logging.getLogger("parley")


def _lags(projections: Projections) -> dict[str, int]:
    return {status.name: status.lag for status in projections.status()}


def create_app(
    settings: Settings | None = None, log: ConflictLog | None = None, *, fast_append: bool = True
) -> FastAPI:
    """Build the app. ``log`` lets a caller share an already open store; ``fast_append``
    False leaves every append to FastAPI's route (tests compare the two)."""
    settings = settings or Settings()
    owned = log is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level)
        if app.state.log is None:
            app.state.log = ConflictLog(settings.store_config())
        app.state.store_health = StoreHealth(app.state.log.probe)  # routes/ready.py
        app.state.auth = Authenticator(settings, app.state.admin_token, app.state.log.token_store())
        app.state.as_of = AsOf(
            app.state.log,
            max_negotiations=settings.asof_max_negotiations,
            max_events=settings.asof_max_events,
        )
        app.state.as_of.start_checkpoints(settings.asof_checkpoint_every)
        app.state.tail = LogTail(app.state.log, buffer=settings.stream_buffer)
        app.state.tail.start()
        app.state.projections = Projections(settings.store_config(), log=app.state.log)
        if settings.projections == "inline":
            app.state.projections.start()
            # Serve once the views have caught up with the log, or after the bound.
            if not await anyio.to_thread.run_sync(
                app.state.projections.catch_up, settings.wait_for_seconds
            ):
                logger.warning(
                    "projections still catching up at start",
                    extra={"fields": {"status": _lags(app.state.projections)}},
                )
        warm_up_ms = None
        if settings.warm_up:
            # Before the server listens: /health/ready answers once this is done.
            began = time.perf_counter()
            await warm_up(app)
            warm_up_ms = round((time.perf_counter() - began) * 1000, 1)
        logger.info(
            "started",
            extra={
                "fields": {
                    "pid": os.getpid(),
                    "backend": app.state.log.backend,
                    "store": settings.store_config().describe(),
                    "projections": settings.projections,
                    "workers": settings.workers,
                    "warm_up_ms": warm_up_ms,
                }
            },
        )
        yield
        logger.info("stopping", extra={"fields": {"pid": os.getpid()}})
        app.state.projections.close()
        await anyio.to_thread.run_sync(app.state.as_of.close)  # the last checkpoints
        app.state.tail.stop()
        app.state.auth.tokens.close()
        if owned:
            app.state.log.close()
        forget_this_process()

    app = FastAPI(
        title="Parley",
        version=version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=openapi.PROBLEMS,
        telemetry=None
        if settings.telemetry
        else {"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = settings
    app.state.log = log
    app.state.admin_token = admin_token(settings)
    # Loaded now: a missing or damaged key stops the server here (api.signing_keys).
    app.state.signer = signing_key(settings.signing_key_file, new_key=settings.new_signing_key)
    errors.install(app)
    openapi.install(app)
    app.include_router(health.router)
    app.include_router(ready.router)
    app.include_router(metrics.router)
    app.include_router(heads.router)
    app.include_router(negotiations.router)
    app.include_router(state.router)
    app.include_router(export.router)
    app.include_router(imports.router)
    app.include_router(charts.router)
    app.include_router(stream.router)  # before /events/{event_id} claims "stream"
    app.include_router(events.router)
    app.include_router(projections.router)
    app.include_router(tokens.router)
    app.include_router(tokens.me)
    app.include_router(reference.router)
    app.include_router(redactions.router)
    app.include_router(esdb.router)  # the EventSourcingDB-compatible API under /api/v1
    app.include_router(web.router)  # the page at / and its /static files
    if fast_append:
        app.add_middleware(FastAppend)  # innermost: the common append, below FastAPI
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        headers_by_prefix={esdb.router.prefix: {"Server": SERVER}},
    )
    app.add_middleware(Observe)  # request ids, metrics, the access log; inside Guard
    app.add_middleware(Guard, limits=settings.limits())  # outermost: /health first
    return app
