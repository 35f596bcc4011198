"""A real ``parley serve`` process: start-up with the example, token, writes, restart."""

from __future__ import annotations

import httpx
from builders import statement_body
from support import EXAMPLE, Server, start_server, stop_server, store_env

from store.config import StoreConfig


def test_serve_loads_the_example_into_an_empty_store_and_accepts_writes(server: Server) -> None:
    listed = httpx.get(f"{server.url}/negotiations").json()["negotiations"]
    (istanbul,) = listed
    assert istanbul["negotiation"] == "istanbul-2025"
    lines = [line for line in EXAMPLE.read_text().splitlines() if line.strip()]
    assert istanbul["event_count"] == len(lines)
    statement = statement_body(
        "Kyiv asks to see the memorandum first", speaker="UKR", occurred_at="2025-05-29"
    )
    path = f"{server.url}/negotiations/istanbul-2025/events"
    assert httpx.post(path, json=statement).status_code == 401
    created = httpx.post(path, json=statement, headers=server.auth)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == len(lines) + 1
    assert httpx.get(f"{server.url}/verify").json()["ok"] is True


def test_a_restarted_server_keeps_its_data_and_does_not_reload_the_example(
    server: Server, store_config: StoreConfig
) -> None:
    before = httpx.get(f"{server.url}/negotiations/istanbul-2025").json()
    stop_server(server)
    env = {"PARLEY_EXAMPLE": str(EXAMPLE), **store_env(store_config)}
    restarted = start_server(env, server.data_dir)
    try:
        after = httpx.get(f"{restarted.url}/negotiations/istanbul-2025").json()
        assert after["version"] == before["version"]
        assert after["event_count"] == before["event_count"]
        assert restarted.token == server.token
    finally:
        stop_server(restarted)
