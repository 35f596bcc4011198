"""The API's fan-out (projections/tail.py) without HTTP, on both backends.

Each test runs a real LogTail over a real log in an event loop, and drives one client's
stream (``follow``) step by step, so overflows and the catch-up/live switch-over happen
exactly where the test puts them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence

import orjson
import pytest
from builders import opened_event, quoted_statement, statement_event
from support import EXAMPLE

from api.schemas import EventOut, event_out
from domain.negotiation import Recorded
from projections.tail import (
    Heartbeat,
    LiveEvent,
    LogTail,
    Message,
    Overflow,
    StreamFilter,
    event_from_notification,
    event_from_recorded,
    follow,
    read_page,
)
from store.loader import load
from store.log import ConflictLog

SLUG = "istanbul-2025"
HANG_GUARD = 30.0  # seconds; a bound on waiting, not a timing assertion


def run(test: Callable[[LogTail], Awaitable[None]], log: ConflictLog, buffer: int) -> None:
    """Run ``test`` in an event loop with a started LogTail on ``log``."""

    async def main() -> None:
        tail = LogTail(log, buffer=buffer)
        tail.start()
        try:
            async with asyncio.timeout(HANG_GUARD):
                await test(tail)
        finally:
            tail.stop()

    asyncio.run(main())


async def append(log: ConflictLog, count: int, label: str) -> list[int]:
    appended = await asyncio.to_thread(
        log.append, SLUG, [statement_event(f"{label} {i}") for i in range(count)]
    )
    return [r.position or 0 for r in appended.created]


async def delivered(tail: LogTail, position: int) -> None:
    """Wait until the tail has offered every event up to ``position`` to its followers."""
    while tail.position < position:
        await asyncio.sleep(0.005)


async def next_batch(stream: AsyncGenerator[Sequence[Message], None]) -> Sequence[Message]:
    return await anext(stream)


def positions(messages: Sequence[Message]) -> list[int]:
    return [m.position for m in messages if isinstance(m, LiveEvent)]


async def events(stream: AsyncGenerator[Sequence[Message], None], count: int) -> list[int]:
    """The positions of the next ``count`` events, past heartbeats (an append may come
    in pieces)."""
    got: list[int] = []
    floor = 0  # an event must come after every position already claimed as sent
    while len(got) < count:
        for message in await next_batch(stream):
            assert not isinstance(message, Overflow), message
            if isinstance(message, LiveEvent):
                assert message.position > floor, (message.position, floor)
                got.append(message.position)
            assert message.position >= floor
            floor = message.position
    return got


@pytest.fixture
def loaded(log: ConflictLog) -> ConflictLog:
    load(log, EXAMPLE, SLUG)
    return log


def shown(record: Recorded) -> str:
    """The event as GET /events serialises it."""
    return EventOut.model_validate(event_out(record)).model_dump_json(exclude_unset=True)


def test_stream_bodies_are_exactly_what_get_events_shows(loaded: ConflictLog) -> None:
    notifications = loaded.recorder.select_notifications(start=0, limit=1000)
    records = loaded.global_log(limit=1000)
    assert len(notifications) == len(records) > 10
    for notification, record in zip(notifications, records, strict=True):
        live = event_from_notification(loaded, notification)
        assert live is not None
        assert orjson.loads(live.body) == orjson.loads(shown(record))
        assert live.body == event_from_recorded(record).body
        assert (live.position, live.type, live.negotiation) == (
            record.position,
            record.event.type,
            record.negotiation,
        )
    unfiltered = read_page(loaded, StreamFilter(), 0, 1000)  # from the stored JSON
    assert [e.body for e in unfiltered] == [event_from_recorded(r).body for r in records]
    filtered = read_page(loaded, StreamFilter(types=frozenset({"RoundHeld"})), 0, 10)
    assert [orjson.loads(e.body) for e in filtered] == [
        orjson.loads(shown(r)) for r in loaded.global_log(types=["RoundHeld"])
    ]


def test_stream_bodies_open_sealed_fields_as_get_events_does_and_redact_them_after(
    log: ConflictLog,
) -> None:
    log.append(SLUG, [opened_event()])
    log.append(
        SLUG,
        [
            quoted_statement("Vladimir Medinsky", "we are ready", url="https://tass.ru/a"),
            quoted_statement("Maria Zakharova", "no comment"),
            statement_event("no source quoted"),
        ],
    )
    for redacted in (False, True):
        if redacted:
            log.redact("Vladimir Medinsky", "asked")
        records = log.global_log(limit=100)  # decoded, opened, serialised again
        page = read_page(log, StreamFilter(), 0, 100)  # spliced from the stored rows
        assert [e.body for e in page] == [event_from_recorded(r).body for r in records]
        bodies = b"\n".join(e.body for e in page)
        assert b"sealed:v1:" not in bodies and b"no comment" in bodies
        assert (b"we are ready" in bodies) is not redacted
        assert (b'"[redacted]"' in bodies) is redacted


def test_a_stream_switches_from_catch_up_to_live_without_gap_or_duplicate(
    loaded: ConflictLog,
) -> None:
    async def test(tail: LogTail) -> None:
        # Frequent heartbeats interleave too: none may run ahead of an unsent event.
        stream = follow(tail, StreamFilter(), 0, heartbeat_seconds=0.01, page=5)
        seen = positions(await next_batch(stream))  # the first page of the catch-up
        # Appended while the client is half-way: the catch-up reads them AND the live
        # buffer holds them; each must still come exactly once.
        expected = list(range(1, loaded.last_position() + 1)) + await append(loaded, 7, "mid")
        await delivered(tail, expected[-1])
        seen += await events(stream, len(expected) - len(seen))
        live = await append(loaded, 3, "live")
        assert seen + await events(stream, 3) == expected + live
        await stream.aclose()
        assert tail.followers == 0

    run(test, loaded, buffer=1000)


async def held_up(
    tail: LogTail, stream: AsyncGenerator[Sequence[Message], None], heartbeat: float, count: int
) -> tuple[list[int], Sequence[Message]]:
    """Append ``count`` events while the stream waits for events or its heartbeat and the
    event loop is held (as a starved one is) until the tail's thread has handed them over
    and the heartbeat is due, so that the loop's next turn runs both; then the stream's
    next batch."""
    pending = asyncio.ensure_future(next_batch(stream))
    for _ in range(3):
        await asyncio.sleep(0)  # the stream now waits in ``Follower.wait``
    held = time.monotonic()
    created = tail.log.append(SLUG, [statement_event(f"held {i}") for i in range(count)]).created
    appended = [r.position or 0 for r in created]
    while tail.published < appended[-1]:
        assert time.monotonic() - held < HANG_GUARD
        time.sleep(0.001)
    time.sleep(max(0.0, heartbeat * 2 - (time.monotonic() - held)))
    return appended, await pending


def test_events_offered_as_a_heartbeat_falls_due_are_sent_before_it(
    loaded: ConflictLog,
) -> None:
    """The loss seen under CPU load: the event loop, held up, ran the tail's delivery and
    the expiry of a stream's heartbeat wait in the same turn. The wait ended as a timeout
    though events had come, and the heartbeat claimed them as sent (``Follower.scanned``),
    so ``take`` dropped them as duplicates: a whole append lost, and no overflow."""

    async def test(tail: LogTail) -> None:
        last = loaded.last_position()
        stream = follow(tail, StreamFilter(), last, heartbeat_seconds=0.05)
        assert await next_batch(stream) == [Heartbeat(last)]  # live, nothing to send
        appended, first = await held_up(tail, stream, 0.05, 5)
        # A heartbeat at or past an appended event claims it sent: it must not come first.
        assert not [m for m in first if isinstance(m, Heartbeat) and m.position >= appended[0]]
        got = positions(first)
        got += await events(stream, len(appended) - len(got))
        assert got == appended
        await stream.aclose()

    run(test, loaded, buffer=100)


def test_an_overflow_as_a_heartbeat_falls_due_names_the_last_event_sent(
    loaded: ConflictLog,
) -> None:
    async def test(tail: LogTail) -> None:
        last = loaded.last_position()
        stream = follow(tail, StreamFilter(), last, heartbeat_seconds=0.05)
        assert await next_batch(stream) == [Heartbeat(last)]
        _, first = await held_up(tail, stream, 0.05, 5)  # more than the buffer holds
        assert first == [Overflow(resume_after=last)]

    run(test, loaded, buffer=3)


def test_a_buffer_overflow_during_catch_up_only_makes_the_stream_read_on_from_the_store(
    loaded: ConflictLog,
) -> None:
    async def test(tail: LogTail) -> None:
        stream = follow(tail, StreamFilter(), 0, heartbeat_seconds=60, page=5)
        seen = positions(await next_batch(stream))
        more = await append(loaded, 12, "overflowing")  # more than the buffer of 4
        await delivered(tail, more[-1])
        seen += await events(stream, more[-1] - len(seen))  # and no Overflow
        assert seen == list(range(1, more[-1] + 1))
        live = await append(loaded, 2, "live")
        assert await events(stream, 2) == live
        await stream.aclose()

    run(test, loaded, buffer=4)


def test_a_client_that_falls_behind_live_gets_an_overflow_naming_its_last_position(
    loaded: ConflictLog,
) -> None:
    async def test(tail: LogTail) -> None:
        last = loaded.last_position()
        stream = follow(tail, StreamFilter(), last, heartbeat_seconds=60)
        slow = follow(tail, StreamFilter(), last, heartbeat_seconds=0.01)
        # A heartbeat comes only live: overflowing during catch-up would just read on.
        assert await next_batch(slow) == [Heartbeat(last)]
        first = await append(loaded, 2, "read")
        assert await events(slow, 2) == first
        # ``slow`` stops reading; the writer and the other client go on.
        appended = first + await append(loaded, 10, "unread")
        assert await events(stream, len(appended)) == appended
        await delivered(tail, appended[-1])  # ``stream`` may have read them from the store
        assert await next_batch(slow) == [Overflow(resume_after=first[-1])]
        with pytest.raises(StopAsyncIteration):
            await next_batch(slow)
        await stream.aclose()

    run(test, loaded, buffer=5)


def test_heartbeats_of_a_filtered_stream_advance_past_events_it_does_not_want(
    loaded: ConflictLog,
) -> None:
    async def test(tail: LogTail) -> None:
        wanted = StreamFilter(types=frozenset({"CeasefireDeclared"}))
        stream = follow(tail, wanted, 0, heartbeat_seconds=0.05)
        assert await next_batch(stream) == [Heartbeat(loaded.last_position())]
        unwanted = await append(loaded, 3, "unwanted")
        await delivered(tail, unwanted[-1])
        assert await next_batch(stream) == [Heartbeat(unwanted[-1])]
        await stream.aclose()

    run(test, loaded, buffer=100)


def test_stopping_the_tail_ends_every_stream(loaded: ConflictLog) -> None:
    async def test(tail: LogTail) -> None:
        stream = follow(tail, StreamFilter(), loaded.last_position(), heartbeat_seconds=60)
        waiting = asyncio.create_task(next_batch(stream))
        await asyncio.sleep(0.05)
        tail.stop()
        with pytest.raises(StopAsyncIteration):
            await waiting

    run(test, loaded, buffer=100)
