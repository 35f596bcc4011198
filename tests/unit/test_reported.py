"""The third clock: an event's reported time, and the as-of engine's ``reported_at`` bound.

Property tests hold the engine equal to the naive fold on random histories whose
sources carry random ``published_at`` values (none, dates, datetimes with offsets,
some after the event was recorded), for random (as_of, known_at, reported_at).
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

from histories import (
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
from domain.reported import reported_time
from domain.values import Source
from projections.as_of import AsOfEngine, naive_state, reported

EXAMPLES = int(os.environ.get("PARLEY_HYPOTHESIS_EXAMPLES", "200"))
RECORDED = datetime(2025, 6, 1, 12, tzinfo=UTC)
EAST = timezone(timedelta(hours=3))


def test_an_event_without_published_at_is_reported_when_recorded() -> None:
    assert reported_time([Source(outlet="TASS")], RECORDED) == RECORDED
    assert reported_time([], RECORDED) == RECORDED  # a PersonRedacted has no sources


def test_the_earliest_published_at_counts_and_a_date_means_the_end_of_that_day() -> None:
    sources = [
        Source(outlet="TASS", published_at=datetime(2025, 5, 30, 4, tzinfo=EAST)),
        Source(outlet="EFE", published_at=date(2025, 5, 29)),
        Source(outlet="AP"),
    ]
    assert reported_time(sources, RECORDED) == datetime(
        2025, 5, 29, 23, 59, 59, 999999, tzinfo=UTC
    )
    earlier = [*sources, Source(outlet="RIA", published_at=datetime(2025, 5, 29, 10, tzinfo=UTC))]
    assert reported_time(earlier, RECORDED) == datetime(2025, 5, 29, 10, tzinfo=UTC)


def test_a_published_at_after_the_recording_is_kept() -> None:
    later = datetime(2025, 6, 3, 9, tzinfo=EAST)
    assert reported_time([Source(outlet="TASS", published_at=later)], RECORDED) == later


def _reported_points(records: list[Recorded]) -> list[datetime]:
    points = {datetime(2025, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)}
    for r in records:
        moment = reported(r)
        points.update({moment, moment - timedelta(microseconds=1)})
    return sorted(points)


def _queries(
    data: st.DataObject, records: list[Recorded], count: int
) -> list[tuple[datetime, datetime, datetime]]:
    moments = st.sampled_from(moments_of(records))
    horizons = st.sampled_from(horizons_of(records))
    reports = st.sampled_from(_reported_points(records))
    return [(data.draw(moments), data.draw(horizons), data.draw(reports)) for _ in range(count)]


@settings(max_examples=EXAMPLES, deadline=None)
@given(records=histories(published=True), spacing=st.integers(1, 6), data=st.data())
def test_engine_equals_naive_fold_under_all_three_clocks(
    records: list[Recorded], spacing: int, data: st.DataObject
) -> None:
    engine = AsOfEngine(SLUG, spacing=spacing, horizons=2)
    engine.add(records)
    for as_of, known_at, reported_at in _queries(data, records, 10):
        expected = naive_state(records, SLUG, as_of, known_at, reported_at)
        assert engine.state(as_of, known_at, reported_at) == expected


@settings(max_examples=EXAMPLES, deadline=None)
@given(records=histories(published=True), spacing=st.integers(1, 4), data=st.data())
def test_engine_fed_in_batches_equals_naive_under_all_three_clocks(
    records: list[Recorded], spacing: int, data: st.DataObject
) -> None:
    # Cached folds of a reported cut must stay right when earlier-reported rows arrive.
    engine = AsOfEngine(SLUG, spacing=spacing, horizons=8)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(records)), max_size=4)))
    fed = 0
    for cut in [*cuts, len(records)]:
        engine.add(records[fed:cut])
        fed = max(fed, cut)
        so_far = records[:fed]
        for as_of, known_at, reported_at in _queries(data, records, 4):
            expected = naive_state(so_far, SLUG, as_of, known_at, reported_at)
            assert engine.state(as_of, known_at, reported_at) == expected


@settings(max_examples=EXAMPLES, deadline=None)
@given(records=histories(published=True), data=st.data())
def test_a_reported_bound_after_every_report_changes_nothing(
    records: list[Recorded], data: st.DataObject
) -> None:
    engine = AsOfEngine(SLUG, spacing=3)
    engine.add(records)
    after_all = max(reported(r) for r in records)
    for as_of, known_at, _ in _queries(data, records, 5):
        unbounded = engine.state(as_of, known_at)
        assert engine.state(as_of, known_at, after_all) == replace(unbounded, reported_at=after_all)
    assert all(cut is None for _, cut in engine._past)  # no fold of a reported cut


def test_the_common_case_uses_the_main_fold_and_cuts_share_one_fold() -> None:
    history = History()
    history.record(opened())
    early = Source(outlet="TASS", published_at=date(2025, 5, 20))
    first = history.add(statement("2025-05-17"))
    history.add(statement("2025-05-18").model_copy(update={"sources": [early]}))
    engine = AsOfEngine(SLUG, horizons=4)
    engine.add(history.records)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert engine.state(now, now, now).event_count == 3
    assert not engine._past  # the main fold served it
    # Two bounds between the same reported times share one fold.
    opening = reported(history.records[0])
    assert engine.state(now, now, opening + timedelta(minutes=1)).event_count == 2
    assert engine.state(now, now, reported(first) - timedelta(minutes=1)).event_count == 2
    assert len(engine._past) == 1
    assert engine.state(now, now, datetime(2025, 5, 25, tzinfo=UTC)).event_count == 1
    assert engine.state(now, now, datetime(2025, 5, 1, tzinfo=UTC)).event_count == 0
    assert len(engine._past) == 3


def test_a_retraction_counts_from_its_own_report() -> None:
    history = History()
    history.record(opened())
    claim = history.add(statement("2025-05-17"))
    late = Source(outlet="TASS", published_at=datetime(2025, 7, 1, tzinfo=UTC))
    history.add(retraction("2025-05-18", claim.event.id).model_copy(update={"sources": [late]}))
    engine = AsOfEngine(SLUG)
    engine.add(history.records)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert engine.state(now, now, datetime(2025, 6, 30, tzinfo=UTC)).event_count == 2
    assert engine.state(now, now, now).event_count == 1
