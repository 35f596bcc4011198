"""A backup taken beside a real ``parley serve`` process that keeps appending.

The dump reads the SQLite file the server writes, from another process, while requests
append; restored elsewhere, it is exactly the log the server had committed when the
dump began, and a head the server signed before still holds on the copy.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

import httpx
import pytest
from support import Server

from store.config import StoreConfig
from store.dump import dump, restore
from store.heads import Head, check_heads
from store.log import ConflictLog

SLUG = "istanbul-2025"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_dump_beside_a_serving_process_restores_to_what_it_had_committed(
    server: Server, store_config: StoreConfig, tmp_path: Path
) -> None:
    head = Head.from_json(httpx.get(f"{server.url}/negotiations/{SLUG}/head").json())
    stop = threading.Event()
    statuses: list[int] = []

    def append_until_stopped() -> None:
        with httpx.Client(base_url=server.url, headers=server.auth) as client:
            while not stop.is_set():
                statement = {
                    "type": "StatementIssued",
                    "occurred_at": "2025-05-29",
                    "data": {"speaker": "UKR", "summary": f"statement {len(statuses)}"},
                    "sources": [{"outlet": "Reuters"}],
                }
                answer = client.post(f"/negotiations/{SLUG}/events", json=statement)
                statuses.append(answer.status_code)

    writer = threading.Thread(target=append_until_stopped)
    writer.start()
    reader = ConflictLog(store_config)
    try:
        while len(statuses) < 5:
            stop.wait(0.01)
        out = io.BytesIO()
        header = dump(reader, out, page=3)
    finally:
        stop.set()
        writer.join()
        reader.close()
    copy = ConflictLog(StoreConfig(data_dir=tmp_path / "copy"))
    try:
        restore(copy, io.BytesIO(out.getvalue()), key=header.dump_key)
        restored = [(r.position, r.hash) for r in copy.iter_all()]
        assert copy.verify().ok
        assert check_heads(copy, [head]) == []
    finally:
        copy.close()

    served = httpx.get(f"{server.url}/events", params={"limit": 1000}).json()["events"]
    assert set(statuses) == {201}
    assert len(served) >= header.positions >= head.position + 5
    assert restored == [(e["position"], e["hash"]) for e in served][: header.positions]
