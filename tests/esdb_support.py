"""Helpers for the EventSourcingDB-compatible API's tests: a real ``parley serve`` with
the founding example, an admin and a read token and quick heartbeats, on either backend.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from support import EXAMPLE, TOKEN, Server, start_server, stop_server

READ_TOKEN = "test-read-token"
READ = {"Authorization": f"Bearer {READ_TOKEN}"}


@contextmanager
def esdb_server(request: pytest.FixtureRequest, backend: str, data_dir: Path) -> Iterator[Server]:
    """A server for a module's tests on ``backend``; its PostgreSQL schema is dropped after."""
    env = {
        "PARLEY_EXAMPLE": str(EXAMPLE),
        "PARLEY_ADMIN_TOKEN": TOKEN,
        "PARLEY_READ_TOKEN": READ_TOKEN,
        "PARLEY_HEARTBEAT_SECONDS": "0.3",
    }
    url = schema = None
    if backend == "postgres":
        url = request.getfixturevalue("postgres_url")
        schema = f"parley_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        env |= {"PARLEY_DATABASE_URL": url, "PARLEY_DATABASE_SCHEMA": schema}
    running = start_server(env, data_dir)
    try:
        yield running
    finally:
        stop_server(running)
        if url is not None:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def new_subject() -> tuple[str, str]:
    """A fresh negotiation slug and its subject."""
    slug = f"talks-{uuid.uuid4().hex[:8]}"
    return slug, f"/negotiations/{slug}"
