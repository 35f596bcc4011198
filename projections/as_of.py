"""The as-of engine: a negotiation's state at valid time V, as the log knew it at time K.

``naive_state`` is the reference and stays in the code for good: keep the records
recorded by K, apply the corrections and retractions among them, keep the world events
that happened by V and still count, sort them by ``(valid_from, position)`` and fold.
``AsOfEngine`` gives the same answers fast. It keeps one negotiation's records in
memory, sorted along valid time, with checkpoints of the folded state every
``spacing`` events, so that a query copies one checkpoint and folds fewer than
``spacing`` events. Checkpoints hold for one knowledge horizon only: the engine's
main fold knows every record it was given and serves ``known_at`` at or after the
latest ``recorded_at``; an older ``known_at`` means "the records up to position P"
(recorded_at never decreases along positions), and gets a fold of its own, kept in
a small LRU keyed by P.

The third clock, ``reported_at`` (R), keeps a record only when it was reported by R
(``domain.reported``): corrections, retractions and disputes by their own reported
time. When R is at or after every known record's reported time (the common case, as
R defaults to now) nothing is left out and the folds above serve it. Otherwise the
known records reported by R are a subset, not a prefix: it gets a fold of its own in
the same LRU, keyed by the horizon and the latest distinct reported time at or before
R, so that every R between two reported times shares one fold. Property tests hold
the engine equal to the reference.
"""

from __future__ import annotations

import bisect
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from domain.events import (
    KNOWLEDGE,
    AnyEvent,
    ClaimDisputed,
    EventCorrected,
    EventRetracted,
    corrected,
)
from domain.instants import utc_key
from domain.negotiation import Recorded
from domain.reported import reported_time
from domain.values import parse_instant as parse_instant
from projections.rows import EngineRow
from projections.state import Accumulator, State, apply_event
from store.index import CONTENT_FREE

_AFTER_ALL = sys.maxsize  # greater than any position: bisects past every event at an instant

DEFAULT_SPACING = 512
"""Events between checkpoints: a query folds fewer than this many events."""


def check_instant(value: datetime, name: str) -> datetime:
    """Refuse a naive datetime: it cannot be compared with the log's UTC times."""
    if value.utcoffset() is None:
        raise ValueError(f"{name} must carry a UTC offset, got {value.isoformat()}")
    return value


def correct(event: AnyEvent, fields: dict[str, Any]) -> AnyEvent:
    """``event`` with a correction's fields applied.

    A correction whose fields do not validate for the event's type (the store does
    not check them against the target) is ignored, so that no stored event can make
    a projection fail.
    """
    try:
        return corrected(event, fields)
    except ValidationError:
        return event


def is_world_event(event: AnyEvent) -> bool:
    """Whether the event is folded along valid time (disputes are: they are claims)."""
    return event.type not in KNOWLEDGE


def record_position(recorded: Recorded) -> int:
    """The global log position the store gave the record."""
    if recorded.position is None:
        raise ValueError(
            f"event {recorded.event.id} has no log position: projections need records "
            "read back from the store"
        )
    return recorded.position


class Knowledge:
    """What the log says about its own events, from the records given in position order.

    ``events`` maps every id to its event with the corrections applied (in position
    order); ``corrected_by`` and ``retracted_by`` name the log facts that did so.
    """

    def __init__(self, known: Iterable[Recorded]) -> None:
        self.events: dict[UUID, AnyEvent] = {}
        self.corrected_by: dict[UUID, list[UUID]] = {}
        self.retracted_by: dict[UUID, UUID] = {}
        for recorded in known:
            event = recorded.event
            if isinstance(event, EventCorrected):
                target = event.data.event_id
                self.corrected_by.setdefault(target, []).append(event.id)
                if target in self.events:
                    self.events[target] = correct(self.events[target], event.data.data)
            elif isinstance(event, EventRetracted):
                self.retracted_by.setdefault(event.data.event_id, event.id)
            self.events[event.id] = event

    def counts(self, event_id: UUID) -> bool:
        """Whether an event still counts: not retracted, nor (for a dispute) its claim.

        A retracted event takes its disputes with it, and their disputes in turn. A
        cycle of disputes (only corrections can make one) counts unless one is retracted.
        """
        seen: set[UUID] = set()
        while event_id not in self.retracted_by:
            event = self.events.get(event_id)
            if not isinstance(event, ClaimDisputed) or event_id in seen:
                return True
            seen.add(event_id)
            event_id = event.data.event_id
        return False


def reported(recorded: Recorded) -> datetime:
    """When a record was reported (``domain.reported``)."""
    return reported_time(recorded.event.sources, recorded.recorded_at)


def naive_state(
    records: Iterable[Recorded],
    slug: str,
    as_of: datetime,
    known_at: datetime,
    reported_at: datetime | None = None,
) -> State:
    """THE REFERENCE: fold exactly the events with valid_from <= as_of, recorded_at <=
    known_at and reported by ``reported_at`` (None: no bound).

    Corrections and retractions recorded by ``known_at`` and reported by
    ``reported_at`` apply whatever valid time they name; the world events left are
    folded in ``(valid_from, position)`` order.
    """
    check_instant(as_of, "as_of")
    check_instant(known_at, "known_at")
    if reported_at is not None:
        check_instant(reported_at, "reported_at")
    known = sorted(
        (
            r
            for r in records
            if r.negotiation == slug
            and r.recorded_at <= known_at
            and (reported_at is None or reported(r) <= reported_at)
        ),
        key=record_position,
    )
    knowledge = Knowledge(known)
    included = [
        r
        for r in known
        if is_world_event(r.event) and r.event.valid_from <= as_of and knowledge.counts(r.event.id)
    ]
    included.sort(key=lambda r: (r.event.valid_from, record_position(r)))
    acc = Accumulator(slug)
    for recorded in included:
        acc.apply(knowledge.events[recorded.event.id], recorded)
    return acc.snapshot(as_of, known_at, reported_at)


def engine_rows(
    records: Iterable[Recorded], located: dict[UUID, tuple[int, str]] | None = None
) -> list[EngineRow]:
    """The rows the event index gives the engine (``EventIndex.engine_rows``), made from
    records in position order: targets resolved among them and in ``located`` (event id
    to position and valid time key, updated), content kept where the fold needs it."""
    located = {} if located is None else located
    rows = []
    for recorded in records:
        event = recorded.event
        position = record_position(recorded)
        valid = utc_key(event.valid_from)
        located[event.id] = (position, valid)
        subject = event.subject_id
        target = located.get(subject) if subject is not None else None
        rows.append(
            EngineRow(
                position=position,
                version=recorded.originator_version,
                type=event.type,
                valid=valid,
                recorded=utc_key(recorded.recorded_at),
                target=None if target is None else target[0],
                target_valid=None if target is None else target[1],
                record=None if event.type in CONTENT_FREE else recorded,
                reported=utc_key(reported(recorded)),
            )
        )
    return rows


_Entry = tuple[str, int, Recorded | None]
"""A world event in the valid-time index: (valid time key, position, record or None)."""


class _Fold:
    """A checkpointed fold of every row it was given: its knowledge is all of them.

    ``entries`` holds the world events in ``(valid, position)`` order, retracted ones
    included (the fold skips what does not count); an entry keeps its record only when
    the fold needs the content (``CONTENT_FREE`` types are counted). ``checkpoints[k]``
    is the state after ``entries[:k * spacing]``; any change to an entry drops the
    checkpoints past it, and queries rebuild them lazily. Events are named by position.
    """

    def __init__(self, slug: str, spacing: int) -> None:
        self.slug = slug
        self.spacing = spacing
        self.entries: list[_Entry] = []
        self.content: dict[int, Recorded] = {}  # world events whose content the fold reads
        self.effective: dict[int, AnyEvent] = {}  # disputes and corrected events, as now
        self.retracted: set[int] = set()
        self.disputes_of: dict[int, dict[int, str]] = {}  # claim -> {dispute: its valid key}
        self.dispute_target: dict[int, int | None] = {}
        # Retracted, corrected and disputing events: the only ones the fold must look
        # up; every other event is folded as recorded.
        self.special: set[int] = set()
        self.checkpoints: list[Accumulator] = [Accumulator(slug)]

    def add(self, rows: Sequence[EngineRow]) -> None:
        """Learn rows (checked by the caller: this negotiation, in position order)."""
        touched: list[tuple[str, int]] = []
        fresh: list[_Entry] = []
        for row in rows:
            kind = row.type
            if kind == "EventCorrected":
                if row.target is not None and row.target in self.content:
                    assert row.record is not None and row.target_valid is not None
                    event = row.record.event
                    assert isinstance(event, EventCorrected)
                    self._correct(row.target, event.data.data)
                    touched.append((row.target_valid, row.target))
            elif kind == "EventRetracted":
                if row.target is not None and row.target_valid is not None:
                    self.retracted.add(row.target)
                    self.special.add(row.target)
                    touched.append((row.target_valid, row.target))
            elif kind in KNOWLEDGE:
                continue  # a redaction: nothing to fold (the service reads the rest again)
            else:
                entry = (row.valid, row.position, row.record)
                fresh.append(entry)
                if row.record is not None:
                    self.content[row.position] = row.record
                if kind == "ClaimDisputed":
                    assert row.record is not None
                    self.dispute_target[row.position] = row.target
                    if row.target is not None:
                        self.disputes_of.setdefault(row.target, {})[row.position] = row.valid
                    self.effective[row.position] = row.record.event
                    self.special.add(row.position)
                touched.append((row.valid, row.position))
        self._insert(fresh)
        self._invalidate(touched)

    def _correct(self, target: int, fields: dict[str, Any]) -> None:
        before = self.effective.get(target) or self.content[target].event
        self.effective[target] = correct(before, fields)
        self.special.add(target)

    def _insert(self, fresh: list[_Entry]) -> None:
        entries = self.entries
        if len(fresh) > 32:
            # A bulk load: one sort (timsort runs fast on nearly ordered input) beats
            # many list insertions. Keys are unique, so tuples never compare records.
            entries.extend(fresh)
            entries.sort(key=_entry_key)
            return
        for entry in fresh:
            if not entries or entry[:2] > entries[-1][:2]:
                entries.append(entry)
            else:
                entries.insert(bisect.bisect_left(entries, entry[:2], key=_entry_key), entry)

    def _invalidate(self, touched: list[tuple[str, int]]) -> None:
        """Drop the checkpoints past the earliest entry whose fold input may have changed.

        A change to an event (new, corrected, retracted) changes whether its disputes,
        and theirs, still count: they are affected too, wherever they lie in valid time.
        """
        if not touched:
            return
        affected = {position: valid for valid, position in touched}
        pending = [position for position in affected if position in self.disputes_of]
        while pending:
            for dispute, valid in self.disputes_of.get(pending.pop(), {}).items():
                if dispute not in affected:
                    affected[dispute] = valid
                    pending.append(dispute)
        first_key = min((valid, position) for position, valid in affected.items())
        first = bisect.bisect_left(self.entries, first_key, key=_entry_key)
        del self.checkpoints[first // self.spacing + 1 :]

    def counts(self, position: int) -> bool:
        """Whether an event counts (same rule as ``Knowledge.counts``)."""
        return _counts(position, self.retracted, self.dispute_target)

    def state(
        self, as_of: datetime, known_at: datetime, reported_at: datetime | None = None
    ) -> State:
        """The state at ``as_of``: one checkpoint copied, fewer than ``spacing`` events folded."""
        stop = bisect.bisect_right(self.entries, (utc_key(as_of), _AFTER_ALL), key=_entry_key)
        return self.accumulated(stop).snapshot(as_of, known_at, reported_at)

    def accumulated(self, stop: int) -> Accumulator:
        """A working copy of the fold of ``entries[:stop]``."""
        spacing = self.spacing
        checkpoints = self.checkpoints
        wanted = stop // spacing
        if wanted < len(checkpoints):
            acc = checkpoints[wanted].copy()
            start = wanted * spacing
        else:
            acc = checkpoints[-1].copy()
            start = (len(checkpoints) - 1) * spacing
            while len(checkpoints) <= wanted:
                self._fold(acc, start, start + spacing)
                start += spacing
                checkpoints.append(acc.copy())
        self._fold(acc, start, stop)
        return acc

    def _fold(self, acc: Accumulator, start: int, stop: int) -> None:
        special = self.special
        for _, position, recorded in self.entries[start:stop]:
            if position in special:
                if position in self.retracted:
                    continue
                if position in self.dispute_target and not self.counts(position):
                    continue
            if recorded is None:
                acc.count += 1  # a statement or a contact: the state only counts it
                if acc.position is None or position > acc.position:
                    acc.position = position
                continue
            apply_event(acc, self.effective.get(position) or recorded.event, recorded)


def _entry_key(entry: _Entry | tuple[str, int]) -> tuple[str, int]:
    return entry[0], entry[1]


class HeadFold:
    """The main fold at a negotiation's head: every world event it was given, folded
    along valid time, and nothing of the way there. It answers exactly the queries whose
    answer is that whole fold (``serves``): ``as_of`` at or after its last valid time,
    ``known_at`` at or after its last ``recorded_at``, ``reported_at`` at or after its
    last reported time (or None), as ``AsOfEngine.state`` would. The state now is such a
    query, and the one a reader asks first.

    It is what a checkpoint keeps (``projections.checkpoints``): a negotiation's first
    answer after a restart reads it and the events after it, not the whole negotiation.
    ``extend`` folds later rows on when they only add world events after its last one in
    valid time; otherwise (a back-dated event, a correction or retraction of a known
    event, a redaction) it refuses, and the whole engine must be read instead.
    """

    def __init__(
        self,
        acc: Accumulator,
        *,
        version: int,
        position: int,
        last_entry: tuple[str, int] | None,
        recorded: str,
        reported: str,
        retracted: set[int],
        dispute_target: dict[int, int | None],
        pending: Callable[[Accumulator], None] | None = None,
    ) -> None:
        self.acc = acc
        # What the accumulator still lacks that only folding needs (a checkpoint reads
        # the disputes by claim only when an event is folded on): called first.
        self.pending = pending
        self.version = version
        self.position = position
        self.last_entry = last_entry  # the latest (valid key, position) folded
        self.recorded = recorded  # the latest recorded key among the rows
        self.reported = reported  # the latest reported key among the rows
        self.retracted = retracted
        self.dispute_target = dispute_target

    @property
    def slug(self) -> str:
        return self.acc.slug

    def serves(self, as_of: datetime, known_at: datetime, reported_at: datetime | None) -> bool:
        """Whether the answer to this query is the whole fold."""
        return (
            (self.last_entry is None or utc_key(as_of) >= self.last_entry[0])
            and utc_key(known_at) >= self.recorded
            and (reported_at is None or utc_key(reported_at) >= self.reported)
        )

    def state(
        self, as_of: datetime, known_at: datetime, reported_at: datetime | None = None
    ) -> State:
        """The answer to a query it ``serves``."""
        return self.acc.snapshot(as_of, known_at, reported_at)

    def extend(self, rows: Sequence[EngineRow]) -> bool:
        """Fold rows of this negotiation after its version, in position order, when they
        only add world events after the last one in valid time; False (and nothing
        changed) otherwise."""
        world: list[EngineRow] = []
        for row in rows:
            kind = row.type
            if kind == "EventCorrected":
                if row.target is not None:
                    return False  # it may change an event folded long ago
            elif kind == "EventRetracted":
                if row.target is not None and row.target_valid is not None:
                    return False
            elif kind in KNOWLEDGE:
                return False  # a redaction: the fold may show what it destroyed
            else:
                world.append(row)
        world.sort(key=lambda row: (row.valid, row.position))
        if world and self.last_entry is not None and (world[0].valid, world[0].position) < (
            self.last_entry
        ):
            return False  # back-dated: it belongs before events already folded
        acc = self.acc
        if world and self.pending is not None:
            self.pending(acc)
            self.pending = None
        for row in world:
            if row.type == "ClaimDisputed":
                self.dispute_target[row.position] = row.target
                if not self._counts(row.position):
                    continue
            if row.record is None:
                acc.count += 1
                if acc.position is None or row.position > acc.position:
                    acc.position = row.position
            else:
                apply_event(acc, row.record.event, row.record)
        if world:
            self.last_entry = (world[-1].valid, world[-1].position)
        if rows:
            last = rows[-1]
            self.version, self.position, self.recorded = last.version, last.position, last.recorded
            self.reported = max(self.reported, *(row.reported_key for row in rows))
        return True

    def _counts(self, position: int) -> bool:
        """Whether a dispute counts (``_Fold.counts``)."""
        return _counts(position, self.retracted, self.dispute_target)


class AsOfEngine:
    """Answers ``state(as_of, known_at, reported_at)`` for one negotiation, equal to
    ``naive_state``.

    Feed it the negotiation's rows (``EventIndex.engine_rows``) or records in position
    order; it may be fed again later (a back-dated event drops only the checkpoints
    after its valid time). It keeps what the fold needs and no more: a few integers per
    event, and the stored record of the events whose content makes the state (rounds,
    proposals, documents, zones, ceasefires, disputes, corrections).
    ``horizons`` bounds how many past (horizon, reported cut) pairs keep a fold of their own.
    Queries build checkpoints lazily, so a lock serialises ``add`` and ``state``: one
    engine may be shared between threads.
    """

    def __init__(self, slug: str, *, spacing: int = DEFAULT_SPACING, horizons: int = 4) -> None:
        if spacing < 1 or horizons < 1:
            raise ValueError("spacing and horizons must be at least 1")
        self.slug = slug
        self.spacing = spacing
        self.horizons = horizons
        self._rows: list[EngineRow] = []
        self._recorded: list[str] = []
        self._reported_max: list[str] = []  # the latest reported key among rows[:i + 1]
        self._reported_keys: list[str] = []  # the distinct reported keys, sorted
        self._reported_seen: set[str] = set()
        self._located: dict[UUID, tuple[int, str]] = {}  # only for records given to ``add``
        self._latest = _Fold(slug, spacing)
        self._past: OrderedDict[tuple[int, str | None], _Fold] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def position(self) -> int | None:
        """The position of the last event added."""
        return self._rows[-1].position if self._rows else None

    @property
    def version(self) -> int:
        """The negotiation version of the last event added (0 when empty)."""
        return self._rows[-1].version if self._rows else 0

    @property
    def checkpoints(self) -> int:
        """How many checkpoints of the latest knowledge are built and valid now."""
        return len(self._latest.checkpoints)

    def head(self) -> HeadFold | None:
        """The main fold at the head, independent of the engine (None when it is empty):
        what a checkpoint keeps."""
        with self._lock:
            if not self._rows:
                return None
            fold = self._latest
            last = self._rows[-1]
            return HeadFold(
                fold.accumulated(len(fold.entries)),
                version=last.version,
                position=last.position,
                last_entry=_entry_key(fold.entries[-1]) if fold.entries else None,
                recorded=last.recorded,
                reported=self._reported_max[-1],
                retracted=set(fold.retracted),
                dispute_target=dict(fold.dispute_target),
            )

    def add(self, records: Iterable[Recorded]) -> None:
        """Append records of this negotiation, in position order (all or nothing)."""
        batch = list(records)
        for recorded in batch:
            if recorded.negotiation != self.slug:
                raise ValueError(
                    f"event {recorded.event.id} belongs to {recorded.negotiation!r}, "
                    f"not {self.slug!r}"
                )
        located = dict(self._located)
        rows = engine_rows(batch, located)
        self.add_rows(rows)
        self._located = located

    def add_rows(self, rows: Sequence[EngineRow]) -> None:
        """Append index rows of this negotiation, in position order (all or nothing)."""
        with self._lock:
            self._check(rows)
            self._rows.extend(rows)
            self._recorded.extend(row.recorded for row in rows)
            latest = self._reported_max[-1] if self._reported_max else ""
            fresh: set[str] = set()
            for row in rows:
                key = row.reported_key
                latest = max(latest, key)
                self._reported_max.append(latest)
                if key not in self._reported_seen:
                    fresh.add(key)
            self._reported_seen |= fresh
            if len(fresh) > 32:
                self._reported_keys = sorted(self._reported_seen)
            else:
                for key in fresh:
                    bisect.insort(self._reported_keys, key)
            self._latest.add(rows)

    def _check(self, rows: Sequence[EngineRow]) -> None:
        last_position = self.position
        last_recorded = self._recorded[-1] if self._recorded else None
        for row in rows:
            if last_position is not None and row.position <= last_position:
                raise ValueError(f"positions must increase: {row.position} after {last_position}")
            if last_recorded is not None and row.recorded < last_recorded:
                raise ValueError("recorded_at must not decrease along positions")
            last_position, last_recorded = row.position, row.recorded

    def state(
        self, as_of: datetime, known_at: datetime, reported_at: datetime | None = None
    ) -> State:
        """The state at valid time ``as_of`` as known at ``known_at``, counting what was
        reported by ``reported_at`` (aware datetimes; None: no third bound)."""
        check_instant(as_of, "as_of")
        check_instant(known_at, "known_at")
        if reported_at is not None:
            check_instant(reported_at, "reported_at")
        # Knowledge at K is exactly the rows before this index: recorded_at never
        # decreases along positions.
        with self._lock:
            horizon = bisect.bisect_right(self._recorded, utc_key(known_at))
            cut = self._cut(horizon, reported_at)
            if horizon == len(self._rows) and cut is None:
                return self._latest.state(as_of, known_at, reported_at)
            return self._past_fold(horizon, cut).state(as_of, known_at, reported_at)

    def _cut(self, horizon: int, reported_at: datetime | None) -> str | None:
        """The latest distinct reported key at or before ``reported_at`` ("" when none is),
        or None when ``reported_at`` leaves none of the first ``horizon`` rows out."""
        if reported_at is None or horizon == 0:
            return None
        bound = utc_key(reported_at)
        if bound >= self._reported_max[horizon - 1]:
            return None
        # Every R between two reported keys keeps the same rows: one fold serves them.
        # (Keyed by the key itself, not by how many keys lie below it: that count moves
        # when an earlier-reported row arrives, and the cached fold would then lie.)
        below = bisect.bisect_right(self._reported_keys, bound)
        return self._reported_keys[below - 1] if below else ""

    def _past_fold(self, horizon: int, cut: str | None) -> _Fold:
        fold = self._past.get((horizon, cut))
        if fold is not None:
            self._past.move_to_end((horizon, cut))
            return fold
        fold = _Fold(self.slug, self.spacing)
        rows = self._rows[:horizon]
        fold.add(rows if cut is None else [row for row in rows if row.reported_key <= cut])
        self._past[(horizon, cut)] = fold
        if len(self._past) > self.horizons:
            self._past.popitem(last=False)
        return fold


def _counts(
    position: int, retracted: Container[int], dispute_target: Mapping[int, int | None]
) -> bool:
    """Whether an event counts: not retracted, and not a dispute of an event that does
    not count (a chain of disputes is followed to its end; a cycle counts)."""
    seen: set[int] = set()
    while position not in retracted:
        if position not in dispute_target or position in seen:
            return True
        seen.add(position)
        target = dispute_target[position]
        if target is None:
            return True
        position = target
    return False
