"""The common append served below FastAPI: ``POST /negotiations/{slug}/events`` with no
query string and a well-formed slug.

A pure ASGI middleware, the innermost one (inside ``BodyLimit``, ``Observe`` and
``Guard``, which see it as they see any request). FastAPI's stack cost more CPU per
append than the rest of the event loop's part of it: matching the path against every
route, solving the route's dependencies (the bearer scheme, the log, the header and
query parameters, each through pydantic), and the request/response wrappers. One
``parley serve`` runs Python on one core, so that CPU bounds appends/s.

This module does what the route does, with the same functions in the same order:
``deps.authenticate`` and ``deps.require_append`` on the bearer credentials read as
FastAPI's ``HTTPBearer`` reads them, ``parse_events`` on the body, ``parse_if_match`` on
the first ``If-Match``, ``log.submit``, and the route's own answer
(``routes.negotiations.append_answer``). An error is answered by the app's exception
handler for it (``api.http.errors``), found as Starlette finds it, so a problem is the
same bytes either way; an error no handler takes goes up to Starlette's last handler as
the route's would. Anything else (another path or method, a query string, as
``dry_run`` is, a slug the route would refuse, a root path) goes to FastAPI untouched:
nothing of it has been read. The route stays declared, for the OpenAPI document and for
those requests.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.deps import authenticate, require_append
from api.http.routes.negotiations import append_answer, append_events, router
from api.parsing import parse_events, parse_if_match
from domain.negotiation import SLUG

ROUTE: BaseRoute = next(
    route for route in router.routes if getattr(route, "endpoint", None) is append_events
)
"""The route this module serves for: the request's ``route`` in its scope, as routing
leaves it, for ``Observe`` to name it by its template."""
PREFIX = "/negotiations/"
SUFFIX = "/events"


class FastAppend:
    """The middleware (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        slug = _slug_of(scope)
        if slug is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = ROUTE  # what Observe names the request by, as routing would
        scope["endpoint"] = append_events
        scope["path_params"] = {"slug": slug}
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        request = Request(scope, receive)
        try:
            credentials = _bearer(scope)
            recorder = await require_append(await authenticate(request, credentials))
            events, expected = parse_events(await request.body())
            header_version = parse_if_match(_header(scope, b"if-match"))
            if expected is None:
                expected = header_version
            log = scope["app"].state.log
            appended = await asyncio.wrap_future(
                log.submit(slug, events, expected, recorded_by=recorder.name)
            )
            response = append_answer(scope, slug, appended)
        except Exception as error:
            handler = _handler_of(scope, error)
            if handler is None or started:
                raise
            response = await handler(request, error)
        await response(scope, receive, sending)


def _slug_of(scope: Scope) -> str | None:
    """The slug of an append this module serves, else None."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
        return None
    if scope.get("query_string") or scope.get("root_path") or "app" not in scope:
        return None
    slug = path[len(PREFIX) : -len(SUFFIX)]
    return slug if SLUG.fullmatch(slug) else None


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of a header, as Starlette's ``Headers.get`` reads it."""
    for key, value in scope["headers"]:
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None


def _bearer(scope: Scope) -> HTTPAuthorizationCredentials | None:
    """The credentials as ``fastapi.security.HTTPBearer(auto_error=False)`` reads them."""
    authorization = _header(scope, b"authorization")
    scheme, credentials = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and credentials) or scheme.lower() != "bearer":
        return None
    return HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)


def _handler_of(scope: Scope, error: Exception) -> Any:
    """The app's handler for ``error``, found as Starlette's ExceptionMiddleware finds
    it (the nearest class in the error's MRO); None for what that middleware leaves to
    the server-error one (``Exception`` itself)."""
    handlers: dict[Any, Any] = scope["app"].exception_handlers
    for cls in type(error).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None


__all__ = ["FastAppend"]
