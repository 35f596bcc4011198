"""The store end to end, on a real SQLite file and on the real PostgreSQL.

Every test that takes ``log`` runs once per backend (see ``tests/conftest.py``).
Tests that only make sense on one backend pin ``backend`` with ``parametrize``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import orjson
import psycopg
import pytest
from builders import event, event_body, opened_event, statement_body, statement_event
from support import rewrite_row

from domain.errors import (
    EventIdReusedError,
    EventNotFoundError,
    InvalidEventError,
    VersionConflictError,
)
from domain.events import AnyEvent, parse_event
from domain.values import end_of_day
from store import loader
from store.codec import answer_json
from store.config import StoreConfig
from store.log import ConflictLog

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "istanbul-2025.ndjson"
SLUG = "istanbul-2025"
OTHER = "geneva-2025"
ISTANBUL = {"city": "Istanbul", "country": "TUR", "region": "TR-34"}


def scheduled(round_: int = 2, **fields: Any) -> AnyEvent:
    data = {"round": round_, "starts_at": "2025-06-02", "place": ISTANBUL, "status": "proposed"}
    return event("RoundScheduled", data, **fields)


def host(round_: int = 2, **fields: Any) -> AnyEvent:
    return event("HostAnnounced", {"round": round_, "host": "TUR", "place": ISTANBUL}, **fields)


def disputed(target: UUID, **fields: Any) -> AnyEvent:
    data = {"event_id": str(target), "disputed_by": "UKR", "counter_claim": "No such doubt."}
    return event("ClaimDisputed", data, **fields)


def correction(target: UUID, fields_: dict[str, Any], **fields: Any) -> AnyEvent:
    data = {"event_id": str(target), "data": fields_, "reason": "The report was misread."}
    return event("EventCorrected", data, **fields)


def retracted(target: UUID, **fields: Any) -> AnyEvent:
    return event("EventRetracted", {"event_id": str(target), "reason": "Wrong report."}, **fields)


def footprint(log: ConflictLog) -> tuple[int, int, int, list[int]]:
    """Everything an append could change: version, last position, index rows, positions."""
    positions = [r.position or 0 for r in log.global_log(limit=10_000)]
    return log.version_of(SLUG), log.last_position(), log.index.index_count(), positions


@pytest.fixture
def other_logs(store_config: StoreConfig) -> Iterator[list[ConflictLog]]:
    """Extra ConflictLog instances on the test's store, closed afterwards."""
    opened_logs: list[ConflictLog] = []
    yield opened_logs
    for extra in opened_logs:
        extra.close()


# Appending.
def test_appending_one_event_returns_its_record_with_position_version_and_hash(
    log: ConflictLog,
) -> None:
    first = opened_event()
    before = datetime.now(UTC)
    appended = log.append(SLUG, [first])
    after = datetime.now(UTC)

    assert appended.existing == []
    [record] = appended.created
    assert record.event == first
    assert record.negotiation == SLUG
    assert record.version == 1
    assert record.position is not None and record.position >= 1
    assert len(record.hash) == 64 and record.previous_hash is None
    assert record.hash == record.expected_hash()
    assert before <= record.recorded_at <= after
    assert log.version_of(SLUG) == 1
    assert log.event(first.id) == record


def test_a_batch_gets_strictly_increasing_positions_and_versions_one_to_n(
    log: ConflictLog,
) -> None:
    batch = [opened_event(), statement_event(), scheduled(2), host(2)]
    batch += [statement_event("A second statement.")]

    appended = log.append(SLUG, batch)

    created = appended.created
    assert [r.event.id for r in created] == [e.id for e in batch]
    assert [r.version for r in created] == [1, 2, 3, 4, 5]
    positions = [r.position or 0 for r in created]
    assert positions == sorted(positions) and len(set(positions)) == 5
    assert [r.previous_hash for r in created] == [None, *(r.hash for r in created[:-1])]
    stored = log.negotiation_events(SLUG)
    assert stored == created


def test_recorded_at_is_set_by_the_server_and_never_decreases_along_positions(
    log: ConflictLog,
) -> None:
    start = datetime.now(UTC)
    log.append(SLUG, [opened_event(), statement_event()])
    log.append(OTHER, [opened_event()])
    log.append(SLUG, [scheduled(2)])
    log.append(OTHER, [statement_event(), statement_event("Another.")])
    log.append(SLUG, [host(2)])
    end = datetime.now(UTC)

    records = log.global_log(limit=100)
    positions = [r.position or 0 for r in records]
    assert positions == sorted(set(positions)) and len(records) == 7
    stamps = [r.recorded_at for r in records]
    assert stamps == sorted(stamps)
    assert all(start <= stamp <= end for stamp in stamps)
    assert all(stamp.utcoffset() == timedelta(0) for stamp in stamps)


def test_a_batch_whose_third_event_is_invalid_stores_nothing(log: ConflictLog) -> None:
    log.append(SLUG, [opened_event(), statement_event()])
    before = footprint(log)

    batch = [statement_event("One."), scheduled(2), host(7), statement_event("Four.")]
    with pytest.raises(InvalidEventError) as caught:
        log.append(SLUG, batch)

    assert caught.value.field == "events.2.data.round"
    assert footprint(log) == before
    for sent in batch:
        with pytest.raises(EventNotFoundError):
            log.event(sent.id)
    assert log.verify().ok


def test_appending_after_a_refused_batch_continues_the_versions(log: ConflictLog) -> None:
    log.append(SLUG, [opened_event()])
    with pytest.raises(InvalidEventError):
        log.append(SLUG, [statement_event(), host(9)])

    appended = log.append(SLUG, [statement_event()])

    assert [r.version for r in appended.created] == [2]
    assert log.verify().ok


# Idempotency.
def test_reappending_an_identical_event_returns_the_original_record_and_stores_nothing(
    log: ConflictLog,
) -> None:
    raw = statement_body("Doubts about round two.", id=str(uuid4()))
    log.append(SLUG, [opened_event()])
    original = log.append(SLUG, [parse_event(raw)]).created[0]
    before = footprint(log)

    again = log.append(SLUG, [parse_event(dict(raw))])

    assert again.created == []
    assert again.existing == [original]
    [found] = again.existing
    assert (found.position, found.recorded_at, found.hash) == (
        original.position,
        original.recorded_at,
        original.hash,
    )
    assert footprint(log) == before


def test_reusing_an_event_id_with_different_content_is_refused(log: ConflictLog) -> None:
    log.append(SLUG, [opened_event()])
    original = statement_event()
    log.append(SLUG, [original])
    before = footprint(log)

    changed = statement_event("The Kremlin welcomed a second round.", id=str(original.id))
    with pytest.raises(EventIdReusedError) as caught:
        log.append(SLUG, [changed])

    assert caught.value.event_id == original.id
    assert footprint(log) == before


def test_reusing_an_event_id_in_another_negotiation_is_refused(log: ConflictLog) -> None:
    shared = statement_event()
    log.append(SLUG, [opened_event(), shared])
    log.append(OTHER, [opened_event()])
    before = log.last_position(), log.index.index_count(), log.version_of(OTHER)

    with pytest.raises(EventIdReusedError):
        log.append(OTHER, [shared])

    assert (log.last_position(), log.index.index_count(), log.version_of(OTHER)) == before
    assert log.event(shared.id).negotiation == SLUG


def test_a_batch_mixing_a_stored_event_and_a_new_one_stores_only_the_new_one(
    log: ConflictLog,
) -> None:
    first = opened_event()
    stored = statement_event()
    log.append(SLUG, [first, stored])
    original = log.event(stored.id)
    new = scheduled(2)

    appended = log.append(SLUG, [stored, new])

    assert appended.existing == [original]
    assert [r.event.id for r in appended.created] == [new.id]
    assert appended.created[0].version == 3
    assert [r.event.id for r in appended.records] == [stored.id, new.id]
    assert [r.event.id for r in log.negotiation_events(SLUG)] == [first.id, stored.id, new.id]


# Optimistic concurrency.
def test_an_expected_version_that_is_not_current_raises_a_version_conflict(
    log: ConflictLog,
) -> None:
    log.append(SLUG, [opened_event(), statement_event()])
    before = footprint(log)

    with pytest.raises(VersionConflictError) as caught:
        log.append(SLUG, [statement_event("Late.")], expected_version=1)

    assert (caught.value.expected, caught.value.current) == (1, 2)
    assert caught.value.slug == SLUG
    assert footprint(log) == before


def test_a_matching_expected_version_appends(log: ConflictLog) -> None:
    log.append(SLUG, [opened_event()], expected_version=0)
    log.append(SLUG, [statement_event()], expected_version=1)

    appended = log.append(SLUG, [scheduled(2), host(2)], expected_version=2)

    assert [r.version for r in appended.created] == [3, 4]
    assert log.version_of(SLUG) == 4


# Lookup by id.
def test_an_event_is_found_by_its_id_with_the_facts_that_name_it(log: ConflictLog) -> None:
    claim = statement_event()
    round_ = scheduled(2)
    log.append(SLUG, [opened_event(), claim, round_])
    dispute = disputed(claim.id)
    fix = correction(round_.id, {"status": "confirmed"})
    withdrawal = retracted(claim.id)
    log.append(SLUG, [dispute, fix])
    log.append(SLUG, [withdrawal])

    assert log.event(claim.id).event == claim
    assert [r.event.id for r in log.about(claim.id)] == [dispute.id, withdrawal.id]
    assert [r.event.id for r in log.about(round_.id)] == [fix.id]
    assert log.about(dispute.id) == []


def test_looking_up_an_unknown_event_id_raises_event_not_found(log: ConflictLog) -> None:
    log.append(SLUG, [opened_event()])
    unknown = uuid4()

    with pytest.raises(EventNotFoundError) as caught:
        log.event(unknown)

    assert caught.value.event_id == unknown
    assert log.about(unknown) == []


# Time-sliced reads.
def test_negotiation_events_are_sliced_by_valid_time(log: ConflictLog) -> None:
    first = opened_event(occurred_at="2025-05-16")
    call = statement_event("Putin and Trump spoke.", occurred_at="2025-05-19")
    late = statement_event("Istanbul offered.", occurred_at="2025-05-28T12:57:00-04:00")
    log.append(SLUG, [first, call, late])

    def ids(**bounds: Any) -> list[UUID]:
        return [r.event.id for r in log.negotiation_events(SLUG, **bounds)]

    assert ids(valid_lte=end_of_day(date(2025, 5, 18))) == [first.id]
    assert ids(valid_lte=end_of_day(date(2025, 5, 19))) == [first.id, call.id]
    assert ids(valid_lte=datetime(2025, 5, 28, 16, 56, tzinfo=UTC)) == [first.id, call.id]
    assert ids(valid_lte=datetime(2025, 5, 28, 16, 57, tzinfo=UTC)) == [first.id, call.id, late.id]
    assert ids(valid_lte=datetime(2025, 5, 15, tzinfo=UTC)) == []


def test_negotiation_events_are_sliced_by_recorded_time(log: ConflictLog) -> None:
    early = log.append(SLUG, [opened_event(), statement_event(occurred_at="2025-05-28")]).created
    time.sleep(0.01)  # two appends with distinct server clocks
    backdated = log.append(SLUG, [statement_event("Back-dated.", occurred_at="2025-05-17")]).created
    known_then = early[-1].recorded_at
    assert backdated[0].recorded_at > known_then

    def ids(**bounds: Any) -> list[UUID]:
        return [r.event.id for r in log.negotiation_events(SLUG, **bounds)]

    everything = [r.event.id for r in early + backdated]
    assert ids() == everything
    assert ids(recorded_lte=known_then) == [r.event.id for r in early]
    assert ids(recorded_lte=backdated[0].recorded_at) == everything
    assert ids(recorded_lte=datetime(2000, 1, 1, tzinfo=UTC)) == []
    # Both axes: the back-dated event counts for 17 May only once it is known.
    may_18 = end_of_day(date(2025, 5, 18))
    assert ids(valid_lte=may_18, recorded_lte=known_then) == [early[0].event.id]
    assert ids(valid_lte=may_18) == [early[0].event.id, backdated[0].event.id]


def test_the_global_log_pages_by_position_and_filters_by_type(log: ConflictLog) -> None:
    log.append(SLUG, [opened_event(), statement_event(), scheduled(2)])
    log.append(OTHER, [opened_event(), statement_event("Geneva.")])
    log.append(SLUG, [host(2), statement_event("Third.")])
    everything = log.global_log(limit=100)
    assert len(everything) == 7
    positions = [r.position or 0 for r in everything]
    assert positions == sorted(set(positions))

    pages: list[list[int]] = []
    after = 0
    while page := log.global_log(after=after, limit=3):
        pages.append([r.position or 0 for r in page])
        after = page[-1].position or 0
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [p for page in pages for p in page] == positions
    assert log.global_log(after=positions[-1]) == []

    statements = log.global_log(types=["StatementIssued"])
    assert [r.event.type for r in statements] == ["StatementIssued"] * 3
    assert [r.position for r in statements] == [
        r.position for r in everything if r.event.type == "StatementIssued"
    ]
    mixed = log.global_log(after=positions[2], types=["NegotiationOpened", "HostAnnounced"])
    assert [(r.negotiation, r.event.type) for r in mixed] == [
        (OTHER, "NegotiationOpened"),
        (SLUG, "HostAnnounced"),
    ]
    assert log.global_log(types=["CeasefireDeclared"]) == []


# Corrections.
def test_a_correction_that_would_make_its_target_invalid_is_refused_naming_the_field(
    log: ConflictLog,
) -> None:
    round_ = scheduled(2)
    log.append(SLUG, [opened_event(), round_])
    before = footprint(log)

    with pytest.raises(InvalidEventError) as caught:
        log.append(SLUG, [correction(round_.id, {"round": 0})])
    assert caught.value.field == "data.data.round"

    with pytest.raises(InvalidEventError) as caught:
        log.append(SLUG, [statement_event(), correction(round_.id, {"place": {"country": "XXX"}})])
    assert caught.value.field.startswith("events.1.data.data.place")

    assert footprint(log) == before


def test_a_valid_correction_is_stored(log: ConflictLog) -> None:
    round_ = scheduled(2)
    log.append(SLUG, [opened_event(), round_])

    fix = correction(round_.id, {"status": "confirmed", "starts_at": "2025-06-02T10:00:00+03:00"})
    [record] = log.append(SLUG, [fix]).created

    assert record.version == 3
    assert log.about(round_.id) == [record]
    assert log.event(fix.id).event.data.data["status"] == "confirmed"


# Hash chain and tamper evidence.
def test_verify_is_ok_on_a_healthy_log(log: ConflictLog) -> None:
    log.append(SLUG, [opened_event(), statement_event(), scheduled(2)])
    log.append(OTHER, [opened_event()])
    log.append(SLUG, [host(2)])

    report = log.verify()

    assert report.ok, report.first_break
    assert (report.events, report.negotiations, report.first_break) == (5, 2, None)
    assert report.detail["stored_rows"] == report.detail["indexed_rows"] == 5


@pytest.mark.parametrize("backend", ["sqlite"])
def test_editing_a_stored_event_in_the_sqlite_file_breaks_the_hash_chain(
    log: ConflictLog, store_config: StoreConfig
) -> None:
    log.append(SLUG, [opened_event(), statement_event(), scheduled(2)])
    target = log.negotiation_events(SLUG)[1]
    assert log.verify().ok

    with sqlite3.connect(store_config.sqlite_path) as conn:
        (state,) = conn.execute(
            "SELECT state FROM stored_events WHERE rowid = ?", (target.position,)
        ).fetchone()
        fields = orjson.loads(state)
        fields["event"]["data"]["summary"] = "The Kremlin welcomed a second round."
        conn.execute(
            "UPDATE stored_events SET state = ? WHERE rowid = ?",
            (orjson.dumps(fields), target.position),
        )
    conn.close()

    report = log.verify()

    assert not report.ok
    assert report.first_break is not None
    assert report.first_break.startswith(f"{SLUG} v2 ")
    assert str(target.event.id) in report.first_break


@pytest.mark.parametrize("backend", ["sqlite"])
def test_deleting_the_last_index_row_in_the_sqlite_file_is_reported(
    log: ConflictLog, store_config: StoreConfig
) -> None:
    log.append(SLUG, [opened_event(), statement_event(), scheduled(2)])
    last = log.last_position()

    with sqlite3.connect(store_config.sqlite_path) as conn:
        conn.execute("DELETE FROM parley_event_index WHERE position = ?", (last,))
    conn.close()

    report = log.verify()

    assert not report.ok
    assert report.first_break is not None and "2 indexed" in report.first_break
    assert (report.detail["stored_rows"], report.detail["indexed_rows"]) == (3, 2)


@pytest.mark.parametrize("backend", ["postgres"])
@pytest.mark.parametrize(
    "statement_sql",
    [
        "UPDATE {table} SET {column} = {column} WHERE {column} = {position}",
        "DELETE FROM {table} WHERE {column} = {position}",
        "TRUNCATE {table}",
    ],
    ids=["update", "delete", "truncate"],
)
@pytest.mark.parametrize("table", ["parley_events", "parley_event_index"])
def test_postgres_refuses_to_change_or_remove_stored_rows(
    log: ConflictLog, postgres_url: str, postgres_schema: str, statement_sql: str, table: str
) -> None:
    log.append(SLUG, [opened_event(), statement_event(), scheduled(2)])
    before = footprint(log), log.index.stored_count()
    column = "notification_id" if table == "parley_events" else "position"
    sql = statement_sql.format(
        table=f'"{postgres_schema}".{table}', column=column, position=log.last_position()
    )

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        with pytest.raises(psycopg.Error, match="append-only"):
            conn.execute(sql)

    assert (footprint(log), log.index.stored_count()) == before
    assert log.verify().ok


@pytest.mark.parametrize("backend", ["postgres"])
def test_an_edit_past_a_disabled_postgres_trigger_still_breaks_the_hash_chain(
    log: ConflictLog, postgres_url: str, postgres_schema: str
) -> None:
    log.append(SLUG, [opened_event(), statement_event(), scheduled(2)])
    target = log.negotiation_events(SLUG)[1]
    table = f'"{postgres_schema}".parley_events'

    # A superuser can switch the trigger off; the chain still shows the edit.
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER parley_append_only_events")
        (state,) = conn.execute(
            f"SELECT state FROM {table} WHERE notification_id = %s", (target.position,)
        ).fetchone()
        edited = bytes(state).replace(b"doubted", b"welcomed")
        conn.execute(
            f"UPDATE {table} SET state = %s WHERE notification_id = %s", (edited, target.position)
        )
        conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER parley_append_only_events")

    report = log.verify()

    assert not report.ok
    assert report.first_break is not None
    assert report.first_break.startswith(f"{SLUG} v2 ")


# Durability settings.
@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_runs_in_wal_mode_with_full_synchronous_writes(log: ConflictLog) -> None:
    log.append(SLUG, [opened_event()])

    assert log.recorder.pragma("journal_mode") == "wal"
    assert log.recorder.pragma("synchronous") == 2  # FULL


# The loader.
def test_the_founding_example_loads(log: ConflictLog) -> None:
    lines = [line for line in EXAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]

    report = loader.load(log, EXAMPLE)

    assert report.negotiation == SLUG
    assert report.lines == report.created == len(lines)
    assert report.existing == 0
    stored = log.negotiation_events(SLUG)
    assert [r.version for r in stored] == list(range(1, len(lines) + 1))
    assert [str(r.event.id) for r in stored] == [orjson.loads(line)["id"] for line in lines]
    assert stored[0].event.type == "NegotiationOpened"
    assert log.verify().ok


def test_loading_the_founding_example_twice_stores_nothing_new(log: ConflictLog) -> None:
    first = loader.load(log, EXAMPLE)
    before = footprint(log)

    second = loader.load(log, EXAMPLE)

    assert second.created == 0
    assert second.existing == first.created
    assert second.positions == []
    assert footprint(log) == before


def test_a_file_with_a_bad_line_names_the_line_and_field_and_stores_nothing(
    log: ConflictLog, tmp_path: Path
) -> None:
    good = orjson.dumps(event_body("NegotiationOpened", {"title": "T", "parties": ["RUS"]}))
    bad = orjson.dumps(
        event_body("RoundHeld", {"round": 0, "place": ISTANBUL}, occurred_at="2025-05-16")
    )
    path = tmp_path / "broken.ndjson"
    also_good = orjson.dumps(statement_body("S"))
    path.write_bytes(b"\n".join([good, bad, also_good]) + b"\n")

    with pytest.raises(loader.LoadError) as caught:
        loader.load(log, path, slug=SLUG)

    assert len(caught.value.problems) == 1
    problem = caught.value.problems[0]
    assert problem.startswith(f"{path}:2: data.round: "), problem
    assert "greater than or equal to 1" in problem
    assert log.last_position() == 0
    assert log.index.index_count() == 0
    assert log.version_of(SLUG) == 0


def test_lines_without_ids_get_deterministic_ids_so_reloading_stays_idempotent(
    log: ConflictLog, tmp_path: Path
) -> None:
    lines = [event_body("NegotiationOpened", {"title": "T", "parties": ["RUS", "UKR"]})]
    lines += [statement_body(f"S{i}") for i in range(3)]
    assert not any("id" in line for line in lines)
    path = tmp_path / "no-ids.ndjson"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))

    first = loader.load(log, path)
    ids = [r.event.id for r in log.negotiation_events("no-ids")]
    second = loader.load(log, path)

    assert (first.created, second.created, second.existing) == (4, 0, 4)
    assert len(set(ids)) == 4
    assert [e.id for e in loader.read_events(path, "no-ids")] == ids
    assert [r.event.id for r in log.negotiation_events("no-ids")] == ids


# Reopening and several instances.
def test_a_new_log_on_the_same_store_sees_everything(
    log: ConflictLog, store_config: StoreConfig, other_logs: list[ConflictLog]
) -> None:
    loader.load(log, EXAMPLE)
    log.append(OTHER, [opened_event(), statement_event()])
    expected = log.negotiation_events(SLUG), log.global_log(limit=1000), log.summaries()

    reopened = ConflictLog(store_config)
    other_logs.append(reopened)

    assert reopened.version_of(SLUG) == expected[0][-1].version
    assert reopened.negotiation_events(SLUG) == expected[0]
    assert reopened.global_log(limit=1000) == expected[1]
    assert reopened.summaries() == expected[2]
    assert reopened.verify().ok
    # It can continue the chain where the first one stopped.
    [next_] = reopened.append(SLUG, [statement_event("Continued.")]).created
    assert next_.version == expected[0][-1].version + 1
    assert next_.previous_hash == expected[0][-1].hash


def test_two_logs_on_one_store_appending_alternately_continue_the_versions(
    log: ConflictLog, store_config: StoreConfig, other_logs: list[ConflictLog]
) -> None:
    second = ConflictLog(store_config)
    other_logs.append(second)
    writers = [log, second]

    log.append(SLUG, [opened_event()])
    versions = []
    for turn in range(6):
        writer = writers[turn % 2]
        appended = writer.append(SLUG, [statement_event(f"Turn {turn}.")])
        versions.extend(r.version for r in appended.created)
    # Each writer's cached aggregate was fast-forwarded past the other's appends.
    both = second.append(SLUG, [scheduled(2), host(2)])

    assert versions == [2, 3, 4, 5, 6, 7]
    assert [r.version for r in both.created] == [8, 9]
    assert log.version_of(SLUG) == second.version_of(SLUG) == 9
    stored = log.negotiation_events(SLUG)
    assert [r.version for r in stored] == list(range(1, 10))
    assert log.verify().ok


def test_recorded_by_is_stored_answered_and_covered_by_the_hash_chain(
    log: ConflictLog, store_config: StoreConfig
) -> None:
    log.append(SLUG, [opened_event()], recorded_by="alice")
    log.append(SLUG, [statement_event()], recorded_by="bob")
    log.append(SLUG, [scheduled(2)])
    first, second, third = log.negotiation_events(SLUG)

    assert (first.recorded_by, second.recorded_by, third.recorded_by) == ("alice", "bob", None)
    shown = orjson.loads(answer_json(second))
    assert shown["recorded_by"] == "bob"
    assert "recorded_by" not in orjson.loads(answer_json(third))
    assert log.verify().ok

    (row,) = [r for r in log.stored_rows(after=0, upto=3, limit=3) if r[0] == second.position]
    forged = row[3].replace(b'"recorded_by":"bob"', b'"recorded_by":"eve"')
    assert forged != row[3]
    rewrite_row(store_config, second.position, forged)

    report = log.verify()
    assert not report.ok
    assert report.first_break is not None and report.first_break.startswith(f"{SLUG} v2 ")
