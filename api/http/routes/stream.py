"""The live tail of the global log over HTTP: Server-Sent Events, or NDJSON on request.

Each event goes out with ``id:`` set to its position and ``event:`` set to its type, so
a client that reconnects with ``Last-Event-ID`` (browsers do it by themselves) resumes
without loss or duplicates. The framing is FastAPI's own (``fastapi.sse``); the stream
itself comes from ``projections.tail``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent, format_sse_event

from api.formats import chunked
from api.http.deps import CanRead, LogDep
from api.http.filters import TypeFilter, types_of
from api.http.guard import RELEASE_KEY
from api.http.observe import STREAM_SUBSCRIBERS
from api.invalid import InvalidRequestError
from api.parsing import MAX_VERSION
from domain.errors import NegotiationNotFoundError
from domain.negotiation import Slug
from projections.tail import Heartbeat, LiveEvent, LogTail, Message, StreamFilter, follow

router = APIRouter(prefix="/events", tags=["events"])

NDJSON = "application/x-ndjson"
OVERFLOW_DETAIL = (
    "this client fell too far behind the log and the stream was closed; reconnect with "
    "Last-Event-ID (or ?after=) set to resume_after"
)
_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def encode_sse(event: ServerSentEvent) -> bytes:
    """One event in the SSE wire format, as FastAPI's own SSE responses write it."""
    data = event.raw_data
    if data is None and event.data is not None:
        data = json.dumps(event.data)
    return format_sse_event(
        data_str=data, event=event.event, id=event.id, retry=event.retry, comment=event.comment
    )


def sse_event(event: LiveEvent) -> bytes:
    """An event as FastAPI's ``format_sse_event`` frames it (``event:``, ``data:``,
    ``id:``), written straight from its bytes: the hot path of a stream. The body is
    orjson's or the stored canonical JSON, one line (JSON escapes line breaks inside
    strings), so ``data:`` needs no splitting; a body that is not one line anyway goes
    through FastAPI's own framing."""
    body = event.body
    if b"\n" in body or b"\r" in body:
        return format_sse_event(data_str=body.decode(), event=event.type, id=str(event.position))
    return b"event: %b\ndata: %b\nid: %d\n\n" % (event.type.encode(), body, event.position)


def sse_message(message: Message) -> bytes:
    if isinstance(message, LiveEvent):
        return sse_event(message)
    if isinstance(message, Heartbeat):
        return encode_sse(
            ServerSentEvent(
                event="heartbeat", id=str(message.position), data={"position": message.position}
            )
        )
    return encode_sse(
        ServerSentEvent(
            event="overflow",
            data={"resume_after": message.resume_after, "detail": OVERFLOW_DETAIL},
        )
    )


def ndjson_message(message: Message) -> bytes:
    if isinstance(message, LiveEvent):
        return message.body + b"\n"
    if isinstance(message, Heartbeat):
        return orjson.dumps({"heartbeat": True, "position": message.position}) + b"\n"
    return (
        orjson.dumps(
            {"overflow": True, "resume_after": message.resume_after, "detail": OVERFLOW_DETAIL}
        )
        + b"\n"
    )


async def _chunks(
    batches: AsyncGenerator[Sequence[Message], None], encode: Callable[[Message], bytes]
) -> AsyncIterator[bytes]:
    """Chunks of about ``api.formats.CHUNK`` bytes, a batch's last one sent as it is; closing the
    response closes the stream (and unfollows). A client that stops reading holds one
    chunk in the server's buffers, not a whole page of catch-up."""
    STREAM_SUBSCRIBERS.inc()
    try:
        async with aclosing(batches):
            async for batch in batches:
                for chunk in chunked(encode(message) for message in batch):
                    yield chunk
    finally:
        STREAM_SUBSCRIBERS.dec()


def _resume_position(after: int | None, last_event_id: str | None) -> int:
    if last_event_id is not None and last_event_id.strip():
        text = last_event_id.strip()
        if not (text.isascii() and text.isdigit()) or int(text) > MAX_VERSION:
            raise InvalidRequestError(
                [
                    {
                        "field": "Last-Event-ID",
                        "message": "must be the position of the last event received, "
                        "a whole number >= 0",
                        "value": last_event_id,
                    }
                ]
            )
        return int(text)
    return after or 0


def _types(values: list[str] | None) -> frozenset[str]:
    return frozenset(types_of(values))


@router.get(
    "/stream",
    # The endpoint returns its own response: declaring EventSourceResponse here would
    # make FastAPI expect a generator and rule out NDJSON.
    dependencies=[CanRead],
    responses={
        200: {
            "description": "Server-Sent Events, or NDJSON lines with `Accept: "
            "application/x-ndjson`",
            "content": {"text/event-stream": {}, NDJSON: {}},
        }
    },
)
async def stream_events(
    request: Request,
    log: LogDep,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_VERSION, description="position to stream after")
    ] = None,
    negotiation: Annotated[Slug | None, Query(description="only this negotiation")] = None,
    type: TypeFilter = None,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", description="resume after this position")
    ] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """The global log from a position on, then live as events are appended.

    Each SSE event has `id:` = its position, `event:` = its type and `data:` = the event
    as `GET /events` shows it. `Last-Event-ID` resumes and wins over `after`. Heartbeats
    (`event: heartbeat`) come after every quiet spell; their `id:` is the position
    scanned so far, so a filtered stream resumes past events it did not want. A client
    that falls too far behind gets `event: overflow` with `resume_after`, and the
    stream ends. With `Accept: application/x-ndjson` the same comes as one JSON object
    per line.
    """
    start = _resume_position(after, last_event_id)
    wanted = StreamFilter(negotiation=negotiation, types=_types(type))
    if negotiation is not None and not await run_in_threadpool(log.exists, negotiation):
        raise NegotiationNotFoundError(negotiation)
    tail: LogTail = request.app.state.tail
    batches = follow(
        tail,
        wanted,
        start,
        heartbeat_seconds=request.app.state.settings.heartbeat_seconds,
        caught_up=request.scope.get(RELEASE_KEY),  # gives back api.guard's replay slot
    )
    if accept is not None and NDJSON in accept:
        return StreamingResponse(
            _chunks(batches, ndjson_message), media_type=NDJSON, headers=_STREAM_HEADERS
        )
    return EventSourceResponse(_chunks(batches, sse_message), headers=_STREAM_HEADERS)
