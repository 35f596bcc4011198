"""Every error becomes application/problem+json (RFC 9457) with a message a person can
act on. Domain errors map to statuses here and only here.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match

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
from domain.values import NO_NUL, ONE_LINE
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


class MalformedRequestError(Exception):
    """A body that is empty, or no JSON (or not of the shape any request takes): 400."""


class InvalidRequestError(Exception):
    """A request whose fields fail validation; carries problem ``errors``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["message"])
        self.errors = errors


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


def field_errors(errors: Sequence[Any], *, drop: int = 0, prefix: str = "") -> list[dict[str, Any]]:
    """pydantic errors as [{field, message, value}], with dotted field paths."""
    out = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())][drop:]
        entry: dict[str, Any] = {
            "field": prefix + ".".join(loc),
            "message": str(error.get("msg", "invalid")).removeprefix("Value error, "),
        }
        if (error.get("ctx") or {}).get("pattern") == NO_NUL:
            entry["message"] = "text must not contain NUL (U+0000)"
        if (error.get("ctx") or {}).get("pattern") == ONE_LINE:
            entry["message"] = "text must be one line, without control characters"
        if isinstance(error.get("input"), str | int | float | bool):
            entry["value"] = error["input"]
        out.append(entry)
    return out


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


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        found = list(exc.errors())
        for error in found:
            if error.get("type") == "json_invalid":
                return problem(
                    400, f"the body is not valid JSON: {error.get('msg')}", kind="malformed"
                )
        # loc[0] is where the value came from (body, query, path, header): drop it. A
        # repeated query parameter is named as sent (type), not by its index (type.0).
        return invalid(field_errors([_parameter_named(error) for error in found], drop=1))

    @app.exception_handler(MalformedRequestError)
    async def _malformed(_: Request, exc: MalformedRequestError) -> JSONResponse:
        return problem(400, str(exc), kind="malformed")

    @app.exception_handler(InvalidRequestError)
    async def _request_fields(_: Request, exc: InvalidRequestError) -> JSONResponse:
        return invalid(exc.errors)

    @app.exception_handler(ValidationError)
    async def _model_invalid(_: Request, exc: ValidationError) -> JSONResponse:
        return invalid(field_errors(exc.errors()))

    @app.exception_handler(InvalidEventError)
    async def _event_invalid(_: Request, exc: InvalidEventError) -> JSONResponse:
        entry: dict[str, Any] = {"field": exc.field, "message": str(exc)}
        if exc.value is not None:
            entry["value"] = exc.value
        return invalid([entry])

    @app.exception_handler(NegotiationNotFoundError)
    async def _no_negotiation(_: Request, exc: NegotiationNotFoundError) -> JSONResponse:
        return problem(
            404, f"{exc}; open it with POST /negotiations", kind="not-found", negotiation=exc.slug
        )

    @app.exception_handler(EventNotFoundError)
    async def _no_event(_: Request, exc: EventNotFoundError) -> JSONResponse:
        return problem(404, str(exc), kind="not-found", event_id=str(exc.event_id))

    @app.exception_handler(PersonNotFoundError)
    async def _no_person(_: Request, exc: PersonNotFoundError) -> JSONResponse:
        return problem(404, str(exc), kind="not-found")

    @app.exception_handler(NegotiationExistsError)
    async def _exists(_: Request, exc: NegotiationExistsError) -> JSONResponse:
        return problem(409, str(exc), kind="exists", negotiation=exc.slug)

    @app.exception_handler(VersionConflictError)
    async def _conflict(_: Request, exc: VersionConflictError) -> JSONResponse:
        return problem(
            409,
            str(exc),
            kind="version-conflict",
            headers={"ETag": f'"{exc.current}"'},
            expected_version=exc.expected,
            current_version=exc.current,
        )

    @app.exception_handler(EventIdReusedError)
    async def _reused(_: Request, exc: EventIdReusedError) -> JSONResponse:
        return problem(409, str(exc), kind="id-reused", event_id=str(exc.event_id))

    @app.exception_handler(WriteContentionError)
    async def _busy(_: Request, exc: WriteContentionError) -> JSONResponse:
        return problem(
            503, str(exc), kind="busy", headers={"Retry-After": "1"}, negotiation=exc.slug
        )

    @app.exception_handler(InvalidTokenError)
    async def _token_invalid(_: Request, exc: InvalidTokenError) -> JSONResponse:
        return invalid([{"field": exc.field, "message": str(exc), "value": exc.value}])

    @app.exception_handler(TokenExistsError)
    async def _token_exists(_: Request, exc: TokenExistsError) -> JSONResponse:
        return problem(409, str(exc), kind="token-exists", name=exc.value)

    @app.exception_handler(TokenNotFoundError)
    async def _no_token(_: Request, exc: TokenNotFoundError) -> JSONResponse:
        return problem(404, str(exc), kind="not-found", name=exc.value)

    @app.exception_handler(RateLimitedError)
    async def _rate_limited(_: Request, exc: RateLimitedError) -> JSONResponse:
        return problem(
            429,
            str(exc),
            kind="rate-limited",
            headers={"Retry-After": str(exc.retry_after)},
            retry_after=exc.retry_after,
        )

    @app.exception_handler(CorruptRowError)
    async def _corrupt(_: Request, exc: CorruptRowError) -> JSONResponse:
        log.error("unreadable stored row: %s", exc)
        return problem(500, str(exc), kind="corrupt-row")

    @app.exception_handler(ParleyError)
    async def _parley(_: Request, exc: ParleyError) -> JSONResponse:
        return problem(400, str(exc), kind="bad-request")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        # FastAPI's own 400: a body it could not parse (JSON nested too deep, say).
        kind = "malformed" if exc.status_code == 400 else None
        return problem(exc.status_code, str(exc.detail), kind=kind, headers=headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if (found := store_failure(request, exc)) is not None:
            return found
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(
            500, "an unexpected error occurred; nothing was stored by this request", kind="internal"
        )


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
