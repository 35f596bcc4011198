"""As-of answers over the live log: one AsOfEngine per negotiation, kept current.

Before each answer the engine catches up with the store (the index rows after the last
version it holds), so a reader sees every committed append, its own included, whichever
process wrote it. A ``PersonRedacted`` among them makes the engine start again from the
store, so that nothing it holds shows a field sealed under the destroyed key. An
engine starts from the event index alone (``engine_rows``): a few integers per event,
and the stored record only of the events whose content makes the state. Engines are
kept for the most recently asked negotiations, within two bounds of the configuration:
how many negotiations, and how many events in all.

Cold start. Reading a whole negotiation into an engine takes time in proportion to it
(about a second at 100,000 events), so the first answer after a restart would too. The
service therefore keeps checkpoints of each engine's head fold in the store
(``projections.checkpoints``, ``store.checkpoints``): a state whose answer is the whole
fold (the state now, or at any valid time after the last event, as known now) is
answered from the negotiation's ``HeadFold``, read from its checkpoint once and caught
up with the events after it, without an engine; any other query reads the engine as
before. A checkpoint that is missing, stale, damaged or older than a redaction is not
used (and the last three are dropped, with a log line): the answer is the same, only
slower. Checkpoints are written off the request path by ``start_checkpoints``' thread:
every ``every`` events a negotiation grows, when the log falls idle, and at ``close``.
Head folds are kept for at most ``max_negotiations`` negotiations, beside the engines;
one holds the state's items (a few MB at 100,000 events), never the events.
"""

from __future__ import annotations

import bisect
import gc
import logging
import threading
from collections import OrderedDict
from dataclasses import replace
from datetime import UTC, datetime

from domain.errors import NegotiationNotFoundError
from domain.events import KNOWLEDGE, LOG_FACTS, RECORDED_TYPES, REDACTIONS
from domain.instants import clamped, utc_key
from domain.negotiation import Recorded
from projections import checkpoints, metrics
from projections.as_of import AsOfEngine, HeadFold
from projections.rows import EngineRow
from projections.state import State, initial_state
from projections.timeline import Diff, Timeline, diff_states, timeline
from store.gc_pause import paused_gc
from store.log import ConflictLog

DEFAULT_MAX_NEGOTIATIONS = 32  # ``api.settings.Settings`` takes its defaults from these
# Measured: 1M events in 10 negotiations, a restarted server answering an as_of on each,
# held 1.6 GiB at 2,000,000 and 869 MiB at 400,000 (about 1.5 KB per cached event).
DEFAULT_MAX_EVENTS = 400_000
BULK = 10_000  # rows read at once beyond which the collector is paused, then spared them
DEFAULT_CHECKPOINT_EVERY = 10_000  # events a negotiation grows by between checkpoints
CHECKPOINT_MIN_EVENTS = 1_000  # smaller negotiations fold in milliseconds: none kept
CHECKPOINT_POLL_SECONDS = 1.0  # how often the checkpoint thread looks at the log's head

logger = logging.getLogger("parley.as_of")


class AsOf:
    """State, timeline and diff of any negotiation at any (as_of, known_at, reported_at)."""

    def __init__(
        self,
        log: ConflictLog,
        *,
        max_negotiations: int = DEFAULT_MAX_NEGOTIATIONS,
        max_events: int = DEFAULT_MAX_EVENTS,
    ) -> None:
        self.log = log
        self.max_negotiations = max_negotiations
        self.max_events = max_events
        self._engines: OrderedDict[str, AsOfEngine] = OrderedDict()
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._heads: OrderedDict[str, HeadFold] = OrderedDict()
        self._head_locks: dict[str, threading.Lock] = {}
        self._checkpointer: threading.Thread | None = None
        self._stop = threading.Event()
        self._min_events = CHECKPOINT_MIN_EVENTS
        checkpoints.fold_version()  # read the fold's source now, not in the first answer

    def engine(self, slug: str) -> AsOfEngine:
        """The negotiation's engine, caught up with the store."""
        with self._guard:
            lock = self._locks.setdefault(slug, threading.Lock())
            engine = self._engines.get(slug)
            if engine is not None:
                self._engines.move_to_end(slug)
        metrics.AS_OF_CACHE.labels(outcome="miss" if engine is None else "hit").inc()
        with lock:
            if engine is None:
                engine = AsOfEngine(slug)
            fresh = self.log.engine_rows(slug, EngineRow, after_version=engine.version)
            if engine.version and any(row.type in REDACTIONS for row in fresh):
                # A person's key was destroyed: what the engine holds (events, states
                # and their JSON) may show their fields; read the negotiation anew.
                engine = AsOfEngine(slug)
                fresh = self.log.engine_rows(slug, EngineRow)
            if fresh:
                with paused_gc(len(fresh) > BULK):
                    engine.add_rows(fresh)
                if len(fresh) > BULK:
                    # The engine's objects live as long as it does: moved out of the
                    # collector's sight, they no longer make every collection walk them
                    # (a full collection over 100k events' objects took seconds).
                    gc.freeze()
            if not len(engine):
                raise NegotiationNotFoundError(slug)
        with self._guard:
            self._engines[slug] = engine
            self._heads.pop(slug, None)  # the engine answers every query now
            self._evict()
        return engine

    def _cached_engine(self, slug: str) -> bool:
        with self._guard:
            return slug in self._engines

    def head_state(
        self, slug: str, as_of: datetime, known_at: datetime, reported_at: datetime | None
    ) -> State | None:
        """The answer from the negotiation's head fold (read from its checkpoint, caught
        up with the store), or None: no usable checkpoint, or a query the whole fold
        does not answer. Under the head's lock: an answer never sees a fold half on."""
        with self._guard:
            lock = self._head_locks.setdefault(slug, threading.Lock())
        with lock:
            head = self._head(slug, utc_key(known_at))
            if head is None or not head.serves(as_of, known_at, reported_at):
                return None
            return head.state(as_of, known_at, reported_at)

    def _head(self, slug: str, horizon: str) -> HeadFold | None:
        """The head fold caught up with the rows recorded by ``horizon`` (a ``utc_key``):
        those recorded since the answer's "now" are left for the next one, which would
        otherwise have to read the engine (recorded_at never decreases along versions,
        so the head stays a prefix of the log)."""
        with self._guard:
            head = self._heads.get(slug)
        if head is None:
            head = self._stored_head(slug)
            if head is None:
                return None
        fresh = self.log.engine_rows(slug, EngineRow, after_version=head.version)
        fresh = fresh[: bisect.bisect_right([row.recorded for row in fresh], horizon)]
        try:
            extended = not fresh or head.extend(fresh)
        except Exception:  # a checkpoint's lazy part that does not decode: never served
            logger.exception("as-of checkpoint not folded on", extra={"fields": {"slug": slug}})
            extended = False
        if not extended:
            with self._guard:
                self._heads.pop(slug, None)
            if any(row.type in REDACTIONS for row in fresh):
                self._drop_checkpoint(slug, "a redaction came after it")
            return None
        with self._guard:
            self._heads[slug] = head
            self._heads.move_to_end(slug)
            while len(self._heads) > self.max_negotiations:
                self._heads.popitem(last=False)
        return head

    def _stored_head(self, slug: str) -> HeadFold | None:
        store = self.log.checkpoints
        try:
            stored = store.read(slug)
        except Exception:  # a store without the table (read-only, older): no checkpoint
            logger.exception("as-of checkpoint unreadable", extra={"fields": {"slug": slug}})
            return None
        if stored is None:
            return None
        why = checkpoints.problem(stored, store)
        if why is None:
            try:
                with paused_gc():
                    return checkpoints.decode(stored.body)
            except Exception as error:
                why = f"it does not decode ({type(error).__name__}: {error})"
        self._drop_checkpoint(slug, why, version=stored.version)
        return None

    def _drop_checkpoint(self, slug: str, why: str, *, version: int | None = None) -> None:
        logger.warning(
            "as-of checkpoint ignored and dropped: %s",
            why,
            extra={"fields": {"negotiation": slug, "version": version, "why": why}},
        )
        try:
            self.log.checkpoints.delete(slug)
        except Exception:  # a read-only store: it stays, and is ignored again next time
            logger.exception("as-of checkpoint not dropped", extra={"fields": {"slug": slug}})

    # Writing checkpoints, off the request path.
    def checkpoint(self, slug: str) -> bool:
        """Write the negotiation's checkpoint from its engine (read or caught up now);
        whether one was stored (not when the stored one is as new, nor over a redaction)."""
        head = self.engine(slug).head()
        if head is None:
            return False
        store = self.log.checkpoints
        event_hash = store.event_hash(slug, head.version)
        if event_hash is None:
            return False
        return store.write(checkpoints.checkpoint_of(head, event_hash))

    def start_checkpoints(
        self,
        every: int = DEFAULT_CHECKPOINT_EVERY,
        *,
        poll: float = CHECKPOINT_POLL_SECONDS,
        min_events: int = CHECKPOINT_MIN_EVENTS,
    ) -> None:
        """Write checkpoints in a thread of their own: a negotiation's when it has grown
        by ``every`` events since its last, and every stale one held in memory when the
        log falls idle (no append for ``poll`` seconds); none for negotiations of fewer
        than ``min_events``. ``close`` stops it."""
        if self._checkpointer is not None or every < 1:
            return
        self._stop.clear()
        self._min_events = min_events
        self._checkpointer = threading.Thread(
            target=self._checkpoints, args=(every, poll), name="as-of-checkpoints", daemon=True
        )
        self._checkpointer.start()

    def close(self) -> None:
        """Stop the checkpoint thread, after writing the checkpoints of the engines in
        memory that are behind (no engine is read for it)."""
        if self._checkpointer is None:
            return
        self._stop.set()
        self._checkpointer.join()
        self._checkpointer = None
        try:
            self._write_stale(every=1, loaded_only=True)
        except Exception:
            logger.exception("as-of checkpoints not written at close")

    def _checkpoints(self, every: int, poll: float) -> None:
        seen, done = -1, -1
        while not self._stop.wait(poll):
            try:
                position = self.log.last_position()
                idle, seen = position == seen, position
                if position != done and (idle or position - done >= every):
                    # Idle: bring the engines in memory up to date (cheap); busy: only
                    # the negotiations a whole ``every`` behind, read if need be.
                    self._write_stale(every=1 if idle else every, loaded_only=idle)
                    if idle:
                        self._write_stale(every=every, loaded_only=False)
                    done = position
            except Exception:
                logger.exception("as-of checkpoints not written")

    def _write_stale(self, *, every: int, loaded_only: bool) -> None:
        store = self.log.checkpoints
        stored = store.versions()
        fold = checkpoints.fold_version()
        for slug, version in store.heads().items():
            if self._stop.is_set() and not loaded_only:
                return
            if version < self._min_events:
                continue
            written, written_fold = stored.get(slug, (0, fold))
            if written_fold != fold:
                written = 0
            if version - written < every:
                continue
            if loaded_only and not self._cached_engine(slug):
                continue
            self.checkpoint(slug)

    def _evict(self) -> None:
        """Forget the least recently asked engines beyond the bounds (never the newest)."""
        total = sum(len(engine) for engine in self._engines.values())
        while len(self._engines) > 1 and (
            len(self._engines) > self.max_negotiations or total > self.max_events
        ):
            _, dropped = self._engines.popitem(last=False)
            total -= len(dropped)
            metrics.AS_OF_CACHE.labels(outcome="eviction").inc()

    @property
    def cached_events(self) -> int:
        """How many events the cached engines hold in all."""
        with self._guard:
            return sum(len(engine) for engine in self._engines.values())

    def state(
        self,
        slug: str,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
        reported_at: datetime | None = None,
    ) -> State:
        """The state at valid time ``as_of`` as known at ``known_at``, of what was reported
        by ``reported_at`` (all default to now; the last two are clamped to now)."""
        now = datetime.now(UTC)
        as_of = as_of or now
        known_at, reported_at = clamped(known_at, now), clamped(reported_at, now)
        if not self._cached_engine(slug):
            # Cold: the whole fold may answer, from a checkpoint and the events after it.
            state = self.head_state(slug, as_of, known_at, reported_at)
            if state is not None and state.event_count:
                metrics.AS_OF_CACHE.labels(outcome="checkpoint").inc()
                return state
        state = self.engine(slug).state(as_of, known_at, reported_at)
        if state.event_count == 0:
            # Before the opening (or before anything was known) the answer is empty,
            # but it still names what was asked.
            return initial_state(slug, as_of=as_of, known_at=known_at, reported_at=reported_at)
        return state

    def timeline(
        self,
        slug: str,
        from_: datetime | None = None,
        to: datetime | None = None,
        known_at: datetime | None = None,
        latest: int | None = None,
        reported_at: datetime | None = None,
    ) -> Timeline:
        """The dated events whose valid time overlaps [from_, to], as known at known_at
        and reported by reported_at (both clamped to now); only the ``latest`` in valid
        time when given (the answer's ``total`` counts all).

        Read from the store: every dispute, correction and retraction known then (they
        act whatever valid time they name), and the events that begin by ``to``.
        """
        now = datetime.now(UTC)
        known_at, reported_at = clamped(known_at, now), clamped(reported_at, now)
        facts = self.log.negotiation_events(
            slug, types=sorted(LOG_FACTS), recorded_lte=known_at, reported_lte=reported_at
        )
        if latest is None or from_ is not None:
            world = self.log.negotiation_events(
                slug, valid_lte=to, recorded_lte=known_at, reported_lte=reported_at
            )
            answer = timeline(
                _merged(world, facts),
                from_=from_,
                to=to,
                known_at=known_at,
                reported_at=reported_at,
            )
            return answer if latest is None else answer.latest(latest)
        # Only the latest: the index picks them (an entry's place in the timeline is its
        # stored valid time, which a correction does not move), with every proposal, by
        # which answers are coded. A 100,000-event negotiation reads 300, not 100,000.
        world_types = sorted(set(RECORDED_TYPES) - KNOWLEDGE)
        newest = self.log.records(
            negotiation=slug,
            types=world_types,
            valid_lte=to,
            latest_in_valid_time=True,
            limit=latest,
            recorded_lte=known_at,
            reported_lte=reported_at,
        )
        proposals = self.log.negotiation_events(
            slug,
            types=["ProposalMade"],
            valid_lte=to,
            recorded_lte=known_at,
            reported_lte=reported_at,
        )
        answer = timeline(
            _merged(newest + proposals, facts), to=to, known_at=known_at, reported_at=reported_at
        )
        total = self.log.count_records(
            negotiation=slug,
            types=world_types,
            valid_lte=to,
            recorded_lte=known_at,
            reported_lte=reported_at,
        )
        return replace(answer.latest(latest), total=total)

    def diff(
        self,
        slug: str,
        from_: datetime,
        to: datetime,
        known_at: datetime | None = None,
        reported_at: datetime | None = None,
    ) -> Diff:
        """What changed between valid times ``from_`` and ``to`` under one knowledge."""
        now = datetime.now(UTC)
        known_at, reported_at = clamped(known_at, now), clamped(reported_at, now)
        return diff_states(
            self.state(slug, from_, known_at, reported_at),
            self.state(slug, to, known_at, reported_at),
        )


def _merged(*groups: list[Recorded]) -> list[Recorded]:
    """The records of several reads, each once, in version order."""
    merged = {r.originator_version: r for group in groups for r in group}
    return [merged[version] for version in sorted(merged)]
