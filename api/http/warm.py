"""Start-up warm-up: build now what FastAPI would build on the first request of each kind.

FastAPI (0.16x) builds an included router's routes lazily: the first request that a
router's routes are matched against builds, for every route of that router, its
dependency tree (``get_dependant``: signatures, annotations) and a pydantic
``TypeAdapter`` per parameter and response model, validators and serializers compiled.
A request to ``/negotiations/{slug}/state`` walks, and so builds, every router included
before ``state``'s. Its first call of an endpoint reads the endpoint's source
(``inspect.getsourcelines``, for error messages), and the first ``run_in_threadpool``
imports anyio's asyncio backend. Measured on a restarted server: most of a first
request's own CPU (bench/restart.py). The first read of each event type builds its
reader (``domain.stored``), and the first coded event reads the CAMEO table.

``warm_up`` runs in the lifespan, before the server listens, so ``/health/ready`` cannot
answer before it is done. It sends no request: nothing reaches the store, the metrics,
the access log, the rate limits or the token counters. It uses two of FastAPI's private
names (the included routers' ``effective_route_contexts`` and
``_extract_endpoint_context``); if a FastAPI release drops them, it warms what it still
can (tests/e2e/test_warm_up.py fails and says which).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from fastapi.dependencies import models as fastapi_dependencies

from domain.cameo2plover import plover_table
from domain.stored import build_builders


async def warm_up(app: FastAPI) -> int:
    """Build every route's lazily built parts, and the readers of stored events; the
    number of routes built. Runs in a worker thread, whose first use imports anyio's
    backend (as the first threadpool call would)."""
    return await anyio.to_thread.run_sync(build, app)


def build(app: FastAPI) -> int:
    """``build_routes``, and what the first read of each event type would build: its
    builder (``domain.stored``) and the CAMEO to PLOVER table (``domain.cameo2plover``)."""
    built = build_routes(app)
    build_builders()
    plover_table()
    return built


def build_routes(app: FastAPI) -> int:
    """Build each included router's routes (as their first match would), read each
    endpoint's source and classify each dependency's callable (as their first call
    would); the number of routes built."""
    extract = getattr(fastapi_routing, "_extract_endpoint_context", None)
    classify = [getattr(fastapi_dependencies, name, None) for name in CLASSIFIERS]
    built = 0
    for route in _routes(app.router.routes):
        built += 1
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        if extract is not None and dependant.call is not None:
            extract(dependant.call)
        for call in _calls(dependant):
            for classifier in classify:
                if classifier is not None:
                    classifier(call)
    return built


CLASSIFIERS = ("_is_gen_callable", "_is_async_gen_callable", "_is_coroutine_callable")
"""FastAPI's checks of a dependency's kind, cached per callable on its first solve."""


def _calls(dependant: Any) -> Iterator[Any]:
    """The callables of a dependency tree: the endpoint's and every dependency's."""
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def _routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route, an included router's as FastAPI builds them for matching."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is None:
            yield route
            continue
        yield from contexts()
        low_priority = getattr(route, "effective_low_priority_routes", None)
        if low_priority is not None:
            yield from low_priority()


__all__ = ["build", "build_routes", "warm_up"]
