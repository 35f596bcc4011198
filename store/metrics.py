"""The store's Prometheus metrics: events appended and the writer's group commits.

Defined here, below the HTTP layer, so that the writer counts without importing it;
``api.http.metrics`` exposes them (with every other layer's) at ``/metrics``. Under
several workers, prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``)
adds the processes' figures up."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Histogram

EVENTS_APPENDED = Counter(
    "parley_events_appended_total", "Events committed to the log, by event type", ["type"]
)
WRITER_GROUP_SIZE = Histogram(
    "parley_writer_group_size",
    "Append requests committed together in one transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
WRITER_COMMIT_SECONDS = Histogram(
    "parley_writer_commit_seconds",
    "Time to commit one group (the transaction and its fsync)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
APPEND_STAGE_SECONDS = Histogram(
    "parley_append_stage_seconds",
    "Time spent in each stage of the append path: queue_wait (submit to the writer "
    "taking the group, per request), prepare (checking and recording a group on its "
    "aggregates), lock (waiting for the write lock at the start of the group's "
    "transaction; on PostgreSQL, the round trip that takes it and inserts the events), put "
    "(the recorder's whole transaction for a group, lock and commit included), commit "
    "(the COMMIT alone, its fsync; on PostgreSQL, the round trip of the index rows and "
    "COMMIT), "
    "resolution (the future's result set to the awaiting coroutine resumed, per "
    "request) and answer (resumed to the last byte of the response handed to the "
    "server, per request)",
    ["stage"],
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05)
    + (0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
STAGES = ("queue_wait", "prepare", "lock", "put", "commit", "resolution", "answer")
"""The stages of ``APPEND_STAGE_SECONDS``, in the order an append goes through them."""
QUEUE_WAIT, PREPARE, LOCK, PUT, COMMIT, RESOLUTION, ANSWER = (
    APPEND_STAGE_SECONDS.labels(stage=stage) for stage in STAGES
)
WRITER_ERRORS = Counter(
    "parley_writer_errors_total", "Group commits the database refused (then retried alone)"
)


def count_appended(types: Iterable[str]) -> None:
    """Count committed events by type."""
    for name in types:
        EVENTS_APPENDED.labels(type=name).inc()
