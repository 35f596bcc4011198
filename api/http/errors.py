"""Every error becomes application/problem+json (RFC 9457) with a message a person can
act on. Domain errors map to statuses here and only here.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from api.invalid import InvalidRequestError, MalformedRequestError, field_errors
from api.ratelimit import RateLimitedError
from domain.errors import (
    EventIdReusedError,
    EventNotFoundError,
    InvalidEventError,
    NegotiationExistsError,
    NegotiationNotFoundError,
    ParleyError,
    PersonNotFoundError,
    VersionConflictError,
    WriteContentionError,
)
from domain.tokens import InvalidTokenError, TokenExistsError, TokenNotFoundError
from store.codec import CorruptRowError
from store.damage import failure_of

log = logging.getLogger("parley")

PROBLEM = "application/problem+json"
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Unavailable",
}


class ProblemResponse(JSONResponse):
    """A problem+json answer. Non-ASCII is escaped, so a lone surrogate that a client
    sent (and that a message quotes back) goes out as the ``\\ud800`` it came in as."""

    media_type = PROBLEM

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False).encode()


def problem(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """A problem+json response."""
    body = {
        "type": f"/problems/{kind}" if kind else "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extensions,
    }
    return ProblemResponse(body, status_code=status, headers=headers)


ECHO_CHARACTERS = 200
"""How much of an offending string a problem quotes back."""


def echo(value: Any) -> str | int | float | bool | None:
    """An offending value as a problem quotes it back, or None to leave it out: long
    strings cut, numbers JSON cannot write (NaN, Infinity) named, huge integers left
    out, and nothing but scalars."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= 2**63 else None
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        if len(value) > ECHO_CHARACTERS:
            return f"{value[:ECHO_CHARACTERS]}… ({len(value)} characters)"
        return value
    return None


def invalid(errors: list[dict[str, Any]]) -> JSONResponse:
    """The 422 problem for field errors, each value quoted back as ``echo`` allows."""
    errors = [_echoed(entry) for entry in errors]
    first = errors[0]
    detail = f"{first['field'] or 'body'}: {first['message']}"
    if "value" in first:
        detail += f" (got {first['value']!r})"
    return problem(422, detail, kind="invalid", errors=errors)


def _echoed(entry: dict[str, Any]) -> dict[str, Any]:
    """An error entry with its value quoted as ``echo`` allows, and its message cut (some
    of pydantic's quote the input)."""
    rest = {key: value for key, value in entry.items() if key != "value"}
    if len(rest["message"]) > 2 * ECHO_CHARACTERS:
        rest["message"] = rest["message"][: 2 * ECHO_CHARACTERS] + "…"
    if "value" not in entry:
        return rest
    value = echo(entry["value"])
    return rest if value is None else {**rest, "value": value}


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path. The router's own 405 names
    only the first route that matched the path, not all of them."""
    found = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            found.append(method)
    return found


def _parameter_named(error: Any) -> Any:
    loc = tuple(error.get("loc", ()))
    if loc[:1] == ("query",):
        return {**error, "loc": tuple(part for part in loc if not isinstance(part, int))}
    return error


Answer = Callable[[Request, Any], JSONResponse]
"""How one error type becomes a problem: given the request and the error."""


def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    found = list(exc.errors())
    for error in found:
        if error.get("type") == "json_invalid":
            return problem(400, f"the body is not valid JSON: {error.get('msg')}", kind="malformed")
    # loc[0] is where the value came from (body, query, path, header): drop it. A
    # repeated query parameter is named as sent (type), not by its index (type.0).
    return invalid(field_errors([_parameter_named(error) for error in found], drop=1))


def _event_invalid(_: Request, exc: InvalidEventError) -> JSONResponse:
    entry: dict[str, Any] = {"field": exc.field, "message": str(exc)}
    if exc.value is not None:
        entry["value"] = exc.value
    return invalid([entry])


def _version_conflict(_: Request, exc: VersionConflictError) -> JSONResponse:
    return problem(
        409,
        str(exc),
        kind="version-conflict",
        headers={"ETag": f'"{exc.current}"'},
        expected_version=exc.expected,
        current_version=exc.current,
    )


def _rate_limited(_: Request, exc: RateLimitedError) -> JSONResponse:
    return problem(
        429,
        str(exc),
        kind="rate-limited",
        headers={"Retry-After": str(exc.retry_after)},
        retry_after=exc.retry_after,
    )


def _corrupt(_: Request, exc: CorruptRowError) -> JSONResponse:
    log.error("unreadable stored row: %s", exc)
    return problem(500, str(exc), kind="corrupt-row")


def _http(request: Request, exc: HTTPException) -> JSONResponse:
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    # FastAPI's own 400: a body it could not parse (JSON nested too deep, say).
    kind = "malformed" if exc.status_code == 400 else None
    return problem(exc.status_code, str(exc.detail), kind=kind, headers=headers or None)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if (found := store_failure(request, exc)) is not None:
        return found
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(
        500, "an unexpected error occurred; nothing was stored by this request", kind="internal"
    )


PROBLEMS: dict[type[Exception], Answer] = {
    RequestValidationError: _request_invalid,
    MalformedRequestError: lambda _, exc: problem(400, str(exc), kind="malformed"),
    InvalidRequestError: lambda _, exc: invalid(exc.errors),
    ValidationError: lambda _, exc: invalid(field_errors(exc.errors())),
    InvalidEventError: _event_invalid,
    NegotiationNotFoundError: lambda _, exc: problem(
        404, f"{exc}; open it with POST /negotiations", kind="not-found", negotiation=exc.slug
    ),
    EventNotFoundError: lambda _, exc: problem(
        404, str(exc), kind="not-found", event_id=str(exc.event_id)
    ),
    PersonNotFoundError: lambda _, exc: problem(404, str(exc), kind="not-found"),
    NegotiationExistsError: lambda _, exc: problem(
        409, str(exc), kind="exists", negotiation=exc.slug
    ),
    VersionConflictError: _version_conflict,
    EventIdReusedError: lambda _, exc: problem(
        409, str(exc), kind="id-reused", event_id=str(exc.event_id)
    ),
    WriteContentionError: lambda _, exc: problem(
        503, str(exc), kind="busy", headers={"Retry-After": "1"}, negotiation=exc.slug
    ),
    InvalidTokenError: lambda _, exc: invalid(
        [{"field": exc.field, "message": str(exc), "value": exc.value}]
    ),
    TokenExistsError: lambda _, exc: problem(409, str(exc), kind="token-exists", name=exc.value),
    TokenNotFoundError: lambda _, exc: problem(404, str(exc), kind="not-found", name=exc.value),
    RateLimitedError: _rate_limited,
    CorruptRowError: _corrupt,
    ParleyError: lambda _, exc: problem(400, str(exc), kind="bad-request"),
    HTTPException: _http,
    Exception: _unexpected,
}
"""Each error type's problem. Starlette picks the entry of the nearest class in the
error's MRO, so ``ParleyError`` answers only for domain errors not named above, and
``Exception`` for everything else."""


def _handler(answer: Answer) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    # async, so that Starlette calls it on the event loop and not in a worker thread.
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return answer(request, exc)

    return handle


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    for error_type, answer in PROBLEMS.items():
        app.add_exception_handler(error_type, _handler(answer))


def store_failure(request: Request, exc: Exception) -> JSONResponse | None:
    """The problem for a store that is damaged (500) or cannot be used (503), naming it
    and the database's message (``store.damage``); None for any other error. Damage
    also makes ``/health/ready`` fail from then on."""
    store = request.app.state.log
    failure = failure_of(exc, store.config.describe()) if store is not None else None
    if failure is None:
        return None
    log.error("%s (on %s %s)", failure, request.method, request.url.path)
    health = getattr(request.app.state, "store_health", None)
    if health is not None:
        health.seen(failure)
    status, retry = (500, None) if failure.kind == "damaged" else (503, {"Retry-After": "5"})
    return problem(
        status,
        f"{failure}; nothing was stored by this request",
        kind=f"store-{failure.kind}",
        headers=retry,
    )
