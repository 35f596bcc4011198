"""Shared fixtures: the backend (``sqlite`` and ``postgres``), an open log, an app
client with its write token, and a real uvicorn server.

PostgreSQL tests skip with a reason when no server answers, except under
``PARLEY_REQUIRE_POSTGRES=1`` (CI), where they fail. Each PostgreSQL test gets a
schema of its own, dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from support import EXAMPLE as EXAMPLE
from support import POSTGRES_URL as POSTGRES_URL
from support import (
    REQUIRE_POSTGRES,
    Server,
    postgres_unavailable,
    settings_for,
    start_server,
    stop_server,
)

from api.http.app import create_app
from store.config import StoreConfig
from store.log import ConflictLog


@pytest.fixture(scope="session")
def postgres_url() -> str:
    reason = postgres_unavailable()
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PARLEY_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A fresh, empty schema for one test."""
    schema = f"parley_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
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


@pytest.fixture
def log(store_config: StoreConfig) -> Iterator[ConflictLog]:
    opened = ConflictLog(store_config)
    yield opened
    opened.close()


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
    env = {"PARLEY_EXAMPLE": str(EXAMPLE)}
    if store_config.database_url:
        env["PARLEY_DATABASE_URL"] = store_config.database_url
        env["PARLEY_DATABASE_SCHEMA"] = store_config.postgres_schema
    running = start_server(env, store_config.data_dir)
    yield running
    stop_server(running)
