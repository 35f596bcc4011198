"""Bounded work for every client (issue 15): heavy answers are rationed, stalled ones
cut, and ``/health`` answers before any of it.

A pure ASGI middleware, outermost, so that nothing a request waits for can hold it up:

- ``GET /health`` is answered here, from memory and one position query run on a thread
  of its own (not the thread pool that heavy reads and appends share). If that query
  has not answered within ``HEALTH_QUERY_SECONDS``, the live tail's position (what this
  process has seen) answers instead: a load balancer's probe stays fast whatever the
  store is doing.
- Heavy reads take a slot of their class (exports, full timelines, streams that must
  replay the log from far behind) and one of the client's (its token, else its peer
  address). A full class is a 503, a client over its share a 429, both with
  Retry-After. The slots bound the server's memory (a page of rows per answer) and
  its thread pool (heavy reads use at most the sum of the class limits of anyonio's 40
  threads, so appends always find one).
- A heavy answer whose client stops reading is cut after ``stall_seconds``: a client
  that never reads would otherwise hold its slot, and its page, for ever. A stream
  gives its replay slot back once it has caught up with the live tail.

When the last heavy answer ends, glibc is asked to give freed memory back to the
system (``malloc_trim``): without it the peak of a burst stays resident.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import ctypes.util
import gc
import hashlib
import json
import logging
import sys
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.ratelimit import HeavyClass, Limits
from api.version import version

logger = logging.getLogger("parley")

HEALTH_QUERY_SECONDS = 0.05
SWITCH_INTERVAL = 0.001
RELEASE_KEY = "parley.guard.caught_up"
"""The scope key of a callable that a stream calls once it has caught up (its replay
slot is then given back)."""


class Stalled(Exception):
    """The client has not read for ``stall_seconds``: its answer is cut."""


class Guard:
    """The middleware (see the module's docstring)."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self.active: Counter[HeavyClass] = Counter()
        self.clients: Counter[str] = Counter()
        self._health = concurrent.futures.ThreadPoolExecutor(1, "parley-health")
        self._query: concurrent.futures.Future[int] | None = None
        self._trimming = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, _freezing(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/health" and scope["method"] == "GET":
            await self._answer_health(scope, send)
            return
        heavy = self.classify(scope)
        if heavy is None:
            await self.app(scope, receive, send)
            return
        client = client_of(scope)
        refusal = self._take(heavy, client)
        if refusal is not None:
            await refusal(send)
            return
        held = [True]

        def caught_up() -> None:
            if held.pop() if held else False:
                self._give_back(heavy, client)

        scope[RELEASE_KEY] = caught_up
        try:
            await self.app(scope, receive, self._stall_guard(send))
        except Stalled:
            # Returning without finishing the answer makes uvicorn close the connection:
            # the client sees a cut answer, never one that looks complete.
            logger.info(
                "cut a %s answer to %s: it read nothing for %s s",
                heavy,
                client,
                self.limits.stall_seconds,
            )
        finally:
            caught_up()

    # Classes.
    def classify(self, scope: Scope) -> HeavyClass | None:
        """Which heavy class a request is in, or None for a light one."""
        if scope["method"] != "GET":
            return None
        path: str = scope["path"]
        if path.startswith("/negotiations/"):
            if path.endswith("/export"):
                return "export"
            if path.endswith("/timeline") and b"latest=" not in scope.get("query_string", b""):
                return "timeline"
            return None
        if path == "/events/stream":
            start = _stream_start(scope)
            tail = getattr(_state(scope), "tail", None)
            head = tail.position if tail is not None else 0
            return "replay" if start is None or head - start > self.limits.replay_lag else None
        return None

    def _take(self, heavy: HeavyClass, client: str) -> Callable[[Send], Any] | None:
        if self.clients[client] >= self.limits.per_client:
            return _problem(
                429,
                "rate-limited",
                f"this client ({client}) already has {self.limits.per_client} heavy "
                "answers (exports, full timelines, streams from far behind) under way; "
                "wait for one to finish (PARLEY_HEAVY_PER_CLIENT)",
                self.limits.retry_after,
            )
        if self.active[heavy] >= self.limits.of(heavy):
            return _problem(
                503,
                "busy",
                f"the server already runs {self.limits.of(heavy)} {heavy} answers, its "
                f"limit (PARLEY_HEAVY_{heavy.upper()}S); try again shortly",
                self.limits.retry_after,
            )
        self.active[heavy] += 1
        self.clients[client] += 1
        return None

    def _give_back(self, heavy: HeavyClass, client: str) -> None:
        self.active[heavy] -= 1
        self.clients[client] -= 1
        if self.clients[client] <= 0:
            del self.clients[client]
        if not self.clients:
            self._trim()

    def _stall_guard(self, send: Send) -> Send:
        stall = self.limits.stall_seconds

        async def guarded(message: Message) -> None:
            if message["type"] != "http.response.body":
                await send(message)
                return
            try:
                async with asyncio.timeout(stall):
                    await send(message)
            except TimeoutError:
                raise Stalled from None

        return guarded

    # Health.
    async def _answer_health(self, scope: Scope, send: Send) -> None:
        state = _state(scope)
        log = getattr(state, "log", None)
        tail = getattr(state, "tail", None)
        position = tail.position if tail is not None else 0
        if log is not None:
            query = self._query
            if query is None or query.done():
                query = self._query = self._health.submit(log.last_position)
            try:
                async with asyncio.timeout(HEALTH_QUERY_SECONDS):
                    position = max(position, await asyncio.wrap_future(query))
            except TimeoutError:
                pass  # the store is slow: this process's view answers
        body = {
            "status": "ok",
            "backend": log.backend if log is not None else "starting",
            "position": position,
            "version": version(),
        }
        await _send_json(send, 200, body, [])

    # Memory.
    def _trim(self) -> None:
        if _malloc_trim is None or self._trimming:
            return
        self._trimming = True

        def trim() -> None:
            try:
                _malloc_trim(0)
            finally:
                self._trimming = False

        threading.Thread(target=trim, name="parley-trim", daemon=True).start()


def _freezing(send: Send) -> Send:
    """``send`` that moves every object alive once the app has started out of the
    collector's sight (``gc.freeze``). The started app holds about a million objects
    (modules, schemas, caches); a full collection walked them all, and took 0.4 to 0.7 s
    holding the GIL, each time heavy reads had churned enough pages of rows to set one
    off: /health waited that long."""

    async def frozen(message: Message) -> None:
        if message["type"] == "lifespan.startup.complete":
            gc.collect()
            gc.freeze()
            # The event loop's thread waits for the GIL after each poll; threads doing
            # heavy reads hold it for up to the switch interval each time (5 ms by
            # default), and a request takes a few such waits per thread at work.
            sys.setswitchinterval(SWITCH_INTERVAL)
        await send(message)

    return frozen


def client_of(scope: Scope) -> str:
    """Who a request counts against: its bearer token (a digest of it, never the token),
    else its peer address."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return "token " + hashlib.sha256(value).hexdigest()[:12]
    peer = scope.get("client")
    return str(peer[0]) if peer else "unknown"


def _state(scope: Scope) -> Any:
    app = scope.get("app")
    return getattr(app, "state", None)


def _stream_start(scope: Scope) -> int | None:
    """Where a stream starts, as the route will read it (None: unreadable, the route
    refuses it; counted as the worst case meanwhile)."""
    for name, value in scope.get("headers", ()):
        if name == b"last-event-id" and value.strip():
            text = value.strip()
            return int(text) if text.isdigit() and len(text) < 20 else None
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    after = query.get("after", ["0"])[-1]
    return int(after) if after.isdigit() and len(after) < 20 else None


def _problem(status: int, kind: str, detail: str, retry_after: int) -> Callable[[Send], Any]:
    body = {
        "type": f"/problems/{kind}",
        "title": "Too many requests" if status == 429 else "Service unavailable",
        "status": status,
        "detail": detail,
        "retry_after": retry_after,
    }

    async def refuse(send: Send) -> None:
        await _send_json(send, status, body, [(b"retry-after", str(retry_after).encode())])

    return refuse


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> None:
    payload = json.dumps(body).encode()
    kind = b"application/json" if status == 200 else b"application/problem+json"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _load_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


_malloc_trim = _load_malloc_trim()

__all__ = ["RELEASE_KEY", "Guard", "client_of"]
