"""The search tables on a real SQLite file and the real PostgreSQL: written with the
events, filled for a store made before they existed, and filled by a restore."""

from __future__ import annotations

import io
import sqlite3

import psycopg
import pytest
from support import EXAMPLE, delete_after

from store.config import StoreConfig
from store.dump import dump, restore
from store.loader import load
from store.log import ConflictLog
from store.search import Search

SLUG = "istanbul-2025"


def searched(log: ConflictLog, **filters: object) -> list[int]:
    search = Search.of(**filters)  # type: ignore[arg-type]
    return [r.originator_version for r in log.global_log(limit=1000, search=search)]


def answers(log: ConflictLog) -> dict[str, list[int]]:
    return {
        "actor": searched(log, actors=["Lavrov"]),
        "region": searched(log, regions=["UA-63"]),
        "outlet": searched(log, outlets=["Sputnik"]),
        "text": searched(log, q="ceasefire"),
    }


EXPECTED = {
    "actor": [12, 13, 14, 15],
    "region": [7],
    "outlet": list(range(1, 14)),
    "text": [4, 5, 10, 11],
}


def search_row_counts(config: StoreConfig) -> tuple[int, int]:
    if config.database_url is None:
        with sqlite3.connect(config.sqlite_path) as conn:
            counts = tuple(
                conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("parley_event_terms", "parley_event_text")
            )
        conn.close()
        return counts  # type: ignore[return-value]
    schema = f'"{config.postgres_schema}"'
    with psycopg.connect(config.database_url) as pg:
        return tuple(  # type: ignore[return-value]
            pg.execute(f"SELECT COUNT(*) FROM {schema}.{t}").fetchone()[0]  # type: ignore[index]
            for t in ("parley_event_terms", "parley_event_text")
        )


def drop_search_tables(config: StoreConfig) -> None:
    """Make the store look as a Parley before search left it."""
    if config.database_url is None:
        with sqlite3.connect(config.sqlite_path) as conn:
            conn.execute("DROP TABLE parley_event_terms")
            conn.execute("DROP TABLE parley_event_text")
        conn.close()
        return
    schema = f'"{config.postgres_schema}"'
    with psycopg.connect(config.database_url, autocommit=True) as pg:
        pg.execute(f"DROP TABLE {schema}.parley_event_terms, {schema}.parley_event_text")


def test_appended_events_are_searchable_at_once(log: ConflictLog) -> None:
    load(log, EXAMPLE)
    assert answers(log) == EXPECTED


def test_a_store_made_before_search_is_filled_on_its_next_start(
    store_config: StoreConfig,
) -> None:
    with ConflictLog(store_config) as log:
        load(log, EXAMPLE)
        filled = search_row_counts(store_config)
    drop_search_tables(store_config)

    with ConflictLog(store_config) as reopened:
        assert answers(reopened) == EXPECTED
        assert search_row_counts(store_config) == filled
        load(reopened, EXAMPLE)  # nothing new: the loader's events are all stored
    with ConflictLog(store_config) as again:  # a second start fills nothing twice
        assert search_row_counts(store_config) == filled
        assert answers(again) == EXPECTED


def test_a_restore_fills_the_search_tables(store_config: StoreConfig) -> None:
    with ConflictLog(store_config) as log:
        load(log, EXAMPLE)
        out = io.BytesIO()
        header = dump(log, out)
        filled = search_row_counts(store_config)
        delete_after(store_config, 0)
        assert search_row_counts(store_config) == (0, 0)

        restore(log, out.getvalue().splitlines(keepends=True), key=header.dump_key)

        assert search_row_counts(store_config) == filled
        assert answers(log) == EXPECTED


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_restore_replaces_search_rows_left_behind_by_lost_events(
    store_config: StoreConfig,
) -> None:
    with ConflictLog(store_config) as log:
        load(log, EXAMPLE)
        out = io.BytesIO()
        header = dump(log, out)
        filled = search_row_counts(store_config)
        with sqlite3.connect(store_config.sqlite_path) as conn:  # events lost, search kept
            conn.execute("DELETE FROM stored_events")
            conn.execute("DELETE FROM parley_event_index")
        conn.close()

        restore(log, out.getvalue().splitlines(keepends=True), key=header.dump_key)

        assert search_row_counts(store_config) == filled
        assert answers(log) == EXPECTED
