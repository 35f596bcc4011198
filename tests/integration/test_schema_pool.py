"""The pool of PostgreSQL schemas that tests hand on (``tests/schema_pool.py``): a schema
comes back as a new store would be, and one a test changed is never handed on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from builders import opened_event, statement_event
from schema_pool import SchemaPool

from store.config import StoreConfig
from store.log import ConflictLog

pytestmark = pytest.mark.postgres


@pytest.fixture
def pool(postgres_url: str, tmp_path: Path) -> Iterator[SchemaPool]:
    """A pool of this test's own (the worker's is shared by the other tests)."""

    def open_store(schema: str) -> None:
        ConflictLog(config(postgres_url, tmp_path, schema)).close()

    schemas = SchemaPool(postgres_url, open_store)
    yield schemas
    schemas.close()


def config(url: str, data_dir: Path, schema: str) -> StoreConfig:
    return StoreConfig(data_dir=data_dir, database_url=url, postgres_schema=schema)


def test_a_schema_handed_on_holds_an_empty_store_whose_positions_start_at_one(
    pool: SchemaPool, postgres_url: str, tmp_path: Path
) -> None:
    schema = pool.take()
    with ConflictLog(config(postgres_url, tmp_path / "first", schema)) as log:
        log.open("talks", opened_event())
        log.append("talks", [statement_event("one"), statement_event("two")])
        assert log.last_position() == 3
    pool.give_back(schema)

    assert pool.take() == schema
    with ConflictLog(config(postgres_url, tmp_path / "second", schema)) as log:
        assert list(log.iter_all()) == []
        assert log.open("talks", opened_event()).records[0].position == 1
        assert log.verify().ok
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # still append-only
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute(f'DELETE FROM "{schema}".parley_events')


def test_a_schema_whose_catalogue_a_test_changed_is_not_handed_on(
    pool: SchemaPool, postgres_url: str, tmp_path: Path
) -> None:
    pool.take()  # the pool's own first schema
    schema = pool.take()
    ConflictLog(config(postgres_url, tmp_path, schema)).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            f'ALTER TABLE "{schema}".parley_events DISABLE TRIGGER parley_append_only_events'
        )
    pool.give_back(schema)
    assert schema not in pool.free
    assert pool.take() != schema
