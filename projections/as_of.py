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
a small LRU keyed by P. Property tests hold the engine equal to the reference.
"""

from __future__ import annotations

import bisect
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from pydantic import ValidationError

from domain.events import AnyEvent, ClaimDisputed, EventCorrected, EventRetracted, corrected
from domain.negotiation import Recorded
from domain.values import end_of_day, start_of
from projections.state import Accumulator, State, apply_event

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_AFTER_ALL = sys.maxsize  # greater than any position: bisects past every event at an instant

DEFAULT_SPACING = 512
"""Events between checkpoints: a query folds fewer than this many events."""


def parse_instant(text: str, *, bound: Literal["end", "start"] = "end") -> datetime:
    """Read a query time: an ISO date, or an ISO datetime with a UTC offset, as UTC.

    A date means the end of that day in UTC, inclusive (``bound="start"``: its
    beginning, for the lower end of a range). Raises ValueError saying what to send.
    """
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        return end_of_day(day) if bound == "end" else start_of(day)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a date (2025-05-28) nor a datetime with a UTC offset "
            "(2025-05-28T12:57:00-04:00)"
        ) from None
    if moment.utcoffset() is None:
        raise ValueError(
            f"{text!r} has no UTC offset: add one, e.g. {value}Z or {value}+03:00, "
            "or give a date alone"
        )
    return moment.astimezone(UTC)


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
    return not isinstance(event, EventCorrected | EventRetracted)


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


def naive_state(
    records: Iterable[Recorded], slug: str, as_of: datetime, known_at: datetime
) -> State:
    """THE REFERENCE: fold exactly the events with valid_from <= as_of and recorded_at <= known_at.

    Corrections and retractions recorded by ``known_at`` apply whatever valid time
    they name; the world events left are folded in ``(valid_from, position)`` order.
    """
    check_instant(as_of, "as_of")
    check_instant(known_at, "known_at")
    known = sorted(
        (r for r in records if r.negotiation == slug and r.recorded_at <= known_at),
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
    return acc.snapshot(as_of, known_at)


def _micros(moment: datetime) -> int:
    """An instant as integer microseconds since the epoch: a cheap, exact sort key."""
    return (moment - _EPOCH) // _MICROSECOND


_Entry = tuple[int, int, Recorded]
"""A world event in the valid-time index: (valid_from in µs, position, record)."""


class _Fold:
    """A checkpointed fold of every record it was given: its knowledge is all of them.

    ``entries`` holds the world events in ``(valid_from, position)`` order, retracted
    ones included (the fold skips what does not count). ``checkpoints[k]`` is the
    state after ``entries[:k * spacing]``; any change to an entry drops the
    checkpoints past it, and queries rebuild them lazily. Events are keyed by
    ``UUID.int``: hashing an int is several times cheaper than hashing a UUID.
    """

    def __init__(self, slug: str, spacing: int) -> None:
        self.slug = slug
        self.spacing = spacing
        self.entries: list[_Entry] = []
        self.world: dict[int, _Entry] = {}  # each world event's entry, by id
        self.effective: dict[int, AnyEvent] = {}  # disputes and corrected events, as now
        self.retracted: set[int] = set()
        self.disputes_of: dict[int, set[int]] = {}  # claim -> the disputes naming it now
        # Retracted, corrected and disputing events: the only ones the fold must look
        # up; every other event is folded as recorded.
        self.special: set[int] = set()
        self.checkpoints: list[Accumulator] = [Accumulator(slug)]

    def add(self, records: Sequence[Recorded]) -> None:
        """Learn records (validated by the caller: this negotiation, in position order)."""
        touched: list[int] = []
        fresh: list[_Entry] = []
        for recorded in records:
            event = recorded.event
            if isinstance(event, EventCorrected):
                target = event.data.event_id.int
                self._correct(target, event.data.data)
                touched.append(target)
            elif isinstance(event, EventRetracted):
                target = event.data.event_id.int
                self.retracted.add(target)
                self.special.add(target)
                touched.append(target)
            else:
                event_id = event.id.int
                entry = (_micros(event.valid_from), record_position(recorded), recorded)
                self.world[event_id] = entry
                fresh.append(entry)
                if isinstance(event, ClaimDisputed):
                    self.disputes_of.setdefault(event.data.event_id.int, set()).add(event_id)
                    self.effective[event_id] = event
                    self.special.add(event_id)
                touched.append(event_id)
        self._insert(fresh)
        self._invalidate(touched)

    def _correct(self, target: int, fields: dict[str, Any]) -> None:
        entry = self.world.get(target)
        if entry is None:
            return  # unknown, or a fact about the log: nothing folded changes
        before = self.effective.get(target, entry[2].event)
        after = correct(before, fields)
        self.effective[target] = after
        self.special.add(target)
        if (
            isinstance(before, ClaimDisputed)
            and isinstance(after, ClaimDisputed)
            and before.data.event_id != after.data.event_id
        ):
            self.disputes_of[before.data.event_id.int].discard(target)
            self.disputes_of.setdefault(after.data.event_id.int, set()).add(target)

    def _insert(self, fresh: list[_Entry]) -> None:
        entries = self.entries
        if len(fresh) > 32:
            # A bulk load: one sort (timsort runs fast on nearly ordered input) beats
            # many list insertions. Keys are unique, so tuples never compare records.
            entries.extend(fresh)
            entries.sort()
            return
        for entry in fresh:
            if not entries or entry > entries[-1]:
                entries.append(entry)
            else:
                bisect.insort(entries, entry)

    def _invalidate(self, touched: list[int]) -> None:
        """Drop the checkpoints past the earliest entry whose fold input may have changed.

        A change to an event (new, corrected, retracted) changes whether its disputes,
        and theirs, still count: they are affected too, wherever they lie in valid time.
        """
        affected = set(touched)
        pending = [event_id for event_id in affected if event_id in self.disputes_of]
        while pending:
            for dispute in self.disputes_of.get(pending.pop(), ()):
                if dispute not in affected:
                    affected.add(dispute)
                    pending.append(dispute)
        changed = [self.world[event_id] for event_id in affected if event_id in self.world]
        if not changed:
            return
        first = bisect.bisect_left(self.entries, min(changed))
        del self.checkpoints[first // self.spacing + 1 :]

    def counts(self, event_id: int) -> bool:
        """Whether an event counts (same rule as ``Knowledge.counts``)."""
        seen: set[int] = set()
        while event_id not in self.retracted:
            event = self.effective.get(event_id)  # every dispute is there
            if not isinstance(event, ClaimDisputed) or event_id in seen:
                return True
            seen.add(event_id)
            event_id = event.data.event_id.int
        return False

    def state(self, as_of: datetime, known_at: datetime) -> State:
        """The state at ``as_of``: one checkpoint copied, fewer than ``spacing`` events folded."""
        stop = bisect.bisect_right(self.entries, (_micros(as_of), _AFTER_ALL))
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
        return acc.snapshot(as_of, known_at)

    def _fold(self, acc: Accumulator, start: int, stop: int) -> None:
        entries = self.entries
        special = self.special
        for index in range(start, stop):
            recorded = entries[index][2]
            event = recorded.event
            event_id = event.id.int
            if event_id in special:
                if event_id in self.retracted:
                    continue
                event = self.effective.get(event_id, event)
                if isinstance(event, ClaimDisputed) and not self.counts(event_id):
                    continue
            apply_event(acc, event, recorded)


class AsOfEngine:
    """Answers ``state(as_of, known_at)`` for one negotiation, equal to ``naive_state``.

    Feed it the negotiation's records in position order with ``add``; it may be fed
    again later (a back-dated event drops only the checkpoints after its valid time).
    ``horizons`` bounds how many past knowledge horizons keep a fold of their own
    (each costs about as much memory as the main fold: ~20 MB per 100k events).
    Queries build checkpoints lazily, so a lock serialises ``add`` and ``state``: one
    engine may be shared between threads.
    """

    def __init__(self, slug: str, *, spacing: int = DEFAULT_SPACING, horizons: int = 4) -> None:
        if spacing < 1 or horizons < 1:
            raise ValueError("spacing and horizons must be at least 1")
        self.slug = slug
        self.spacing = spacing
        self.horizons = horizons
        self._records: list[Recorded] = []
        self._recorded_at: list[datetime] = []
        self._latest = _Fold(slug, spacing)
        self._past: OrderedDict[int, _Fold] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    @property
    def position(self) -> int | None:
        """The position of the last record added."""
        return self._records[-1].position if self._records else None

    @property
    def version(self) -> int:
        """The negotiation version of the last record added (0 when empty)."""
        return self._records[-1].originator_version if self._records else 0

    @property
    def records(self) -> Sequence[Recorded]:
        """The records added so far, in position order (do not mutate)."""
        return self._records

    @property
    def checkpoints(self) -> int:
        """How many checkpoints of the latest knowledge are built and valid now."""
        return len(self._latest.checkpoints)

    def add(self, records: Iterable[Recorded]) -> None:
        """Append records of this negotiation, in position order (all or nothing)."""
        batch = list(records)
        with self._lock:
            self._check(batch)
            self._records.extend(batch)
            self._recorded_at.extend(r.recorded_at for r in batch)
            self._latest.add(batch)

    def _check(self, batch: list[Recorded]) -> None:
        last_position = self.position
        last_recorded = self._recorded_at[-1] if self._recorded_at else None
        for recorded in batch:
            if recorded.negotiation != self.slug:
                raise ValueError(
                    f"event {recorded.event.id} belongs to {recorded.negotiation!r}, "
                    f"not {self.slug!r}"
                )
            position = record_position(recorded)
            if last_position is not None and position <= last_position:
                raise ValueError(f"positions must increase: {position} after {last_position}")
            if last_recorded is not None and recorded.recorded_at < last_recorded:
                raise ValueError("recorded_at must not decrease along positions")
            last_position, last_recorded = position, recorded.recorded_at

    def state(self, as_of: datetime, known_at: datetime) -> State:
        """The state at valid time ``as_of`` as known at ``known_at`` (aware datetimes)."""
        check_instant(as_of, "as_of")
        check_instant(known_at, "known_at")
        # Knowledge at K is exactly the records before this index: recorded_at never
        # decreases along positions.
        with self._lock:
            horizon = bisect.bisect_right(self._recorded_at, known_at)
            if horizon == len(self._records):
                return self._latest.state(as_of, known_at)
            return self._past_fold(horizon).state(as_of, known_at)

    def _past_fold(self, horizon: int) -> _Fold:
        fold = self._past.get(horizon)
        if fold is not None:
            self._past.move_to_end(horizon)
            return fold
        fold = _Fold(self.slug, self.spacing)
        fold.add(self._records[:horizon])
        self._past[horizon] = fold
        if len(self._past) > self.horizons:
            self._past.popitem(last=False)
        return fold
