"""Sealing and redaction in the store, on both backends: what the rows hold, what reads
show, and that a destroyed key is gone for every reader, in every process."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from builders import opened_event, quoted_statement
from support import EXAMPLE, shape

from domain.errors import EventIdReusedError, InvalidEventError, PersonNotFoundError
from domain.events import AnyEvent
from domain.redaction import REDACTED
from projections.service import AsOf
from projections.tail import (
    Heartbeat,
    LiveEvent,
    LogTail,
    Overflow,
    StreamFilter,
    follow,
    read_page,
)
from store.config import StoreConfig
from store.dump import DumpError, dump, restore
from store.loader import load
from store.log import ConflictLog
from store.search import Search

SLUG = "istanbul-2025"
QUOTE = "we are ready to continue contacts"
URL = "https://tass.com/politics/2001"


def named(person: str = "Vladimir Medinsky", quote: str = QUOTE) -> AnyEvent:
    return quoted_statement(person, quote, url=URL)


@pytest.fixture
def other(store_config: StoreConfig) -> Iterator[ConflictLog]:
    """A second open log on the same store: another worker process's view of it."""
    second = ConflictLog(store_config)
    yield second
    second.close()


def raw_rows(log: ConflictLog) -> bytes:
    return b"".join(state for _, _, _, state in log.stored_rows(after=0, upto=10**9))


def test_a_source_named_person_is_stored_sealed_and_read_in_the_clear(log: ConflictLog) -> None:
    log.append(SLUG, [opened_event()])
    event = named()
    record = log.append(SLUG, [event]).created[0]
    assert orjson.loads(record.json)["sources"][0]["quote"] == QUOTE  # the answer
    stored = raw_rows(log)
    for plain in (QUOTE.encode(), URL.encode(), b"Medinsky", b'"aide"'):
        assert plain not in stored
    assert b'"country":"RUS"' in stored and b"sealed:v1:" in stored
    [key] = log.keys.store.person_keys()
    assert key.person == "vladimir medinsky" and len(key.key) == 32
    source = log.event(event.id).event.sources[0]
    assert (source.quote, source.url) == (QUOTE, URL)
    assert source.attributed_to is not None and source.attributed_to.name == "Vladimir Medinsky"
    # Re-sending it is idempotent, though sealing draws a fresh nonce each time.
    again = log.append(SLUG, [event])
    assert again.created == [] and [r.hash for r in again.existing] == [record.hash]
    # The same person under another spelling is the same key.
    log.append(SLUG, [named("  vladimir MEDINSKY")])
    assert len(log.keys.store.person_keys()) == 1
    assert log.verify().ok


def test_text_that_looks_sealed_is_refused_at_the_edge(log: ConflictLog) -> None:
    log.append(SLUG, [opened_event()])
    with pytest.raises(InvalidEventError) as refused:
        log.append(SLUG, [named(quote="sealed:v1:abcd:AAAA")])
    assert refused.value.field == "sources.0.quote"


def test_redaction_destroys_the_key_for_every_reader_and_the_chain_still_verifies(
    log: ConflictLog, other: ConflictLog
) -> None:
    log.append(SLUG, [opened_event()])
    log.append("minsk-2015", [opened_event("Minsk")])
    kept = named("Jane Source", quote="what Jane said")
    events = [named(), kept]
    log.append(SLUG, events)
    log.append("minsk-2015", [named()])
    as_of = AsOf(other)
    before = as_of.state(SLUG).to_json()
    assert other.event(events[0].id).event.sources[0].quote == QUOTE  # cached, if anything

    done = log.redact("Vladimir Medinsky", "the source asked", requested_by="the desk")

    assert sorted(done.negotiations) == ["istanbul-2025", "minsk-2015"]
    assert {k.person for k in log.keys.store.person_keys()} == {"jane source"}
    for reader in (log, other):
        source = reader.event(events[0].id).event.sources[0]
        assert (source.quote, source.url) == (REDACTED, REDACTED)
        assert source.attributed_to is not None
        assert (source.attributed_to.name, source.attributed_to.role) == (REDACTED, REDACTED)
        assert source.attributed_to.country == "RUS"
        bodies = b"".join(r.json for r in reader.global_log(limit=1000))
        assert b"Medinsky" not in bodies and QUOTE.encode() not in bodies
        assert reader.event(kept.id).event.sources[0].quote == "what Jane said"  # others stay
        assert reader.verify().ok
    # The log says what happened, with the key's id and never the name.
    redacted = log.global_log(limit=1000, types=["PersonRedacted"])
    assert [r.negotiation for r in redacted] == sorted(done.negotiations)
    data = orjson.loads(redacted[0].json)["data"]
    assert data == {"person": done.key_id, "reason": "the source asked", "requested_by": "the desk"}
    assert b"edinsky" not in redacted[0].event_json
    # The other process's engine read the negotiation again; the answer keeps its shape.
    after = as_of.state(SLUG).to_json()
    assert shape(after) == shape(before)
    with pytest.raises(PersonNotFoundError):
        log.redact("Vladimir Medinsky", "again")


def found(log: ConflictLog, **search: Any) -> list[int]:
    """Positions of the events a search finds."""
    return [r.position or 0 for r in log.global_log(limit=1000, search=Search.of(**search))]


def test_search_finds_a_redacted_person_no_more_by_name_nor_by_what_they_said(
    log: ConflictLog, tmp_path: Path
) -> None:
    log.append(SLUG, [opened_event()])
    gone = log.append(SLUG, [named()]).created[0].position
    kept = log.append(SLUG, [named("Jane Source", quote="what Jane said")]).created[0].position
    assert found(log, actors=["Medinsky"]) == [gone]
    assert found(log, q="ready to continue contacts") == [gone]
    assert found(log, actors=["jane"]) == found(log, q="what Jane said") == [kept]

    log.redact("Vladimir Medinsky", "asked")

    assert found(log, actors=["Medinsky"]) == found(log, q="ready contacts") == []
    assert found(log, actors=["RUS"]) == [1, gone, kept]  # the state is still named
    assert found(log, actors=["jane"]) == found(log, q="what Jane said") == [kept]
    # A restored copy indexes what its events say, with the keys the dump carried.
    out = io.BytesIO()
    header = dump(log, out)
    copy = ConflictLog(StoreConfig(data_dir=tmp_path / "copy"))
    try:
        restore(copy, io.BytesIO(out.getvalue()), key=header.dump_key)
        assert found(copy, actors=["jane"]) == found(copy, q="what Jane said") == [kept]
        assert found(copy, actors=["Medinsky"]) == found(copy, q="ready contacts") == []
    finally:
        copy.close()


def test_a_later_mention_gets_a_new_key_and_a_stale_sealing_cache_errs_towards_redaction(
    log: ConflictLog, other: ConflictLog
) -> None:
    log.append(SLUG, [opened_event()])
    other.append(SLUG, [named()])  # ``other`` now holds Medinsky's key for sealing
    log.redact("Vladimir Medinsky", "asked")
    stale = other.append(SLUG, [named(quote="sealed under the destroyed key")]).created[0]
    fresh = log.append(SLUG, [named(quote="a new mention")]).created[0]
    assert log.event(stale.event.id).event.sources[0].quote == REDACTED
    assert log.event(fresh.event.id).event.sources[0].quote == "a new mention"
    other.keys.forget(log.global_log(types=["PersonRedacted"])[0].event.data.person)  # type: ignore[union-attr]
    again = other.append(SLUG, [named(quote="after the tail told it")]).created[0]
    assert log.event(again.event.id).event.sources[0].quote == "after the tail told it"


def test_loading_the_same_file_after_a_redaction_stays_idempotent(log: ConflictLog) -> None:
    first = load(log, EXAMPLE, SLUG)
    log.redact("Vladimir Medinsky", "asked")
    again = load(log, EXAMPLE, SLUG)
    assert (again.created, again.existing) == (0, first.created)
    # Only the redacted fields may differ: other content under the same id is refused.
    event = named()
    log.append(SLUG, [event])
    log.redact("Vladimir Medinsky", "asked again")
    changed = event.model_copy(update={"occurred_at": event.occurred_at.replace(day=27)})
    with pytest.raises(EventIdReusedError):
        log.append(SLUG, [changed])
    assert log.append(SLUG, [event]).created == []


def test_a_dump_carries_the_keys_left_and_a_restore_keeps_the_redacted_redacted(
    log: ConflictLog, tmp_path: Path
) -> None:
    log.append(SLUG, [opened_event()])
    gone, kept = named(), named("Jane Source")
    log.append(SLUG, [gone, kept])
    log.redact("Vladimir Medinsky", "asked")
    out = io.BytesIO()
    header = dump(log, out)
    assert header.keys == 1
    assert b"jane source" in out.getvalue() and b"medinsky" not in out.getvalue()
    copy = ConflictLog(StoreConfig(data_dir=tmp_path / "copy"))
    try:
        restore(copy, io.BytesIO(out.getvalue()), key=header.dump_key)
        assert copy.verify().ok
        assert copy.event(gone.id).event.sources[0].quote == REDACTED
        assert copy.event(kept.id).event.sources[0].quote == QUOTE
        assert [k.person for k in copy.keys.store.person_keys()] == ["jane source"]
    finally:
        copy.close()


def test_a_dump_during_which_a_person_is_redacted_fails(log: ConflictLog) -> None:
    log.append(SLUG, [opened_event()])
    log.append(SLUG, [named()])

    class RedactingMidway(io.BytesIO):
        def write(self, data: Any) -> int:
            if b'"position"' in data and log.keys.store.person_keys():
                log.redact("Vladimir Medinsky", "asked")
            return super().write(data)

    with pytest.raises(DumpError, match="redacted while the dump ran"):
        dump(log, RedactingMidway())


def test_a_live_client_holding_a_redacted_persons_fields_is_sent_back_to_the_store(
    log: ConflictLog,
) -> None:
    log.append(SLUG, [opened_event()])
    last = log.last_position()

    async def test(tail: LogTail) -> None:
        reader = follow(tail, StreamFilter(), last, heartbeat_seconds=60)
        slow = follow(tail, StreamFilter(), last, heartbeat_seconds=0.01)
        assert await anext(slow) == [Heartbeat(last)]  # live from here
        appended = await asyncio.to_thread(log.append, SLUG, [named()])
        [live] = await anext(reader)
        assert isinstance(live, LiveEvent) and QUOTE.encode() in live.body  # read in the clear
        # ``slow`` holds that body unread when the person is redacted.
        await asyncio.to_thread(log.redact, "Vladimir Medinsky", "asked")
        while tail.position < last + 2:
            await asyncio.sleep(0.005)
        assert await anext(slow) == [Overflow(resume_after=last)]
        again = read_page(log, StreamFilter(), last, 10)
        assert [e.position for e in again] == [appended.created[0].position, last + 2]
        assert QUOTE.encode() not in again[0].body and b"[redacted]" in again[0].body
        await reader.aclose()

    async def main() -> None:
        tail = LogTail(log, buffer=100)
        tail.start()
        try:
            async with asyncio.timeout(30):  # a bound on waiting, not a timing assertion
                await test(tail)
        finally:
            tail.stop()

    asyncio.run(main())
