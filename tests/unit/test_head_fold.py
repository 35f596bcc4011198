"""The head fold a checkpoint keeps: written to bytes, read back and caught up with the
events after it, it answers exactly as the naive reference fold; its bytes decode only
into what a fold is made of.
"""

from __future__ import annotations

import os
import pickle
from datetime import UTC, datetime

import pytest
from histories import SLUG, histories, horizons_of, moments_of
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from domain.negotiation import Recorded
from projections import checkpoints
from projections.as_of import AsOfEngine, engine_rows, naive_state
from store.checkpoints import digest_of

EXAMPLES = int(os.environ.get("PARLEY_HYPOTHESIS_EXAMPLES", "200"))
FAR_FUTURE = datetime(2030, 1, 1, tzinfo=UTC)


@settings(max_examples=EXAMPLES, deadline=None)
@given(records=histories(published=True), data=st.data())
def test_a_head_read_back_and_caught_up_answers_as_the_naive_fold(
    records: list[Recorded], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(1, len(records)))
    rows = engine_rows(records)  # targets resolved over the whole log, as the index does
    engine = AsOfEngine(SLUG, spacing=data.draw(st.integers(1, 5)))
    engine.add_rows(rows[:cut])
    head = engine.head()
    assert head is not None
    head = checkpoints.decode(checkpoints.encode(head))
    extended = head.extend(rows[cut:])
    note(f"cut {cut} of {len(records)}, extended: {extended}")
    event("extended a tail" if extended and cut < len(records) else f"extended: {extended}")
    if not extended:
        # Refused: a correction, retraction or back-dated event came after the cut.
        assert cut < len(records)
        return
    assert head.version == records[-1].originator_version
    assert head.state(FAR_FUTURE, FAR_FUTURE) == naive_state(
        records, SLUG, FAR_FUTURE, FAR_FUTURE
    )
    # Every query it claims to serve is the naive answer; the others go to an engine.
    for as_of in moments_of(records):
        for known_at in [*horizons_of(records), FAR_FUTURE]:
            for reported_at in (None, known_at):
                if head.serves(as_of, known_at, reported_at):
                    expected = naive_state(records, SLUG, as_of, known_at, reported_at)
                    assert head.state(as_of, known_at, reported_at) == expected


@settings(max_examples=EXAMPLES // 4, deadline=None)
@given(records=histories())
def test_a_head_after_its_last_event_serves_the_state_now(records: list[Recorded]) -> None:
    engine = AsOfEngine(SLUG)
    engine.add(records)
    head = engine.head()
    assert head is not None
    assert head.serves(FAR_FUTURE, FAR_FUTURE, None)
    assert head.serves(FAR_FUTURE, FAR_FUTURE, FAR_FUTURE)
    earliest = min(r.recorded_at for r in records)
    if earliest < max(r.recorded_at for r in records):
        assert not head.serves(FAR_FUTURE, earliest, None)  # a past knowledge: the engine


def test_a_back_dated_event_after_the_checkpoint_is_refused_and_changes_nothing() -> None:
    from histories import History, opened, statement

    history = History(step=1)
    history.record(opened("2025-05-16"))
    history.record(statement("2025-06-01"))
    history.record(statement("2025-05-20"))  # back-dated
    rows = engine_rows(history.records)
    engine = AsOfEngine(SLUG)
    engine.add_rows(rows[:2])
    head = engine.head()
    assert head is not None
    before = head.state(FAR_FUTURE, FAR_FUTURE)
    assert not head.extend(rows[2:])
    assert head.state(FAR_FUTURE, FAR_FUTURE) == before
    assert head.version == rows[1].version


def test_a_dispute_folded_on_joins_the_disputes_kept_in_the_checkpoint() -> None:
    from histories import History, dispute, hostilities, opened

    history = History(step=1)
    history.record(opened("2025-05-16"))
    report = hostilities("2025-05-20")
    history.record(report)
    history.record(dispute("2025-05-21", report.id, counter_claim="no shots were fired"))
    history.record(dispute("2025-06-01", report.id, counter_claim="it was a drill"))
    rows = engine_rows(history.records)
    engine = AsOfEngine(SLUG)
    engine.add_rows(rows[:3])
    head = engine.head()
    assert head is not None
    head = checkpoints.decode(checkpoints.encode(head))
    assert head.extend(rows[3:])
    expected = naive_state(history.records, SLUG, FAR_FUTURE, FAR_FUTURE)
    assert len(expected.hostilities[0].disputes) == 2  # one from each side of the cut
    assert head.state(FAR_FUTURE, FAR_FUTURE) == expected


def test_bytes_that_name_anything_else_are_refused() -> None:
    hostile = pickle.dumps({"format": 1, "acc": os.system})
    with pytest.raises(pickle.UnpicklingError, match="may not name"):
        checkpoints.decode(hostile)


def test_the_fold_version_is_a_digest_of_the_fold_code() -> None:
    version = checkpoints.fold_version()
    assert len(version) == 32 and version == checkpoints.fold_version()
    assert "projections.as_of" in checkpoints.FOLD_MODULES
    assert "domain.events" in checkpoints.FOLD_MODULES  # the events and their upcasters


def test_a_damaged_body_no_longer_matches_its_digest() -> None:
    from histories import History, opened

    history = History(step=1)
    history.record(opened("2025-05-16"))
    engine = AsOfEngine(SLUG)
    engine.add(history.records)
    head = engine.head()
    assert head is not None
    stored = checkpoints.checkpoint_of(head, "hash")
    assert stored.intact and stored.digest == digest_of(stored.body)
    damaged = bytearray(stored.body)
    damaged[len(damaged) // 2] ^= 0xFF
    assert digest_of(bytes(damaged)) != stored.digest
