"""Concurrent writers on one negotiation, on a real SQLite file and the real PostgreSQL.

Eight threads start together on a barrier. In the realistic multi-worker case each
thread has a ConflictLog of its own on the same store, so the writers really race
through the database; the shared case has them race through one ConflictLog.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from builders import opened_event, statement_event
from support import run_threads

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
    first = opened_event()
    writers[0].open(SLUG, first)
    barrier = threading.Barrier(THREADS)
    stored_ids: list[list[UUID]] = [[] for _ in range(THREADS)]
    conflicts = [0] * THREADS

    def write(index: int) -> None:
        log = writers[index]
        barrier.wait()
        while len(stored_ids[index]) < PER_THREAD:
            event = statement_event(f"writer {index}, event {len(stored_ids[index])}")
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
    first = opened_event()
    writers[0].open(SLUG, first)
    barrier = threading.Barrier(THREADS)
    sent: list[list[UUID]] = [[] for _ in range(THREADS)]

    def write(index: int) -> None:
        log = writers[index]
        barrier.wait()
        for n in range(PER_THREAD):
            event = statement_event(f"writer {index}, event {n}")
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


def test_a_request_the_database_refuses_fails_alone_while_its_group_commits(
    log: ConflictLog,
) -> None:
    """Half the requests reuse an event id stored in another negotiation: the writer
    cannot see that before the commit (it looks up only ids of the same negotiation),
    so the index's unique key refuses the group. Each request is then committed alone:
    the good ones are stored, each bad one gets its own error."""
    taken = statement_event("stored in the other talks")
    log.append("other-talks", [opened_event(), taken])
    for index in range(THREADS):
        log.append(f"talks-{index}", [opened_event()])
    outcomes: dict[int, object] = {}
    barrier = threading.Barrier(THREADS)

    def write(index: int) -> None:
        barrier.wait()
        events = [statement_event(f"writer {index}, event {n}") for n in range(PER_THREAD)]
        if index % 2:
            events[PER_THREAD // 2] = taken
        futures = [log.submit(f"talks-{index}", [event]) for event in events]
        outcomes[index] = [_outcome(future) for future in futures]

    run_threads(THREADS, write, JOIN_TIMEOUT)

    for index in range(THREADS):
        results = outcomes[index]
        assert isinstance(results, list)
        refused = [r for r in results if isinstance(r, Exception)]
        if index % 2:
            assert [type(r).__name__ for r in refused] == ["EventIdReusedError"]
        else:
            assert refused == []
        stored = log.negotiation_events(f"talks-{index}")
        assert len(stored) == 1 + PER_THREAD - len(refused)
    assert log.verify().ok


def _outcome(future: object) -> object:
    try:
        return future.result(timeout=JOIN_TIMEOUT)  # type: ignore[attr-defined]
    except Exception as error:
        return error


def test_an_event_that_breaks_while_its_group_is_written_fails_alone(log: ConflictLog) -> None:
    """Defence in depth: an event built in code without validation (here a valid time
    whose UTC instant overflows) fails while its group is written to the store. The
    group is taken back and each request committed alone: only that one fails."""
    log.append(SLUG, [opened_event()])
    good = statement_event("a good one")
    broken = good.model_copy(
        update={
            "id": uuid4(),
            "occurred_at": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
        }
    )
    for attempt in range(20):  # until the writer takes both in one group
        futures = [
            log.submit(SLUG, [statement_event(f"good {attempt}.{n}")]) for n in range(THREADS)
        ]
        futures.insert(THREADS // 2, log.submit(SLUG, [broken]))
        outcomes = [_outcome(future) for future in futures]
        assert isinstance(outcomes[THREADS // 2], OverflowError)
        others = outcomes[: THREADS // 2] + outcomes[THREADS // 2 + 1 :]
        assert not any(isinstance(o, Exception) for o in others)
    assert len(log.negotiation_events(SLUG)) == 1 + 20 * THREADS
    assert log.verify().ok


def test_the_writer_keeps_only_the_configured_number_of_write_sides(
    store_config: StoreConfig,
) -> None:
    """Memory stays bounded: the least recently written negotiations are forgotten and
    fast-forwarded from the store when written again, with their invariants intact."""
    log = ConflictLog(dataclasses.replace(store_config, writer_cache=2))
    try:
        for index in range(4):
            log.append(f"talks-{index}", [opened_event(), statement_event(f"first of {index}")])
        assert log.writer.cached == ["talks-2", "talks-3"]
        again = log.append("talks-0", [statement_event("after being forgotten")])
        assert again.created[0].version == 3
        assert log.writer.cached == ["talks-3", "talks-0"]
        with pytest.raises(VersionConflictError):
            log.append("talks-1", [statement_event("stale")], expected_version=1)
        assert log.verify().ok
    finally:
        log.close()
