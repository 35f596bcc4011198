"""Test helpers shared by every layer: PostgreSQL availability, app settings, a real
``parley serve`` process, the CLI run in-process, and tampering with stored rows as
someone holding the database would. Fixtures built on them live in ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from api.cli import main as cli
from api.settings import Settings
from store.config import StoreConfig

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "istanbul-2025.ndjson"
POSTGRES_URL = os.environ.get(
    "PARLEY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("PARLEY_REQUIRE_POSTGRES") == "1"
TOKEN = "test-token-with-append-scope"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def database_url(name: str) -> str:
    """``POSTGRES_URL`` with another database name: the same server and user."""
    return urlsplit(POSTGRES_URL)._replace(path=f"/{name}").geturl()


@contextlib.contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A new, empty schema in the database at ``url``, dropped (with all in it) after."""
    schema = f"parley_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@dataclass
class RunningTest:
    """The test pytest is setting up or running (set by ``tests/conftest.py``), so that
    starting a server or a browser can check that the test is marked ``slow``."""

    nodeid: str = ""
    slow: bool = True


RUNNING = RunningTest()


def require_slow(what: str) -> None:
    """Fail the running test if it starts ``what`` without the ``slow`` marker, so that
    ``make test-fast`` (``-m "not slow"``) never starts a server or a browser."""
    if not RUNNING.slow:
        pytest.fail(
            f"{RUNNING.nodeid} starts {what} but is not marked slow: use a fixture that"
            " tests/conftest.py marks (SLOW_FIXTURES), or @pytest.mark.slow"
        )


def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable: {error}".strip()
    return None


def settings_for(config: StoreConfig, **overrides: object) -> Settings:
    return Settings(
        data_dir=config.data_dir,
        database_url=config.database_url,
        database_schema=config.postgres_schema,
        admin_token=TOKEN,
        example=None,
        **overrides,  # type: ignore[arg-type]
    )


def store_env(store: StoreConfig) -> dict[str, str]:
    """The environment that points ``parley serve`` at ``store``'s PostgreSQL schema."""
    if not store.database_url:
        return {}
    return {
        "PARLEY_DATABASE_URL": store.database_url,
        "PARLEY_DATABASE_SCHEMA": store.postgres_schema,
    }


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


def start_server(
    env: dict[str, str],
    data_dir: Path,
    workers: int = 1,
    *,
    own_group: bool = False,
    output: Path | None = None,
    wait: bool = True,
) -> Server:
    """Start ``parley serve`` as a real process and wait until /health answers.

    ``own_group`` starts it in a process group of its own (its pid is the group's id), so
    that a test can kill it with every worker at once; ``output`` appends what it prints
    to that file instead of a pipe nobody may read (a full pipe would stall the server);
    without ``wait`` it returns at once, while the server is starting up.
    """
    require_slow("a server")
    port = free_port()
    full_env = {
        **os.environ,
        "PARLEY_PORT": str(port),
        "PARLEY_DATA_DIR": str(data_dir),
        "PARLEY_WORKERS": str(workers),
        **env,
    }
    with contextlib.ExitStack() as files:
        stdout = files.enter_context(output.open("ab")) if output else subprocess.PIPE
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve"],
            cwd=REPO,
            env=full_env,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            process_group=0 if own_group else None,
        )
    url = f"http://127.0.0.1:{port}"
    if not wait:
        token = env.get("PARLEY_ADMIN_TOKEN", "")
        return Server(url=url, token=token, process=process, data_dir=data_dir)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            printed = output.read_text() if output else ""
            if process.stdout:
                printed = process.stdout.read().decode()
            raise RuntimeError(f"parley serve exited with {process.returncode}:\n{printed}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        if own_group:
            os.killpg(process.pid, signal.SIGKILL)  # its workers too
        process.kill()
        process.wait()
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


def run_threads(count: int, target: Callable[[int], None], hang_guard: float = 240.0) -> None:
    """Run ``target(i)`` on ``count`` threads; re-raise the first error any of them hit.

    ``hang_guard`` bounds each join: a guard against a hang, not a timing assertion.
    """
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            target(index)
        except BaseException as error:  # reported in the main thread
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(hang_guard)
        assert not thread.is_alive(), "a thread hung"
    if errors:
        raise errors[0]


def append_event(client: TestClient, slug: str, event: dict[str, Any]) -> dict[str, Any]:
    """POST one event to a negotiation as the admin; the event as the answer gives it."""
    response = client.post(f"/negotiations/{slug}/events", json=event, headers=AUTH)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["events"][0]
    return created


def just_before(recorded_at: str) -> str:
    """The moment one microsecond before an ISO ``recorded_at``: what was known just then."""
    return (datetime.fromisoformat(recorded_at) - timedelta(microseconds=1)).isoformat()


def ok_json(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    """The JSON body of a GET that must answer 200."""
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def shape(value: Any) -> Any:
    """Keys and value types, all the way down (a list by its first item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value[:1]]
    return type(value).__name__


def run_cli(
    config: StoreConfig, monkeypatch: pytest.MonkeyPatch, *args: str, database_url: str = ""
) -> int:
    """``parley ARGS`` in this process, on ``config``'s store (or ``database_url``): faster
    than a subprocess, and the same ``main``. Read its output with ``capsys``."""
    monkeypatch.setenv("PARLEY_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("PARLEY_EXAMPLE", "")
    monkeypatch.setenv("PARLEY_DATABASE_URL", database_url or config.database_url or "")
    monkeypatch.setenv("PARLEY_DATABASE_SCHEMA", config.postgres_schema)
    return cli.main(list(args))


@dataclass
class Cli:
    """``parley`` run in this process on a test's store (``run_cli``), and what it printed."""

    config: StoreConfig
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def __call__(self, *args: str, database_url: str = "") -> int:
        """``parley ARGS``; read its output with ``printed`` (or ``capsys``)."""
        return run_cli(self.config, self.monkeypatch, *args, database_url=database_url)

    def printed(self) -> tuple[str, str]:
        """What was printed since the last look: standard output and standard error."""
        captured = self.capsys.readouterr()
        return captured.out, captured.err

    def run(self, *args: str) -> tuple[int, str, str]:
        """``parley ARGS`` from a clean slate: its exit code, output and errors."""
        self.capsys.readouterr()
        code = self(*args)
        return code, *self.printed()


@contextlib.contextmanager
def _tampering(config: StoreConfig) -> Iterator[Callable[[str, tuple[object, ...]], None]]:
    """Run statements on the store's tables as their owner, past PostgreSQL's append-only
    triggers (switched off, then on again): ``run(sql, params)`` with ``{events}``,
    ``{index}``, ``{position}`` (the events table's position column), ``{terms}``,
    ``{text}`` and ``{text_position}`` (the search tables') in ``sql``."""
    if config.database_url is None:
        names = {
            "events": "stored_events",
            "index": "parley_event_index",
            "position": "rowid",
            "terms": "parley_event_terms",
            "text": "parley_event_text",
            "text_position": "rowid",
        }
        with sqlite3.connect(config.sqlite_path) as conn:
            yield lambda sql, params: conn.execute(sql.format(**names), params) and None
        conn.close()
        return
    schema = f'"{config.postgres_schema}"'
    names = {
        "events": f"{schema}.parley_events",
        "index": f"{schema}.parley_event_index",
        "position": "notification_id",
        "terms": f"{schema}.parley_event_terms",
        "text": f"{schema}.parley_event_text",
        "text_position": "position",
    }
    triggers = {"events": "parley_append_only_events", "index": "parley_append_only_index"}
    with psycopg.connect(config.database_url, autocommit=True) as pg:
        for table, trigger in triggers.items():
            pg.execute(f"ALTER TABLE {names[table]} DISABLE TRIGGER {trigger}")
        try:
            yield lambda sql, params: pg.execute(sql.format(**names), params) and None
        finally:
            for table, trigger in triggers.items():
                pg.execute(f"ALTER TABLE {names[table]} ENABLE TRIGGER {trigger}")


def delete_after(config: StoreConfig, position: int) -> None:
    """Delete every stored event (and its index and search rows) after ``position``: a
    lost tail."""
    mark = "?" if config.database_url is None else "%s"
    with _tampering(config) as run:
        run(f"DELETE FROM {{events}} WHERE {{position}} > {mark}", (position,))
        run(f"DELETE FROM {{index}} WHERE position > {mark}", (position,))
        run(f"DELETE FROM {{terms}} WHERE position > {mark}", (position,))
        run(f"DELETE FROM {{text}} WHERE {{text_position}} > {mark}", (position,))


def rewrite_row(config: StoreConfig, position: int, state: bytes, hash_: str | None = None) -> None:
    """Overwrite one stored row's bytes, and its index row's hash when given."""
    mark = "?" if config.database_url is None else "%s"
    with _tampering(config) as run:
        run(f"UPDATE {{events}} SET state = {mark} WHERE {{position}} = {mark}", (state, position))
        if hash_ is not None:
            run(f"UPDATE {{index}} SET hash = {mark} WHERE position = {mark}", (hash_, position))
