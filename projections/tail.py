"""Live streams of the global log: one subscription per app, fanned out to every client.

A ``LogTail`` follows the log with ONE subscription to the recorder (SQLite: in-process
wake-ups and polling, see store/subscription.py; PostgreSQL: LISTEN/NOTIFY) on a thread.
It turns each notification into the JSON body a client receives, once per event rather
than once per client, and hands the batch to the event loop, which appends it to each
``Follower``'s bounded buffer. A client's stream (``follow``) catches up from the store
in pages and then switches to the live feed with no gap and no duplicate: it registers
before catching up, so its buffer holds every event after the tail's position at that
moment, and it skips what catch-up already sent. A slow client cannot stall the writers
or the other clients: when its buffer overflows in the live phase, its stream ends with
a message naming the position to resume after. Heartbeats carry the position scanned so
far, so a filtered client's Last-Event-ID moves past events it did not want.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

import anyio.to_thread
import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import ApplicationRecorder, Notification, Subscription

from domain.events import REDACTIONS
from domain.negotiation import Recorded
from domain.redaction import SEALED_MARK
from store.codec import Opener, answer_from_row, answer_json, decode_record
from store.log import ConflictLog
from store.mapper import RECORDED_TOPIC

logger = logging.getLogger("parley")

PAGE = 500


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One stored event, ready to send: its position, what filters look at, its JSON."""

    position: int
    type: str
    negotiation: str
    body: bytes  # the event as GET /events shows it (api.schemas.EventOut), one JSON line
    opened: bool = False  # the body shows fields that were sealed (``store.keyring``)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Nothing to send for a while; every matching event up to ``position`` was sent."""

    position: int


@dataclass(frozen=True, slots=True)
class Overflow:
    """The client fell too far behind; it should reconnect after ``resume_after``."""

    resume_after: int


Message = LiveEvent | Heartbeat | Overflow


@dataclass(frozen=True)
class StreamFilter:
    """Which events a client wants: one negotiation, some types, or everything."""

    negotiation: str | None = None
    types: frozenset[str] = frozenset()

    @property
    def everything(self) -> bool:
        return self.negotiation is None and not self.types

    def matches(self, event: LiveEvent) -> bool:
        return (self.negotiation is None or event.negotiation == self.negotiation) and (
            not self.types or event.type in self.types
        )


def event_from_recorded(record: Recorded) -> LiveEvent:
    """An event as ``GET /events`` shows it (``store.codec.answer_json``)."""
    assert record.position is not None
    return LiveEvent(
        position=record.position,
        type=record.type,
        negotiation=record.negotiation,
        body=answer_json(record),
        opened=SEALED_MARK in record.event_json,
    )


def event_from_notification(
    log: ConflictLog, notification: Notification, known: dict[str, AESGCM] | None = None
) -> LiveEvent | None:
    """The event of a notification (None for other topics, of which there are none);
    ``known`` caches keys for a reader that follows the log (``Keyring.opener``)."""
    if notification.topic != RECORDED_TOPIC:
        return None
    state = notification.state
    opener = log.keys.opener([state], known)
    return event_from_state(notification.id, notification.originator_version, state, opener)


def event_from_state(
    position: int, version: int, state: bytes, opener: Opener | None = None
) -> LiveEvent:
    """The same body as ``event_from_recorded``, from a stored row: only its head is
    parsed; the event's bytes are spliced in as stored (``store.codec``), unless it has
    sealed fields for ``opener`` to open."""
    event_type, negotiation, body = answer_from_row(position, version, state, opener)
    return LiveEvent(
        position=position,
        type=event_type,
        negotiation=negotiation,
        body=body,
        opened=SEALED_MARK in state,
    )


_REDACTION_MARKS = [b'"type":"%b"' % name.encode() for name in sorted(REDACTIONS)]


def redacted_key(state: bytes) -> str | None:
    """The person key a stored ``PersonRedacted`` destroyed (None for other events)."""
    if not any(mark in state for mark in _REDACTION_MARKS):
        return None
    record = decode_record(UUID(int=0), 0, state)
    return str(orjson.loads(record.event_json)["data"]["person"])


def read_page(log: ConflictLog, wanted: StreamFilter, after: int, limit: int) -> list[LiveEvent]:
    """Up to ``limit`` stored events after position ``after`` that ``wanted`` matches.

    Unfiltered reads take the stored JSON as it is (no pydantic decoding: catch-up is
    bound by it); filtered ones use the event index. With a negotiation the index orders
    by version, which within one negotiation is also position order.
    """
    if wanted.everything:
        rows = log.stored_states(after=after, limit=limit)
        opener = log.keys.opener(state for _, _, state in rows)
        return [event_from_state(*row, opener) for row in rows]
    records = log.records(
        after_position=after,
        limit=limit,
        types=sorted(wanted.types),
        negotiation=wanted.negotiation,
    )
    return [event_from_recorded(r) for r in records]


class Follower:
    """One client's share of the live feed: a bounded buffer that the event loop fills.

    Only the event loop's thread touches it.
    """

    def __init__(self, wanted: StreamFilter, capacity: int, scanned: int) -> None:
        self.wanted = wanted
        self.capacity = capacity
        self.scanned = scanned  # the tail has offered every event up to here
        self.resets = 0  # times the buffer overflowed and was emptied
        self.closed = False
        self._buffer: deque[LiveEvent] = deque()
        self._wake = asyncio.Event()

    def offer(self, events: Sequence[LiveEvent], upto: int) -> None:
        added = False
        for event in events:
            if self.wanted.matches(event):
                if len(self._buffer) >= self.capacity:
                    self._buffer.clear()  # memory stays bounded; the stream learns of it
                    self.resets += 1
                self._buffer.append(event)
                added = True
        self.scanned = max(self.scanned, upto)
        if added:
            self._wake.set()

    def forget_opened(self, negotiations: set[str]) -> None:
        """A person of these negotiations was redacted: buffered events that show sealed
        fields may show theirs, so drop the buffer as an overflow does (the stream ends
        naming where to resume, and the store then answers with the fields redacted)."""
        if any(e.opened and e.negotiation in negotiations for e in self._buffer):
            self._buffer.clear()
            self.resets += 1
            self._wake.set()

    @property
    def pending(self) -> bool:
        """Events are buffered, not yet taken."""
        return bool(self._buffer)

    def take(self, after: int, limit: int) -> list[LiveEvent]:
        """Up to ``limit`` buffered events after ``after``, dropping those at or before it
        (catch-up sent them); empty only when the buffer is."""
        taken: list[LiveEvent] = []
        buffer = self._buffer
        while buffer and len(taken) < limit:
            event = buffer.popleft()
            if event.position > after:
                taken.append(event)
        return taken

    async def wait(self, timeout: float) -> bool:
        """Wait for new events (True) or the timeout (False).

        False only if the buffer is still empty: a loop that was held up (CPU starved)
        runs the tail's delivery and the timeout's expiry in the same turn, and the wait
        then ends in TimeoutError though events came."""
        self._wake.clear()
        if self._buffer or self.closed:
            return True
        try:
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        except TimeoutError:
            return bool(self._buffer) or self.closed
        return True

    def close(self) -> None:
        self.closed = True
        self._wake.set()


@dataclass
class _Pending:
    events: list[LiveEvent] = field(default_factory=list)
    upto: int = 0
    scheduled: bool = False


class LogTail:
    """Follows the global log with one subscription and fans it out to ``Follower``s."""

    def __init__(self, log: ConflictLog, *, buffer: int = 10_000, retry_seconds: float = 1.0):
        self.log = log
        self.buffer = buffer
        self.position = 0  # the event loop has offered every event up to here
        self._retry_seconds = retry_seconds
        self._followers: set[Follower] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._subscription: Subscription[ApplicationRecorder] | None = None
        self._pending = _Pending()
        # Keys met so far. Following the log in order, the tail meets a PersonRedacted
        # after every event sealed under its key before the redaction, and before every
        # one after it, so it drops the key exactly in time.
        self._keys: dict[str, AESGCM] = {}

    def start(self) -> None:
        """Start following from the current end of the log (call on the event loop)."""
        self._loop = asyncio.get_running_loop()
        self.position = self._pending.upto = self.log.last_position()
        self._thread = threading.Thread(target=self._run, name="parley-log-tail", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the subscription and end every client's stream."""
        self._stopping.set()
        with self._lock:
            subscription = self._subscription
        if subscription is not None:
            subscription.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for follower in list(self._followers):
            follower.close()
        self._followers.clear()

    def follow(self, wanted: StreamFilter) -> Follower:
        """Register a client; from now on it is offered every event after ``position``."""
        follower = Follower(wanted, self.buffer, self.position)
        if self._stopping.is_set():
            follower.close()
        else:
            self._followers.add(follower)
        return follower

    def unfollow(self, follower: Follower) -> None:
        self._followers.discard(follower)

    @property
    def followers(self) -> int:
        return len(self._followers)

    @property
    def published(self) -> int:
        """The position up to which the tail's thread has handed events to the loop."""
        with self._lock:
            return self._pending.upto

    # The tail's thread.
    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                subscription = self.log.subscribe(gt=self._pending.upto)
                with subscription:
                    with self._lock:
                        self._subscription = subscription
                    if self._stopping.is_set():
                        break
                    for notification in subscription:
                        key = redacted_key(notification.state)
                        if key is not None:  # this process seals no more under that key
                            self.log.keys.forget(key)
                            self._keys.pop(key, None)
                        # With no client following, only the position moves on: a client
                        # that registers later catches up from the store, whose read
                        # begins after this event committed.
                        event = (
                            event_from_notification(self.log, notification, self._keys)
                            if self._followers
                            else None
                        )
                        self._publish(event, notification.id)
            except Exception:
                if self._stopping.is_set():
                    break
                logger.exception("the live tail lost its subscription; following again")
                self._stopping.wait(self._retry_seconds)
            finally:
                with self._lock:
                    self._subscription = None

    def _publish(self, event: LiveEvent | None, position: int) -> None:
        """Queue one event for the loop; one callback carries all that piled up."""
        assert self._loop is not None
        with self._lock:
            pending = self._pending
            if event is not None:
                pending.events.append(event)
            pending.upto = position
            if pending.scheduled:
                return
            pending.scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # the loop closed: the app is shutting down
            self._stopping.set()

    # The event loop's thread.
    def _deliver(self) -> None:
        with self._lock:
            events, upto = self._pending.events, self._pending.upto
            self._pending.events = []
            self._pending.scheduled = False
        self.position = upto
        redacted = {e.negotiation for e in events if e.type in REDACTIONS}
        for follower in list(self._followers):
            follower.offer(events, upto)
            if redacted:
                follower.forget_opened(redacted)


async def follow(
    tail: LogTail,
    wanted: StreamFilter,
    after: int,
    *,
    heartbeat_seconds: float,
    page: int = PAGE,
    caught_up: Callable[[], None] | None = None,
) -> AsyncGenerator[Sequence[Message], None]:
    """One client's stream: catch-up from the store, then the live feed, in batches.

    Positions only grow, and each matching event after ``after`` comes exactly once. It
    ends when the tail stops, or after an ``Overflow`` when the client falls behind.
    ``caught_up`` is called once the replay from the store is over.

    Reading "after the last position seen" (here and in the subscriptions) skips
    nothing only because positions become visible in order. SQLite serialises writers
    and takes each rowid as MAX + 1 inside the write transaction. The PostgreSQL
    recorder takes an EXCLUSIVE table lock per insert transaction, so a position is
    visible only once every lower one has committed or rolled back, and a rolled-back
    position stays a hole forever: nothing lower can appear later.
    """
    follower = tail.follow(wanted)
    try:
        cursor = after
        while True:
            # The buffer holds every event offered since the client registered or since
            # its buffer last overflowed; a read that begins after that moment covers
            # everything offered before it, so when a short page ends such a read, the
            # switch to the buffer leaves no gap. Positions at or before ``cursor`` in
            # the buffer are duplicates, skipped by ``take``.
            resets = follower.resets
            events = await anyio.to_thread.run_sync(read_page, tail.log, wanted, cursor, page)
            if events:
                yield events
                cursor = events[-1].position
            if len(events) < page and follower.resets == resets:
                break
        if caught_up is not None:  # the replay is over: the rest is the live feed
            caught_up()
        last_sent = time.monotonic()
        while not follower.closed:
            if follower.resets != resets:
                yield [Overflow(cursor)]
                return
            events = follower.take(cursor, page)
            if events:
                yield events
                cursor = events[-1].position
                last_sent = time.monotonic()
                continue
            silence = heartbeat_seconds - (time.monotonic() - last_sent)
            if silence <= 0 or not await follower.wait(silence):
                if follower.pending or follower.resets != resets:
                    continue  # it came as the wait ended: send it, or the overflow, first
                # The buffer is empty and did not overflow since the stream last took from
                # it, so every event it was offered up to ``scanned`` is sent: only then may
                # the heartbeat claim them.
                cursor = max(cursor, follower.scanned)
                yield [Heartbeat(cursor)]
                last_sent = time.monotonic()
    finally:
        tail.unfollow(follower)
