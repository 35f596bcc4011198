"""What an operator watches: Prometheus metrics of the HTTP layer, the access log, and
``X-Request-ID`` (issue 18).

``Observe`` is a pure ASGI middleware just inside ``api.http.guard.Guard`` (which stays
outermost and answers ``/health`` before it, so the liveness probe costs nothing here).
For each request it takes or makes a request id and echoes it, and once the answer is
sent it counts the request by route *template* and status, observes its latency, counts
401s and 429s by token *name*, and writes one access-log line.

Metrics live in one registry per process; under ``--workers N`` each worker writes its
figures to files in ``PROMETHEUS_MULTIPROC_DIR`` (``api.multiprocess``, set before the
workers start) and ``/metrics`` adds every worker's up.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
import uuid
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.multiprocess import MULTIPROC_ENV
from store import metrics as store_metrics

TOKEN_KEY = "parley.token"
"""The scope key where authentication leaves the name of the token a request used
(``none``: no token sent; ``unknown``: a token no one has)."""
REQUEST_ID_KEY = "parley.request_id"
ANSWER_FROM_KEY = "parley.answer_from"
"""The scope key where a route leaves the moment (``time.perf_counter``) its answer
began to be made: the time from it to the answer's last byte handed to the server is
observed as the append path's ``answer`` stage (``store.metrics.ANSWER``)."""
REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
UNMATCHED = "(unmatched)"

HTTP_REQUESTS = Counter(
    "parley_http_requests_total",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "parley_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method and route template",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
AUTH_FAILURES = Counter(
    "parley_auth_failures_total",
    "401 answers, by the name of the token sent (none, unknown, or a revoked token's name)",
    ["token"],
)
RATE_LIMITED = Counter(
    "parley_rate_limited_total", "429 answers, by the name of the token sent", ["token"]
)
STREAM_SUBSCRIBERS = Gauge(
    "parley_stream_subscribers",
    "Live streams (GET /events/stream) open",
    multiprocess_mode="livesum",
)

access = logging.getLogger("parley.access")


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus's text format: every worker's, added up, in
    multiprocess mode; else this process's."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def forget_this_process() -> None:
    """On a worker's way out: drop its live gauges (stream subscribers, lag), which
    would otherwise count on after it; its counters stay, as counters must."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


_ids = itertools.count(1)
_process_id = uuid.uuid4().hex[:16]


def _forked() -> None:
    global _process_id
    _process_id = uuid.uuid4().hex[:16]  # a forked child makes its own random half


os.register_at_fork(after_in_child=_forked)


def new_request_id() -> str:
    """A new request id, 32 hex digits: 16 random ones made once per process, then a
    counter. ``uuid4`` per request read the random source each time, a system call that
    let go of the GIL, which the event loop then waited to take back."""
    return f"{_process_id}{next(_ids):016x}"


def request_id_of(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is short and plain, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if REQUEST_ID.fullmatch(text):
                return text
            break
    return new_request_id()


def route_of(scope: Scope) -> str:
    """The template of the route that answered (``/negotiations/{slug}``), never the
    raw path: raw paths would make a series per negotiation."""
    route = scope.get("route")
    path: object = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class Observe:
    """The middleware (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = scope[REQUEST_ID_KEY] = request_id_of(scope)
        echoed = (b"x-request-id", request_id.encode())
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                answer_from = scope.get(ANSWER_FROM_KEY)
                if answer_from is not None:
                    store_metrics.ANSWER.observe(time.perf_counter() - answer_from)

        try:
            await self.app(scope, receive, sending)
        finally:
            self._record(scope, request_id, status[0], time.perf_counter() - started)

    @staticmethod
    def _record(scope: Scope, request_id: str, status: int, seconds: float) -> None:
        method: str = scope["method"]
        route = route_of(scope)
        HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
        HTTP_SECONDS.labels(method=method, route=route).observe(seconds)
        token = scope.get(TOKEN_KEY)
        if status == 401:
            AUTH_FAILURES.labels(token=token or "none").inc()
        elif status == 429:
            RATE_LIMITED.labels(token=token or "none").inc()
        if not access.isEnabledFor(logging.INFO):
            return
        fields: dict[str, Any] = {
            "request_id": request_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "token": token,
        }
        slug = scope.get("path_params", {}).get("slug")
        if slug is not None:
            fields["negotiation"] = slug
        access.info("%s %s %s", method, route, status, extra={"fields": fields})


__all__ = [
    "ANSWER_FROM_KEY",
    "AUTH_FAILURES",
    "HTTP_REQUESTS",
    "HTTP_SECONDS",
    "RATE_LIMITED",
    "STREAM_SUBSCRIBERS",
    "TOKEN_KEY",
    "Observe",
    "exposition",
    "forget_this_process",
]
