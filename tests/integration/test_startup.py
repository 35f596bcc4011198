"""Several workers (threads, or processes on a new SQLite file) starting at once against
one empty store create its tables once and all start, and agree on one bootstrap token,
which a crash while it was made does not leave unusable."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from queue import Queue

from support import EXAMPLE

from api.cli.serve import _example_missing
from api.cli.tokens import operator
from api.settings import Settings
from api.tokens import admin_token
from projections.runner import PROJECTIONS, Projections
from store.config import StoreConfig
from store.loader import load, slug_for
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


def _start_projections(data_dir: Path, barrier: threading.Barrier, answers: Queue[str]) -> None:
    """One process starting up: the log's tables, then each view's."""
    try:
        barrier.wait(timeout=30)
        projections = Projections(StoreConfig(data_dir=data_dir))
        for name in PROJECTIONS:
            projections.view(name).position()
        projections.close()
        answers.put("ok")
    except BaseException as error:  # noqa: BLE001 - any failure is the finding
        answers.put(f"{type(error).__name__}: {error}")


def test_processes_starting_together_on_a_new_sqlite_file_all_start(tmp_path: Path) -> None:
    """The first connection switches a new file to WAL, and SQLite refuses, without
    waiting, a process that opens the file at that moment; so does a transaction that read
    before it writes (the tables' creation) when another process wrote meanwhile. A race:
    several rounds, so that a regression shows."""
    fork = multiprocessing.get_context("fork")  # fast, and the barrier lines them up
    for round_ in range(8):
        data_dir = tmp_path / f"round-{round_}"
        barrier, answers = fork.Barrier(6), fork.Queue()
        processes = [
            fork.Process(target=_start_projections, args=(data_dir, barrier, answers))
            for _ in range(6)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=60)  # a guard against a hang, not a timing assertion
        assert [answers.get(timeout=5) for _ in processes] == ["ok"] * 6


def test_an_example_load_cut_short_by_a_crash_is_finished_at_the_next_start(
    log: ConflictLog, tmp_path: Path
) -> None:
    lines = EXAMPLE.read_text().splitlines(keepends=True)
    cut = tmp_path / EXAMPLE.name  # the same name, so the same negotiation and event ids
    cut.write_text("".join(lines[:5]))
    assert _example_missing(log, EXAMPLE)  # an empty store

    load(log, cut, recorded_by="cli:test")
    assert _example_missing(log, EXAMPLE)  # 5 of 16: the crash left it half loaded

    report = load(log, EXAMPLE, recorded_by=operator())
    assert (report.existing, report.created) == (5, len(lines) - 5)
    assert not _example_missing(log, EXAMPLE)
    recorders = {r.recorded_by for r in log.negotiation_events(slug_for(EXAMPLE))}
    assert recorders == {"cli:test", operator()} and operator().startswith("cli")
