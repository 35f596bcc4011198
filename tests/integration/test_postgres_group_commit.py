"""Group commit on the real PostgreSQL: many concurrent appends share transactions, and
a group's transaction takes two round trips to the server, whatever its size.

Thirty-two threads start together on a barrier; each queues twelve single-event
appends to one of four negotiations at once and then waits for them, as many HTTP
requests waiting on one server's writer do. The database itself says how many
transactions stored the rows: the distinct ``xmin`` (the inserting transaction's id)
of the stored events. Every append must be stored once, at a position after the
appends its thread queued before it, each version after the one before it, and
every hash chain must verify. Some events quote a person, so the groups read the
person keys that sealed them inside the commit.

Round trips are counted in libpq's own trace of the connection that commits: each time
the client asks the server for its answers (a Sync, or a Flush) and waits for them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import psycopg
import pytest
from builders import opened_event, quoted_statement, statement_event
from eventsourcing.postgres import PostgresDatastore
from prometheus_client import REGISTRY
from psycopg import pq
from support import run_threads

from domain.events import AnyEvent
from store.config import StoreConfig
from store.log import ConflictLog
from store.writer import Appended

THREADS = 32
PER_THREAD = 12
SLUGS = ("talks-a", "talks-b", "talks-c", "talks-d")


@pytest.fixture
def pg_log(postgres_url: str, postgres_schema: str, tmp_path: Path) -> Iterator[ConflictLog]:
    log = ConflictLog(
        StoreConfig(data_dir=tmp_path, database_url=postgres_url, postgres_schema=postgres_schema)
    )
    try:
        yield log
    finally:
        log.close()


def _group_count() -> tuple[float, float]:
    """(groups committed, requests in them) so far, from the writer's histogram."""
    count = REGISTRY.get_sample_value("parley_writer_group_size_count") or 0.0
    total = REGISTRY.get_sample_value("parley_writer_group_size_sum") or 0.0
    return count, total


def test_concurrent_appends_commit_together_once_each_in_order_with_chains_intact(
    pg_log: ConflictLog, postgres_url: str, postgres_schema: str
) -> None:
    for slug in SLUGS:
        pg_log.open(slug, opened_event(title=slug))
    barrier = threading.Barrier(THREADS)
    sent: dict[int, list[tuple[str, AnyEvent, Future[Appended]]]] = {}
    groups_before, requests_before = _group_count()

    def append(thread: int) -> None:
        slug = SLUGS[thread % len(SLUGS)]
        events = [
            quoted_statement(f"Aide {thread}", f"Word {n} of thread {thread}.")
            if n % 3 == 0
            else statement_event(f"Statement {n} of thread {thread}.")
            for n in range(PER_THREAD)
        ]
        barrier.wait()
        sent[thread] = [(slug, event, pg_log.submit(slug, [event])) for event in events]
        for _, _, future in sent[thread]:
            future.result(timeout=120)

    run_threads(THREADS, append)
    requests = THREADS * PER_THREAD
    groups_after, requests_after = _group_count()

    # Each append was stored once, where its answer says, after its thread's earlier ones.
    positions = []
    for thread, appends in sent.items():
        mine = []
        for slug, event, future in appends:
            (record,) = future.result().created
            stored = pg_log.event(event.id)
            assert (stored.negotiation, stored.position) == (slug, record.position)
            mine.append(record.position)
        assert mine == sorted(mine), f"thread {thread} stored out of order: {mine}"
        positions += mine
    assert len(set(positions)) == requests
    # Within each negotiation, versions follow positions (one writer's order).
    for slug in SLUGS:
        records = pg_log.negotiation_events(slug)
        assert [r.originator_version for r in records] == list(range(1, len(records) + 1))
        assert [r.position for r in records] == sorted(r.position for r in records)
        assert len(records) == 1 + requests // len(SLUGS)
    report = pg_log.verify()
    assert report.ok, report
    assert report.events == requests + len(SLUGS)

    # Fewer transactions than appends: the database's own count of them.
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        row = conn.execute(
            f'SELECT count(*), count(DISTINCT xmin::text) FROM "{postgres_schema}".parley_events'
        ).fetchone()
    assert row is not None
    rows, transactions = row
    assert rows == requests + len(SLUGS)
    assert transactions < requests, f"{requests} appends took {transactions} transactions"
    # The writer's histogram says the same of its groups.
    assert requests_after - requests_before == requests
    assert groups_after - groups_before < requests


def test_a_group_commits_in_two_round_trips_whatever_its_size_after_one_lookup(
    pg_log: ConflictLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg_log.open(SLUGS[0], opened_event())
    traces: list[Path] = []
    datastore: PostgresDatastore = pg_log.index.datastore  # type: ignore[attr-defined]
    connection = datastore.get_connection

    @contextlib.contextmanager
    def traced() -> Iterator[Any]:
        with connection() as conn:
            traces.append(tmp_path / f"trace-{len(traces)}.txt")
            with traces[-1].open("w") as out:
                conn.pgconn.trace(out.fileno())
                conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
                try:
                    yield conn
                finally:
                    conn.pgconn.untrace()

    def asked(trace: Path) -> int:
        sent = [line.split("\t")[2] for line in trace.read_text().splitlines() if line[:2] == "F\t"]
        # Each Sync, and each Flush not right after one (psycopg flushes after a Sync).
        return len(
            [
                m
                for m, before in zip(sent, ["", *sent], strict=False)
                if m == "Sync" or (m == "Flush" and before != "Sync")
            ]
        )

    def round_trips(append: Any) -> tuple[int, int]:
        """The round trips of the commit ``append()`` makes (one group, one connection)
        and of the reads before it (the writer's lookup of the ids the group names)."""
        traces.clear()
        monkeypatch.setattr(datastore, "get_connection", traced)
        try:
            append()
        finally:
            monkeypatch.setattr(datastore, "get_connection", connection)
        commits = [t for t in traces if "COMMIT" in t.read_text()]
        (commit,) = commits
        return asked(commit), sum(asked(t) for t in traces if t is not commit)

    slug = SLUGS[0]
    # The first group of many rows reads the tables' column types, once per process.
    pg_log.append(slug, [statement_event(), statement_event()])
    # The commit takes two round trips; the ids the group names are looked up before it,
    # in one read per 500 ids.
    assert round_trips(lambda: pg_log.append(slug, [statement_event()])) == (2, 1)
    many = [statement_event() for _ in range(1000)]
    assert round_trips(lambda: pg_log.append(slug, many)) == (2, 2)
    # A quoted person is sealed: the group reads the keys table (once made, the key is
    # read with the events' INSERT, in the same first round trip).
    pg_log.append(slug, [quoted_statement("Yuri Ushakov", "We are ready.")])
    quoted = quoted_statement("Yuri Ushakov", "We are still ready.")
    assert round_trips(lambda: pg_log.append(slug, [quoted])) == (2, 1)

    def together() -> None:
        futures = pg_log.writer.submit_together([(slug, [statement_event()]) for _ in range(32)])
        for future in futures:
            future.result(timeout=60)

    assert round_trips(together) == (2, 1)
    report = pg_log.verify()
    assert report.ok, report
