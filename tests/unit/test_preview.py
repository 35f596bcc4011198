"""The preview of a dry run: the state before and after events not yet stored, folded
in memory, equals the state once they are stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from histories import SLUG, History, given, host, retraction, scheduled, statement, zone

from domain.events import AnyEvent
from domain.negotiation import replay
from projections.as_of import naive_state
from projections.preview import ECHO, preview

Answers = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]


def _preview_then_store(history: History, *events: AnyEvent) -> Answers:
    """The preview of ``events``, and the states before and after storing them."""
    last = history.records[-1].position or 0
    # A dry run records on a write side of its own, and stores nothing.
    write_side = replay(None, history.records)
    assert write_side is not None
    unplaced = write_side.record(list(events), history.later(hours=1))
    answer = preview(list(history.records), unplaced, SLUG, last)
    stored = history.record(*events, at=history.clock)
    as_of = max(e.valid_from for e in events)
    before = naive_state(history.records[: -len(stored)], SLUG, as_of, history.clock).to_json()
    after = naive_state(history.records, SLUG, as_of, history.clock).to_json()
    return answer, before, after


@pytest.mark.parametrize(
    "events",
    [
        pytest.param(lambda h: [scheduled("2025-05-28", round=2)], id="a round scheduled"),
        pytest.param(
            lambda h: [scheduled("2025-05-20", round=3), host("2025-05-21", round=3)],
            id="a batch, back-dated",
        ),
        pytest.param(lambda h: [zone("2025-05-25")], id="a security zone"),
        pytest.param(
            lambda h: [retraction("2025-05-29", h.records[1].event.id)], id="a retraction"
        ),
    ],
)
def test_the_preview_is_the_state_the_events_would_make(
    events: Callable[[History], list[AnyEvent]],
) -> None:
    history = given(scheduled("2025-05-20", round=1), statement("2025-05-22"))
    answer, before, after = _preview_then_store(history, *events(history))
    changed = [k for k in after if k not in ECHO and before[k] != after[k]]
    assert changed and answer["changed"] == changed
    assert answer["before"] == {k: before[k] for k in changed}
    assert answer["after"] == {k: after[k] for k in changed}
