"""Checkpoints of the as-of engine in the store, on both backends: a restarted service
answers the state now from a checkpoint and the events after it, with the engine's
answer; a checkpoint that is damaged, stale, names another event or predates a
redaction is never served (it is dropped with a log line, and the answer is the same);
a redaction deletes every checkpoint in its own transaction; the thread writes them.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from builders import statement_event
from support import EXAMPLE

from projections import checkpoints
from projections.service import AsOf
from store.checkpoints import digest_of
from store.loader import load
from store.log import ConflictLog

SLUG = "istanbul-2025"
LATER = datetime(2030, 1, 1, tzinfo=UTC)


def answer(service: AsOf, as_of: datetime | None = None) -> Any:
    """The state's JSON at ``as_of`` (default: after everything), known now, without
    the echo of now."""
    found = service.state(SLUG, as_of or LATER, LATER, LATER).to_json()
    return {k: v for k, v in found.items() if k not in ("known_at", "reported_at")}


def loaded(log: ConflictLog) -> AsOf:
    load(log, EXAMPLE)
    service = AsOf(log)
    assert service.checkpoint(SLUG)
    return service


def test_a_restarted_service_answers_the_state_now_from_the_checkpoint(log: ConflictLog) -> None:
    expected = answer(loaded(log))
    restarted = AsOf(log)
    assert answer(restarted) == expected
    assert restarted.cached_events == 0  # no engine was read: the checkpoint answered
    # Events after the checkpoint are read and folded on; still no engine.
    log.append(SLUG, [statement_event(occurred_at="2025-07-02")])
    assert answer(restarted) == answer(AsOf(log))
    assert restarted.cached_events == 0
    # A query the whole fold does not answer reads the engine, and agrees with it.
    past = datetime(2025, 5, 20, tzinfo=UTC)
    assert answer(restarted, past) == answer(AsOf(log), past)
    assert restarted.cached_events == log.version_of(SLUG)


def test_a_back_dated_event_after_the_checkpoint_sends_the_query_to_the_engine(
    log: ConflictLog,
) -> None:
    loaded(log)
    log.append(SLUG, [statement_event(occurred_at="2025-05-17")])
    restarted = AsOf(log)
    assert answer(restarted) == answer(AsOf(log))
    assert restarted.cached_events == log.version_of(SLUG)


def test_deleting_every_checkpoint_changes_no_answer(log: ConflictLog) -> None:
    expected = answer(loaded(log))
    assert log.checkpoints.clear() == 1
    restarted = AsOf(log)
    assert answer(restarted) == expected
    assert restarted.cached_events == log.version_of(SLUG)


def _tamper(log: ConflictLog, **columns: Any) -> None:
    for column, value in columns.items():
        log.checkpoints._write(  # noqa: SLF001 - the test plays a damaged disk
            f"UPDATE {log.checkpoints.table} SET {column} = ? WHERE negotiation = ?",
            [value, SLUG],
        )


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param({"body": b"\x80\x05not a fold"}, id="bad-bytes"),
        pytest.param({"fold": "an older fold"}, id="stale-fold"),
        pytest.param({"hash": "0" * 64}, id="wrong-event-hash"),
        pytest.param({"version": 3}, id="wrong-version"),
        pytest.param(
            {"body": b"\x80\x05N.", "digest": digest_of(b"\x80\x05N.")}, id="not-a-fold"
        ),
        pytest.param(
            {
                "body": pickle.dumps(print, protocol=5),
                "digest": digest_of(pickle.dumps(print, protocol=5)),
            },
            id="names-a-function",
        ),
    ],
)
def test_a_damaged_or_stale_checkpoint_is_ignored_with_a_log_line_and_dropped(
    log: ConflictLog, damage: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    expected = answer(loaded(log))
    _tamper(log, **damage)
    restarted = AsOf(log)
    with caplog.at_level(logging.WARNING, logger="parley.as_of"):
        assert answer(restarted) == expected
    assert "as-of checkpoint ignored" in caplog.text
    assert restarted.cached_events == log.version_of(SLUG)  # the engine answered
    assert log.checkpoints.read(SLUG) is None
    # Rebuilt: the next one is written, and serves.
    assert restarted.checkpoint(SLUG)
    again = AsOf(log)
    assert answer(again) == expected and again.cached_events == 0


def test_a_redaction_deletes_the_checkpoints_and_no_fold_before_it_is_stored_again(
    log: ConflictLog,
) -> None:
    service = loaded(log)
    stored = log.checkpoints.read(SLUG)
    assert stored is not None

    log.redact("Vladimir Medinsky", "the source asked")

    assert log.checkpoints.read(SLUG) is None  # in the redaction's own transaction
    assert not log.checkpoints.write(stored)  # a fold from before it is refused
    assert log.checkpoints.read(SLUG) is None
    assert service.checkpoint(SLUG)  # folded again from the store, after the redaction
    rewritten = log.checkpoints.read(SLUG)
    assert rewritten is not None and rewritten.version > stored.version
    restarted = AsOf(log)
    assert answer(restarted) == answer(AsOf(log))
    assert restarted.cached_events == 0


def test_a_checkpoint_from_before_a_redaction_is_never_served(log: ConflictLog) -> None:
    """Should one survive (written by a process that raced the redaction), the reader
    sees the redaction among the events after it, and drops it."""
    loaded(log)
    stored = log.checkpoints.read(SLUG)
    assert stored is not None
    log.redact("Vladimir Medinsky", "the source asked")
    log.checkpoints._write(  # noqa: SLF001 - the race's outcome, put there by hand
        f"INSERT INTO {log.checkpoints.table} "
        "(negotiation, version, position, hash, fold, digest, body) VALUES (?,?,?,?,?,?,?)",
        [SLUG, stored.version, stored.position, stored.hash, stored.fold, stored.digest,
         stored.body],
    )
    restarted = AsOf(log)
    assert answer(restarted) == answer(AsOf(log))
    assert restarted.cached_events == log.version_of(SLUG)  # the engine answered
    assert log.checkpoints.read(SLUG) is None


def test_the_thread_writes_checkpoints_as_the_log_grows_and_at_close(log: ConflictLog) -> None:
    load(log, EXAMPLE)
    service = AsOf(log)
    service.start_checkpoints(every=1, poll=0.05, min_events=1)
    try:
        deadline = time.monotonic() + 30
        while log.checkpoints.read(SLUG) is None:
            assert time.monotonic() < deadline, "no checkpoint written"
            time.sleep(0.05)
        log.append(SLUG, [statement_event(occurred_at="2025-07-02")])
    finally:
        service.close()
    stored = log.checkpoints.read(SLUG)
    assert stored is not None and stored.version == log.version_of(SLUG)
    assert stored.fold == checkpoints.fold_version()


def test_answers_from_the_head_while_events_arrive_are_whole(log: ConflictLog) -> None:
    """Readers on several threads while a writer appends: none fails, each counts
    between the events at the start and at the end. (A reader whose "now" is older than
    what another has folded on gets the engine's answer: not asserted here.)"""
    loaded(log)
    start = answer(AsOf(log))["event_count"]
    restarted = AsOf(log)
    failures: list[BaseException] = []
    counts: list[int] = []

    def read() -> None:
        try:
            for _ in range(30):
                counts.append(restarted.state(SLUG, LATER, LATER, LATER).event_count)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    for day in range(2, 12):
        log.append(SLUG, [statement_event(occurred_at=f"2025-07-{day:02d}")])
    for reader in readers:
        reader.join()
    assert not failures
    assert answer(restarted) == answer(AsOf(log))
    assert start <= min(counts) and max(counts) <= answer(AsOf(log))["event_count"]
