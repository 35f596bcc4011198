"""Every error becomes application/problem+json (RFC 9457) with a message a person can
act on. Domain errors map to statuses here and only here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

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


class InvalidRequestError(Exception):
    """A request whose fields fail validation; carries problem ``errors``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["message"])
        self.errors = errors


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
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def field_errors(errors: Sequence[Any], *, drop: int = 0, prefix: str = "") -> list[dict[str, Any]]:
    """pydantic errors as [{field, message, value}], with dotted field paths."""
    out = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())][drop:]
        entry: dict[str, Any] = {
            "field": prefix + ".".join(loc),
            "message": str(error.get("msg", "invalid")).removeprefix("Value error, "),
        }
        if "input" in error and isinstance(error["input"], str | int | float | bool):
            entry["value"] = error["input"]
        out.append(entry)
    return out


def invalid(errors: list[dict[str, Any]]) -> JSONResponse:
    first = errors[0]
    detail = f"{first['field'] or 'body'}: {first['message']}"
    if "value" in first:
        detail += f" (got {first['value']!r})"
    return problem(422, detail, kind="invalid", errors=errors)


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
        # loc[0] is where the value came from (body, query, path, header): drop it.
        return invalid(field_errors(found, drop=1))

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
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        headers = dict(exc.headers) if exc.headers else None
        return problem(exc.status_code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(
            500, "an unexpected error occurred; nothing was stored by this request", kind="internal"
        )
