"""Concurrent writers on one negotiation, on a real SQLite file and the real PostgreSQL.

Eight threads start together on a barrier. In the realistic multi-worker case each
thread has a ConflictLog of its own on the same store, so the writers really race
through the database; the shared case has them race through one ConflictLog.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from uuid import UUID

import pytest
from support import opened, run_threads, statement

from domain.errors import VersionConflictError
from domain.negotiation import Recorded
from store.config import StoreConfig
from store.log import ConflictLog

SLUG = "istanbul-2025"
THREADS = 8
PER_THREAD = 25
JOIN_TIMEOUT = 240.0  # a hang guard, not a timing assertion


@pytest.fixture
def logs(store_config: StoreConfig) -> Iterator[Callable[[bool], list[ConflictLog]]]:
    """``logs(per_thread)``: one ConflictLog per thread, or one shared by all threads."""
    created: list[ConflictLog] = []

    def make(per_thread: bool) -> list[ConflictLog]:
        if per_thread:
            created.extend(ConflictLog(store_config) for _ in range(THREADS))
            return created[-THREADS:]
        created.append(ConflictLog(store_config))
        return [created[-1]] * THREADS

    yield make
    for log in created:
        log.close()


def assert_log_is_whole(log: ConflictLog, expected_ids: set[UUID]) -> list[Recorded]:
    """Every event stored exactly once, versions 1..N, clocks in position order."""
    stored = log.negotiation_events(SLUG)
    total = len(expected_ids)
    assert [r.version for r in stored] == list(range(1, total + 1))
    ids = [r.event.id for r in stored]
    assert len(ids) == len(set(ids)) == total
    assert set(ids) == expected_ids
    by_position = sorted(stored, key=lambda r: r.position or 0)
    positions = [r.position for r in by_position]
    assert len(set(positions)) == total
    assert [r.version for r in by_position] == list(range(1, total + 1))
    stamps = [r.recorded_at for r in by_position]
    assert stamps == sorted(stamps)
    report = log.verify()
    assert report.ok, report.first_break
    assert report.events == total
    return stored


@pytest.mark.parametrize("per_thread", [True, False], ids=["log-per-thread", "shared-log"])
def test_writers_with_expected_version_store_every_event_once_and_losers_get_conflicts(
    logs: Callable[[bool], list[ConflictLog]], per_thread: bool
) -> None:
    writers = logs(per_thread)
    first = opened()
    writers[0].open(SLUG, first)
    barrier = threading.Barrier(THREADS)
    stored_ids: list[list[UUID]] = [[] for _ in range(THREADS)]
    conflicts = [0] * THREADS

    def write(index: int) -> None:
        log = writers[index]
        barrier.wait()
        while len(stored_ids[index]) < PER_THREAD:
            event = statement(f"writer {index}, event {len(stored_ids[index])}")
            while True:  # the same event (its id is the idempotency key) until it lands
                version = log.version_of(SLUG)
                try:
                    appended = log.append(SLUG, [event], expected_version=version)
                except VersionConflictError as conflict:
                    assert conflict.expected == version
                    assert conflict.current > version
                    conflicts[index] += 1
                    continue
                assert [r.version for r in appended.created] == [version + 1]
                stored_ids[index].append(event.id)
                break

    run_threads(THREADS, write, JOIN_TIMEOUT)

    expected = {first.id, *(i for ids in stored_ids for i in ids)}
    assert len(expected) == 1 + THREADS * PER_THREAD
    assert_log_is_whole(writers[0], expected)
    assert sum(conflicts) > 0, "no writer ever lost a race"


def test_writers_without_expected_version_lose_and_duplicate_nothing(
    logs: Callable[[bool], list[ConflictLog]],
) -> None:
    writers = logs(True)
    first = opened()
    writers[0].open(SLUG, first)
    barrier = threading.Barrier(THREADS)
    sent: list[list[UUID]] = [[] for _ in range(THREADS)]

    def write(index: int) -> None:
        log = writers[index]
        barrier.wait()
        for n in range(PER_THREAD):
            event = statement(f"writer {index}, event {n}")
            appended = log.append(SLUG, [event])
            assert [r.event.id for r in appended.created] == [event.id]
            sent[index].append(event.id)

    run_threads(THREADS, write, JOIN_TIMEOUT)

    expected = {first.id, *(i for ids in sent for i in ids)}
    stored = assert_log_is_whole(writers[0], expected)
    assert len(stored) == 1 + THREADS * PER_THREAD
    # Each writer's own events keep the order it sent them in.
    for ids in sent:
        order = [r.event.id for r in stored if r.event.id in set(ids)]
        assert order == ids
