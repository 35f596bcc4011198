"""How Parley looks to an EventSourcingDB client (its HTTP API v1): the one mapping
between Parley's stored events and EventSourcingDB's CloudEvents, subjects and event
types, and the wire format of the answers (NDJSON lines, the time format, text errors).

A negotiation ``slug`` is the subject ``/negotiations/{slug}``; an event type ``T`` is
``io.parley.T``; the CloudEvent ``id`` is the global position; its ``data`` is Parley's
event body without ``type``. Every answer under /api/v1 names its server
``EventSourcingDB/…``: EventSourcingDB's SDKs refuse any answer that does not, errors
included, and read only the first ``Server`` header (so ``parley serve`` tells uvicorn
not to send its own). The status of an error is the one Parley's problem+json handlers
give it; only the body differs, a line of text as EventSourcingDB writes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute

from domain.events import EVENT_TYPES, Event
from domain.negotiation import SLUG
from projections.tail import StreamFilter

SERVER = "EventSourcingDB/1.2.0 (compatible; Parley/0.1.0)"
"""The ``Server`` header of every /api/v1 answer; the SDKs check its prefix."""

NDJSON = "application/x-ndjson"
TYPE_PREFIX = "io.parley."
ROOT = "/"
NEGOTIATIONS = "/negotiations"
HEARTBEAT_SECONDS = 10.0
"""The longest silence on observe-events: the SDKs give up on a stream after 30 s."""
ZERO_HASH = "0" * 64
"""The ``predecessorhash`` of a negotiation's first event."""

ENVELOPE = tuple(name for name in Event.model_fields if name != "type")
"""The fields of an event's CloudEvent ``data``: Parley's event body without ``type``."""

_NO_NEGOTIATION = "/"  # no slug contains a slash: a stream filter that matches nothing


class EsdbError(Exception):
    """An answer of the EventSourcingDB API that Parley's own handlers do not make:
    a failed precondition, an unsupported feature, an unknown event type."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


# Subjects.
def subject_of(slug: str) -> str:
    return f"{NEGOTIATIONS}/{slug}"


def slug_of(subject: str) -> str | None:
    """The negotiation a subject names, or None for any other subject."""
    prefix = NEGOTIATIONS + "/"
    if subject.startswith(prefix) and SLUG.fullmatch(subject[len(prefix) :]):
        return subject[len(prefix) :]
    return None


SUBJECT_PATTERN = r"^/(?:[^/]+(?:/[^/]+)*)?$"
_SUBJECT = re.compile(SUBJECT_PATTERN)


def is_subject(value: str) -> bool:
    """``/`` or slash-separated non-empty segments after a leading slash."""
    return bool(_SUBJECT.fullmatch(value))


def subject_error(value: object) -> str:
    return f"a subject is an absolute path such as /negotiations/istanbul-2025, not {value!r}"


def tree(slugs: list[str]) -> list[str]:
    """Every subject Parley holds, in order: ``/``, ``/negotiations``, each negotiation."""
    if not slugs:
        return []
    return [ROOT, NEGOTIATIONS, *(subject_of(s) for s in sorted(slugs))]


def under(subject: str, base: str) -> bool:
    """Whether ``subject`` is ``base`` or nested in it."""
    return base == ROOT or subject == base or subject.startswith(base + "/")


@dataclass(frozen=True)
class Scope:
    """The negotiations a read covers: one, every one, or none."""

    slug: str | None = None
    everything: bool = False

    @property
    def nothing(self) -> bool:
        return self.slug is None and not self.everything

    def covers(self, negotiation: str) -> bool:
        return self.everything or negotiation == self.slug

    def stream_filter(self) -> StreamFilter:
        if self.everything:
            return StreamFilter()
        return StreamFilter(negotiation=self.slug or _NO_NEGOTIATION)


def scope_of(subject: str, recursive: bool) -> Scope:
    """What a subject reads. ``/`` and ``/negotiations`` hold no events of their own,
    so they read everything recursively and nothing otherwise."""
    if subject in (ROOT, NEGOTIATIONS):
        return Scope(everything=recursive)
    return Scope(slug=slug_of(subject))


# Event types.
def esdb_type(name: str) -> str:
    return TYPE_PREFIX + name


def parley_type(esdb_name: str) -> str | None:
    """The Parley event type an EventSourcingDB type names, or None."""
    name = esdb_name.removeprefix(TYPE_PREFIX)
    return name if esdb_name.startswith(TYPE_PREFIX) and name in EVENT_TYPES else None


def known_types() -> str:
    return ", ".join(esdb_type(name) for name in sorted(EVENT_TYPES))


@cache
def data_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of a type's CloudEvent ``data``, from its pydantic model."""
    schema = EVENT_TYPES[name].model_json_schema()
    schema["properties"].pop("type", None)
    schema["required"] = [field for field in schema.get("required", []) if field != "type"]
    return schema


def event_type_info(name: str) -> dict[str, Any]:
    """An event type as read-event-type(s) answers it. Parley's types are never
    phantoms: their schemas are fixed by its code whether or not events exist."""
    return {"eventType": esdb_type(name), "isPhantom": False, "schema": data_schema(name)}


# Events.
def esdb_time(value: str | datetime) -> str:
    """UTC with nine fraction digits and ``Z``. The SDKs need a fraction and at least
    six digits of it; EventSourcingDB writes nine."""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def event_source(record: Mapping[str, Any]) -> str:
    """The CloudEvent ``source`` of a stored event (``record`` as GET /events shows it):
    as written, stored and hashed with the event; ``parley`` for events written
    through Parley's own API, which names none."""
    return str(record.get("source") or "parley")


def cloud_event(record: Mapping[str, Any]) -> dict[str, Any]:
    """A stored event, as GET /events shows it, as an EventSourcingDB CloudEvent."""
    return {
        "specversion": "1.0",
        "id": str(record["position"]),
        "time": esdb_time(record["recorded_at"]),
        "source": event_source(record),
        "subject": subject_of(record["negotiation"]),
        "type": esdb_type(record["type"]),
        "datacontenttype": "application/json",
        "data": {name: record[name] for name in ENVELOPE if name in record},
        "predecessorhash": record["previous_hash"] or ZERO_HASH,
        "hash": record["hash"],
    }


def api_event(kind: str, subject: str) -> dict[str, Any]:
    """An answer of ping or verify-api-token: an event about the API itself."""
    return {
        "specversion": "1.0",
        "id": "0",
        "time": esdb_time(datetime.now(UTC)),
        "source": "parley",
        "subject": subject,
        "type": f"io.eventsourcingdb.api.{kind}",
        "datacontenttype": "application/json",
        "data": {},
    }


# NDJSON lines.
def line(kind: str, payload: Any) -> bytes:
    return orjson.dumps({"type": kind, "payload": payload}) + b"\n"


HEARTBEAT = line("heartbeat", {})


def error_line(message: str) -> bytes:
    return line("error", {"error": message})


def resume_hint(position: int) -> str:
    return f'observe again with lowerBound {{"id": "{position}", "type": "exclusive"}}'


# Answers.
async def error_response(request: Request, error: Exception) -> Response:
    """An error as EventSourcingDB writes it: its status, and a line of text.

    Parley's own handlers (api/http/errors.py) decide the status; their problem's
    ``detail`` and field errors become the text.
    """
    if isinstance(error, EsdbError):
        return PlainTextResponse(error.text, status_code=error.status)
    handler = _handler_for(request, error)
    problem = await handler(request, error)
    body = orjson.loads(bytes(problem.body))
    text = str(body.get("detail", ""))
    more = [f"{e['field'] or 'body'}: {e['message']}" for e in body.get("errors", [])[1:]]
    if more:
        text = "; ".join([text, *more])
    headers = {
        name: value
        for name, value in problem.headers.items()
        if name not in ("content-length", "content-type")
    }
    return PlainTextResponse(text, status_code=problem.status_code, headers=headers)


Handler = Callable[[Request, Exception], Coroutine[Any, Any, JSONResponse]]


def _handler_for(request: Request, error: Exception) -> Handler:
    handlers = request.app.exception_handlers
    for kind in type(error).__mro__:
        if kind in handlers:
            handler: Handler = handlers[kind]
            return handler
    fallback: Handler = handlers[Exception]
    return fallback


class EsdbRoute(APIRoute):
    """A route of the EventSourcingDB API: errors are text, and every answer carries
    the ``Server`` header."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handle(request)
            except Exception as error:
                response = await error_response(request, error)
            response.headers["Server"] = SERVER
            return response

        return route
