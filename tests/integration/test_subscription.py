"""Subscriptions to the log, on a real SQLite file and the real PostgreSQL.

SQLite has no subscription in the library; ours wakes in-process on commit (across
ConflictLog instances) and polls for other processes. The library's own consumers,
``ApplicationSubscription`` above all, must work over both backends unchanged. Delivery
times are measured and printed, never asserted: the timeouts here only guard hangs.
"""

from __future__ import annotations

import dataclasses
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import opened_event, statement_event
from eventsourcing.persistence import Notification, Subscription
from eventsourcing.projection import ApplicationSubscription
from support import REPO

from domain.negotiation import Recorded
from store.config import StoreConfig
from store.log import ConflictLog

SLUG = "istanbul-2025"
HANG_GUARD = 30.0  # seconds; a bound on waiting, not a timing assertion


class Collector:
    """Iterates a subscription on a thread, so a test can wait for items with a timeout."""

    def __init__(self, iterator: Iterator[object]) -> None:
        self.items: queue.Queue[tuple[float, object]] = queue.Queue()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(iterator,), daemon=True)
        self._thread.start()

    def _run(self, iterator: Iterator[object]) -> None:
        try:
            for item in iterator:
                self.items.put((time.time(), item))  # wall clock: comparable across processes
        except BaseException as error:
            self.error = error

    def take(self, count: int) -> list[tuple[float, object]]:
        taken = []
        deadline = time.monotonic() + HANG_GUARD
        for _ in range(count):
            remaining = deadline - time.monotonic()
            try:
                taken.append(self.items.get(timeout=max(remaining, 0.01)))
            except queue.Empty:
                pytest.fail(f"{len(taken)} of {count} items in {HANG_GUARD}s; error: {self.error}")
        return taken

    def join(self) -> None:
        self._thread.join(timeout=HANG_GUARD)
        assert not self._thread.is_alive(), "the subscription did not stop"


def notifications(items: list[tuple[float, object]]) -> list[Notification]:
    found = [item for _, item in items]
    assert all(isinstance(n, Notification) for n in found)
    return found  # type: ignore[return-value]


def test_sqlite_subscription_wakes_in_process_on_an_append_through_another_log(
    tmp_path: Path,
) -> None:
    # Polling so rare that only the in-process wake-up can deliver within the guard.
    slow_polling = StoreConfig(data_dir=tmp_path, poll_seconds=600)
    writer, reader = ConflictLog(slow_polling), ConflictLog(slow_polling)
    try:
        writer.open(SLUG, opened_event())  # type: ignore[arg-type]
        subscription = reader.recorder.subscribe(gt=0)
        with subscription:
            collector = Collector(subscription)
            assert [n.id for n in notifications(collector.take(1))] == [1]
            delays = []
            for i in range(20):
                appended = writer.append(SLUG, [statement_event(f"wake {i}")])
                committed = time.time()
                ((arrived, item),) = collector.take(1)
                assert isinstance(item, Notification)
                assert item.id == appended.created[0].position
                delays.append(arrived - committed)
        collector.join()
        delays.sort()
        median, worst = delays[len(delays) // 2] * 1000, delays[-1] * 1000
        print(f"\nin-process wake-up: median {median:.2f} ms, max {worst:.2f} ms")
    finally:
        writer.close()
        reader.close()


APPEND_FROM_ANOTHER_PROCESS = """
import sys, time, uuid
from pathlib import Path
from domain.events import parse_event
from store.config import StoreConfig
from store.log import ConflictLog

config = StoreConfig(
    data_dir=Path(sys.argv[1]), database_url=sys.argv[2] or None, postgres_schema=sys.argv[3]
)
log = ConflictLog(config)
for i in range(int(sys.argv[4])):
    log.append("istanbul-2025", [parse_event({
        "id": str(uuid.uuid4()), "type": "StatementIssued", "occurred_at": "2025-05-28",
        "sources": [{"outlet": "TASS"}], "data": {"speaker": "UKR", "summary": f"remote {i}"},
    })])
    print(time.time(), flush=True)  # committed
log.close()
"""


def test_a_subscriber_sees_appends_made_by_another_process(store_config: StoreConfig) -> None:
    config = dataclasses.replace(store_config, poll_seconds=0.05)
    log = ConflictLog(config)
    try:
        log.open(SLUG, opened_event())  # type: ignore[arg-type]
        subscription = log.recorder.subscribe(gt=1)
        with subscription:
            collector = Collector(subscription)
            child = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    APPEND_FROM_ANOTHER_PROCESS,
                    str(config.data_dir),
                    config.database_url or "",
                    config.postgres_schema,
                    "5",
                ],
                cwd=REPO,
                check=True,
                timeout=HANG_GUARD,
                capture_output=True,
                text=True,
            )
            got = collector.take(5)
        collector.join()
        assert [n.id for n in notifications(got)] == [2, 3, 4, 5, 6]
        committed = [float(line) for line in child.stdout.split()]
        arrivals = [arrived for arrived, _ in got]
        delays = sorted((a - c) * 1000 for a, c in zip(arrivals, committed, strict=True))
        median, worst = delays[len(delays) // 2], delays[-1]
        print(f"\n{config.backend} across processes: median {median:.0f} ms, max {worst:.0f} ms")
    finally:
        log.close()


def test_a_subscription_yields_exactly_the_positions_after_gt_in_order_then_new_ones(
    log: ConflictLog,
) -> None:
    log.open(SLUG, opened_event())  # type: ignore[arg-type]
    log.append(SLUG, [statement_event(f"before {i}") for i in range(9)])
    subscription = log.recorder.subscribe(gt=4)
    with subscription:
        collector = Collector(subscription)
        first = notifications(collector.take(6))
        log.append(SLUG, [statement_event(f"after {i}") for i in range(3)])
        then = notifications(collector.take(3))
    collector.join()
    assert [n.id for n in first + then] == list(range(5, 14))
    assert collector.items.empty()


def test_library_application_subscription_yields_recorded_events_with_their_positions(
    log: ConflictLog,
) -> None:
    log.open(SLUG, opened_event())  # type: ignore[arg-type]
    subscription: ApplicationSubscription[object] = ApplicationSubscription(app=log, gt=0)
    with subscription:
        collector = Collector(subscription)
        (first,) = collector.take(1)
        appended = log.append(SLUG, [statement_event("seen live")])
        (second,) = collector.take(1)
    collector.join()
    pairs = [item for _, item in (first, second)]
    events = [event for event, _ in pairs]  # type: ignore[misc]
    trackings = [tracking for _, tracking in pairs]  # type: ignore[misc]
    assert all(isinstance(e, Recorded) for e in events)
    assert [t.notification_id for t in trackings] == [1, appended.created[0].position]
    assert {t.application_name for t in trackings} == {"Parley"}
    assert events[1].event.id == appended.created[0].event.id


def test_stopping_a_subscription_ends_its_iteration_and_its_threads(log: ConflictLog) -> None:
    log.open(SLUG, opened_event())  # type: ignore[arg-type]
    before = threading.active_count()
    subscription: Subscription[object] = log.recorder.subscribe(gt=0)  # type: ignore[assignment]
    with subscription:
        collector = Collector(subscription)
        collector.take(1)
    collector.join()
    deadline = time.monotonic() + HANG_GUARD
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() <= before
