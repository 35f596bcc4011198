"""The trust boundary on a real SQLite file and the real PostgreSQL (DESIGN.md §10).

What is stored is read back without input validation: an event stored in an older
shape is lifted by its upcaster, a region code today's rules refuse still folds, rows
in the first layout (before schema versions) still read and verify. Integrity is
checked by hashes: a row whose bytes were edited, or are no longer JSON, is named by
its event id in ``verify``, over HTTP and by ``parley verify``, never with a 4xx or 5xx.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import orjson
import psycopg
from builders import opened_event, statement_event
from fastapi.testclient import TestClient
from support import REPO, TOKEN, settings_for

from api.http.app import create_app
from domain.events import encode_json, parse_event
from domain.negotiation import Negotiation, Recorded
from domain.stored import build_event, schema_change, upcast
from projections.as_of import engine_rows
from projections.rows import EngineRow
from projections.service import AsOf
from store.codec import legacy_state
from store.config import StoreConfig
from store.log import ConflictLog

SLUG = "istanbul-2025"
KHARKIV_ZONE = {
    "type": "SecurityZoneDeclared",
    "occurred_at": "2025-05-22",
    "sources": [{"outlet": "teleSUR", "via": ["TASS"]}],
    "data": {"declared_by": {"name": "Vladimir Putin", "country": "RUS"}, "regions": ["UA-63"]},
}


def aggregate(log: ConflictLog, slug: str) -> Negotiation:
    """The negotiation's write side, rebuilt from what is stored."""
    negotiation = Negotiation(slug)
    for record in log.negotiation_events(slug):
        negotiation.apply(record)
    return negotiation


def store_as_written(log: ConflictLog, slug: str, fields: dict[str, Any], schema: int) -> Recorded:
    """Store an event exactly as an older Parley (or looser rules) would have written it:
    its JSON as given, hashed and chained, at ``schema``, with no validation today."""
    fields = {"id": str(uuid4()), "precision": "day", "occurred_until": None, **fields}
    fields.setdefault("asserted_by", None)
    typed = build_event(upcast(fields, schema))
    negotiation = aggregate(log, slug)
    [record] = negotiation.record([typed], datetime.now(UTC), [encode_json(fields)])
    stored = record.replace(schema=schema)
    log.events.put([stored])
    return log.event(typed.id)


def rewrite_state(config: StoreConfig, position: int, state: bytes) -> None:
    """Overwrite one stored row's bytes, as someone with the database file would."""
    if config.database_url is None:
        with sqlite3.connect(config.sqlite_path) as conn:
            conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (state, position))
        conn.close()
        return
    table = f'"{config.postgres_schema}".parley_events'
    with psycopg.connect(config.database_url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER parley_append_only_events")
        conn.execute(f"UPDATE {table} SET state = %s WHERE notification_id = %s", (state, position))
        conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER parley_append_only_events")


def stored_state(config: StoreConfig, position: int) -> bytes:
    if config.database_url is None:
        with sqlite3.connect(config.sqlite_path) as conn:
            (state,) = conn.execute(
                "SELECT state FROM stored_events WHERE rowid = ?", (position,)
            ).fetchone()
        conn.close()
        return bytes(state)
    table = f'"{config.postgres_schema}".parley_events'
    with psycopg.connect(config.database_url) as conn:
        row = conn.execute(f"SELECT state FROM {table} WHERE notification_id = %s", (position,))
        return bytes(row.fetchone()[0])  # type: ignore[index]


def verify_everywhere(log: ConflictLog, config: StoreConfig) -> tuple[dict[str, Any], str, int]:
    """What /verify answers (asserting it is a 200) and what ``parley verify`` prints."""
    with TestClient(create_app(settings_for(config), log=log)) as client:
        answer = client.get("/verify")
    assert answer.status_code == 200, answer.text
    env = {**os.environ, "PARLEY_DATA_DIR": str(config.data_dir), "PARLEY_EXAMPLE": ""}
    if config.database_url:
        env |= {
            "PARLEY_DATABASE_URL": config.database_url,
            "PARLEY_DATABASE_SCHEMA": config.postgres_schema,
        }
    cli = subprocess.run(
        [sys.executable, "-m", "api.cli", "verify"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return answer.json(), cli.stdout + cli.stderr, cli.returncode


def round_in_old_shape(round_: int) -> dict[str, Any]:
    """RoundScheduled as a schema 0 that never was: ``confirmed: bool`` for ``status``."""
    return {
        "type": "RoundScheduled",
        "occurred_at": "2025-05-28",
        "sources": [{"outlet": "teleSUR"}],
        "data": {
            "round": round_,
            "starts_at": "2025-06-02",
            "place": {"city": "Istanbul", "country": "TUR", "region": "TR-34"},
            "confirmed": True,
        },
    }


def confirmed_to_status(fields: dict[str, Any]) -> dict[str, Any]:
    data = dict(fields["data"])
    data["status"] = "confirmed" if data.pop("confirmed") else "proposed"
    return {**fields, "data": data}


def assert_refused_today(body: dict[str, Any], why: str) -> None:
    """The premise of a test: today's model refuses ``body``."""
    try:
        parse_event(body)
    except ValueError:
        return
    raise AssertionError(why)  # pragma: no cover - the premise of the test


def test_an_event_stored_in_an_older_shape_reads_through_its_upcaster_and_folds(
    log: ConflictLog,
) -> None:
    log.append(SLUG, [opened_event()])
    old = round_in_old_shape(2)
    assert_refused_today(old, "today's model must refuse the old shape")

    with schema_change("RoundScheduled", 1, {0: confirmed_to_status}):
        stored = store_as_written(log, SLUG, old, schema=0)
        read = log.event(stored.event.id)
        assert read.schema == 0 and orjson.loads(read.event_json)["data"]["confirmed"] is True
        assert read.event.type == "RoundScheduled"
        assert read.event.data.status == "confirmed"  # type: ignore[union-attr]
        assert orjson.loads(read.json)["data"]["status"] == "confirmed"
        state = AsOf(log).state(SLUG)
        assert [(r.round, r.status) for r in state.rounds] == [(2, "scheduled")]
        assert log.verify().ok


def test_a_region_code_that_validation_now_refuses_still_reads_and_folds(
    log: ConflictLog,
) -> None:
    log.append(SLUG, [opened_event()])
    zone = {**KHARKIV_ZONE, "data": {**KHARKIV_ZONE["data"], "regions": ["UA-99"]}}
    assert_refused_today(zone, "UA-99 must be refused at the edge today")

    stored = store_as_written(log, SLUG, zone, schema=1)

    assert log.event(stored.event.id).event.data.regions == ["UA-99"]  # type: ignore[union-attr]
    state = AsOf(log).state(SLUG)
    assert [z.regions for z in state.security_zones] == [("UA-99",)]
    assert log.verify().ok


def test_an_edited_row_is_named_by_event_id_by_verify_over_http_and_on_the_command_line(
    log: ConflictLog, store_config: StoreConfig
) -> None:
    log.append(SLUG, [opened_event(), parse_event(KHARKIV_ZONE), statement_event("later")])
    target = log.negotiation_events(SLUG)[1]
    state = stored_state(store_config, target.position or 0)
    assert b'"UA-63"' in state
    rewrite_state(store_config, target.position or 0, state.replace(b'"UA-63"', b'"UA-64"'))

    report, printed, code = verify_everywhere(log, store_config)

    assert report["ok"] is False
    assert report["broken_event"] == str(target.event.id)
    assert str(target.event.id) in report["first_break"]
    assert "content does not match its hash" in report["first_break"]
    assert code == 2 and str(target.event.id) in printed


def test_a_row_that_is_no_longer_json_is_named_by_event_id_not_raised(
    log: ConflictLog, store_config: StoreConfig
) -> None:
    log.append(SLUG, [opened_event(), statement_event("one"), statement_event("two")])
    target = log.negotiation_events(SLUG)[1]
    rewrite_state(store_config, target.position or 0, b"\x00\xffnot json at all")

    report, printed, code = verify_everywhere(log, store_config)

    assert report["ok"] is False
    assert report["broken_event"] == str(target.event.id)
    assert "unreadable" in report["first_break"]
    assert code == 2 and str(target.event.id) in printed


def test_rows_in_the_first_layout_read_fold_verify_and_the_chain_goes_on(
    log: ConflictLog, store_config: StoreConfig
) -> None:
    """A log written before schema versions: the whole record as pydantic dumped it,
    hashed by chain version 1. Rewriting the rows into that layout keeps every hash."""
    zone = parse_event(KHARKIV_ZONE)
    log.append(SLUG, [opened_event(), zone, statement_event("before the upgrade")])
    for record in log.negotiation_events(SLUG):
        rewrite_state(store_config, record.position or 0, legacy_state(record))
    assert log.verify().ok

    reopened = ConflictLog(store_config)
    try:
        reopened.append(SLUG, [statement_event("after the upgrade")])
        records = reopened.negotiation_events(SLUG)
        assert [r.chain for r in records] == [1, 1, 1, 2]
        assert reopened.verify().ok
        state = AsOf(reopened).state(SLUG)
        assert state.event_count == 4
        assert [z.regions for z in state.security_zones] == [("UA-63",)]
    finally:
        reopened.close()


def test_the_index_gives_the_engine_the_rows_it_would_make_from_the_records(
    log: ConflictLog,
) -> None:
    first = statement_event("said first")
    zone = parse_event(KHARKIV_ZONE)
    log.append(SLUG, [opened_event(), first, zone])
    facts = [
        {
            "type": "ClaimDisputed",
            "data": {"event_id": str(zone.id), "disputed_by": "UKR", "counter_claim": "no zone"},
        },
        {"type": "EventRetracted", "data": {"event_id": str(first.id), "reason": "unsourced"}},
        {
            "type": "EventCorrected",
            "data": {"event_id": str(zone.id), "data": {"regions": ["UA-59"]}, "reason": "wire"},
        },
    ]
    for fact in facts:
        log.append(
            SLUG,
            [
                parse_event(
                    {**fact, "occurred_at": "2025-05-29", "sources": [{"outlet": "Reuters"}]}
                )
            ],
        )
    log.append(SLUG, [statement_event("back-dated", occurred_at="2025-05-01")])

    from_index = log.engine_rows(SLUG, EngineRow)
    from_records = engine_rows(log.negotiation_events(SLUG))

    def comparable(rows: Any) -> list[tuple[Any, ...]]:
        return [
            (
                r.position,
                r.version,
                r.type,
                r.valid,
                r.recorded,
                r.target,
                r.target_valid,
                None if r.record is None else r.record.hash,
            )
            for r in rows
        ]

    assert comparable(from_index) == comparable(from_records)
    assert [r.target is not None for r in from_index].count(True) == 3


def test_a_stored_event_reads_back_byte_for_byte_as_it_was_hashed(log: ConflictLog) -> None:
    [record] = log.append(SLUG, [opened_event()]).created
    read = log.event(record.event.id)

    assert read.event_json == record.event_json
    assert read.expected_hash() == read.hash == record.hash


def test_every_answer_writes_recorded_at_in_utc_with_z(
    log: ConflictLog, store_config: StoreConfig
) -> None:
    with TestClient(create_app(settings_for(store_config), log=log)) as client:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        appended = client.post(
            f"/negotiations/{SLUG}/events",
            content=orjson.dumps(orjson.loads(opened_event().model_dump_json())),
            headers=auth,
        ).json()
        event_id = appended["events"][0]["id"]
        answers = [
            appended["events"][0]["recorded_at"],
            client.get(f"/events/{event_id}").json()["recorded_at"],
            client.get("/events").json()["events"][0]["recorded_at"],
            client.get(f"/negotiations/{SLUG}/events").json()["events"][0]["recorded_at"],
        ]
    assert len(set(answers)) == 1
    assert answers[0].endswith("Z")


def test_the_source_a_writer_names_is_stored_hashed_and_shown(
    log: ConflictLog, store_config: StoreConfig
) -> None:
    log.append(SLUG, [opened_event()])
    log.submit(
        SLUG, [statement_event("via the EventSourcingDB API")], sources=["https://desk.example.org"]
    ).result()
    written = log.negotiation_events(SLUG)[-1]
    assert written.source == "https://desk.example.org"
    assert log.verify().ok
    state = stored_state(store_config, written.position or 0)
    rewrite_state(
        store_config, written.position or 0, state.replace(b"desk.example.org", b"desk.example.net")
    )
    report = log.verify()
    assert not report.ok and report.broken_event == str(written.event.id)


def test_reading_a_row_that_is_no_longer_json_names_it_and_says_what_to_run(
    log: ConflictLog, store_config: StoreConfig
) -> None:
    log.append(SLUG, [opened_event(), statement_event("one")])
    target = log.negotiation_events(SLUG)[1]
    rewrite_state(store_config, target.position or 0, b"not json")
    with TestClient(create_app(settings_for(store_config), log=log)) as client:
        answer = client.get(f"/negotiations/{SLUG}/events")
    assert answer.status_code == 500
    problem = answer.json()
    assert problem["type"] == "/problems/corrupt-row"
    assert f"position {target.position}" in problem["detail"]
    assert "parley verify" in problem["detail"]
