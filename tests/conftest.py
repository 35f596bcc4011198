"""Shared fixtures: the backend (``sqlite`` and ``postgres``), an open log, an app
client with its write token, and a real uvicorn server.

PostgreSQL tests skip with a reason when no server answers, except under
``PARLEY_REQUIRE_POSTGRES=1`` (CI), where they fail. Each PostgreSQL test gets a
schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from store.config import StoreConfig
from store.log import ConflictLog

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "istanbul-2025.ndjson"
POSTGRES_URL = os.environ.get(
    "PARLEY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("PARLEY_REQUIRE_POSTGRES") == "1"
TOKEN = "test-token-with-append-scope"


def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable: {error}".strip()
    return None


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


def settings_for(config: StoreConfig, **overrides: object) -> Settings:
    return Settings(
        data_dir=config.data_dir,
        database_url=config.database_url,
        database_schema=config.postgres_schema,
        admin_token=TOKEN,
        example=None,
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture
def client(log: ConflictLog, store_config: StoreConfig) -> Iterator[TestClient]:
    """A TestClient on the app, sharing ``log``; ``client.auth_headers`` can write."""
    app = create_app(settings_for(store_config), log=log)
    with TestClient(app) as test_client:
        test_client.headers["Accept"] = "application/json"
        yield test_client


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    token: str
    process: subprocess.Popen[bytes]
    data_dir: Path

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def start_server(env: dict[str, str], data_dir: Path, workers: int = 1) -> Server:
    """Start ``parley serve`` as a real process and wait until /health answers."""
    port = free_port()
    full_env = {
        **os.environ,
        "PARLEY_PORT": str(port),
        "PARLEY_DATA_DIR": str(data_dir),
        "PARLEY_WORKERS": str(workers),
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve"],
        cwd=REPO,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise RuntimeError(f"parley serve exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("parley serve did not answer /health within 60 s")
    token = env.get("PARLEY_ADMIN_TOKEN") or (data_dir / "admin-token").read_text().strip()
    return Server(url=url, token=token, process=process, data_dir=data_dir)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


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
