"""The start-up warm-up (api/http/warm.py): what FastAPI builds on a route's first
request is built before the app serves, and the KEK is read as the store opens."""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Iterator
from typing import Any

import fastapi.dependencies.models
import fastapi.routing
import pytest
from builders import opened_event, quoted_statement, statement_body
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from support import AUTH, settings_for

from api.http.app import create_app
from api.http.warm import CLASSIFIERS
from domain import stored as S
from domain.cameo2plover import plover_table
from store.config import StoreConfig
from store.kek import MissingKekError
from store.log import ConflictLog

SLUG = "warm"

FIRST_REQUESTS = [
    ("GET", f"/negotiations/{SLUG}/state", None),
    ("GET", f"/negotiations/{SLUG}/timeline", None),
    ("GET", "/negotiations", None),
    ("GET", f"/negotiations/{SLUG}/events", None),
    ("GET", f"/negotiations/{SLUG}", None),
    ("POST", f"/negotiations/{SLUG}/events", [statement_body()]),  # below FastAPI
    ("POST", f"/negotiations/{SLUG}/events?dry_run=true", [statement_body("a draft")]),
    ("GET", "/events", None),
    ("GET", "/health/ready", None),
]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Counts of what FastAPI calls as it builds a route (TypeAdapters for its parameters
    and response model, the endpoint's signature) or first runs it (the source read)."""
    calls: Counter[str] = Counter()
    # FastAPI caches an endpoint's source and a dependency's kind for the process, and
    # domain.stored its readers: as a new process would, this test's app starts without.
    monkeypatch.setattr(fastapi.routing, "_endpoint_context_cache", {}, raising=False)
    for name in CLASSIFIERS:
        cached = getattr(fastapi.dependencies.models, f"{name}_cached", None)
        if cached is not None:
            cached.cache_clear()

    def counting(name: str, original: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return original(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(TypeAdapter, "__init__", counting("TypeAdapter", TypeAdapter.__init__))
    monkeypatch.setattr(inspect, "signature", counting("signature", inspect.signature))
    monkeypatch.setattr(inspect, "getsourcelines", counting("source", inspect.getsourcelines))
    S._builder.cache_clear()
    plover_table.cache_clear()
    yield calls


@pytest.mark.parametrize("warm_up", [True, False], ids=["warm", "cold"])
def test_the_first_request_of_each_kind_builds_nothing_after_the_warm_up(
    log: ConflictLog, store_config: StoreConfig, counted: Counter[str], warm_up: bool
) -> None:
    log.open(SLUG, opened_event(), recorded_by="test")
    app = create_app(settings_for(store_config, projections="off", warm_up=warm_up), log=log)
    with TestClient(app) as client:
        counted.clear()  # what the start-up built
        if warm_up:  # every event type's reader, and the CAMEO table, before any read
            assert S._builder.cache_info().currsize > len(S.RECORDED_TYPES)
            assert plover_table.cache_info().currsize == 1
        for method, path, body in FIRST_REQUESTS:
            response = client.request(method, path, json=body, headers=AUTH)
            assert response.status_code < 300, (path, response.text)
    if warm_up:
        assert counted == Counter()
    else:  # what the warm-up spares: the test fails if the lazy building moves elsewhere
        assert counted["TypeAdapter"] > 0 and counted["signature"] > 0 and counted["source"] > 0


def test_the_warm_up_builds_every_route_before_the_app_serves(
    log: ConflictLog, store_config: StoreConfig, counted: Counter[str]
) -> None:
    app = create_app(settings_for(store_config, projections="off"), log=log)
    counted.clear()
    with TestClient(app):  # the lifespan ran: the app now serves
        built = dict(counted)
    assert built["TypeAdapter"] > 0 and built["source"] > 0


def test_the_store_reads_its_kek_as_it_opens(store_config: StoreConfig) -> None:
    log = ConflictLog(store_config)
    try:
        log.open(SLUG, opened_event(), recorded_by="test")
        log.append(SLUG, [quoted_statement("Vladimir Medinsky", "we are ready")])
    finally:
        log.close()
    (kek,) = store_config.kek_dir.glob("kek-*.key")
    kek.write_bytes(b"short")  # damaged: no longer a 32-byte key
    with pytest.raises(MissingKekError, match="holds 5 bytes"):
        ConflictLog(store_config)  # not at the first append or sealed read
