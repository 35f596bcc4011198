"""Property tests: the fast as-of engine answers exactly as the naive reference fold.

Also, by example, the engine's contract: what it refuses, and which checkpoints a
late append drops.

Histories are random (back-dated events, corrections that fit and that do not,
retractions, disputes of disputes); queries land on every boundary the history has.
Small checkpoint spacings make every query cross checkpoints.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from histories import (
    RECORDING_STARTS,
    SLUG,
    History,
    histories,
    horizons_of,
    moments_of,
    opened,
    retraction,
    statement,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.negotiation import Recorded
from projections.as_of import AsOfEngine, naive_state, parse_instant

EXAMPLES = int(os.environ.get("PARLEY_HYPOTHESIS_EXAMPLES", "200"))
FAR_FUTURE = datetime(2030, 1, 1, tzinfo=UTC)


def _queries(
    data: st.DataObject, records: list[Recorded], count: int
) -> list[tuple[datetime, datetime]]:
    moments = st.sampled_from(moments_of(records))
    horizons = st.sampled_from(horizons_of(records))
    return [(data.draw(moments), data.draw(horizons)) for _ in range(count)]


@settings(max_examples=EXAMPLES, deadline=None)
@given(records=histories(), spacing=st.integers(1, 6), data=st.data())
def test_engine_equals_naive_fold_at_any_valid_time_and_knowledge(
    records: list[Recorded], spacing: int, data: st.DataObject
) -> None:
    engine = AsOfEngine(SLUG, spacing=spacing, horizons=2)
    engine.add(records)
    for as_of, known_at in _queries(data, records, 10):
        assert engine.state(as_of, known_at) == naive_state(records, SLUG, as_of, known_at)


@settings(max_examples=EXAMPLES, deadline=None)
@given(records=histories(), spacing=st.integers(1, 4), data=st.data())
def test_engine_fed_in_batches_equals_naive_between_batches(
    records: list[Recorded], spacing: int, data: st.DataObject
) -> None:
    engine = AsOfEngine(SLUG, spacing=spacing, horizons=2)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(records)), max_size=4)))
    fed = 0
    for cut in [*cuts, len(records)]:
        engine.add(records[fed:cut])
        fed = max(fed, cut)
        so_far = records[:fed]
        # Queries between batches build checkpoints that the next batch must drop.
        for as_of, known_at in _queries(data, records, 4):
            assert engine.state(as_of, known_at) == naive_state(so_far, SLUG, as_of, known_at)


@settings(max_examples=EXAMPLES, deadline=None)
@given(records=histories(), data=st.data())
def test_later_recordings_never_change_answers_for_earlier_knowledge(
    records: list[Recorded], data: st.DataObject
) -> None:
    everything = AsOfEngine(SLUG, spacing=3)
    everything.add(records)
    for as_of, known_at in _queries(data, records, 6):
        then = AsOfEngine(SLUG, spacing=2)
        then.add(r for r in records if r.recorded_at <= known_at)
        assert everything.state(as_of, known_at) == then.state(as_of, known_at)


# The engine's contract, by example.


def _fed(history: History, spacing: int = 2) -> AsOfEngine:
    engine = AsOfEngine(SLUG, spacing=spacing)
    engine.add(history.records)
    return engine


def _may_answered_once() -> tuple[History, AsOfEngine]:
    """Talks opened on 1 May with a statement each day to the 29th, fed to an engine
    (a checkpoint every 4 events) that has answered once, so its checkpoints are made."""
    history = History()
    history.record(opened("2025-05-01"))
    for n in range(2, 30):
        history.add(statement(f"2025-05-{n:02d}"))
    engine = _fed(history, spacing=4)
    engine.state(parse_instant("2025-06-30"), FAR_FUTURE)
    return history, engine


def test_back_dated_append_drops_only_the_checkpoints_after_its_valid_time() -> None:
    history, engine = _may_answered_once()
    assert engine.checkpoints == 8  # 29 events: checkpoints after 0, 4, ..., 28 of them
    engine.add(history.record(statement("2025-05-20"), at=history.later(hours=1)))
    assert engine.checkpoints == 6  # it lands at index 20: those after 0..20 still hold
    assert engine.state(parse_instant("2025-06-30"), FAR_FUTURE).event_count == 30


def test_retraction_drops_the_checkpoints_after_the_retracted_event() -> None:
    history, engine = _may_answered_once()
    target = history.records[25].event.id
    engine.add([history.add(retraction("2025-05-01", target))])
    assert engine.checkpoints == 7  # the retracted event is at index 25: 0..24 hold
    assert engine.state(parse_instant("2025-06-30"), FAR_FUTURE).event_count == 28


def test_engine_refuses_records_of_another_negotiation() -> None:
    other = History(slug="doha-2025")
    other.record(opened())
    with pytest.raises(ValueError, match="belongs to 'doha-2025'"):
        AsOfEngine(SLUG).add(other.records)


def test_engine_refuses_positions_out_of_order_and_keeps_nothing_of_the_batch() -> None:
    history = History()
    history.record(opened(), statement("2025-05-20"))
    engine = AsOfEngine(SLUG)
    with pytest.raises(ValueError, match="positions must increase"):
        engine.add(reversed(history.records))
    assert len(engine) == 0 and engine.position is None


def test_engine_refuses_records_without_positions() -> None:
    unplaced = History().negotiation.record([opened()], RECORDING_STARTS)
    with pytest.raises(ValueError, match="no log position"):
        AsOfEngine(SLUG).add(unplaced)


def test_engine_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="known_at must carry a UTC offset"):
        AsOfEngine(SLUG).state(FAR_FUTURE, datetime(2025, 5, 28))
