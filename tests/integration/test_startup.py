"""Several workers starting at once against one empty store create its tables once."""

from __future__ import annotations

import threading

from store.config import StoreConfig
from store.log import ConflictLog


def test_logs_opened_concurrently_on_an_empty_store_all_start(store_config: StoreConfig) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def start() -> None:
        try:
            barrier.wait(timeout=30)
            ConflictLog(store_config).close()
        except BaseException as error:  # noqa: BLE001 - any failure is the finding
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    opened = ConflictLog(store_config)
    try:
        assert opened.verify().ok
    finally:
        opened.close()
