"""The state of a negotiation, and the pure fold that builds it, one function per event type.

``State`` is the answer a reader gets: frozen dataclasses of frozen items, serialised by
``to_json`` into the API's JSON shape. Folds build it through an ``Accumulator``, a
mutable working copy whose items are themselves immutable: copying one (to take or
resume a checkpoint) copies a few dicts and lists of references, never the items, and
``snapshot`` freezes it in time proportional to the state's size, not to the number of
events folded. The fold sees world events only, already filtered by time and already
corrected, in ``(valid_from, position)`` order: corrections and retractions are
knowledge, which ``projections.as_of`` applies before folding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal, assert_never, cast
from uuid import UUID

import orjson
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from domain.events import (
    AnyEvent,
    CeasefireDeclared,
    CeasefireProposed,
    ClaimDisputed,
    ContactHeld,
    DelegationNamed,
    DocumentExchanged,
    EventCorrected,
    EventRetracted,
    HostAnnounced,
    NegotiationOpened,
    ProposalAnswered,
    ProposalMade,
    RoundHeld,
    RoundScheduled,
    SecurityZoneDeclared,
    StatementIssued,
)
from domain.negotiation import Recorded
from domain.values import Actor, Place

RoundStatus = Literal["proposed", "scheduled", "held", "postponed", "cancelled"]
ProposalStatus = Literal["open", "accepted", "rejected", "countered"]
Moment = date | datetime
"""A valid time as the client gave it (a date or an aware datetime)."""
EventIds = tuple[UUID, ...]

_SCHEDULE_STATUS: dict[str, RoundStatus] = {
    "proposed": "proposed",
    "confirmed": "scheduled",
    "postponed": "postponed",
    "cancelled": "cancelled",
}


def jsonable(value: Any) -> Any:
    """JSON-ready form of dataclass fields: the same encoding as the events' own JSON."""
    return to_jsonable_python(value, by_alias=True)


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, Item):
        return orjson.Fragment(value.json_bytes())
    return to_jsonable_python(value, by_alias=True)


def encode(value: Any) -> bytes:
    """JSON bytes of answer values (items, models, times), as ``jsonable`` would make them."""
    return orjson.dumps(
        value, default=_default, option=orjson.OPT_UTC_Z | orjson.OPT_PASSTHROUGH_DATACLASS
    )


class Item:
    """An immutable piece of state that names the events that made it.

    Each item keeps its JSON once made (``json_bytes``): items are shared between the
    as-of engine's checkpoints and its answers, so a warm answer mostly joins bytes.
    """

    __slots__ = ()
    _json: bytes | None  # each item declares it last, after its own fields

    def raw(self) -> dict[str, Any]:
        """The item's fields under their JSON names, not yet encoded: by default its own
        fields in declaration order, under their names."""
        return {name: getattr(self, name) for name in _field_names(type(self))}

    def to_json(self) -> dict[str, Any]:
        return cast(dict[str, Any], jsonable(_raw(self)))

    def json_bytes(self) -> bytes:
        """The item as JSON bytes, made on first use and kept."""
        cached = self._json
        if cached is None:
            cached = encode(self.raw())
            object.__setattr__(self, "_json", cached)
        return cached


_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}


def _field_names(kind: type[Any]) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(kind) if f.init)
    return names


@dataclass(frozen=True, slots=True)
class Delegation(Item):
    party: Actor
    head: Actor
    members: tuple[Actor, ...]
    named_at: Moment
    events: EventIds
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Round(Item):
    round: int
    status: RoundStatus
    starts_at: Moment | None
    place: Place | None
    host: Actor | None
    outcomes: tuple[str, ...]
    events: EventIds
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Answer(Item):
    event_id: UUID
    responder: Actor
    response: str
    summary: str | None
    answered_at: Moment
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Proposal(Item):
    proposal_id: str
    proposer: Actor
    addressee: Actor | None
    subject: str
    summary: str
    terms: tuple[str, ...]
    status: ProposalStatus
    made_at: Moment
    answers: tuple[Answer, ...]  # items: each keeps its own JSON
    events: EventIds
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Document(Item):
    title: str
    sender: Actor
    recipient: Actor
    round: int | None
    exchanged_at: Moment
    events: EventIds
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def raw(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "from": self.sender,
            "to": self.recipient,
            "round": self.round,
            "exchanged_at": self.exchanged_at,
            "events": self.events,
        }


@dataclass(frozen=True, slots=True)
class Ceasefire(Item):
    """A proposed or a declared ceasefire: one entry per event, as nothing links them."""

    status: Literal["proposed", "declared"]
    proposer: Actor | None
    parties: tuple[Actor, ...]
    scope: tuple[str, ...]
    duration: timedelta | None
    conditions: tuple[str, ...]
    effective_from: Moment | None
    effective_until: Moment | None
    occurred_at: Moment
    events: EventIds
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class SecurityZone(Item):
    declared_by: Actor
    regions: tuple[str, ...]
    depth_km: float | None
    status: str
    declared_at: Moment
    events: EventIds
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def key(self) -> tuple[Actor, frozenset[str]]:
        """A later declaration by the same declarer over the same regions updates this one."""
        return (self.declared_by, frozenset(self.regions))


@dataclass(frozen=True, slots=True)
class ContestedClaim(Item):
    """A claim someone disputes: ``event_id`` is the disputed event, ``events`` the dispute."""

    event_id: UUID
    disputed_by: Actor
    counter_claim: str
    recorded_at: datetime
    disputed_at: Moment
    events: EventIds
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class State:
    """The state of one negotiation at valid time ``as_of``, as known at ``known_at``.

    ``position`` is the highest log position among the events folded (None if none),
    so that a reader can repeat the query exactly.
    """

    negotiation: str
    title: str | None
    as_of: datetime | None
    known_at: datetime | None
    position: int | None
    parties: tuple[Actor, ...]
    mediators: tuple[Actor, ...]
    delegations: Mapping[str, Delegation]
    rounds: tuple[Round, ...]
    proposals: tuple[Proposal, ...]
    documents: tuple[Document, ...]
    ceasefires: tuple[Ceasefire, ...]
    security_zones: tuple[SecurityZone, ...]
    contested: tuple[ContestedClaim, ...]
    event_count: int
    reported_at: datetime | None = None  # the third clock's bound, echoed

    def _fields(self) -> dict[str, Any]:
        """The answer's fields under their JSON names, items as they are."""
        return {
            "negotiation": self.negotiation,
            "title": self.title,
            "as_of": self.as_of,
            "known_at": self.known_at,
            "reported_at": self.reported_at,
            "position": self.position,
            "parties": self.parties,
            "mediators": self.mediators,
            "delegations": self.delegations,
            "rounds": self.rounds,
            "proposals": self.proposals,
            "documents": self.documents,
            "ceasefires": self.ceasefires,
            "security_zones": self.security_zones,
            "contested": self.contested,
            "event_count": self.event_count,
        }

    def to_json(self) -> dict[str, Any]:
        """The API's JSON shape of the state (through pydantic: the reference encoding)."""
        return cast(dict[str, Any], jsonable(_raw(self._fields())))

    def to_json_bytes(self) -> bytes:
        """The same answer as ``to_json``, as bytes: each item's kept JSON, joined."""
        return encode(self._fields())


def _raw(value: Any) -> Any:
    """Items replaced by their raw fields, in mappings and sequences too, at any depth."""
    if isinstance(value, Item):
        return _raw(value.raw())
    if isinstance(value, Mapping):
        return {key: _raw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_raw(item) for item in value]
    return value


class Accumulator:
    """The mutable working state of a fold. Its items are immutable, so copies are cheap."""

    __slots__ = (
        "slug",
        "title",
        "parties",
        "mediators",
        "delegations",
        "rounds",
        "proposals",
        "documents",
        "ceasefires",
        "zones",
        "contested",
        "count",
        "position",
    )

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.title: str | None = None
        self.parties: tuple[Actor, ...] = ()
        self.mediators: tuple[Actor, ...] = ()
        self.delegations: dict[str, Delegation] = {}
        self.rounds: dict[int, Round] = {}
        self.proposals: dict[str, Proposal] = {}
        self.documents: list[Document] = []
        self.ceasefires: list[Ceasefire] = []
        self.zones: dict[tuple[Actor, frozenset[str]], SecurityZone] = {}
        self.contested: list[ContestedClaim] = []
        self.count = 0
        self.position: int | None = None

    def copy(self) -> Accumulator:
        """An independent working copy; items are shared, being immutable."""
        new = Accumulator.__new__(Accumulator)
        new.slug = self.slug
        new.title = self.title
        new.parties = self.parties
        new.mediators = self.mediators
        new.delegations = self.delegations.copy()
        new.rounds = self.rounds.copy()
        new.proposals = self.proposals.copy()
        new.documents = self.documents.copy()
        new.ceasefires = self.ceasefires.copy()
        new.zones = self.zones.copy()
        new.contested = self.contested.copy()
        new.count = self.count
        new.position = self.position
        return new

    @classmethod
    def thaw(cls, state: State) -> Accumulator:
        """A working copy of a frozen state, to fold on from it."""
        acc = cls(state.negotiation)
        acc.title = state.title
        acc.parties = state.parties
        acc.mediators = state.mediators
        acc.delegations = dict(state.delegations)
        acc.rounds = {item.round: item for item in state.rounds}
        acc.proposals = {item.proposal_id: item for item in state.proposals}
        acc.documents = list(state.documents)
        acc.ceasefires = list(state.ceasefires)
        acc.zones = {item.key: item for item in state.security_zones}
        acc.contested = list(state.contested)
        acc.count = state.event_count
        acc.position = state.position
        return acc

    def apply(self, event: AnyEvent, recorded: Recorded) -> None:
        """Fold one world event (``event`` is ``recorded.event`` as corrected, if it was)."""
        apply_event(self, event, recorded)

    def snapshot(
        self,
        as_of: datetime | None,
        known_at: datetime | None,
        reported_at: datetime | None = None,
    ) -> State:
        """The immutable answer, echoing the query's times."""
        return State(
            negotiation=self.slug,
            title=self.title,
            as_of=as_of,
            known_at=known_at,
            position=self.position,
            parties=self.parties,
            mediators=self.mediators,
            delegations=self.delegations.copy(),
            rounds=tuple(self.rounds[number] for number in sorted(self.rounds)),
            proposals=tuple(self.proposals.values()),
            documents=tuple(self.documents),
            ceasefires=tuple(self.ceasefires),
            security_zones=tuple(self.zones.values()),
            contested=tuple(self.contested),
            event_count=self.count,
            reported_at=reported_at,
        )


def initial_state(
    slug: str,
    *,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    reported_at: datetime | None = None,
) -> State:
    """The state before any event: no title, no parties, nothing counted."""
    return Accumulator(slug).snapshot(as_of, known_at, reported_at)


def evolve(state: State, recorded: Recorded) -> State:
    """The state after one more world event: pure, the state given is left unchanged.

    Folds over many events should use an ``Accumulator`` instead, which skips the
    freeze and thaw between events.
    """
    acc = Accumulator.thaw(state)
    acc.apply(recorded.event, recorded)
    return acc.snapshot(state.as_of, state.known_at, state.reported_at)


def apply_event(acc: Accumulator, event: AnyEvent, recorded: Recorded) -> None:
    """Dispatch one world event to its type's function, then count it."""
    match event:
        case StatementIssued():
            _statement_issued(acc, event)
        case ContactHeld():
            _contact_held(acc, event)
        case NegotiationOpened():
            _negotiation_opened(acc, event)
        case DelegationNamed():
            _delegation_named(acc, event)
        case ProposalMade():
            _proposal_made(acc, event)
        case ProposalAnswered():
            _proposal_answered(acc, event)
        case RoundScheduled():
            _round_scheduled(acc, event)
        case HostAnnounced():
            _host_announced(acc, event)
        case RoundHeld():
            _round_held(acc, event)
        case DocumentExchanged():
            _document_exchanged(acc, event)
        case CeasefireProposed():
            _ceasefire_proposed(acc, event)
        case CeasefireDeclared():
            _ceasefire_declared(acc, event)
        case SecurityZoneDeclared():
            _security_zone_declared(acc, event)
        case ClaimDisputed():
            _claim_disputed(acc, event, recorded)
        case EventCorrected() | EventRetracted():
            # Facts about the log change which events count and what they say; folding
            # one as if it happened in the world would silently ignore it.
            raise ValueError(
                f"{event.type} is knowledge, not a world event: apply it before folding "
                "(see projections.as_of)"
            )
        case _:
            assert_never(event)
    acc.count += 1
    position = recorded.position
    if position is not None and (acc.position is None or position > acc.position):
        acc.position = position


def _statement_issued(acc: Accumulator, event: StatementIssued) -> None:
    """Statements belong to the timeline; the state only counts them."""


def _contact_held(acc: Accumulator, event: ContactHeld) -> None:
    """Contacts belong to the timeline; the state only counts them."""


def _negotiation_opened(acc: Accumulator, event: NegotiationOpened) -> None:
    acc.title = event.data.title
    acc.parties = tuple(event.data.parties)
    acc.mediators = tuple(event.data.mediators)


def _delegation_named(acc: Accumulator, event: DelegationNamed) -> None:
    data = event.data
    # A party given only by name has no ISO3 code; its name keys it instead.
    key = data.party.country or data.party.label
    previous = acc.delegations.get(key)
    acc.delegations[key] = Delegation(
        party=data.party,
        head=data.head,
        members=tuple(data.members),
        named_at=event.occurred_at,
        events=(previous.events if previous else ()) + (event.id,),
    )


def _proposal_made(acc: Accumulator, event: ProposalMade) -> None:
    data = event.data
    previous = acc.proposals.get(data.proposal_id)
    acc.proposals[data.proposal_id] = Proposal(
        proposal_id=data.proposal_id,
        proposer=data.proposer,
        addressee=data.addressee,
        subject=data.subject,
        summary=data.summary,
        terms=tuple(data.terms),
        # Only a correction renaming a proposal can repeat an id; its answers stay.
        status=previous.status if previous else "open",
        made_at=event.occurred_at,
        answers=previous.answers if previous else (),
        events=(previous.events if previous else ()) + (event.id,),
    )


def _proposal_answered(acc: Accumulator, event: ProposalAnswered) -> None:
    data = event.data
    proposal = acc.proposals.get(data.proposal_id)
    if proposal is None:
        # The proposal is not in this state (made later in valid time, or retracted):
        # the answer is counted and stays in the timeline, but has nothing to attach to.
        return
    answer = Answer(
        event_id=event.id,
        responder=data.responder,
        response=data.response,
        summary=data.summary,
        answered_at=event.occurred_at,
    )
    status: ProposalStatus = proposal.status if data.response == "noted" else data.response
    acc.proposals[data.proposal_id] = replace(
        proposal,
        status=status,
        answers=proposal.answers + (answer,),
        events=proposal.events + (event.id,),
    )


def _round_scheduled(acc: Accumulator, event: RoundScheduled) -> None:
    data = event.data
    previous = acc.rounds.get(data.round)
    if previous is not None and previous.status == "held":
        # A held round stays held: a later schedule cannot undo what happened.
        acc.rounds[data.round] = _with_event(previous, event.id)
        return
    acc.rounds[data.round] = Round(
        round=data.round,
        status=_SCHEDULE_STATUS[data.status],
        starts_at=data.starts_at,
        place=data.place,
        host=previous.host if previous else None,
        outcomes=previous.outcomes if previous else (),
        events=(previous.events if previous else ()) + (event.id,),
    )


def _host_announced(acc: Accumulator, event: HostAnnounced) -> None:
    data = event.data
    previous = acc.rounds.get(data.round)
    if previous is None:
        # Announced before any schedule along valid time: the round is only proposed.
        acc.rounds[data.round] = Round(
            round=data.round,
            status="proposed",
            starts_at=None,
            place=data.place,
            host=data.host,
            outcomes=(),
            events=(event.id,),
        )
        return
    acc.rounds[data.round] = replace(
        previous,
        place=data.place or previous.place,
        host=data.host,
        events=previous.events + (event.id,),
    )


def _round_held(acc: Accumulator, event: RoundHeld) -> None:
    data = event.data
    previous = acc.rounds.get(data.round)
    acc.rounds[data.round] = Round(
        round=data.round,
        status="held",
        starts_at=event.occurred_at,
        place=data.place,
        host=previous.host if previous else None,
        outcomes=tuple(data.outcomes),
        events=(previous.events if previous else ()) + (event.id,),
    )


def _with_event(item: Round, event_id: UUID) -> Round:
    return replace(item, events=item.events + (event_id,))


def _document_exchanged(acc: Accumulator, event: DocumentExchanged) -> None:
    data = event.data
    acc.documents.append(
        Document(
            title=data.title,
            sender=data.sender,
            recipient=data.recipient,
            round=data.round,
            exchanged_at=event.occurred_at,
            events=(event.id,),
        )
    )


def _ceasefire_proposed(acc: Accumulator, event: CeasefireProposed) -> None:
    data = event.data
    acc.ceasefires.append(
        Ceasefire(
            status="proposed",
            proposer=data.proposer,
            parties=(),
            scope=tuple(data.scope),
            duration=data.duration,
            conditions=tuple(data.conditions),
            effective_from=None,
            effective_until=None,
            occurred_at=event.occurred_at,
            events=(event.id,),
        )
    )


def _ceasefire_declared(acc: Accumulator, event: CeasefireDeclared) -> None:
    data = event.data
    acc.ceasefires.append(
        Ceasefire(
            status="declared",
            proposer=None,
            parties=tuple(data.parties),
            scope=tuple(data.scope),
            duration=None,
            conditions=(),
            effective_from=data.effective_from,
            effective_until=data.effective_until,
            occurred_at=event.occurred_at,
            events=(event.id,),
        )
    )


def _security_zone_declared(acc: Accumulator, event: SecurityZoneDeclared) -> None:
    data = event.data
    key = (data.declared_by, frozenset(data.regions))
    previous = acc.zones.get(key)
    if previous is None:
        acc.zones[key] = SecurityZone(
            declared_by=data.declared_by,
            regions=tuple(data.regions),
            depth_km=data.depth_km,
            status=data.status,
            declared_at=event.occurred_at,
            events=(event.id,),
        )
        return
    acc.zones[key] = replace(
        previous,
        depth_km=data.depth_km if data.depth_km is not None else previous.depth_km,
        status=data.status,
        events=previous.events + (event.id,),
    )


def _claim_disputed(acc: Accumulator, event: ClaimDisputed, recorded: Recorded) -> None:
    data = event.data
    acc.contested.append(
        ContestedClaim(
            event_id=data.event_id,
            disputed_by=data.disputed_by,
            counter_claim=data.counter_claim,
            recorded_at=recorded.recorded_at,
            disputed_at=event.occurred_at,
            events=(event.id,),
        )
    )
