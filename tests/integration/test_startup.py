"""Several workers starting at once against one empty store create its tables once, and
agree on one bootstrap token, which a crash while it was made does not leave unusable."""

from __future__ import annotations

import threading
from pathlib import Path

from api.settings import Settings
from api.tokens import admin_token
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


def test_workers_starting_together_agree_on_one_bootstrap_token_written_whole(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, admin_token=None)
    barrier = threading.Barrier(6)
    tokens: list[str] = []

    def start() -> None:
        barrier.wait(timeout=30)
        tokens.append(admin_token(settings))

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(tokens) == 6 and len(set(tokens)) == 1 and tokens[0]
    assert settings.token_file.read_text() == tokens[0] + "\n"
    assert [p.name for p in tmp_path.iterdir()] == [settings.token_file.name]  # no drafts


def test_a_token_file_left_empty_by_a_crash_is_replaced_by_a_token_that_then_stays(
    tmp_path: Path,
) -> None:
    """Made by O_CREAT, then written: a kill or a power cut between left it empty, and
    every start after served an empty token that no request could present."""
    settings = Settings(data_dir=tmp_path, admin_token=None)
    settings.token_file.write_text("")
    token = admin_token(settings)
    assert token
    assert admin_token(settings) == token
