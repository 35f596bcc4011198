"""The do-it-yourself stack: what a user would build instead of Parley, as a baseline.

The same FastAPI and the same pydantic models as Parley's append route (the body parsed
once by ``api.parsing.parse_events``, each event encoded by ``domain.events
.encode_event``), stored with the eventsourcing library as its documentation teaches:
an ``Aggregate`` per negotiation that records each event's JSON, fetched from the
application's repository (its aggregate cache on, so it is not replayed per request)
and saved with ``Application.save()``: one save per request, so a 1,000-event batch is
one save of 1,000 events. A lock per negotiation keeps two requests of one negotiation
from saving the same version at once (the library would refuse the second). No hash
chain, no index, no search, no projections.

The backend is the library's environment (``PERSISTENCE_MODULE``, ``SQLITE_DBNAME`` or
``POSTGRES_*``), which bench/diy.py sets; it runs under uvicorn as ``parley serve`` does.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from functools import cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.invalid import InvalidRequestError, MalformedRequestError
from api.parsing import parse_events
from domain.events import AnyEvent, encode_event


class Negotiation(Aggregate):
    """One negotiation's events, each stored as its JSON."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.last: str | None = None

    @staticmethod
    def create_id(slug: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/negotiations/{slug}")

    @event("Recorded")
    def record(self, json: str) -> None:
        self.last = json


app = FastAPI()
_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)


@cache
def store() -> Application[UUID]:
    return Application(env={"AGGREGATE_CACHE_MAXSIZE": "64"})


@app.get("/diy/health")
async def health() -> dict[str, str]:
    store()  # open it (and create its tables) before the first request
    return {"status": "ok"}


@app.exception_handler(InvalidRequestError)
@app.exception_handler(MalformedRequestError)
async def invalid(request: Request, error: Exception) -> Response:
    return JSONResponse({"detail": str(error)}, status_code=422)


@app.post("/negotiations/{slug}/events", status_code=201)
async def append(slug: str, request: Request) -> Response:
    events, _ = parse_events(await request.body())
    answer = await run_in_threadpool(save, slug, events)
    return JSONResponse(answer, status_code=201)


def save(slug: str, events: list[AnyEvent]) -> dict[str, Any]:
    """Fetch the negotiation, record the events on it, and save it: one transaction."""
    application = store()
    with _locks[slug]:
        try:
            negotiation: Negotiation = application.repository.get(Negotiation.create_id(slug))
        except AggregateNotFoundError:
            negotiation = Negotiation(slug)
        for item in events:
            negotiation.record(encode_event(item).decode())
        recordings = application.save(negotiation)
    return {
        "negotiation": slug,
        "version": negotiation.version,
        "positions": [r.notification.id for r in recordings],
    }
