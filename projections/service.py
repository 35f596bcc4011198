"""As-of answers over the live log: one AsOfEngine per negotiation, kept current.

Before each answer the engine catches up with the store (the index rows after the last
version it holds), so a reader sees every committed append, its own included, whichever
process wrote it. A ``PersonRedacted`` among them makes the engine start again from the
store, so that nothing it holds shows a field sealed under the destroyed key. An
engine starts from the event index alone (``engine_rows``): a few integers per event,
and the stored record only of the events whose content makes the state. Engines are
kept for the most recently asked negotiations, within two bounds of the configuration:
how many negotiations, and how many events in all.
"""

from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from dataclasses import replace
from datetime import UTC, datetime

from domain.errors import NegotiationNotFoundError
from domain.events import KNOWLEDGE, LOG_FACTS, RECORDED_TYPES, REDACTIONS
from domain.instants import clamped
from domain.negotiation import Recorded
from projections import metrics
from projections.as_of import AsOfEngine
from projections.rows import EngineRow
from projections.state import State, initial_state
from projections.timeline import Diff, Timeline, diff_states, timeline
from store.gc_pause import paused_gc
from store.log import ConflictLog

DEFAULT_MAX_NEGOTIATIONS = 32  # ``api.settings.Settings`` takes its defaults from these
DEFAULT_MAX_EVENTS = 2_000_000
BULK = 10_000  # rows read at once beyond which the collector is paused, then spared them


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
            self._evict()
        return engine

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
        engine = self.engine(slug)
        as_of = as_of or now
        known_at, reported_at = clamped(known_at, now), clamped(reported_at, now)
        state = engine.state(as_of, known_at, reported_at)
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
