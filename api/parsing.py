"""Parse what a request sends: an append's body, query times, If-Match; and the types
that bound a request's parameters (positions, query times, type filters, If-Match),
which the parser and the OpenAPI document share.

An append's body is one event, a list, or ``{"events": [...], "expected_version"}``,
parsed from its bytes once into typed events: this is the edge where input is validated
(DESIGN.md §10). Every problem is reported with the dotted path of the field at fault,
prefixed by ``events.<n>.`` for the n-th event of a batch.
"""

from __future__ import annotations

import gc
import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Union

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from api.invalid import InvalidRequestError, MalformedRequestError, field_errors
from domain.errors import InvalidEventError
from domain.events import EVENT_TYPES, EXACT_INTEGER, AnyEvent, any_event, error_loc
from domain.instants import clamped
from domain.values import iso_time_pattern, parse_instant, quoted
from projections.export import WORLD_TYPES, ExportQuery

MAX_VERSION = EXACT_INTEGER
"""The largest version or position a request may name: what JSON numbers hold exactly,
and far below what a 64-bit database column holds."""

Position = Annotated[int, Field(ge=0, le=MAX_VERSION)]
"""A log position or a version in a request: a whole number the store can compare."""

MAX_TIME_TEXT = 64
"""The longest query time accepted: an ISO datetime with nanoseconds and an offset is
about 40 characters."""

QueryTime = Annotated[
    str,
    StringConstraints(max_length=MAX_TIME_TEXT),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": MAX_TIME_TEXT,
            # Any year but 0, except an instant UTC cannot hold: a positive offset on
            # the calendar's first day, a negative one on its last (parse_instant).
            "pattern": r"^(?!0001-01-01T.*\+)(?!9999-12-31T.*-)"
            + iso_time_pattern("(?!0000)[0-9]{4}").removeprefix("^"),
            "description": "a date (2025-05-28) or a datetime with a UTC offset "
            "(2025-05-28T12:57:00-04:00)",
            "examples": ["2025-05-28"],
        }
    ),
]
"""A query time as sent: a date, or a datetime with a UTC offset (``instant`` reads
it)."""

_TYPE_NAME = "|".join(sorted(EVENT_TYPES))


def _event_types(value: str) -> str:
    unknown = sorted(set(filter(None, value.split(","))) - EVENT_TYPES.keys())
    if unknown:
        raise ValueError(
            f"unknown event type {quoted(unknown[0])}; known: {', '.join(sorted(EVENT_TYPES))}"
        )
    return value


EventTypes = Annotated[
    str,
    AfterValidator(_event_types),
    Field(
        examples=["RoundScheduled,HostAnnounced"],
        json_schema_extra={"pattern": f"^(?:{_TYPE_NAME})?(?:,(?:{_TYPE_NAME})?)*$"},
    ),
]
"""Event types to filter by, comma-separated: only Parley's own type names."""


def _check_body(body: bytes) -> bytes:
    text = body.lstrip()
    if not text:
        raise MalformedRequestError("the body is empty; send an event as JSON")
    if text[:1] not in (b"{", b"["):
        raise MalformedRequestError(
            'the body must be a JSON object (one event, or {"events": [...]}) or a list'
        )
    return text


def parse_json(body: bytes) -> Any:
    """A JSON body as Python values, for the few requests that are not events (400 if the
    body is empty or not JSON)."""
    text = body.strip()
    if not text:
        raise MalformedRequestError("the body is empty; send JSON")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise malformed(text, str(error)) from None


def malformed(
    body: bytes, reason: str, *, batch_prefix: bool = False
) -> MalformedRequestError | InvalidRequestError:
    """The error for a body the fast parsers refused: a 422 naming the field when the
    body is JSON but for a lone surrogate (``"\\ud800"``, no character) or a NaN or
    Infinity (no JSON number), else a 400. The standard library's parser reads both,
    so it finds the field; nesting too deep for it stays a 400.

    ``batch_prefix``: the body is a list of events, whose fields are ``events.<n>....``.
    """
    if "depth" in reason:
        # Nested past orjson's limit: the standard library would recurse to Python's
        # limit, where a finaliser run by the collector has no stack left and fails
        # as an unraisable exception (seen once in CI, in a later test).
        return MalformedRequestError(f"the body is not valid JSON: {reason}")
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return MalformedRequestError(f"the body is not valid JSON: {reason}")
    found = _not_json_text(value)
    if found is None:
        return MalformedRequestError(f"the body is not valid JSON: {reason}")
    path, message = found
    if batch_prefix and path and isinstance(path[0], int):
        path = ["events", *path]
    return InvalidRequestError([{"field": ".".join(map(str, path)), "message": message}])


def _not_json_text(value: Any) -> tuple[list[str | int], str] | None:
    """The path of the first text that is no Unicode, or number that is no JSON number."""
    pending: list[tuple[list[str | int], Any]] = [([], value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return path, "NaN and Infinity are no JSON numbers: send a number, or null"
        if isinstance(item, str) and not _unicode(item):
            return path, "the text holds a lone surrogate (such as \\ud800), which is no character"
        if isinstance(item, dict):
            for key, inner in reversed(item.items()):
                if not _unicode(key):
                    return [*path, key.encode("utf-8", "backslashreplace").decode()], (
                        "the field's name holds a lone surrogate, which is no character"
                    )
                pending.append(([*path, key], inner))
        elif isinstance(item, list):
            pending.extend(([*path, n], inner) for n, inner in reversed(list(enumerate(item))))
    return None


def _unicode(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def instant(value: str, name: str, *, bound: Literal["end", "start"] = "end") -> datetime:
    """A query parameter as a UTC instant; a date means the end of that day in UTC."""
    try:
        return parse_instant(value, bound=bound)
    except ValueError as error:
        raise InvalidRequestError(
            [{"field": name, "message": str(error), "value": value}]
        ) from None


def known_instant(value: str | None, name: str) -> datetime | None:
    """A knowledge bound (``known_at``, ``reported_at``) as a UTC instant, clamped to now:
    what will be known or reported later is not an answer yet. None when not sent."""
    if value is None:
        return None
    return clamped(instant(value, name), datetime.now(UTC))


VERSION_TEXT = r"^[0-9]{1,15}$"
"""A version or position written as text (If-Match, an EventSourcingDB event id): at
most 15 digits, below MAX_VERSION whatever the digits."""

IF_MATCH = r'^(?:W/)?"?[0-9]{1,15}"?$'
_IF_MATCH = re.compile(IF_MATCH)

IfMatch = Annotated[
    str,
    WithJsonSchema(
        {"type": "string", "pattern": IF_MATCH, "description": 'the version, e.g. "3"'}
    ),
]
"""``If-Match: "3"`` (or ``3``, or ``W/"3"``): the append's expected version."""


def parse_if_match(value: str | None) -> int | None:
    """``If-Match: "3"`` (or ``3``, or ``W/"3"``) means expected_version 3."""
    if value is None:
        return None
    if not _IF_MATCH.fullmatch(value):
        raise InvalidEventError(
            'If-Match must be the negotiation\'s version, e.g. "3"',
            field="If-Match",
            value=value,
        )
    return int(value.removeprefix("W/").strip('"'))


class Batch(BaseModel):
    """``{"events": [...], "expected_version": n}``: a batch guarded by a version."""

    model_config = ConfigDict(extra="forbid")

    events: Annotated[list[AnyEvent], Field(min_length=1)]
    expected_version: Position | None = None


AppendBody = Union[AnyEvent, Annotated[list[AnyEvent], Field(min_length=1)], Batch]
"""What an append's body may be: one event, a list, or a batch with its version. The
OpenAPI document's schema of the body (``parse_events`` reads it from the bytes)."""

_events: TypeAdapter[list[AnyEvent]] = TypeAdapter(list[AnyEvent])
_batch: TypeAdapter[Batch] = TypeAdapter(Batch)


def request_errors(error: ValidationError, prefix: str) -> list[dict[str, Any]]:
    """Field errors of a request body, each event's path prefixed by ``events.<n>.``."""
    found = []
    for entry in error.errors():
        if entry.get("type") == "json_invalid":
            raise MalformedRequestError(f"the body is not valid JSON: {entry.get('msg')}")
        loc = list(entry.get("loc", ()))
        head: list[str | int] = []
        if prefix and loc and isinstance(loc[0], int):
            head, loc = ["events", loc[0]], loc[1:]
        elif loc[:1] == ["events"] and len(loc) > 1 and isinstance(loc[1], int):
            head, loc = loc[:2], loc[2:]
        rest = error_loc({**entry, "loc": loc})
        found.extend(field_errors([{**entry, "loc": [*head, *rest]}]))
    return found


def event_errors(error: ValidationError, prefix: str) -> list[dict[str, Any]]:
    """Field errors of one event validated alone, each path prefixed by ``prefix``."""
    return [{**entry, "field": prefix + entry["field"]} for entry in request_errors(error, "")]


def parse_events(body: bytes) -> tuple[list[AnyEvent], int | None]:
    """The events of an append request and its expected_version, parsed once from the
    body's bytes: one event, a list of events, or ``{"events": [...],
    "expected_version": n}``. Each problem names its field, ``events.<n>.`` first for the
    n-th event of a batch."""
    text = _check_body(body)
    # The cyclic garbage collector is held off while the body is validated (unless it
    # was off already). Validation makes no cycles, and what it makes lives on (the
    # request's events), so every collection its allocations would start frees nothing:
    # a 1,000-event batch started dozens, whole-heap ones among them, for a fifth of the
    # time spent validating it. The count goes on: the next allocation collects once.
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _parse_events(text)
    finally:
        if paused:
            gc.enable()


def _parse_events(text: bytes) -> tuple[list[AnyEvent], int | None]:
    try:
        if text[:1] == b"[":
            events = _events.validate_json(text)
            if not events:
                raise InvalidRequestError(
                    [{"field": "events", "message": "send at least one event"}]
                )
            return events, None
        try:
            return [any_event.validate_json(text)], None
        except ValidationError as error:
            if not _is_untyped(error):
                raise
            try:
                batch = _batch.validate_json(text)
            except ValidationError as batch_error:
                if any(e["loc"] == ("events",) and e["type"] == "missing"
                       for e in batch_error.errors()):
                    raise error from None  # not a batch: an event without its type
                raise
            return batch.events, batch.expected_version
    except ValidationError as error:
        prefix = "events." if text[:1] == b"[" else ""
        invalid_json = [e for e in error.errors() if e["type"] == "json_invalid"]
        if invalid_json:
            raise malformed(text, invalid_json[0]["msg"], batch_prefix=bool(prefix)) from None
        raise InvalidRequestError(request_errors(error, prefix)) from None


def _is_untyped(error: ValidationError) -> bool:
    """Whether the body is an object without an event ``type`` (perhaps a batch)."""
    return any(e["type"] == "union_tag_not_found" and not e["loc"] for e in error.errors())


def export_query(
    slug: str,
    *,
    as_of: str | None = None,
    known_at: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    types: Sequence[str] = (),
    reported_at: str | None = None,
) -> ExportQuery:
    """An export's query from the request's (or the command line's) text; a bad time or
    type is an ``InvalidRequestError`` naming the parameter."""
    start = instant(from_, "from", bound="start") if from_ is not None else None
    end = instant(to, "to") if to is not None else None
    in_order(start, end)
    unknown = [t for t in types if t not in WORLD_TYPES]
    if unknown:
        raise InvalidRequestError(
            [
                {
                    "field": "type",
                    "message": f"an export holds the types {', '.join(WORLD_TYPES)} "
                    "(corrections and retractions are applied, not exported)",
                    "value": ",".join(unknown),
                }
            ]
        )
    return ExportQuery(
        negotiation=slug,
        as_of=instant(as_of, "as_of") if as_of is not None else None,
        known_at=known_instant(known_at, "known_at"),
        reported_at=known_instant(reported_at, "reported_at"),
        from_=start,
        to=end,
        types=tuple(dict.fromkeys(types)),
    )


def in_order(start: datetime | None, end: datetime | None) -> None:
    """A range's ``from`` later than its ``to`` is an ``InvalidRequestError`` naming ``from``."""
    if start is not None and end is not None and start > end:
        raise InvalidRequestError([{"field": "from", "message": "from must not be later than to"}])
