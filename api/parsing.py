"""Parse an append request: one event, a list, or ``{"events": [...], "expected_version"}``.

Every problem is reported with the dotted path of the field at fault, prefixed by
``events.<n>.`` for the n-th event of a batch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson
from fastapi import HTTPException
from pydantic import ValidationError

from api.errors import InvalidRequestError, field_errors
from domain.errors import InvalidEventError
from domain.events import AnyEvent, error_loc, parse_event
from projections.as_of import parse_instant


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise HTTPException(400, "the body is empty; send an event as JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise HTTPException(400, f"the body is not valid JSON: {error}") from None


def instant(value: str, name: str, *, bound: Literal["end", "start"] = "end") -> datetime:
    """A query parameter as a UTC instant; a date means the end of that day in UTC."""
    try:
        return parse_instant(value, bound=bound)
    except ValueError as error:
        raise InvalidRequestError(
            [{"field": name, "message": str(error), "value": value}]
        ) from None


def parse_if_match(value: str | None) -> int | None:
    """``If-Match: "3"`` (or ``3``, or ``W/"3"``) means expected_version 3."""
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidEventError(
            'If-Match must be the negotiation\'s version, e.g. "3"',
            field="If-Match",
            value=value,
        )
    return int(text)


def event_errors(error: ValidationError, prefix: str) -> list[dict[str, Any]]:
    errors = []
    for entry in error.errors():
        errors.extend(field_errors([{**entry, "loc": error_loc(entry)}], prefix=prefix))
    return errors


def parse_events(payload: Any) -> tuple[list[AnyEvent], int | None]:
    """The events of an append request and its expected_version, if any."""
    expected: int | None = None
    if isinstance(payload, dict) and "events" in payload:
        unknown = set(payload) - {"events", "expected_version"}
        if unknown:
            raise InvalidRequestError(
                [{"field": sorted(unknown)[0], "message": "unknown field in a batch request"}]
            )
        raw = payload["events"]
        expected = payload.get("expected_version")
        if expected is not None and (
            not isinstance(expected, int) or isinstance(expected, bool) or expected < 0
        ):
            raise InvalidRequestError(
                [
                    {
                        "field": "expected_version",
                        "message": "must be a whole number >= 0",
                        "value": expected,
                    }
                ]
            )
        prefix = "events."
    elif isinstance(payload, list):
        raw = payload
        prefix = "events."
    else:
        raw = [payload]
        prefix = ""
    if not isinstance(raw, list) or not raw:
        raise InvalidRequestError([{"field": "events", "message": "send at least one event"}])
    events: list[AnyEvent] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        try:
            events.append(parse_event(item))
        except ValidationError as error:
            errors.extend(event_errors(error, f"{prefix}{index}." if prefix else ""))
    if errors:
        raise InvalidRequestError(errors)
    return events, expected
