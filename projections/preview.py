"""What an append would change: the state before and after it, folded in memory.

A dry run (``POST /negotiations/{slug}/events?dry_run=true``) checks the events as a
real append would and stores nothing; this module answers its second question, what
the state would become. It folds the negotiation's stored events through the reference
fold (``projections.as_of.naive_state``), once without and once with the previewed
records, at the latest valid time the records name and with everything known now. Only
the parts of the state that differ are shown, so a new type of state item shows up here
without a change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.negotiation import Recorded
from projections.as_of import naive_state

ECHO = frozenset({"negotiation", "as_of", "known_at", "position"})
"""The state's echo of the query: it differs between any two folds, and is not a change."""


def preview(
    stored: Sequence[Recorded], new: Sequence[Recorded], slug: str, last_position: int
) -> dict[str, Any]:
    """The state at the new records' latest valid time, known now, without and with them.

    ``new`` are records the store has not placed: they are given the positions that
    follow ``last_position`` for the fold. The answer names the changed parts of the
    state (``changed``) and shows each part ``before`` and ``after``.
    """
    placed = [record.placed(last_position + i) for i, record in enumerate(new, start=1)]
    as_of = max(record.event.valid_from for record in new)
    known_at = max(record.recorded_at for record in [*stored, *placed])
    before = naive_state(stored, slug, as_of, known_at).to_json()
    after = naive_state([*stored, *placed], slug, as_of, known_at).to_json()
    changed = [key for key in after if key not in ECHO and before.get(key) != after[key]]
    return {
        "as_of": after["as_of"],
        "known_at": after["known_at"],
        "changed": changed,
        "before": {key: before.get(key) for key in changed},
        "after": {key: after[key] for key in changed},
    }
