"""ConflictLog: Parley's eventsourcing Application. It appends events to negotiations
and reads them back, with optimistic concurrency, idempotency and the hash chain.

Appends for one negotiation are serialised in this process by a lock; across processes
the stored-events primary key (negotiation, version) decides, and the loser retries
after fast-forwarding its cached aggregate. The recorder refuses a batch whose
``recorded_at`` would precede one already committed, so that ``recorded_at`` never
decreases along the log's positions and answers ``known_at`` a past moment never change.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Mapper, Transcoder
from pydantic import ValidationError

from domain.errors import (
    EventIdReusedError,
    EventNotFoundError,
    InvalidEventError,
    NegotiationExistsError,
    NegotiationNotFoundError,
    VersionConflictError,
    WriteContentionError,
)
from domain.events import AnyEvent, EventCorrected, NegotiationOpened, corrected, dump_event
from domain.negotiation import Negotiation, Recorded, check_slug, negotiation_id
from store.config import StoreConfig, eventsourcing_env
from store.index import EventIndex, NegotiationSummary, RecordingOrderError
from store.mapper import PydanticMapper, decode

POLL_SECONDS_KEY = "PARLEY_POLL_SECONDS"  # in a library env: SQLite subscriptions' poll interval
MAX_ATTEMPTS = 100  # lost races in a row before an unconditional append gives up
BACKOFF_SECONDS = 0.001  # the first wait after a lost race; it doubles, up to 0.05 s


@dataclass(frozen=True)
class Appended:
    """The outcome of one append: what was stored now, and what was already there."""

    created: list[Recorded] = field(default_factory=list)
    existing: list[Recorded] = field(default_factory=list)

    @property
    def records(self) -> list[Recorded]:
        """All the events of the request, in the order they were sent."""
        return sorted(self.created + self.existing, key=lambda r: r.position or 0)


@dataclass(frozen=True)
class ChainReport:
    """What ``verify`` found."""

    ok: bool
    events: int
    negotiations: int
    first_break: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class _NoTranscoder(Transcoder):
    """The pydantic mapper serialises by itself; the library's JSON transcoder is unused."""

    def encode(self, obj: Any) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError


class ConflictLog(Application[UUID]):
    """The append-only log of every negotiation, on SQLite or PostgreSQL."""

    name = "Parley"

    def __init__(self, config: StoreConfig | Mapping[str, str] | None = None) -> None:
        """Open the log described by ``config``.

        ``config`` may also be the library's environment as ``env_for`` makes it: that
        is how ``eventsourcing.projection.ProjectionRunner`` constructs an application
        (``application_class(env)``). Then only ``config.poll_seconds`` is meaningful.
        """
        if isinstance(config, Mapping):
            env = dict(config)
            poll = float(env.get(POLL_SECONDS_KEY, StoreConfig.poll_seconds))
            self.config = StoreConfig(poll_seconds=poll)
        else:
            self.config = config or StoreConfig()
            env = eventsourcing_env(self.config)
        super().__init__(env=env)
        if hasattr(self.recorder, "poll_seconds"):  # SQLite: it cannot notify, so it polls
            self.recorder.poll_seconds = self.config.poll_seconds
        # Only the writer thread touches the aggregates.
        self._cache: dict[str, Negotiation] = {}
        self._last_clock: datetime | None = None
        self._writer = _Writer(self._write_group)  # its thread starts on the first append

    @staticmethod
    def env_for(config: StoreConfig) -> dict[str, str]:
        """The library environment that makes ``ConflictLog(env)`` open ``config``'s log."""
        return {**eventsourcing_env(config), POLL_SECONDS_KEY: str(config.poll_seconds)}

    # Library hooks.
    def construct_mapper(self) -> Mapper[UUID]:
        return PydanticMapper(transcoder=_NoTranscoder())

    @property
    def index(self) -> EventIndex:
        return cast(EventIndex, self.recorder)

    @property
    def backend(self) -> str:
        return str(getattr(self.recorder, "backend", "unknown"))

    # Writes.
    def open(self, slug: str, opened: NegotiationOpened) -> Appended:
        """Open a negotiation. Re-sending the same opening event is idempotent."""
        check_slug(slug)
        return self.append(slug, [opened], opening=True)

    def append(
        self,
        slug: str,
        events: Sequence[AnyEvent],
        expected_version: int | None = None,
        *,
        opening: bool = False,
    ) -> Appended:
        """Append ``events`` to a negotiation atomically, and wait for the commit.

        Events whose id is already stored with the same content are returned as they
        were stored (idempotency); the same id with other content is an error.
        """
        return self.submit(slug, events, expected_version, opening=opening).result()

    def submit(
        self,
        slug: str,
        events: Sequence[AnyEvent],
        expected_version: int | None = None,
        *,
        opening: bool = False,
    ) -> Future[Appended]:
        """Queue an append for the writer; the future holds its outcome.

        One writer thread per process takes every queued append and commits them
        together in one transaction (group commit), so concurrent requests share an
        fsync instead of queueing for one each.
        """
        if not events:
            raise InvalidEventError("send at least one event", field="events")
        request = _AppendRequest(slug, list(events), expected_version, opening)
        self._writer.put(request)
        return request.future

    def _write_group(self, group: list[_AppendRequest]) -> None:
        """Prepare each request against the cached aggregates, then commit them at once."""
        recorded_at = self._group_clock(group)
        prepared: list[tuple[_AppendRequest, Negotiation, list[Recorded], list[Recorded]]] = []
        retry: list[_AppendRequest] = []
        for request in group:
            try:
                outcome = self._prepare(request, recorded_at, fresh=False)
            except _Stale:
                retry.append(request)
            except Exception as error:  # a domain error answers this request only
                request.future.set_exception(error)
            else:
                if isinstance(outcome, Appended):
                    request.future.set_result(outcome)
                else:
                    prepared.append((request, *outcome))
        if prepared:
            touched = {id(a): a for _, a, _, _ in prepared}.values()
            try:
                recordings = self.events.put([r for a in touched for r in a.collect_events()])
            except (IntegrityError, RecordingOrderError):
                # Another process committed first: take everything back, go one by one.
                for aggregate in touched:
                    self._revert(aggregate)
                retry = [request for request, _, _, _ in prepared] + retry
            except BaseException as error:
                for aggregate in touched:
                    self._cache.pop(aggregate.slug, None)
                for request, _, _, _ in prepared:
                    request.future.set_exception(error)
            else:
                self._last_clock = recorded_at
                positions = {
                    (
                        r.domain_event.originator_id,
                        r.domain_event.originator_version,
                    ): r.notification.id
                    for r in recordings
                }
                for request, _, records, existing in prepared:
                    created = [
                        r.model_copy(update={"position": positions[(r.originator_id, r.version)]})
                        for r in records
                    ]
                    request.future.set_result(Appended(created=created, existing=existing))
        for request in retry:
            self._write_alone(request)

    def _write_alone(self, request: _AppendRequest) -> None:
        """Commit one request, refreshing from the store after each lost race."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                recorded_at = self._group_clock([request], fresh=True)
                outcome = self._prepare(request, recorded_at, fresh=True)
                if isinstance(outcome, Appended):
                    request.future.set_result(outcome)
                    return
                aggregate, records, existing = outcome
                try:
                    recordings = self.events.put(aggregate.collect_events())
                except (IntegrityError, RecordingOrderError):
                    self._revert(aggregate)
                    # Racing writers that retry at once collide again: fall out of step.
                    time.sleep(random.uniform(0, min(0.05, BACKOFF_SECONDS * 2**attempt)))
                    continue
                except BaseException:
                    self._cache.pop(request.slug, None)
                    raise
                self._last_clock = recorded_at
                created = [
                    r.model_copy(update={"position": rec.notification.id})
                    for r, rec in zip(records, recordings, strict=True)
                ]
                request.future.set_result(Appended(created=created, existing=existing))
                return
            except Exception as error:
                request.future.set_exception(error)
                return
        gave_up: Exception = WriteContentionError(request.slug, MAX_ATTEMPTS)
        if request.expected_version is not None:
            current = self.version_of(request.slug)
            gave_up = VersionConflictError(request.slug, request.expected_version, current)
        request.future.set_exception(gave_up)

    def _prepare(
        self, request: _AppendRequest, recorded_at: datetime, *, fresh: bool
    ) -> Appended | tuple[Negotiation, list[Recorded], list[Recorded]]:
        """Check one request and record its events on the aggregate (not yet stored)."""
        slug = request.slug
        negotiation = self._load(slug) if fresh else self._cached(slug)
        existing, new = self._split_stored(slug, request.events, negotiation, check_all=fresh)
        if not new:
            return Appended(existing=existing)
        if negotiation is None and not request.opening:
            if not isinstance(new[0], NegotiationOpened):
                raise NegotiationNotFoundError(slug)
        if request.opening and negotiation is not None:
            raise NegotiationExistsError(slug)
        if request.expected_version is not None:
            current = negotiation.version if negotiation else 0
            if current != request.expected_version:
                if not fresh:
                    raise _Stale  # the cache may be behind another process
                raise VersionConflictError(slug, request.expected_version, current)
        self._check_corrections(slug, new)
        if negotiation is None:
            negotiation = self._cache.setdefault(slug, Negotiation(slug))
        records = negotiation.record(new, recorded_at)
        return negotiation, records, existing

    def _revert(self, aggregate: Negotiation) -> None:
        """Take back an aggregate's unsaved events; one that was never stored is forgotten
        (a cached empty negotiation would read as "already open" on the retry)."""
        aggregate.revert()
        if aggregate.version == 0:
            self._cache.pop(aggregate.slug, None)

    def _group_clock(self, group: list[_AppendRequest], *, fresh: bool = False) -> datetime:
        """One recorded_at for a transaction, never before what this log has recorded."""
        floors = [self._last_clock] + [
            a.last_recorded_at
            for a in (self._cache.get(r.slug) for r in group)
            if a is not None and a.last_recorded_at is not None
        ]
        if fresh:
            floors.append(self.index.max_recorded_at())
        return max([datetime.now(UTC), *(f for f in floors if f is not None)])

    def _cached(self, slug: str) -> Negotiation | None:
        return self._cache.get(slug) or self._load(slug)

    def _load(self, slug: str) -> Negotiation | None:
        """The negotiation's write side: cached, and fast-forwarded from the store."""
        aggregate = self._cache.get(slug)
        gt = aggregate.version if aggregate else None
        stored = self.recorder.select_events(negotiation_id(slug), gt=gt)
        for item in stored:
            recorded = decode(item.originator_id, item.originator_version, item.state)
            if aggregate is None:
                aggregate = Negotiation(slug)
            aggregate.apply(recorded)
        if aggregate is not None:
            self._cache[slug] = aggregate
        return aggregate

    def _split_stored(
        self,
        slug: str,
        events: Sequence[AnyEvent],
        negotiation: Negotiation | None,
        *,
        check_all: bool,
    ) -> tuple[list[Recorded], list[AnyEvent]]:
        """Separate re-sent events (stored with the same content) from new ones.

        Unless ``check_all``, only ids this negotiation already holds are looked up: an id
        stored elsewhere trips the index's unique key, and the retry checks them all.
        """
        ids = [e.id for e in events]
        if len(set(ids)) != len(ids):
            raise InvalidEventError("two events in this request share an id", field="events.id")
        known = negotiation.event_types if negotiation else {}
        lookup = ids if check_all else [i for i in ids if i in known]
        stored = {r.event.id: r for r in self.index.records_by_ids(lookup)}
        existing, new = [], []
        for event in events:
            found = stored.get(event.id)
            if found is None:
                new.append(event)
            elif found.negotiation != slug or dump_event(found.event) != dump_event(event):
                raise EventIdReusedError(event.id)
            else:
                existing.append(found)
        return existing, new

    def _check_corrections(self, slug: str, events: Sequence[AnyEvent]) -> None:
        """A correction must make a valid event of its target's type."""
        targets = [e.data.event_id for e in events if isinstance(e, EventCorrected)]
        if not targets:
            return
        batch = {e.id: e for e in events}
        stored = {r.event.id: r.event for r in self.index.records_by_ids(targets)}
        for index, event in enumerate(events):
            if not isinstance(event, EventCorrected):
                continue
            target = stored.get(event.data.event_id) or batch.get(event.data.event_id)
            if target is None:
                continue  # the aggregate reports the unknown id
            try:
                corrected(target, event.data.data)
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                prefix = f"events.{index}." if len(events) > 1 else ""
                raise InvalidEventError(
                    f"the corrected {target.type} is invalid: {first['msg']}",
                    field=f"{prefix}data.data.{where}",
                    value=first.get("input"),
                ) from None

    # Reads.
    def version_of(self, slug: str) -> int:
        """The stored version of a negotiation (0 when it does not exist)."""
        found = self.index.summaries(slug)
        return found[0].version if found else 0

    def exists(self, slug: str) -> bool:
        return self.version_of(slug) > 0

    def summary(self, slug: str) -> NegotiationSummary:
        found = self.index.summaries(slug)
        if not found:
            raise NegotiationNotFoundError(slug)
        return found[0]

    def summaries(self) -> list[NegotiationSummary]:
        return self.index.summaries()

    def opening(self, slug: str) -> Recorded:
        """The NegotiationOpened event of a negotiation."""
        first = self.index.select_records(negotiation=slug, limit=1)
        if not first:
            raise NegotiationNotFoundError(slug)
        return first[0]

    def negotiation_events(
        self,
        slug: str,
        *,
        after_version: int | None = None,
        limit: int | None = None,
        types: Sequence[str] = (),
        valid_lte: datetime | None = None,
        recorded_lte: datetime | None = None,
    ) -> list[Recorded]:
        """A negotiation's events in version order, paged and time-sliced."""
        if not self.exists(slug):
            raise NegotiationNotFoundError(slug)
        return self.index.select_records(
            negotiation=slug,
            after_version=after_version,
            limit=limit,
            types=types,
            valid_lte=valid_lte,
            recorded_lte=recorded_lte,
        )

    def global_log(
        self, *, after: int = 0, limit: int = 100, types: Sequence[str] = ()
    ) -> list[Recorded]:
        """The global log after a position, in position order."""
        return self.index.select_records(after_position=after, limit=limit, types=types)

    def event(self, event_id: UUID) -> Recorded:
        found = self.index.records_by_ids([event_id])
        if not found:
            raise EventNotFoundError(event_id)
        return found[0]

    def about(self, event_id: UUID) -> list[Recorded]:
        """The disputes, corrections and retractions that name an event."""
        return self.index.records_about(event_id)

    def last_position(self) -> int:
        return self.index.last_position()

    def stored_states(self, *, after: int = 0, limit: int = 500) -> list[tuple[int, int, bytes]]:
        """(position, version, stored JSON) after a position: the global log undecoded,
        for readers that only re-serialise it (the live streams' catch-up)."""
        states = self.recorder.select_states(after, limit)  # type: ignore[attr-defined]
        return cast(list[tuple[int, int, bytes]], states)

    # Integrity.
    def verify(self) -> ChainReport:
        """Walk every hash chain and check positions; report the first break."""
        events = 0
        negotiations = 0
        previous: Recorded | None = None
        positions: set[int] = set()
        first_break: str | None = None
        for record in self.index.iter_chain():
            events += 1
            assert record.position is not None
            positions.add(record.position)
            new_chain = previous is None or previous.negotiation != record.negotiation
            if new_chain:
                negotiations += 1
            expected_previous = None if new_chain else previous.hash  # type: ignore[union-attr]
            expected_version = 1 if new_chain else previous.originator_version + 1  # type: ignore[union-attr]
            if first_break is None:
                if record.originator_version != expected_version:
                    first_break = (
                        f"{record.negotiation}: version {record.originator_version} follows "
                        f"{expected_version - 1}"
                    )
                elif record.previous_hash != expected_previous:
                    first_break = (
                        f"{record.negotiation} v{record.originator_version}: previous_hash does "
                        "not match the hash before it"
                    )
                elif record.expected_hash() != record.hash:
                    first_break = (
                        f"{record.negotiation} v{record.originator_version} "
                        f"(event {record.event.id}): content does not match its hash"
                    )
            previous = record
        stored_rows, highest = self._stored_count()
        detail: dict[str, Any] = {
            "stored_rows": stored_rows,
            "indexed_rows": events,
            "highest_position": highest,
            "contiguous_positions": self._contiguous(),
        }
        if first_break is None and stored_rows != events:
            first_break = f"{stored_rows} stored events but {events} indexed"
        if first_break is None and self._contiguous() and highest != stored_rows:
            first_break = f"positions have holes: {stored_rows} events up to position {highest}"
        return ChainReport(
            ok=first_break is None,
            events=events,
            negotiations=negotiations,
            first_break=first_break,
            detail=detail,
        )

    def _stored_count(self) -> tuple[int, int]:
        return cast(tuple[int, int], self.recorder.stored_count())  # type: ignore[attr-defined]

    def _contiguous(self) -> bool:
        return bool(getattr(self.recorder, "contiguous_positions", False))

    def iter_all(self, page: int = 5000) -> Iterator[Recorded]:
        """Every event in position order, page by page."""
        after = 0
        while True:
            batch = self.index.select_records(after_position=after, limit=page)
            if not batch:
                return
            yield from batch
            after = batch[-1].position or after

    def close(self) -> None:
        self._writer.stop()
        super().close()


class _Stale(Exception):
    """The cached aggregate disagrees with the request; decide after a refresh."""


@dataclass
class _AppendRequest:
    slug: str
    events: list[AnyEvent]
    expected_version: int | None
    opening: bool
    future: Future[Appended] = field(default_factory=Future)


class _Writer:
    """The one thread that writes: it drains the queue and hands each group to ``write``.

    The thread starts with the first request, so a log that only reads costs none.
    """

    MAX_GROUP = 256

    def __init__(self, write: Callable[[list[_AppendRequest]], None]) -> None:
        self._write = write
        self._queue: queue.SimpleQueue[_AppendRequest | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._lock = threading.Lock()

    def put(self, request: _AppendRequest) -> None:
        with self._lock:
            if self._closed or (self._thread is not None and not self._thread.is_alive()):
                raise RuntimeError("the log is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="parley-writer", daemon=True)
                self._thread.start()
            self._queue.put(request)

    def stop(self) -> None:
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            stopping = False
            while len(group) < self.MAX_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                group.append(item)
            try:
                self._write(group)
            except BaseException as error:  # never leave a caller waiting
                for request in group:
                    if not request.future.done():
                        request.future.set_exception(error)
            if stopping:
                return
