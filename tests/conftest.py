"""Shared fixtures: the backend (``sqlite`` and ``postgres``), an open log, an app
client with its write token, and a real uvicorn server.

PostgreSQL tests skip with a reason when no server answers, except under
``PARLEY_REQUIRE_POSTGRES=1`` (CI), where they fail. Each pytest process (each xdist
worker) gets a database of its own, created at its start and dropped at its end, and
each PostgreSQL test a schema of its own in it (dropped with it): workers never wait
on each other's locks (the store's table creation takes a database-wide advisory lock).

Markers are applied here, not by hand, so that ``-m`` cuts the suite correctly:

- ``postgres``: the ``postgres`` value of every backend parameter (``BACKENDS``), and
  every test that uses ``postgres_url`` (directly or through ``postgres_schema``);
- ``slow``: every test that uses a fixture in ``SLOW_FIXTURES`` (a real server or a
  browser). A test that starts a server itself carries ``@pytest.mark.slow``, and
  ``support.start_server`` fails a test that starts one without the marker.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import bytecode_cache  # noqa: F401  (first: see its docstring)
import psycopg
import pytest
from fastapi.testclient import TestClient
from support import EXAMPLE as EXAMPLE
from support import POSTGRES_URL as POSTGRES_URL
from support import (
    REQUIRE_POSTGRES,
    RUNNING,
    Cli,
    Server,
    database_url,
    fresh_schema,
    postgres_unavailable,
    settings_for,
    start_server,
    stop_server,
    store_env,
)

from api.http.app import create_app
from store.config import StoreConfig
from store.loader import load
from store.log import ConflictLog

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]

# Fixtures that start a real ``parley serve`` or a browser (directly or through others).
SLOW_FIXTURES = frozenset(
    {
        "server",  # here
        "shared_server",  # here: one per module and backend
        "small_buffer",  # e2e/test_stream.py
        "two_workers",  # e2e/test_tokens_server.py
        "web_server",  # e2e/test_web.py
        "chromium",  # e2e/test_web.py, e2e/test_web_search.py
    }
)
# Module-scoped fixtures whose tests xdist keeps on one worker per module and backend,
# so that each starts once per run rather than once per worker.
GROUPED_FIXTURES = frozenset({"shared_server", "web_server", "chromium"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "postgres_url" in names:
            item.add_marker(pytest.mark.postgres)
        if names & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)
        if names & GROUPED_FIXTURES:
            callspec = getattr(item, "callspec", None)
            backend = callspec.params.get("shared_backend", "") if callspec else ""
            group = f"{item.module.__name__ if item.module else item.nodeid}[{backend}]"
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    RUNNING.nodeid = item.nodeid
    RUNNING.slow = item.get_closest_marker("slow") is not None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this pytest process's own (one per xdist worker), dropped at the end.

    Its name holds the worker and the process id, so that two runs at once never meet,
    and a run that was killed leaves databases that the next run drops.
    """
    reason = postgres_unavailable()
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PARLEY_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"parley_test_{worker}_{os.getpid()}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        drop_abandoned_databases(conn)
        # template0 takes no connections, so workers creating theirs at once never collide.
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    yield database_url(name)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_abandoned_databases(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Drop the databases of test processes that are gone (killed before their clean-up)."""
    names = conn.execute(
        "SELECT datname FROM pg_database WHERE datname ~ '^parley_test_.+_[0-9]+$'"
    ).fetchall()
    for (name,) in names:
        pid = int(str(name).rsplit("_", 1)[1])
        if Path(f"/proc/{pid}").exists():
            continue
        with contextlib.suppress(psycopg.Error):  # another worker may be dropping it too
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def schema_makers() -> Iterator[dict[str, psycopg.Connection[tuple[object, ...]]]]:
    """A connection per database that creates the tests' schemas, kept for the run: a
    connection per schema started a PostgreSQL session per test (~5 ms of the server's
    CPU). Idle in autocommit, it holds no snapshot (tests/integration/test_forgetting.py
    gives each of its tests a database of its own, and a connection to each)."""
    makers: dict[str, psycopg.Connection[tuple[object, ...]]] = {}
    yield makers
    for conn in makers.values():
        conn.close()


@pytest.fixture
def postgres_schema(
    postgres_url: str, schema_makers: dict[str, psycopg.Connection[tuple[object, ...]]]
) -> str:
    """A fresh, empty schema for one test.

    It is left in place after the test: the worker's database is dropped at the end of
    the run with every schema in it, at once, which costs PostgreSQL far less than a
    ``DROP SCHEMA … CASCADE`` of a store's tables, triggers and indexes after each test.
    """
    schema = f"parley_test_{uuid.uuid4().hex[:12]}"
    conn = schema_makers.get(postgres_url)
    if conn is None or conn.closed or conn.broken:
        conn = schema_makers[postgres_url] = psycopg.connect(postgres_url, autocommit=True)
    conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_config(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> StoreConfig:
    """Where a test's log lives: a SQLite file under tmp_path, or a fresh PG schema."""
    if backend == "postgres":
        url = request.getfixturevalue("postgres_url")
        schema = request.getfixturevalue("postgres_schema")
        return StoreConfig(data_dir=tmp_path, database_url=url, postgres_schema=schema)
    return StoreConfig(data_dir=tmp_path)


@pytest.fixture(scope="module", params=BACKENDS)
def shared_backend(request: pytest.FixtureRequest) -> str:
    """The backend of a module's shared server (``shared_store``, ``shared_server``)."""
    return str(request.param)


@pytest.fixture(scope="module")
def shared_store(
    shared_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StoreConfig]:
    """A store shared by a module's tests on one backend: SQLite under a fresh directory,
    or a fresh PostgreSQL schema, dropped after the module."""
    data_dir = tmp_path_factory.mktemp(f"{request.module.__name__}-{shared_backend}")
    if shared_backend != "postgres":
        yield StoreConfig(data_dir=data_dir)
        return
    url = request.getfixturevalue("postgres_url")
    with fresh_schema(url) as schema:
        yield StoreConfig(data_dir=data_dir, database_url=url, postgres_schema=schema)


@pytest.fixture(scope="module")
def shared_server(shared_store: StoreConfig, request: pytest.FixtureRequest) -> Iterator[Server]:
    """A server with the example, shared by a module's tests on one backend; the module's
    ``SERVER_ENV`` (a dict, when it has one) adds to its environment."""
    env = {
        "PARLEY_EXAMPLE": str(EXAMPLE),
        **getattr(request.module, "SERVER_ENV", {}),
        **store_env(shared_store),
    }
    running = start_server(env, shared_store.data_dir)
    yield running
    stop_server(running)


@pytest.fixture
def log(store_config: StoreConfig) -> Iterator[ConflictLog]:
    opened = ConflictLog(store_config)
    yield opened
    opened.close()


@pytest.fixture
def parley_cli(
    store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """``parley`` run in this process on this test's store (``support.Cli``)."""
    return Cli(store_config, monkeypatch, capsys)


@pytest.fixture
def istanbul(client: TestClient, log: ConflictLog) -> TestClient:
    """``client`` on a store holding the example negotiation."""
    load(log, EXAMPLE)
    return client


@pytest.fixture
def client(log: ConflictLog, store_config: StoreConfig) -> Iterator[TestClient]:
    """A TestClient on the app, sharing ``log``; ``client.auth_headers`` can write."""
    app = create_app(settings_for(store_config), log=log)
    with TestClient(app) as test_client:
        test_client.headers["Accept"] = "application/json"
        yield test_client


@pytest.fixture
def server(store_config: StoreConfig) -> Iterator[Server]:
    """A real uvicorn process serving the example negotiation on this test's backend."""
    env = {"PARLEY_EXAMPLE": str(EXAMPLE), **store_env(store_config)}
    running = start_server(env, store_config.data_dir)
    yield running
    stop_server(running)
