"""The Negotiation aggregate: the write side of one peace process's log.

It keeps only what its invariants need: the rounds scheduled and held and the
proposals made, each with the unretracted events that ground it (``Grounds``), the head
of its hash chain, and the ids (and types) of the events it knows of, with which of
them are retracted. Replayed from its events it knows them
all; the writer's aggregate knows only the stored events a request names, which the
writer looks up in the store and tells it (``recall``), and the events it recorded
since they were last stored: so it is opened from a ``WriteSideCheckpoint`` plus the
events after it, and holds no memory per event. Every event it accepts is wrapped in a
``Recorded``: the stored event of the ``eventsourcing`` library, carrying the server's
clock and the SHA-256 chain.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID, uuid5

import orjson
from pydantic import AfterValidator, Field, ValidationError

from domain.errors import InvalidEventError
from domain.events import (
    IDENTITY_FIELDS,
    KNOWLEDGE,
    AnyEvent,
    ClaimDisputed,
    EventCorrected,
    EventRetracted,
    HostAnnounced,
    NegotiationOpened,
    ProposalAnswered,
    ProposalMade,
    RoundHeld,
    RoundScheduled,
    corrected,
    encode_event,
    encode_json,
    types_where,
)
from domain.stored import build_event, current_schema, stored_time, upcast
from domain.values import refusal, start_of

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
"""A negotiation's slug: 1-64 lower-case letters, digits and inner hyphens. The
schema's pattern; Python matches it with ``fullmatch``, where ``$`` would also let a
trailing newline through."""
SLUG = re.compile(SLUG_PATTERN)

SLUG_RULE = "a slug is 1-64 lower-case letters, digits and inner hyphens, e.g. istanbul-2025"


def _slug(value: str) -> str:
    if not SLUG.fullmatch(value):
        raise ValueError(SLUG_RULE)
    return value


Slug = Annotated[
    str,
    AfterValidator(_slug),
    Field(
        examples=["istanbul-2025"],
        description="1-64 lower-case letters, digits and inner hyphens",
        json_schema_extra={"pattern": SLUG_PATTERN},
    ),
]
"""A slug in a request: in a path, or the body that opens a negotiation."""
_NAMESPACE = UUID("5b0c1e4e-4f3a-4c8e-9a51-70a3e1d0c0de")


def negotiation_id(slug: str) -> UUID:
    """The aggregate id of a negotiation, derived from its slug."""
    return uuid5(_NAMESPACE, slug)


def check_slug(slug: str) -> str:
    if not SLUG.fullmatch(slug):
        raise InvalidEventError(
            SLUG_RULE,
            field="slug",
            value=slug,
        )
    return slug


def canonical_json(value: Any) -> bytes:
    """Chain version 1's canonical form: the standard library's JSON with sorted keys, no
    spaces, UTF-8. Logs written before chain version 2 are hashed over these bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


CHAIN_VERSION = 2
"""How new events are hashed. Version 1 serialised the event with the standard library
(whose floats read ``1e-05`` where orjson writes ``0.00001``); version 2 hashes the
canonical bytes that ``encode_event`` made and the row stores, so they are made once."""


def chain_hash(
    *,
    negotiation: str,
    version: int,
    recorded_at: datetime,
    event_json: bytes,
    previous_hash: str | None,
    chain: int = CHAIN_VERSION,
    recorded_by: str | None = None,
    source: str | None = None,
) -> str:
    """SHA-256 of an event's canonical JSON envelope followed by the previous event's hash.

    The envelope is ``{"event", "negotiation", "recorded_at", "version"}`` with sorted
    keys, ``"recorded_by"`` when a named token recorded it and ``"source"`` when the
    writer named one (both chain version 2 only);
    ``event_json`` is the event's canonical JSON (``encode_event``). Version 1
    re-serialised the event with the standard library; version 2 uses the bytes as given.
    """
    if chain == 1:
        event_json = canonical_json(orjson.loads(event_json))
    parts = [
        b'{"event":',
        event_json,
        b',"negotiation":',
        orjson.dumps(negotiation),
        b',"recorded_at":',
        orjson.dumps(recorded_at.isoformat()),
    ]
    if recorded_by is not None:
        parts += [b',"recorded_by":', orjson.dumps(recorded_by)]
    if source is not None:
        parts += [b',"source":', orjson.dumps(source)]
    parts += [b',"version":', str(version).encode(), b"}"]
    return hashlib.sha256(b"".join(parts) + (previous_hash or "").encode()).hexdigest()


class Recorded:
    """An event as the log holds it: the library's stored domain event.

    ``event_json`` is the event's canonical JSON as stored (at schema version
    ``schema``); ``event`` is the typed event, built from it on first use without
    validation (``domain.stored``), or given when the event was just parsed. ``json``
    is the event's JSON in today's schema, which answers show. ``position`` is set by
    the store once the event is committed. ``source`` is who wrote it, when the writer
    said (the CloudEvent ``source`` of the EventSourcingDB API); ``recorded_by`` is the
    name of the token that appended it. The hash covers both.
    """

    __slots__ = (
        "source",
        "recorded_by",
        "originator_id",
        "originator_version",
        "timestamp",
        "negotiation",
        "previous_hash",
        "hash",
        "position",
        "event_json",
        "schema",
        "chain",
        "_event",
        "_json",
        "_type",
    )

    def __init__(
        self,
        *,
        originator_id: UUID,
        originator_version: int,
        timestamp: datetime,
        negotiation: str,
        event_json: bytes,
        previous_hash: str | None,
        hash: str,
        position: int | None = None,
        event: AnyEvent | None = None,
        schema: int = 1,
        chain: int = CHAIN_VERSION,
        event_type: str | None = None,
        source: str | None = None,
        recorded_by: str | None = None,
    ) -> None:
        self.source = source
        self.recorded_by = recorded_by
        self.originator_id = originator_id
        self.originator_version = originator_version
        self.timestamp = timestamp
        self.negotiation = negotiation
        self.previous_hash = previous_hash
        self.hash = hash
        self.position = position
        self.event_json = event_json
        self.schema = schema
        self.chain = chain
        self._event = event
        self._json: bytes | None = None
        self._type = event_type

    @property
    def event(self) -> AnyEvent:
        """The typed event (decoded once, on first use, without validation)."""
        if self._event is None:
            self._event = build_event(orjson.loads(self.json))
        return self._event

    @property
    def json(self) -> bytes:
        """The event's canonical JSON in today's schema (upcast if stored older)."""
        if self._json is None:
            if self.schema == current_schema(self.type):
                self._json = self.event_json
            else:
                self._json = encode_json(upcast(orjson.loads(self.event_json), self.schema))
        return self._json

    @property
    def type(self) -> str:
        if self._type is None:
            if self._event is not None:
                self._type = self._event.type
            else:
                self._type = str(orjson.loads(self.event_json)["type"])
        return self._type

    @property
    def recorded_at(self) -> datetime:
        return self.timestamp

    @property
    def valid_from(self) -> datetime:
        """The UTC instant the event begins in valid time, without building the event."""
        if self._event is not None:
            return self._event.valid_from
        return start_of(stored_time(orjson.loads(self.json)["occurred_at"]))

    @property
    def version(self) -> int:
        return self.originator_version

    def expected_hash(self) -> str:
        """Recompute this event's chain hash from the stored bytes."""
        return chain_hash(
            negotiation=self.negotiation,
            version=self.originator_version,
            recorded_at=self.timestamp,
            event_json=self.event_json,
            previous_hash=self.previous_hash,
            chain=self.chain,
            recorded_by=self.recorded_by,
            source=self.source,
        )

    def replace(self, **changes: Any) -> Recorded:
        """A copy with some fields changed (the typed event is shared unless replaced)."""
        fields: dict[str, Any] = {
            "originator_id": self.originator_id,
            "originator_version": self.originator_version,
            "timestamp": self.timestamp,
            "negotiation": self.negotiation,
            "event_json": self.event_json,
            "previous_hash": self.previous_hash,
            "hash": self.hash,
            "position": self.position,
            "event": self._event,
            "schema": self.schema,
            "chain": self.chain,
            "event_type": self._type,
            "source": self.source,
            "recorded_by": self.recorded_by,
        }
        if "event" in changes and "event_json" not in changes:
            changes["event_json"] = encode_event(changes["event"])
        fields.update(changes)
        copy = Recorded(**fields)
        if "event" not in changes and "event_json" not in changes:
            copy._json = self._json
        return copy

    def placed(self, position: int) -> Recorded:
        """A copy of this record at a log position (the typed event is shared)."""
        return self.replace(position=position)

    def shows(self, json: bytes) -> Recorded:
        """Let this record show ``json`` (its event in today's schema with its sealed
        fields opened, ``domain.redaction``) where it would show its stored bytes; the
        stored bytes stay what the hash covers. Returns the record itself."""
        self._json = json
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Recorded):
            return NotImplemented
        return (self.originator_id, self.originator_version, self.hash, self.position) == (
            other.originator_id,
            other.originator_version,
            other.hash,
            other.position,
        )

    def __hash__(self) -> int:
        return hash((self.originator_id, self.originator_version, self.hash))

    def __repr__(self) -> str:
        return (
            f"Recorded({self.negotiation!r} v{self.originator_version} "
            f"@{self.position} {self.type})"
        )


Ground = tuple[str, int | str]
"""Something the invariants name, as ``(kind, key)``: ``("round", 2)`` a round scheduled
or held, ``("held", 2)`` a round held, ``("proposal", "p1")`` a proposal made."""


class Grounds:
    """The unretracted events that ground what later events may name: a round is known
    while an unretracted ``RoundScheduled`` or ``RoundHeld`` names it, held while an
    unretracted ``RoundHeld`` does, and a proposal made while its ``ProposalMade`` is
    unretracted. A retraction says the log's record of its target was wrong, so what
    rested on that event alone is no longer there (``gone`` remembers which retracted
    event took it, for the refusal's message); old events that named it stay.

    ``journal``, when set, collects each change so that ``undo`` can take it back.
    """

    __slots__ = ("live", "by_event", "gone", "journal")

    def __init__(self) -> None:
        self.live: dict[Ground, set[UUID]] = {}
        self.by_event: dict[UUID, tuple[Ground, ...]] = {}
        self.gone: dict[Ground, UUID] = {}
        self.journal: list[tuple[str, Ground, UUID, UUID | None]] | None = None

    def holds(self, ground: Ground) -> bool:
        return ground in self.live

    def keys(self, kind: str) -> set[Any]:
        """The keys of one kind that are grounded (``rounds_known`` and the like)."""
        return {key for k, key in self.live if k == kind}

    def add(self, event_id: UUID, *grounds: Ground) -> None:
        had = self.by_event.get(event_id, ())
        grounds = tuple(g for g in grounds if g not in had)  # folding an event twice is a no-op
        if not grounds:
            return
        self.by_event[event_id] = had + grounds
        for ground in grounds:
            self.live.setdefault(ground, set()).add(event_id)
            was = self.gone.pop(ground, None)
            if self.journal is not None:
                self.journal.append(("add", ground, event_id, was))

    def retract(self, event_id: UUID) -> None:
        """The grounds ``event_id`` gave are no longer given (none if it gave none)."""
        for ground in self.by_event.pop(event_id, ()):
            ids = self.live[ground]
            ids.discard(event_id)
            was = self.gone.get(ground)
            if not ids:
                del self.live[ground]
                self.gone[ground] = event_id
            if self.journal is not None:
                self.journal.append(("retract", ground, event_id, was))

    def undo(self, changes: list[tuple[str, Ground, UUID, UUID | None]]) -> None:
        """Take back ``changes`` (a journal), last first."""
        for op, ground, event_id, was in reversed(changes):
            if op == "add":
                ids = self.live[ground]
                ids.discard(event_id)
                if not ids:
                    del self.live[ground]
                rest = tuple(g for g in self.by_event.get(event_id, ()) if g != ground)
                if rest:
                    self.by_event[event_id] = rest
                else:
                    self.by_event.pop(event_id, None)
            else:
                self.live.setdefault(ground, set()).add(event_id)
                self.by_event[event_id] = self.by_event.get(event_id, ()) + (ground,)
            if was is None:
                self.gone.pop(ground, None)
            else:
                self.gone[ground] = was


class Negotiation:
    """Write-side state of one negotiation, rebuilt from its ``Recorded`` events (or
    resumed from a checkpoint and the facts after it, ``apply_fact``).

    ``event_types`` and ``retracted`` hold the events it knows of: all of its stream
    when replayed (``apply``); in the writer, only those ``recall`` told it of and
    those recorded since they were last stored.
    """

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self._id = negotiation_id(slug)
        self._version = 0
        self.event_types: dict[UUID, str] = {}
        self.retracted: set[UUID] = set()
        self.grounds = Grounds()
        self.last_hash: str | None = None
        self.last_recorded_at: datetime | None = None
        self._pending: list[Recorded] = []
        self._undo: list[_Undo] = []

    # The library's aggregate protocol.
    @property
    def id(self) -> UUID:
        return self._id

    @property
    def version(self) -> int:
        return self._version

    @version.setter
    def version(self, value: int) -> None:
        self._version = value

    @property
    def rounds_known(self) -> set[int]:
        """The rounds an unretracted RoundScheduled or RoundHeld names."""
        return self.grounds.keys("round")

    @property
    def rounds_held(self) -> set[int]:
        """The rounds an unretracted RoundHeld names."""
        return self.grounds.keys("held")

    @property
    def proposals(self) -> set[str]:
        """The proposal ids of the unretracted ProposalMade events."""
        return self.grounds.keys("proposal")

    @property
    def unsaved(self) -> bool:
        """Whether events it recorded wait to be collected and stored."""
        return bool(self._pending)

    def collect_events(self) -> Sequence[Recorded]:
        pending, self._pending = self._pending, []
        return pending

    @classmethod
    def resume(cls, slug: str, checkpoint: WriteSideCheckpoint) -> Negotiation:
        """The write side as a checkpoint holds it (it knows no event ids)."""
        negotiation = cls(slug)
        negotiation._version = checkpoint.version
        negotiation.last_hash = checkpoint.hash
        negotiation.last_recorded_at = checkpoint.recorded_at
        for (kind, key), ids in checkpoint.grounds.items():
            for event_id in ids:
                negotiation.grounds.add(event_id, (kind, key))
        negotiation.grounds.gone.update(checkpoint.gone)
        return negotiation

    def checkpoint(self) -> WriteSideCheckpoint:
        """What the invariants need, as of the last stored event: all but the event ids,
        which the store answers for. Only while nothing recorded is waiting to be stored."""
        if self._pending or self.last_hash is None:
            raise ValueError("a checkpoint is of stored events only")
        return WriteSideCheckpoint(
            version=self._version,
            hash=self.last_hash,
            recorded_at=self.last_recorded_at,
            grounds={ground: frozenset(ids) for ground, ids in self.grounds.live.items()},
            gone=dict(self.grounds.gone),
        )

    def recall(self, types: Mapping[UUID, str], retracted: Iterable[UUID]) -> None:
        """Tell the aggregate what the store holds of the events a request names: the
        types of those stored in this negotiation, and which of them are retracted.

        When nothing it recorded waits to be stored, what it knew of other events is
        dropped first: the store answers for them. So the writer's aggregate holds the
        ids of one group of requests at most, however long the negotiation.
        """
        if not self._pending:
            self.event_types = dict(types)
            self.retracted = set(retracted)
        else:
            self.event_types.update(types)
            self.retracted.update(retracted)

    # Commands.
    def record(
        self,
        events: Sequence[AnyEvent],
        recorded_at: datetime,
        encoded: Sequence[bytes] | None = None,
        sources: Sequence[str | None] | None = None,
        recorded_by: str | None = None,
    ) -> list[Recorded]:
        """Check ``events`` against the invariants and return them recorded and chained.

        ``encoded`` holds each event's canonical JSON when the caller made it already
        (``encode_event``); ``recorded_by`` names the token that sent them. Nothing
        changes until every event has passed, so a batch is all or nothing.
        """
        if recorded_at.utcoffset() is None:
            raise ValueError("recorded_at must carry a UTC offset")
        if encoded is None:
            encoded = [encode_event(event) for event in events]
        if sources is None:
            sources = [None] * len(events)
        check = _Batch(self)
        # The batch grounds its rounds and proposals as it goes (so that a later event
        # of it sees them); the journal takes them back if any event is refused.
        journal: list[tuple[str, Ground, UUID, UUID | None]] = []
        self.grounds.journal = journal
        try:
            for index, event in enumerate(events):
                check.admit(event, index, batch=len(events) > 1)
        except BaseException:
            self.grounds.undo(journal)
            raise
        finally:
            self.grounds.journal = None
        if not self._pending:
            self._undo.clear()  # what was collected before is the store's now
        self._undo.append(
            _Undo(
                version=self._version,
                last_hash=self.last_hash,
                last_recorded_at=self.last_recorded_at,
                ids=list(check.types),
                grounds=journal,
                retracted=check.retracted - self.retracted,
            )
        )
        recorded: list[Recorded] = []
        previous = self.last_hash
        items = zip(events, encoded, sources, strict=True)
        for offset, (event, event_json, source) in enumerate(items, start=1):
            version = self._version + offset
            digest = chain_hash(
                negotiation=self.slug,
                version=version,
                recorded_at=recorded_at,
                event_json=event_json,
                previous_hash=previous,
                recorded_by=recorded_by,
                source=source,
            )
            recorded.append(
                Recorded(
                    originator_id=self._id,
                    originator_version=version,
                    timestamp=recorded_at,
                    negotiation=self.slug,
                    event_json=event_json,
                    previous_hash=previous,
                    hash=digest,
                    event=event,
                    schema=current_schema(event.type),
                    source=source,
                    recorded_by=recorded_by,
                )
            )
            previous = digest
        for item in recorded:
            self._apply(item, grounded=True)
        self._pending.extend(recorded)
        return recorded

    def revert(self) -> None:
        """Undo every ``record`` since the events were last collected and stored.

        The store calls this when it could not save them (another writer won a race).
        """
        while self._undo:
            self._revert(self._undo.pop())
        self._pending.clear()

    def _revert(self, undo: _Undo) -> None:
        for event_id in undo.ids:
            self.event_types.pop(event_id, None)
        self.grounds.undo(undo.grounds)
        self.retracted -= undo.retracted
        self._version = undo.version
        self.last_hash = undo.last_hash
        self.last_recorded_at = undo.last_recorded_at

    # Evolution.
    def apply(self, recorded: Recorded) -> None:
        """Fold one stored event into the write-side state, its id and retraction too."""
        self._apply(recorded, grounded=False)

    def _apply(self, recorded: Recorded, *, grounded: bool) -> None:
        """``grounded``: its rounds and proposals are folded already (``record``)."""
        event = recorded.event
        self.event_types[event.id] = event.type
        if isinstance(event, EventRetracted):
            self.retracted.add(event.data.event_id)
        self.apply_fact(
            WriteSideFact(
                version=recorded.originator_version,
                hash=recorded.hash,
                recorded_at=recorded.timestamp,
                content=event if event.type in WRITE_SIDE_CONTENT and not grounded else None,
            )
        )

    def apply_fact(self, fact: WriteSideFact) -> None:
        """Fold what the invariants need of one stored event (``WriteSideFact``): its
        place in the chain and, for rounds, proposals and retractions, its content. Its
        id is not kept (``recall``)."""
        event = fact.content
        if event is not None:
            _ground(self.grounds, event)
        self._version = fact.version
        self.last_hash = fact.hash
        if fact.recorded_at is not None:
            self.last_recorded_at = fact.recorded_at


def _ground(grounds: Grounds, event: AnyEvent) -> None:
    """What one event grounds, or (a retraction) no longer grounds. A HostAnnounced
    grounds nothing: it names a round that something else scheduled or held."""
    if isinstance(event, RoundScheduled):
        grounds.add(event.id, ("round", event.data.round))
    elif isinstance(event, RoundHeld):
        grounds.add(event.id, ("round", event.data.round), ("held", event.data.round))
    elif isinstance(event, ProposalMade):
        grounds.add(event.id, ("proposal", event.data.proposal_id))
    elif isinstance(event, EventRetracted):
        grounds.retract(event.data.event_id)


WRITE_SIDE_CONTENT = types_where(lambda t: t.write_side_content)
"""The types whose content the write side's invariants read (rounds, proposal ids, and
what a retraction retracts); of every other event it needs only what the event index
holds."""


@dataclass(frozen=True, slots=True)
class WriteSideFact:
    """What the aggregate folds of one stored event: its place in the chain, and the
    typed event when its content matters (``WRITE_SIDE_CONTENT``)."""

    version: int
    hash: str
    recorded_at: datetime | None  # None when a later fact of the same read carries it
    content: AnyEvent | None


@dataclass(frozen=True, slots=True)
class WriteSideCheckpoint:
    """The write side as of one stored version, all but the ids of the events it was
    told of (``recall``): a cache of the store's (``store.write_side``), trusted only
    while the log holds ``hash`` at ``version``. ``grounds`` and ``gone`` are its
    ``Grounds``: the events that ground each round and proposal, and the retracted
    events that left one without ground."""

    version: int
    hash: str
    recorded_at: datetime | None
    grounds: Mapping[Ground, frozenset[UUID]]
    gone: Mapping[Ground, UUID]


def replay(aggregate: Negotiation | None, events: Iterable[Recorded]) -> Negotiation | None:
    """The projector the repository uses: fold stored events into a Negotiation."""
    for recorded in events:
        if aggregate is None:
            aggregate = Negotiation(recorded.negotiation)
        aggregate.apply(recorded)
    return aggregate


def check_corrections(events: Sequence[AnyEvent], stored: Mapping[UUID, AnyEvent]) -> None:
    """A correction must make a valid event of its target's type: the target is one of
    ``stored`` (the stored events the corrections name) or an event of the same batch.
    An unknown target passes here; the aggregate reports it."""
    batch = {e.id: e for e in events}
    for index, event in enumerate(events):
        if not isinstance(event, EventCorrected):
            continue
        target = stored.get(event.data.event_id) or batch.get(event.data.event_id)
        if target is None:
            continue
        try:
            corrected(target, event.data.data)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            prefix = f"events.{index}." if len(events) > 1 else ""
            raise InvalidEventError(
                f"the corrected {target.type} is invalid: {refusal(first)}",
                field=f"{prefix}data.data.{where}",
                value=first.get("input"),
            ) from None


@dataclass(frozen=True)
class _Undo:
    """What one ``record`` added, so that ``revert`` can take it back."""

    version: int
    last_hash: str | None
    last_recorded_at: datetime | None
    ids: list[UUID]
    grounds: list[tuple[str, Ground, UUID, UUID | None]]
    retracted: set[UUID]


class _Batch:
    """Checks a batch of new events against the stream and against each other: each
    event admitted grounds what it grounds at once (``Negotiation.record`` journals it)."""

    def __init__(self, negotiation: Negotiation) -> None:
        self.n = negotiation
        self.grounds = negotiation.grounds
        self.types: dict[UUID, str] = {}
        self.retracted: set[UUID] = set()

    def _type_of(self, event_id: UUID) -> str | None:
        return self.types.get(event_id) or self.n.event_types.get(event_id)

    def admit(self, event: AnyEvent, index: int, *, batch: bool) -> None:
        prefix = f"events.{index}." if batch else ""

        def fail(message: str, field: str, value: object) -> InvalidEventError:
            return InvalidEventError(message, field=prefix + field, value=value)

        opened = self.n.version > 0 or bool(self.types)
        if isinstance(event, NegotiationOpened):
            if opened:
                raise fail("the negotiation is already open", "type", event.type)
        elif not opened:
            raise fail("the first event of a negotiation is NegotiationOpened", "type", event.type)
        if event.id in self.types or event.id in self.n.event_types:
            raise fail("this id is already used in this negotiation", "id", str(event.id))

        if isinstance(event, RoundHeld):
            if self.grounds.holds(("held", event.data.round)):
                raise fail(
                    f"round {event.data.round} is already recorded as held; "
                    "correct that event instead",
                    "data.round",
                    event.data.round,
                )
        elif isinstance(event, HostAnnounced):
            number = event.data.round
            if not self.grounds.holds(("round", number)):
                gone = self.grounds.gone.get(("round", number))
                raise fail(
                    f"round {number} is neither scheduled nor held in this negotiation; "
                    "record RoundScheduled first"
                    if gone is None
                    else f"round {number}'s scheduling was retracted (event {gone}); "
                    "schedule it again first",
                    "data.round",
                    number,
                )
        elif isinstance(event, ProposalMade):
            if self.grounds.holds(("proposal", event.data.proposal_id)):
                raise fail(
                    "this proposal_id is already used", "data.proposal_id", event.data.proposal_id
                )
        elif isinstance(event, ProposalAnswered):
            proposal_id = event.data.proposal_id
            if not self.grounds.holds(("proposal", proposal_id)):
                gone = self.grounds.gone.get(("proposal", proposal_id))
                raise fail(
                    "no proposal with this proposal_id in this negotiation"
                    if gone is None
                    else f"proposal {proposal_id} was retracted (event {gone}); "
                    "record it again first",
                    "data.proposal_id",
                    proposal_id,
                )
        elif isinstance(event, ClaimDisputed | EventCorrected | EventRetracted):
            self._admit_log_fact(event, fail)
        _ground(self.grounds, event)
        self.types[event.id] = event.type

    def _admit_log_fact(
        self, event: ClaimDisputed | EventCorrected | EventRetracted, fail: Any
    ) -> None:
        target = event.data.event_id
        target_type = self._type_of(target)
        if target_type is None:
            raise fail("no event with this id in this negotiation", "data.event_id", str(target))
        if target in self.retracted or target in self.n.retracted:
            raise fail("that event is retracted", "data.event_id", str(target))
        if isinstance(event, EventCorrected | EventRetracted) and target_type in KNOWLEDGE:
            raise fail(
                f"a {target_type} cannot itself be corrected or retracted",
                "data.event_id",
                str(target),
            )
        if isinstance(event, EventCorrected):
            for name in sorted(IDENTITY_FIELDS & set(event.data.data)):
                raise fail(
                    f"{name} says which thing the event is about and cannot be corrected; "
                    "retract the event and record it anew",
                    f"data.data.{name}",
                    event.data.data[name],
                )
        if isinstance(event, EventRetracted):
            self.retracted.add(target)  # grounded (ungrounded) by ``admit``
