"""The aggregate as the writer holds it: resumed from a checkpoint, told of the stored
events a request names (``recall``), and holding no ids beyond the events it recorded
since they were last stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from builders import event, opened_event, statement_event

from domain.errors import InvalidEventError
from domain.negotiation import Negotiation

AT = datetime(2025, 6, 1, tzinfo=UTC)
PLACE = {"city": "Istanbul", "country": "TUR"}


def test_a_resumed_aggregate_continues_the_chain_and_keeps_its_rounds_and_proposals() -> None:
    full = Negotiation("talks")
    full.record(
        [
            opened_event(),
            event("RoundHeld", {"round": 1, "place": PLACE}),
            event(
                "ProposalMade",
                {"proposal_id": "p1", "proposer": "RUS", "subject": "meeting", "summary": "M."},
            ),
        ],
        AT,
    )
    full.collect_events()

    resumed = Negotiation.resume("talks", full.checkpoint())
    nxt = statement_event("Next.")
    [record] = resumed.record([nxt], AT)
    [expected] = full.record([nxt], AT)

    assert (record.version, record.previous_hash, record.hash) == (
        4,
        expected.previous_hash,
        expected.hash,
    )
    with pytest.raises(InvalidEventError, match="round 1 is already recorded as held"):
        resumed.record([event("RoundHeld", {"round": 1, "place": PLACE})], AT)
    with pytest.raises(InvalidEventError, match="this proposal_id is already used"):
        resumed.record(
            [
                event(
                    "ProposalMade",
                    {"proposal_id": "p1", "proposer": "RUS", "subject": "meeting", "summary": "M"},
                )
            ],
            AT,
        )


def test_a_checkpoint_is_refused_while_recorded_events_wait_to_be_stored() -> None:
    negotiation = Negotiation("talks")
    negotiation.record([opened_event()], AT)
    with pytest.raises(ValueError, match="stored events only"):
        negotiation.checkpoint()
    negotiation.collect_events()
    assert negotiation.checkpoint().version == 1


def test_recall_replaces_what_it_knew_once_its_events_are_stored_and_adds_while_not() -> None:
    said = statement_event("Said.")
    negotiation = Negotiation("talks")
    negotiation.record([opened_event(), said], AT)
    negotiation.collect_events()  # stored
    other = statement_event("Other.")

    negotiation.recall({other.id: "StatementIssued"}, [])
    assert set(negotiation.event_types) == {other.id}  # what it recorded before is dropped

    later = statement_event("Later.")
    negotiation.record([later], AT)  # waiting to be stored
    negotiation.recall({said.id: "StatementIssued"}, [said.id])
    assert set(negotiation.event_types) == {other.id, later.id, said.id}
    assert negotiation.retracted == {said.id}
