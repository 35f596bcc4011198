"""Pure ASGI middleware that refuses request bodies over the configured size with 413.

Pure ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware costs
too much on the append path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised while streaming a body; an HTTPException so FastAPI re-raises it as is."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, _detail(max_bytes))


def _detail(max_bytes: int) -> str:
    return f"the body is larger than {max_bytes} bytes (PARLEY_MAX_BODY_BYTES); split the batch"


DRAIN_BYTES = 16 * 1024 * 1024
DRAIN_SECONDS = 10.0


async def _drain(scope: Scope, receive: Receive, seen: int) -> None:
    """Read and drop the rest of a refused body, up to ``DRAIN_BYTES`` in all and
    ``DRAIN_SECONDS``, before answering. A client that sends the whole body before it
    reads (urllib, and curl without ``Expect``) would otherwise meet a connection closed
    under its feet, and see a broken pipe or a reset instead of the 413. A client that
    asked ``Expect: 100-continue`` has sent nothing and waits: it gets the 413 at once.
    Past the bounds the server answers and closes, as before."""
    for name, value in scope.get("headers", ()):
        if name == b"expect" and value.lower() == b"100-continue":
            return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_SECONDS):
            while seen <= DRAIN_BYTES:
                message = await receive()
                if message["type"] != "http.request":
                    return
                seen += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return


class BodyLimit:
    """Reject bodies larger than ``max_bytes``, by Content-Length or while streaming."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        headers_by_prefix: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Headers a refusal carries under a path prefix (the EventSourcingDB API's
        # clients refuse any answer without its Server header).
        self.headers_by_prefix = headers_by_prefix or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = 0
                if length > self.max_bytes:
                    await _drain(scope, receive, 0)
                    await self._refuse(send, scope)
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] == 413 and seen > self.max_bytes:
                    await _drain(scope, receive, seen)  # the app answered BodyTooLarge
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _drain(scope, receive, seen)
                await self._refuse(send, scope)

    async def _refuse(self, send: Send, scope: Scope) -> None:
        body: dict[str, Any] = {
            "type": "/problems/too-large",
            "title": "Request body too large",
            "status": 413,
            "detail": _detail(self.max_bytes),
            "max_bytes": self.max_bytes,
        }
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(payload)).encode()),
                    *(
                        (name.lower().encode(), value.encode())
                        for prefix, headers in self.headers_by_prefix.items()
                        if scope.get("path", "").startswith(prefix)
                        for name, value in headers.items()
                    ),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
