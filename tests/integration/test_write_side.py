"""The writer's write sides: no memory per stored event, opened after a restart from a
checkpoint the log vouches for, and the same rules as ever about ids, rounds,
proposals, corrections and retractions, on a real SQLite file and the real PostgreSQL.

Each test that takes ``log`` runs once per backend (``tests/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import orjson
import pytest
from builders import event, opened_event, statement_event

from domain.errors import EventIdReusedError, InvalidEventError
from domain.events import AnyEvent
from store.config import StoreConfig
from store.log import ConflictLog
from store.write_side import CHECKPOINT_EVERY

SLUG = "istanbul-2025"
OTHER = "geneva-2025"
ISTANBUL = {"city": "Istanbul", "country": "TUR", "region": "TR-34"}


def scheduled(round_: int) -> AnyEvent:
    return event("RoundScheduled", {"round": round_, "starts_at": "2025-06-02", "place": ISTANBUL})


def held(round_: int) -> AnyEvent:
    return event("RoundHeld", {"round": round_, "place": ISTANBUL})


def host(round_: int) -> AnyEvent:
    return event("HostAnnounced", {"round": round_, "host": "TUR", "place": ISTANBUL})


def proposal(proposal_id: str) -> AnyEvent:
    data = {"proposal_id": proposal_id, "proposer": "RUS", "subject": "meeting", "summary": "Meet."}
    return event("ProposalMade", data)


def answer(proposal_id: str) -> AnyEvent:
    data = {"proposal_id": proposal_id, "responder": "UKR", "response": "noted"}
    return event("ProposalAnswered", data)


def disputed(target: UUID) -> AnyEvent:
    data = {"event_id": str(target), "disputed_by": "UKR", "counter_claim": "No such doubt."}
    return event("ClaimDisputed", data)


def corrected(target: UUID, fields: dict[str, Any]) -> AnyEvent:
    data = {"event_id": str(target), "data": fields, "reason": "The report was misread."}
    return event("EventCorrected", data)


def retracted(target: UUID) -> AnyEvent:
    return event("EventRetracted", {"event_id": str(target), "reason": "Wrong report."})


@pytest.fixture
def reopen(store_config: StoreConfig) -> Iterator[list[ConflictLog]]:
    """ConflictLogs opened on the test's store (a restart), closed afterwards."""
    opened: list[ConflictLog] = []
    yield opened
    for log in opened:
        log.close()


def restarted(
    log: ConflictLog, store_config: StoreConfig, opened: list[ConflictLog]
) -> ConflictLog:
    """Close ``log`` (its writer checkpoints what it wrote) and open the store anew."""
    log.close()
    again = ConflictLog(store_config)
    opened.append(again)
    return again


def checkpoint_row(log: ConflictLog, slug: str) -> tuple[int, str, dict[str, Any]] | None:
    table = log.writer.checkpoints.table
    db = log.index.database
    rows = db.fetch(
        db.dialect.sql(f"SELECT version, hash, state FROM {table} WHERE negotiation = ?"), [slug]
    )
    return (int(rows[0][0]), str(rows[0][1]), orjson.loads(rows[0][2])) if rows else None


def grounded(state: dict[str, Any], kind: str) -> list[Any]:
    """The keys of one kind a stored checkpoint grounds (rounds held: ``held``)."""
    return sorted(key for k, key, _ in state["grounds"] if k == kind)


def without(state: dict[str, Any], kind: str) -> dict[str, Any]:
    """``state`` forgetting every ground of one kind."""
    return {**state, "grounds": [g for g in state["grounds"] if g[0] != kind]}


def rewrite_checkpoint(log: ConflictLog, slug: str, **changes: Any) -> None:
    """Change a stored checkpoint's version, hash or state, as damage or an old copy would."""
    found = checkpoint_row(log, slug)
    assert found is not None
    version, hash_, state = found
    state = {**state, **changes.pop("state", {})}
    db = log.index.database
    db.write(
        db.dialect.sql(
            f"UPDATE {log.writer.checkpoints.table} SET version = ?, hash = ?, state = ? "
            "WHERE negotiation = ?"
        ),
        [
            changes.get("version", version),
            changes.get("hash", hash_),
            orjson.dumps(state).decode(),
            slug,
        ],
    )


def history(log: ConflictLog) -> dict[str, AnyEvent]:
    """A negotiation with a held round, a scheduled one, a proposal, a statement that
    is retracted and one that is not, and an event of another negotiation."""
    made = {
        "round1": scheduled(1),
        "held1": held(1),
        "round2": scheduled(2),
        "p1": proposal("p1"),
        "said": statement_event("Said once."),
        "gone": statement_event("Withdrawn."),
    }
    log.append(SLUG, [opened_event(), *made.values()])
    made["retraction"] = retracted(made["gone"].id)
    log.append(SLUG, [made["retraction"]])
    made["elsewhere"] = statement_event("Elsewhere.")
    log.append(OTHER, [opened_event(), made["elsewhere"]])
    return made


# Memory.
def test_the_writer_keeps_no_event_ids_of_a_long_negotiation(log: ConflictLog) -> None:
    log.append(SLUG, [opened_event()])
    for batch in range(30):
        log.append(SLUG, [statement_event(f"Statement {batch}.{i}.") for i in range(20)])
    first = log.negotiation_events(SLUG)[1].event
    dispute = disputed(first.id)
    log.append(SLUG, [dispute])

    aggregate = log.writer._cache[SLUG]
    assert aggregate.version == 602
    # What the last request named and recorded, not the 602 events of the stream.
    assert set(aggregate.event_types) == {first.id, dispute.id}
    assert aggregate.retracted == set()


# Restarts.
def test_a_restart_opens_the_write_side_from_the_checkpoint_the_writer_left(
    log: ConflictLog, store_config: StoreConfig, reopen: list[ConflictLog]
) -> None:
    made = history(log)
    head = log.negotiation_events(SLUG)[-1]

    again = restarted(log, store_config, reopen)

    found = checkpoint_row(again, SLUG)
    assert found is not None
    assert found[:2] == (head.version, head.hash)
    assert grounded(found[2], "held") == [1] and grounded(found[2], "proposal") == ["p1"]
    assert grounded(found[2], "round") == [1, 2]
    # The rules about what was stored before the restart still hold.
    with pytest.raises(InvalidEventError, match="round 1 is already recorded as held"):
        again.append(SLUG, [held(1)])
    with pytest.raises(InvalidEventError, match="this proposal_id is already used"):
        again.append(SLUG, [proposal("p1")])
    with pytest.raises(InvalidEventError, match="that event is retracted"):
        again.append(SLUG, [retracted(made["gone"].id)])
    with pytest.raises(InvalidEventError, match="no event with this id in this negotiation"):
        again.append(SLUG, [disputed(made["elsewhere"].id)])
    with pytest.raises(InvalidEventError, match="cannot itself be corrected or retracted"):
        again.append(SLUG, [corrected(made["retraction"].id, {"reason": "x"})])
    appended = again.append(
        SLUG,
        [host(2), answer("p1"), held(2), disputed(made["said"].id), retracted(made["said"].id)],
    )
    assert [r.version for r in appended.created] == [head.version + i for i in range(1, 6)]
    assert appended.created[0].previous_hash == head.hash
    assert again.verify().ok


def test_ids_stored_before_a_restart_are_answered_as_before(
    log: ConflictLog, store_config: StoreConfig, reopen: list[ConflictLog]
) -> None:
    made = history(log)
    stored = {r.event.id: r for r in log.negotiation_events(SLUG)}
    again = restarted(log, store_config, reopen)

    resent = again.append(SLUG, [made["said"], statement_event("New.")])
    assert resent.existing == [stored[made["said"].id]]
    assert len(resent.created) == 1
    with pytest.raises(EventIdReusedError):
        again.append(SLUG, [statement_event(id=made["said"].id, summary="Other words.")])
    with pytest.raises(EventIdReusedError):
        again.append(OTHER, [made["said"]])
    with pytest.raises(EventIdReusedError):
        again.append(SLUG, [made["elsewhere"]])
    assert again.verify().ok


def test_a_checkpoint_the_log_vouches_for_is_what_opens_the_write_side(
    log: ConflictLog, store_config: StoreConfig, reopen: list[ConflictLog]
) -> None:
    """The checkpoint is read, not the log: one that forgets round 1 (its hash still
    the log's) lets round 1 be held again. It shows what the writer trusts; the log's
    hash at that version is what it checks."""
    history(log)
    again = restarted(log, store_config, reopen)
    found = checkpoint_row(again, SLUG)
    assert found is not None
    rewrite_checkpoint(again, SLUG, state=without(found[2], "held"))

    again.append(SLUG, [held(1)])


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param({"hash": "0" * 64}, id="another-hash"),
        pytest.param({"version": 999}, id="beyond-the-log"),
        pytest.param({"state": {"format": 0}}, id="another-format"),
        pytest.param({"state": {"format": 1}}, id="format-1-before-grounds"),
    ],
)
def test_a_checkpoint_the_log_does_not_vouch_for_is_ignored_and_made_anew(
    log: ConflictLog,
    store_config: StoreConfig,
    reopen: list[ConflictLog],
    damage: dict[str, Any],
) -> None:
    history(log)
    head = log.negotiation_events(SLUG)[-1]
    again = restarted(log, store_config, reopen)
    found = checkpoint_row(again, SLUG)
    assert found is not None
    rewrite_checkpoint(again, SLUG, **{"state": without(found[2], "held"), **damage})

    with pytest.raises(InvalidEventError, match="round 1 is already recorded as held"):
        again.append(SLUG, [held(1)])
    appended = again.append(SLUG, [statement_event("After the damage.")])
    assert appended.created[0].previous_hash == head.hash

    third = restarted(again, store_config, reopen)
    found = checkpoint_row(third, SLUG)
    assert found is not None
    assert found[:2] == (head.version + 1, appended.created[0].hash)
    assert grounded(found[2], "held") == [1]


def test_a_log_without_checkpoints_folds_its_events_and_checkpoints_them(
    log: ConflictLog, store_config: StoreConfig, reopen: list[ConflictLog]
) -> None:
    """A store from before checkpoints (or one whose table was dropped) is folded from
    the log on the first append; the checkpoint is saved once that is many events."""
    log.append(SLUG, [opened_event(), scheduled(1), held(1)])
    for batch in range(CHECKPOINT_EVERY // 250):
        log.append(SLUG, [statement_event(f"Statement {batch}.{i}.") for i in range(250)])
    again = restarted(log, store_config, reopen)
    db = again.index.database
    db.write(f"DROP TABLE {again.writer.checkpoints.table}", [])

    with pytest.raises(InvalidEventError, match="round 1 is already recorded as held"):
        again.append(SLUG, [held(1)])
    found = checkpoint_row(again, SLUG)
    assert found is not None and found[0] == CHECKPOINT_EVERY + 3


# What a retraction takes away, on the writer's aggregate and after a restart.
def test_a_retracted_scheduling_or_proposal_is_refused_as_ground_before_and_after_a_restart(
    log: ConflictLog, store_config: StoreConfig, reopen: list[ConflictLog]
) -> None:
    made = history(log)
    log.append(SLUG, [host(2), answer("p1")])
    log.append(SLUG, [retracted(made["round2"].id), retracted(made["p1"].id)])

    for restart in (False, True):
        writer = restarted(log, store_config, reopen) if restart else log
        with pytest.raises(InvalidEventError, match="round 2's scheduling was retracted") as e:
            writer.append(SLUG, [host(2)])
        assert e.value.field == "data.round" and str(made["round2"].id) in str(e.value)
        with pytest.raises(InvalidEventError, match="proposal p1 was retracted") as e:
            writer.append(SLUG, [answer("p1")])
        assert e.value.field == "data.proposal_id"
    again = reopen[-1]
    found = checkpoint_row(again, SLUG)
    assert found is not None and grounded(found[2], "round") == [1]

    # A retraction stored after the checkpoint is folded from the log: the writer closed
    # before it could checkpoint it (the older checkpoint is put back, as after a crash).
    again.append(SLUG, [retracted(made["held1"].id)])
    third = restarted(again, store_config, reopen)
    rewrite_checkpoint(third, SLUG, version=found[0], hash=found[1], state=found[2])
    assert checkpoint_row(third, SLUG) == found
    # Round 1 is still scheduled, no longer held; round 2 and p1 may be recorded anew.
    third.append(SLUG, [host(1), held(1), scheduled(2), host(2), proposal("p1"), answer("p1")])
    assert third.verify().ok


def test_a_log_with_a_format_1_checkpoint_is_folded_and_checkpointed_anew(
    log: ConflictLog, store_config: StoreConfig, reopen: list[ConflictLog]
) -> None:
    """A store checkpointed before grounds (format 1: bare round numbers) still opens:
    its checkpoint is ignored, the log folded, and a format 2 checkpoint saved."""
    made = history(log)
    log.append(SLUG, [retracted(made["round2"].id)])
    again = restarted(log, store_config, reopen)
    db = again.index.database
    old = {"format": 1, "rounds_known": [1, 2], "rounds_held": [1], "proposals": ["p1"]}
    db.write(
        db.dialect.sql(f"UPDATE {again.writer.checkpoints.table} SET state = ?"),
        [orjson.dumps(old).decode()],
    )

    with pytest.raises(InvalidEventError, match="round 2's scheduling was retracted"):
        again.append(SLUG, [host(2)])
    again.append(SLUG, [host(1)])
    third = restarted(again, store_config, reopen)
    found = checkpoint_row(third, SLUG)
    assert found is not None and found[2]["format"] == 2
    assert grounded(found[2], "round") == [1]


# Requests committed together, before any of them is stored.
def test_an_id_recorded_earlier_in_the_same_group_is_refused_as_before(log: ConflictLog) -> None:
    log.append(SLUG, [opened_event()])
    twice = statement_event("Sent twice at once.")
    first, second = log.writer.submit_together([(SLUG, [twice]), (SLUG, [twice])])

    assert len(first.result(timeout=30).created) == 1
    with pytest.raises(InvalidEventError, match="this id is already used in this negotiation"):
        second.result(timeout=30)


def test_a_retraction_earlier_in_the_same_group_counts_as_before(log: ConflictLog) -> None:
    said = statement_event("Said.")
    log.append(SLUG, [opened_event(), said])
    first, second = log.writer.submit_together(
        [(SLUG, [retracted(said.id)]), (SLUG, [retracted(said.id)])]
    )

    assert len(first.result(timeout=30).created) == 1
    with pytest.raises(InvalidEventError, match="that event is retracted"):
        second.result(timeout=30)
