"""A redaction racing appends that name the same person, on both backends (issue 15).

Two open logs on one store stand for two processes: one appends events naming a person,
each with a quote of its own, while the other redacts the person. Whichever commits
second sees the other: afterwards every event that reads ``[redacted]`` is found
neither by the person's name nor by a word of its quote, and the search tables hold no
byte of those quotes. (An event sealed under a key made after the redaction is a new
mention, readable and found: the person was named again.)
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import psycopg
import pytest
from builders import opened_event, quoted_statement

from domain.events import AnyEvent
from domain.redaction import REDACTED
from store.config import StoreConfig
from store.log import ConflictLog
from store.search import Search

SLUG = "istanbul-2025"
PERSON = "Vladimir Medinsky"


def named(quote: str) -> AnyEvent:
    return quoted_statement(PERSON, quote)


def word(i: int) -> str:
    """A word no other event holds: letters only, so search splits nothing off."""
    return "qz" + "".join("abcdefghij"[int(d)] for d in str(i)) + "word"


@pytest.fixture
def other(store_config: StoreConfig) -> Iterator[ConflictLog]:
    second = ConflictLog(store_config)
    yield second
    second.close()


def found(log: ConflictLog, **search: Any) -> set[Any]:
    return {r.event.id for r in log.global_log(limit=10_000, search=Search.of(**search))}


def search_bytes(log: ConflictLog, config: StoreConfig) -> bytes:
    """Every row of the two search tables, as text, read straight from the database."""
    tables = (log.index.terms_table, log.index.text_table)
    rows: list[Any] = []
    if config.database_url:  # the table names are schema-qualified there
        with psycopg.connect(config.database_url) as conn:
            for table in tables:
                rows += conn.execute(f"SELECT * FROM {table}").fetchall()
    else:
        with closing(sqlite3.connect(config.sqlite_path)) as conn:
            for table in tables:
                rows += conn.execute(f"SELECT * FROM {table}").fetchall()
    return repr(rows).lower().encode()


def check_forgotten(log: ConflictLog, config: StoreConfig, quotes: dict[Any, str]) -> int:
    """Assert that no event reading ``[redacted]`` is found or kept in search; return
    how many read so."""
    by_name = found(log, actors=["Medinsky"])
    held = search_bytes(log, config)
    redacted = 0
    for event_id, quote in quotes.items():
        if log.event(event_id).event.sources[0].quote != REDACTED:
            continue
        redacted += 1
        assert event_id not in by_name, quote
        assert event_id not in found(log, q=quote), quote
        assert quote.encode() not in held, quote
    return redacted


def test_an_event_sealed_under_a_key_destroyed_before_it_committed_is_not_searchable(
    log: ConflictLog, other: ConflictLog, store_config: StoreConfig
) -> None:
    log.append(SLUG, [opened_event()])
    other.append(SLUG, [named(word(0))])  # ``other`` now seals under the person's key
    log.redact(PERSON, "asked")
    late = named(word(1))
    other.append(SLUG, [late])  # sealed under the destroyed key: reads [redacted]
    assert log.event(late.id).event.sources[0].quote == REDACTED
    assert check_forgotten(log, store_config, {late.id: word(1)}) == 1


@pytest.mark.parametrize("run", range(5))
def test_a_redaction_racing_appends_naming_the_person_leaves_nothing_searchable(
    log: ConflictLog, other: ConflictLog, store_config: StoreConfig, run: int
) -> None:
    log.append(SLUG, [opened_event()])
    quotes: dict[Any, str] = {}
    start = threading.Barrier(2)

    def append() -> None:
        start.wait()
        for i in range(40):
            event = named(word(run * 1000 + i))
            quotes[event.id] = word(run * 1000 + i)
            other.append(SLUG, [event])

    writer = threading.Thread(target=append)
    writer.start()
    start.wait()
    while log.keys.key_of("vladimir medinsky") is None:  # the first append committed
        time.sleep(0.001)
    log.redact(PERSON, "asked")
    writer.join()
    assert check_forgotten(log, store_config, quotes) > 0
