"""The baselines: a tiny FastAPI app that does only the HTTP part of Parley's work.

bench/support.py ``Noop`` runs it under uvicorn with the server's own settings.

- ``POST /negotiations/{slug}/events``: parses the same pydantic body (one event of
  ``AnyEvent``) and answers, storing nothing; ``POST /negotiations/{slug}/batch`` the
  same for a list of events (a 1,000-event batch's parsing ceiling);
- ``GET /noop/body``: pre-encoded bytes (``$NOOP_BODY``, a file), for a GET answering a
  JSON body of the same size as a ``state`` answer;
- ``GET /noop/stream``: the rows of ``$NOOP_SQLITE``'s stored events as SSE, read in
  pages as Parley's stream reads them (off the event loop), each framed
  ``id: <position>\\nevent: <type>\\ndata: <stored state>\\n\\n``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Response
from fastapi.responses import StreamingResponse

from domain.events import AnyEvent

PAGE = 500  # api.streaming.PAGE

app = FastAPI()


@app.get("/noop/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/negotiations/{slug}/events", status_code=201)
async def noop(slug: str, event: AnyEvent) -> dict[str, Any]:
    return {"negotiation": slug, "id": str(event.id)}


@app.post("/negotiations/{slug}/batch", status_code=201)
async def noop_batch(slug: str, events: list[AnyEvent]) -> dict[str, Any]:
    return {"negotiation": slug, "events": len(events)}


@cache
def _body() -> bytes:
    return Path(os.environ["NOOP_BODY"]).read_bytes()


@app.get("/noop/body")
async def body() -> Response:
    return Response(_body(), media_type="application/json")


def _page(path: str, after: int) -> list[tuple[int, bytes]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT rowid, state FROM stored_events WHERE rowid > ? ORDER BY rowid LIMIT ?",
            [after, PAGE],
        ).fetchall()


def _frame(position: int, state: bytes) -> bytes:
    start = state.index(b'"type":"') + 8
    kind = state[start : state.index(b'"', start)]
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (position, kind, state)


async def _stream(path: str) -> AsyncIterator[bytes]:
    after = 0
    while True:
        rows = await anyio.to_thread.run_sync(_page, path, after)
        if not rows:
            return
        yield b"".join(_frame(position, state) for position, state in rows)
        after = rows[-1][0]


@app.get("/noop/stream")
async def stream() -> StreamingResponse:
    return StreamingResponse(_stream(os.environ["NOOP_SQLITE"]), media_type="text/event-stream")
