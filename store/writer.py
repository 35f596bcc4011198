"""The writer: one thread per process that commits every waiting append together.

The path of one event, from the request to the row: the API parses the body once into
typed events (``api.parsing``); ``Writer.submit`` encodes each event once into its
canonical JSON (``domain.events.encode_event``) and queues the request; the writer
thread takes every queued request, checks each against its negotiation's aggregate,
seals the fields that protect a person (``store.keyring``: what is stored and hashed),
records the events (``Negotiation.record``: invariants, versions, the hash over those
same bytes), and commits the group in ONE transaction (``EventStore.put`` →
``RecordMapper`` → the recorder, which inserts the rows, their index rows, and the
person keys made to seal them). Concurrent requests so share an fsync (group commit).

A request that fails answers alone: an error while it is prepared answers it at once;
an error while its group commits (a row the database refuses) sends every request of
the group to be committed alone, so only the offending one fails. A lost race with
another process (the store's unique keys, or a ``recorded_at`` that would go back in
time) refreshes the aggregate from the store and retries that request alone.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

import orjson
from eventsourcing.persistence import EventStore, IntegrityError, Recording

from domain.errors import (
    EventIdReusedError,
    InvalidEventError,
    NegotiationExistsError,
    NegotiationNotFoundError,
    VersionConflictError,
    WriteContentionError,
)
from domain.events import AnyEvent, EventCorrected, NegotiationOpened, encode_event
from domain.negotiation import Negotiation, Recorded, WriteSideCheckpoint, check_corrections
from domain.redaction import REDACTED_JSON, same_but_redacted
from store import metrics
from store.index import EventIndex, RecordingOrderError, StoredFact
from store.keyring import Keyring
from store.write_side import CHECKPOINT_EVERY, WriteSideCheckpoints, trusted

logger = logging.getLogger("parley.writer")

MAX_ATTEMPTS = 100  # lost races in a row before an unconditional append gives up
BACKOFF_SECONDS = 0.001  # the first wait after a lost race; it doubles, up to 0.05 s
MAX_GROUP = 256  # requests committed in one transaction at most


@dataclass(frozen=True)
class Appended:
    """The outcome of one append: what was stored now, and what was already there."""

    created: list[Recorded] = field(default_factory=list)
    existing: list[Recorded] = field(default_factory=list)
    resolved: float = field(default_factory=time.perf_counter, compare=False)
    """When the writer answered (``time.perf_counter``): made just before the future's
    result is set, so the caller can time the handoff back (``metrics.RESOLUTION``)."""

    @property
    def records(self) -> list[Recorded]:
        """All the events of the request, in the order they were sent."""
        return sorted(self.created + self.existing, key=lambda r: r.position or 0)


@dataclass
class AppendRequest:
    """One request's events, their canonical JSON (before sealing, which the writer
    thread does), and the future that answers it."""

    slug: str
    events: list[AnyEvent]
    plain: list[bytes]
    expected_version: int | None
    opening: bool
    sources: list[str | None] | None = None
    recorded_by: str | None = None
    future: Future[Appended] = field(default_factory=Future)
    dry_run: bool = False
    queued: float = field(default_factory=time.perf_counter)  # for metrics.QUEUE_WAIT


class _Stale(Exception):
    """The cached aggregate disagrees with the request; decide after a refresh."""


_Prepared = tuple[AppendRequest, Negotiation, list[Recorded], list[Recorded]]


class Writer:
    """Commits appends to one store; the only code that touches aggregates.

    It stores through ``events`` (the library's event store over Parley's recorder),
    reads what the aggregates and the checks need from ``index``, seals with
    ``keyring``, and keeps the write sides of ``cache_size`` negotiations in memory.
    A write side holds no memory per event: the ids a request names are looked up in
    the index (``_split_stored``), and it is opened from its checkpoint
    (``store.write_side``) plus the events stored after it (``_load``).
    """

    def __init__(
        self,
        events: EventStore[UUID],
        index: EventIndex,
        keyring: Keyring,
        *,
        cache_size: int,
    ) -> None:
        self.events = events
        self.index = index
        self.keyring = keyring
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Negotiation] = OrderedDict()  # least recently used first
        self.checkpoints = WriteSideCheckpoints(index.database, index.index_table)
        self._checkpointed: dict[str, int] = {}  # the version of each cached one's checkpoint
        self._last_clock: datetime | None = None
        self._queue = _Queue(self._write_group)

    def submit(
        self,
        slug: str,
        events: Sequence[AnyEvent],
        expected_version: int | None = None,
        *,
        opening: bool = False,
        sources: Sequence[str | None] | None = None,
        recorded_by: str | None = None,
    ) -> Future[Appended]:
        """Queue an append; the future holds its outcome. ``sources`` names, per event,
        who wrote it, and ``recorded_by`` the token that sent the request (both stored
        and hashed with each event), when the caller says."""
        if not events:
            raise InvalidEventError("send at least one event", field="events")
        request = AppendRequest(
            slug,
            list(events),
            self._encode(events),
            expected_version,
            opening,
            None if sources is None else list(sources),
            recorded_by,
        )
        self._queue.put(request)
        return request.future

    def check(
        self,
        slug: str,
        events: Sequence[AnyEvent],
        expected_version: int | None = None,
        *,
        recorded_by: str | None = None,
    ) -> Future[Appended]:
        """A dry run: check an append exactly as ``submit`` would (against the stored
        aggregate, its invariants and ``expected_version``) and store nothing. The
        future's ``created`` holds the records that would be stored, without positions."""
        if not events:
            raise InvalidEventError("send at least one event", field="events")
        request = AppendRequest(
            slug,
            list(events),
            self._encode(events),
            expected_version,
            False,
            None,
            recorded_by,
            dry_run=True,
        )
        self._queue.put(request)
        return request.future

    def submit_together(
        self,
        appends: Sequence[tuple[str, Sequence[AnyEvent]]],
        *,
        recorded_by: str | None = None,
    ) -> list[Future[Appended]]:
        """Queue appends to several negotiations as one group: they commit in one
        transaction (unless one fails to commit: then each is committed alone)."""
        requests = []
        for slug, events in appends:
            requests.append(
                AppendRequest(
                    slug, list(events), self._encode(events), None, False, None, recorded_by
                )
            )
        if requests:
            self._queue.put(requests)
        return [request.future for request in requests]

    def _encode(self, events: Sequence[AnyEvent]) -> list[bytes]:
        """Each event's canonical JSON, refused if it holds text that looks sealed (the
        writer thread seals it: ``_prepare``)."""
        plain = [encode_event(event) for event in events]
        for json in plain:
            self.keyring.refuse_sealed(json)
        return plain

    def stop(self) -> None:
        """Stop the writer thread, then checkpoint the write sides it advanced (so the
        next start folds none of their events)."""
        self._queue.stop()
        if self._queue.busy():
            return  # still writing (it did not stop in time): leave its aggregates alone
        for aggregate in list(self._cache.values()):
            self._checkpoint(aggregate, every=1)

    @property
    def cached(self) -> list[str]:
        """The negotiations whose write side is in memory, least recently written first."""
        return list(self._cache)

    # The writer thread.
    def _write_group(self, group: list[AppendRequest]) -> None:
        """Prepare each request against the cached aggregates, then commit them at once,
        the group announced to the store's other writers (``EventIndex.appending``)."""
        with self.index.appending():
            self._write_prepared(group)

    def _write_prepared(self, group: list[AppendRequest]) -> None:
        for request in [r for r in group if r.dry_run]:
            self._check(request)
        group = [r for r in group if not r.dry_run]
        if not group:
            return
        recorded_at = self._clock(group)
        started = time.perf_counter()
        known = self.index.stored_facts([i for r in group for i in _named(r)])  # one lookup
        prepared: list[_Prepared] = []
        alone: list[AppendRequest] = []
        for request in group:
            try:
                outcome = self._prepare(request, recorded_at, fresh=False, known=known)
            except _Stale:
                alone.append(request)
            except Exception as error:  # a domain error answers this request only
                request.future.set_exception(error)
            else:
                if isinstance(outcome, Appended):
                    request.future.set_result(outcome)
                else:
                    prepared.append((request, *outcome))
        metrics.PREPARE.observe(time.perf_counter() - started)
        if prepared:
            touched = list({id(a): a for _, a, _, _ in prepared}.values())
            try:
                recordings = self._put([r for a in touched for r in a.collect_events()])
            except Exception as error:
                # Another process won a race, or one request holds what the database
                # refuses: take everything back and commit each request alone, so that
                # only the one at fault fails.
                metrics.WRITER_ERRORS.inc()
                logger.warning(
                    "a group of %d appends (%s) failed to commit, %s: %s; committing "
                    "each alone",
                    len(prepared),
                    ", ".join(sorted({request.slug for request, _, _, _ in prepared})),
                    type(error).__name__,
                    error,
                )
                for aggregate in touched:
                    self._revert(aggregate)
                alone = [request for request, _, _, _ in prepared] + alone
            else:
                self._last_clock = recorded_at
                metrics.WRITER_GROUP_SIZE.observe(len(prepared))
                metrics.count_appended(r.type for _, _, records, _ in prepared for r in records)
                positions = {
                    (r.domain_event.originator_id, r.domain_event.originator_version): (
                        r.notification.id
                    )
                    for r in recordings
                }
                for request, _, records, existing in prepared:
                    for record in records:
                        record.position = positions[(record.originator_id, record.version)]
                    request.future.set_result(Appended(created=records, existing=existing))
        for request in alone:
            self._write_alone(request)
        self.keyring.settle([])  # keys made for requests that failed are not stored
        self._forget_beyond(self.cache_size)

    def _check(self, request: AppendRequest) -> None:
        """Answer a dry run: prepare it as a lone append would be (fresh from the store),
        then take the events back from the aggregate; nothing reaches the store."""
        try:
            outcome = self._prepare(request, self._clock([request], fresh=True), fresh=True)
        except Exception as error:
            request.future.set_exception(error)
        else:
            if isinstance(outcome, Appended):
                request.future.set_result(outcome)
            else:
                aggregate, records, existing = outcome
                self._revert(aggregate)
                request.future.set_result(Appended(created=records, existing=existing))
        finally:
            self.keyring.settle([])  # keys made to seal the previewed events are dropped

    def _put(self, records: Sequence[Recorded]) -> list[Recording[UUID]]:
        """Store ``records`` and the person keys made to seal them, in ONE transaction
        (so a key is stored exactly when the first event sealed under it is)."""
        made = self.keyring.made_for(record.event_json for record in records)
        started = time.perf_counter()
        try:
            recordings = self.events.put(records, person_keys=made)
        except BaseException:
            self.keyring.settle([])
            raise
        took = time.perf_counter() - started
        metrics.WRITER_COMMIT_SECONDS.observe(took)
        metrics.PUT.observe(took)
        self.keyring.settle(made)
        return recordings

    def _forget_beyond(self, size: int) -> None:
        """Keep the write sides of the ``size`` negotiations written most recently; the
        others, checkpointed first, are opened from the store again when next written."""
        while len(self._cache) > size:
            _, aggregate = self._cache.popitem(last=False)
            self._checkpoint(aggregate, every=1)
            self._checkpointed.pop(aggregate.slug, None)

    def _checkpoint(self, aggregate: Negotiation, *, every: int = CHECKPOINT_EVERY) -> None:
        """Save the aggregate's checkpoint if it is ``every`` events or more ahead of the
        last one (or as many as the proposals and rounds it holds: saving it costs no
        more than a row per event); only of stored events (none recorded and waiting)."""
        if aggregate.unsaved or aggregate.last_hash is None:
            return
        size = len(aggregate.grounds.live) if every > 1 else 0
        if aggregate.version - self._checkpointed.get(aggregate.slug, 0) < max(every, size):
            return
        self.checkpoints.save(aggregate.slug, aggregate.checkpoint())
        # Not tried again before as many events more, even if it failed (it was logged).
        self._checkpointed[aggregate.slug] = aggregate.version

    def _write_alone(self, request: AppendRequest) -> None:
        """Commit one request, refreshing from the store after each lost race."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                recorded_at = self._clock([request], fresh=True)
                outcome = self._prepare(request, recorded_at, fresh=True)
                if isinstance(outcome, Appended):
                    request.future.set_result(outcome)
                    return
                aggregate, records, existing = outcome
                try:
                    recordings = self._put(aggregate.collect_events())
                except (IntegrityError, RecordingOrderError):
                    self._revert(aggregate)
                    # Racing writers that retry at once collide again: fall out of step.
                    time.sleep(random.uniform(0, min(0.05, BACKOFF_SECONDS * 2**attempt)))
                    continue
                except BaseException:
                    self._cache.pop(request.slug, None)
                    raise
                self._last_clock = recorded_at
                metrics.WRITER_GROUP_SIZE.observe(1)
                metrics.count_appended(record.type for record in records)
                for record, recording in zip(records, recordings, strict=True):
                    record.position = recording.notification.id
                request.future.set_result(Appended(created=records, existing=existing))
                return
            except Exception as error:
                request.future.set_exception(error)
                return
        gave_up: Exception = WriteContentionError(request.slug, MAX_ATTEMPTS)
        if request.expected_version is not None:
            found = self.index.summaries(request.slug)
            current = found[0].version if found else 0
            gave_up = VersionConflictError(request.slug, request.expected_version, current)
        request.future.set_exception(gave_up)

    def _prepare(
        self,
        request: AppendRequest,
        recorded_at: datetime,
        *,
        fresh: bool,
        known: Mapping[UUID, StoredFact] | None = None,
    ) -> Appended | tuple[Negotiation, list[Recorded], list[Recorded]]:
        """Check one request and record its events on the aggregate (not yet stored);
        ``known``: what the store holds of the ids its group names, if looked up."""
        slug = request.slug
        negotiation = None if fresh else self._cache.get(slug)
        if negotiation is None:
            negotiation = self._load(slug)
        else:
            self._cache.move_to_end(slug)
            self._checkpoint(negotiation)  # before this group records on it
        existing, new = self._split_stored(request, negotiation, known)
        if not new:
            return Appended(existing=existing)
        events = [request.events[i] for i in new]
        if negotiation is None and not request.opening:
            if not isinstance(events[0], NegotiationOpened):
                raise NegotiationNotFoundError(slug)
        if request.opening and negotiation is not None:
            raise NegotiationExistsError(slug)
        if request.expected_version is not None:
            current = negotiation.version if negotiation else 0
            if current != request.expected_version:
                if not fresh:
                    raise _Stale  # the cache may be behind another process
                raise VersionConflictError(slug, request.expected_version, current)
        self._check_corrections(events)
        if negotiation is None:
            negotiation = self._cache.setdefault(slug, Negotiation(slug))
        sources = None if request.sources is None else [request.sources[i] for i in new]
        sealed = [self.keyring.seal_event(request.plain[i]) for i in new]
        records = negotiation.record(events, recorded_at, sealed, sources, request.recorded_by)
        for record, index in zip(records, new, strict=True):
            record.shows(request.plain[index])  # the answer shows what was sent
        return negotiation, records, existing

    def _revert(self, aggregate: Negotiation) -> None:
        """Take back an aggregate's unsaved events; one that was never stored is forgotten
        (a cached empty negotiation would read as "already open" on the retry)."""
        aggregate.revert()
        if aggregate.version == 0:
            self._cache.pop(aggregate.slug, None)

    def _clock(self, group: list[AppendRequest], *, fresh: bool = False) -> datetime:
        """One recorded_at for a transaction, never before what this log has recorded."""
        floors = [self._last_clock] + [
            a.last_recorded_at
            for a in (self._cache.get(r.slug) for r in group)
            if a is not None and a.last_recorded_at is not None
        ]
        if fresh:
            floors.append(self.index.max_recorded_at())
        return max([datetime.now(UTC), *(f for f in floors if f is not None)])

    def _load(self, slug: str) -> Negotiation | None:
        """The negotiation's write side: the cached one, else its checkpoint (if the log
        holds its hash), fast-forwarded over the events stored after it; checkpointed
        anew when that was many events."""
        aggregate = self._cache.get(slug)
        if aggregate is None:
            aggregate = self._resume(slug)
        after = aggregate.version if aggregate else 0
        # From the index: only rounds and proposals need their stored event decoded.
        for fact in self.index.write_side_facts(slug, after_version=after):
            if aggregate is None:
                aggregate = Negotiation(slug)
            aggregate.apply_fact(fact)
        if aggregate is not None:
            self._cache[slug] = aggregate
            self._cache.move_to_end(slug)
            self._checkpoint(aggregate)
        return aggregate

    def _resume(self, slug: str) -> Negotiation | None:
        """The write side as its stored checkpoint holds it, if the log still holds the
        hash it was made at; None (fold from the start) otherwise."""
        stored = self.checkpoints.load(slug)
        if stored is None:
            return None
        checkpoint: WriteSideCheckpoint | None = trusted(
            stored, self.index.chain_link(slug, stored.version)
        )
        if checkpoint is None:
            logger.warning(
                "the write-side checkpoint of %s (version %d) does not match the log: "
                "folding the log instead",
                slug,
                stored.version,
            )
            return None
        self._checkpointed[slug] = checkpoint.version
        return Negotiation.resume(slug, checkpoint)

    def _split_stored(
        self,
        request: AppendRequest,
        negotiation: Negotiation | None,
        known: Mapping[UUID, StoredFact] | None = None,
    ) -> tuple[list[Recorded], list[int]]:
        """Separate re-sent events (stored with the same content) from new ones; the new
        ones are returned as their indexes in the request.

        Every id the request names (its events', and the events they speak about) is
        looked up in the index (or in ``known``, its group's lookup), and the aggregate is
        told what its own stream holds of them (``Negotiation.recall``): it keeps no ids
        of its own.
        """
        ids = [e.id for e in request.events]
        if len(set(ids)) != len(ids):
            raise InvalidEventError("two events in this request share an id", field="events.id")
        named = _named(request)
        if known is None:
            facts = self.index.stored_facts(named)
        else:
            facts = {i: known[i] for i in named if i in known}
        if negotiation is not None:
            ours = {i: f for i, f in facts.items() if f.negotiation == request.slug}
            negotiation.recall(
                {i: f.type for i, f in ours.items()}, [i for i, f in ours.items() if f.retracted]
            )
        lookup = [i for i in ids if i in facts]
        stored = {r.event.id: r for r in self.index.records_by_ids(lookup)}
        existing: list[Recorded] = []
        new: list[int] = []
        for index, event_id in enumerate(ids):
            found = stored.get(event_id)
            if found is None:
                new.append(index)
            elif found.negotiation != request.slug or not _same(found.json, request.plain[index]):
                raise EventIdReusedError(event_id)
            else:
                existing.append(found)
        return existing, new

    def _check_corrections(self, events: Sequence[AnyEvent]) -> None:
        """The domain's rule on corrections (``check_corrections``), with the stored
        events they correct."""
        targets = [e.data.event_id for e in events if isinstance(e, EventCorrected)]
        if targets:
            stored = {r.event.id: r.event for r in self.index.records_by_ids(targets)}
            check_corrections(events, stored)


def _named(request: AppendRequest) -> list[UUID]:
    """The event ids a request names: its events', and those of the events they are about."""
    ids = [e.id for e in request.events]
    return ids + [e.subject_id for e in request.events if e.subject_id is not None]


def _same(stored: bytes, sent: bytes) -> bool:
    """Whether a re-sent event is the stored one (the same bytes; or, after a redaction,
    the same but for the fields that now read ``[redacted]``)."""
    if stored == sent:
        return True
    return REDACTED_JSON in stored and same_but_redacted(orjson.loads(stored), orjson.loads(sent))


class _Queue:
    """The one thread that writes: it drains the queue and hands each group to ``write``.

    The thread starts with the first request, so a log that only reads costs none.
    """

    def __init__(self, write: Callable[[list[AppendRequest]], None]) -> None:
        self._write = write
        self._queue: queue.SimpleQueue[AppendRequest | list[AppendRequest] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._closed = False
        self._lock = threading.Lock()

    def put(self, request: AppendRequest | list[AppendRequest]) -> None:
        """Queue a request, or requests that go into one group together."""
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

    def busy(self) -> bool:
        """Whether the writer thread is still running."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = first if isinstance(first, list) else [first]
            stopping = False
            while len(group) < MAX_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                group.extend(item if isinstance(item, list) else [item])
            taken = time.perf_counter()
            for request in group:
                metrics.QUEUE_WAIT.observe(taken - request.queued)
            try:
                self._write(group)
            except BaseException as error:  # never leave a caller waiting
                logger.exception(
                    "the writer failed on a group of %d appends (%s)",
                    len(group),
                    ", ".join(sorted({request.slug for request in group})),
                )
                for request in group:
                    if not request.future.done():
                        request.future.set_exception(error)
            if stopping:
                return


__all__ = ["Appended", "Writer"]
