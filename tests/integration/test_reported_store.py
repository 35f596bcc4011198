"""The third clock in the store: each event's reported time held by the event index,
filled by appends and restores, and added to a store made before it when it opens.

The old store is the golden scenario (a dump written by older code) restored, with the
index's ``reported_at`` column then dropped, as the code before the third clock made
the table; opening it again must add the column and fill it from the stored events,
on both backends.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from golden.questions import SCENARIO
from support import EXAMPLE

from domain.instants import utc_key
from domain.negotiation import Recorded
from projections.as_of import naive_state, reported
from projections.rows import EngineRow
from projections.service import AsOf
from store.config import StoreConfig
from store.dump import restore
from store.loader import load
from store.log import ConflictLog

SLUGS = ("istanbul-2025", "black-sea-2025")
FAR = datetime(2026, 1, 1, tzinfo=UTC)


def _restored(config: StoreConfig) -> None:
    with ConflictLog(config) as log, SCENARIO.open("rb") as dump:
        restore(log, dump)


def _records(log: ConflictLog, slug: str) -> list[Recorded]:
    return log.negotiation_events(slug)


def _held(log: ConflictLog, slug: str) -> dict[int, str | None]:
    return {row.position: row.reported for row in log.engine_rows(slug, EngineRow)}


def _expected(log: ConflictLog, slug: str) -> dict[int, str | None]:
    return {r.position or 0: utc_key(reported(r)) for r in _records(log, slug)}


def _drop_reported_column(config: StoreConfig) -> None:
    """Make the index table as the code before the third clock made it."""
    if config.backend == "postgres":
        assert config.database_url is not None
        with psycopg.connect(config.database_url, autocommit=True) as conn:
            table = f'"{config.postgres_schema}".parley_event_index'
            conn.execute(f"ALTER TABLE {table} DROP COLUMN reported_at")
        return
    with sqlite3.connect(config.sqlite_path) as conn:
        conn.execute("ALTER TABLE parley_event_index DROP COLUMN reported_at")


def test_a_restore_fills_each_event_s_reported_time(store_config: StoreConfig) -> None:
    _restored(store_config)
    with ConflictLog(store_config) as log:
        for slug in SLUGS:
            held = _held(log, slug)
            assert held == _expected(log, slug)
            # Some of the scenario's events were reported before they were recorded.
            recorded = {r.position: utc_key(r.recorded_at) for r in _records(log, slug)}
            assert any(held[p] != recorded[p] for p in held)


def test_a_store_from_before_the_third_clock_is_migrated_as_it_opens(
    store_config: StoreConfig,
) -> None:
    _restored(store_config)
    _drop_reported_column(store_config)
    with ConflictLog(store_config) as log:
        for slug in SLUGS:
            assert _held(log, slug) == _expected(log, slug)
            records = _records(log, slug)
            cut = datetime(2025, 6, 3, 23, 59, 59, 999999, tzinfo=UTC)
            answer = AsOf(log).state(slug, FAR, FAR, cut)
            assert answer == naive_state(records, slug, FAR, FAR, cut)
        before = log.index.index_count()
    with ConflictLog(store_config) as log:  # opening again changes nothing
        assert log.index.index_count() == before
        assert _held(log, "istanbul-2025") == _expected(log, "istanbul-2025")


@pytest.mark.postgres
def test_the_migration_keeps_the_index_append_only_on_postgres(
    postgres_url: str, postgres_schema: str, tmp_path: Path
) -> None:
    config = StoreConfig(
        data_dir=tmp_path, database_url=postgres_url, postgres_schema=postgres_schema
    )
    _restored(config)
    _drop_reported_column(config)
    ConflictLog(config).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        nullable = conn.execute(
            "SELECT is_nullable FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = 'parley_event_index' AND column_name = 'reported_at'",
            (postgres_schema,),
        ).fetchone()
        assert nullable == ("NO",)
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute(f'UPDATE "{postgres_schema}".parley_event_index SET reported_at = now()')


def test_an_append_stores_its_reported_time(log: ConflictLog) -> None:
    load(log, EXAMPLE)
    assert _held(log, "istanbul-2025") == _expected(log, "istanbul-2025")
