"""A revoked token is refused at once by every worker of a real ``parley serve
--workers 2``, on both backends: each worker has let the token in before (so a cache
would hold it), then the CLI revokes it from another process."""

from __future__ import annotations

import http.client
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from builders import statement_body
from support import TOKEN, Server, run_cli, start_server, stop_server

from store.config import StoreConfig

SLUG = "geneva-talks"
HANG_GUARD = 60.0  # seconds of new connections until both workers answer (one may be starting)


@pytest.fixture
def two_workers(store_config: StoreConfig) -> Iterator[Server]:
    env = {"PARLEY_EXAMPLE": "", "PARLEY_ADMIN_TOKEN": TOKEN}
    if store_config.database_url:
        env["PARLEY_DATABASE_URL"] = store_config.database_url
        env["PARLEY_DATABASE_SCHEMA"] = store_config.postgres_schema
    running = start_server(env, store_config.data_dir, workers=2)
    yield running
    stop_server(running)


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in map(int, children.read_text().split()):
            found |= {child, *descendants(child)}
    return found


def worker_of(server: Server, connection: http.client.HTTPConnection) -> int:
    """The pid of the worker process holding the server end of ``connection``."""
    assert connection.sock is not None
    client_port = connection.sock.getsockname()[1]
    server_port = int(server.url.rsplit(":", 1)[1])
    inodes = {
        fields[9]
        for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
        if int(fields[1].split(":")[1], 16) == server_port
        and int(fields[2].split(":")[1], 16) == client_port
    }
    for pid in descendants(server.process.pid):
        try:
            links = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
        except OSError:  # a process that ended meanwhile
            continue
        if {f"socket:[{inode}]" for inode in inodes} & links:
            return pid
    raise AssertionError(f"no worker holds the connection from port {client_port}")


def request_on_each_worker(
    server: Server, method: str, path: str, secret: str, body: Any = None
) -> dict[int, list[int]]:
    """Send the request on new connections until two workers have answered; the statuses
    each worker answered."""
    host, port = server.url.removeprefix("http://").split(":")
    answered: dict[int, list[int]] = {}
    deadline = time.monotonic() + HANG_GUARD
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            payload = None if body is None else json.dumps(body(), ensure_ascii=False)
            headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            response.read()
            answered.setdefault(worker_of(server, connection), []).append(response.status)
        finally:
            connection.close()
        if len(answered) == 2:
            break
    assert len(answered) == 2, f"only one worker answered in {HANG_GUARD:g} s: {answered}"
    return answered


def test_a_revoked_token_is_refused_at_once_by_every_worker(
    two_workers: Server,
    store_config: StoreConfig,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = two_workers
    assert (
        run_cli(
            store_config, monkeypatch, "token", "create", "--name", "alice", "--scope", "append"
        )
        == 0
    )
    alice = capsys.readouterr().out.strip()
    opening = {"slug": SLUG, "title": "Talks", "parties": ["RUS", "UKR"], "id": str(uuid.uuid4())}
    before = request_on_each_worker(server, "POST", "/negotiations", alice, lambda: opening)
    assert all(s in (200, 201) for statuses in before.values() for s in statuses), before
    events = f"/negotiations/{SLUG}/events"
    appended = request_on_each_worker(server, "POST", events, alice, statement_body)
    assert all(s == 201 for statuses in appended.values() for s in statuses), appended

    assert run_cli(store_config, monkeypatch, "token", "revoke", "alice") == 0

    for method, path, body in (("POST", events, statement_body), ("GET", events, None)):
        after = request_on_each_worker(server, method, path, alice, body)
        assert all(s == 401 for statuses in after.values() for s in statuses), (path, after)
    # The bootstrap token still works on both.
    admin = request_on_each_worker(server, "POST", events, TOKEN, statement_body)
    assert all(s == 201 for statuses in admin.values() for s in statuses), admin
