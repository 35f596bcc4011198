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
from typing import Any, Literal, TypeVar, assert_never, cast
from uuid import UUID

import orjson
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from domain.events import (
    AgreementRatified,
    AgreementReached,
    AgreementSigned,
    AgreementSuspended,
    AgreementTerminated,
    AnyEvent,
    CeasefireDeclared,
    CeasefireLifted,
    CeasefireProposed,
    ClaimDisputed,
    ContactHeld,
    DelegationNamed,
    DocumentExchanged,
    EventCorrected,
    EventRetracted,
    HostAnnounced,
    HostilitiesReported,
    NegotiationOpened,
    Participant,
    ProposalAnswered,
    ProposalMade,
    Provision,
    ProvisionImplemented,
    RoundHeld,
    RoundScheduled,
    SecurityZoneDeclared,
    Signatory,
    StatementIssued,
    ViolationAlleged,
)
from domain.negotiation import Recorded
from domain.values import Actor, Place, end_of_day, start_of

RoundStatus = Literal["proposed", "scheduled", "held", "postponed", "cancelled"]
ProposalStatus = Literal["open", "accepted", "rejected", "countered"]
AgreementStatus = Literal["reached", "initialled", "signed", "ratified", "suspended", "terminated"]
NotInForce = Literal["proposed", "not_yet_started", "ended", "suspended", "superseded"]
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
    participants: tuple[Participant, ...]  # of the round held (none before it is)
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
    addressee: Actor | None  # the first of the addressees: what answers showed before them
    addressees: tuple[Actor, ...]
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
    # What depends on as_of or on other events is joined in by the snapshot
    # (``_ceasefires_at``); the fold keeps the defaults.
    ceasefire_id: UUID | None = None
    in_force: bool = False
    not_in_force: NotInForce | None = None
    lifted: Lift | None = None
    allegations: tuple[Allegation, ...] = ()
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _shown: tuple[Any, Any] | None = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Dispute(Item):
    """One dispute of a claim: ``event_id`` is the dispute itself (a ``ClaimDisputed``)."""

    event_id: UUID
    disputed_by: Actor
    counter_claim: str
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Lift(Item):
    """A ceasefire suspended or ended (a ``CeasefireLifted``)."""

    event_id: UUID
    by: Actor
    mode: Literal["suspended", "ended"]
    reason: str | None
    occurred_at: Moment
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Allegation(Item):
    """A violation alleged, with the disputes of it (a denial is a dispute)."""

    event_id: UUID
    accuser: Actor
    accused: tuple[Actor, ...]
    ceasefire: UUID | None
    agreement_id: str | None
    regions: tuple[str, ...]
    kind: str | None
    summary: str
    occurred_at: Moment
    occurred_until: Moment | None
    precision: str | None
    disputes: tuple[Dispute, ...]
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Hostilities(Item):
    """Fighting reported between parties, with the disputes of the report."""

    event_id: UUID
    parties: tuple[Actor, ...]
    regions: tuple[str, ...]
    kind: str
    summary: str
    occurred_at: Moment
    occurred_until: Moment | None
    precision: str | None
    disputes: tuple[Dispute, ...]
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Implementation(Item):
    """A step that carried out one provision of an agreement (``provision`` names it)."""

    event_id: UUID
    provision: str
    occurred_at: Moment
    by: tuple[Actor, ...]
    summary: str
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def raw(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "by": self.by,
            "summary": self.summary,
        }


@dataclass(frozen=True, slots=True)
class Termination(Item):
    reason: str
    superseded_by: str | None
    by: Actor | None
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Agreement(Item):
    """One agreement's life along valid time: every event naming its ``agreement_id``.

    ``status`` is the latest lifecycle event folded, except that a termination is
    final. ``implementations`` are kept whatever provision they name; a provision
    shows those that name its id.
    """

    agreement_id: str
    title: str
    kind: str
    status: AgreementStatus
    parties: tuple[Actor, ...]
    signatories: tuple[Signatory, ...]
    witnesses: tuple[Actor, ...]
    guarantors: tuple[Actor, ...]
    ratified_by: tuple[Actor, ...]
    suspended_by: tuple[Actor, ...]
    provisions: tuple[Provision, ...]
    implementations: tuple[Implementation, ...]
    place: Place | None
    text_url: str | None
    terminated: Termination | None
    events: EventIds
    allegations: tuple[Allegation, ...] = ()  # joined in by the snapshot
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _shown: tuple[Any, Any] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def in_force(self) -> bool:
        """Signed or ratified, and not suspended or terminated since."""
        return self.status in ("signed", "ratified")

    def raw(self) -> dict[str, Any]:
        return {
            "agreement_id": self.agreement_id,
            "title": self.title,
            "kind": self.kind,
            "status": self.status,
            "in_force": self.in_force,
            "parties": self.parties,
            "signatories": self.signatories,
            "witnesses": self.witnesses,
            "guarantors": self.guarantors,
            "ratified_by": self.ratified_by,
            "suspended_by": self.suspended_by,
            "provisions": tuple(
                {
                    "id": provision.id,
                    "topic": provision.topic,
                    "text": provision.text,
                    "implemented": tuple(
                        step for step in self.implementations if step.provision == provision.id
                    ),
                }
                for provision in self.provisions
            ),
            "place": self.place,
            "text_url": self.text_url,
            "terminated": self.terminated,
            "allegations": self.allegations,
            "events": self.events,
        }


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
    agreements: tuple[Agreement, ...] = ()
    allegations: tuple[Allegation, ...] = ()
    hostilities: tuple[Hostilities, ...] = ()
    reported_at: datetime | None = None  # the third clock's bound, echoed
    # What the fold knows but does not show, so that ``Accumulator.thaw`` can go on:
    # lifts by ceasefire id, and steps of agreements not (yet) in the state.
    lifts: Mapping[UUID, Lift] = field(default_factory=dict, repr=False)
    unplaced: Mapping[str, tuple[Implementation, ...]] = field(default_factory=dict, repr=False)

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
            "agreements": self.agreements,
            "allegations": self.allegations,
            "hostilities": self.hostilities,
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
        "agreements",
        "unplaced",
        "lifts",
        "allegations",
        "hostilities",
        "disputes",
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
        self.agreements: dict[str, Agreement] = {}
        self.unplaced: dict[str, tuple[Implementation, ...]] = {}
        self.lifts: dict[UUID, Lift] = {}
        self.allegations: dict[UUID, Allegation] = {}
        self.hostilities: dict[UUID, Hostilities] = {}
        self.disputes: dict[UUID, tuple[Dispute, ...]] = {}  # by the id of what they dispute
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
        new.agreements = self.agreements.copy()
        new.unplaced = self.unplaced.copy()
        new.lifts = self.lifts.copy()
        new.allegations = self.allegations.copy()
        new.hostilities = self.hostilities.copy()
        new.disputes = self.disputes.copy()
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
        acc.agreements = {item.agreement_id: item for item in state.agreements}
        acc.unplaced = dict(state.unplaced)
        acc.lifts = dict(state.lifts)
        acc.allegations = {item.event_id: item for item in state.allegations}
        acc.hostilities = {item.event_id: item for item in state.hostilities}
        for claim in state.contested:
            acc.disputes[claim.event_id] = acc.disputes.get(claim.event_id, ()) + (
                Dispute(claim.events[0], claim.disputed_by, claim.counter_claim),
            )
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
        """The immutable answer, echoing the query's times.

        Whether a ceasefire is in force depends on ``as_of``, and the allegations of a
        ceasefire or an agreement may be folded before or after it: both are joined in
        here, each item's view kept on it while its inputs stay the same.
        """
        by_ceasefire: dict[UUID, list[Allegation]] = {}
        by_agreement: dict[str, list[Allegation]] = {}
        for allegation in self.allegations.values():
            if allegation.ceasefire is not None:
                by_ceasefire.setdefault(allegation.ceasefire, []).append(allegation)
            if allegation.agreement_id is not None:
                by_agreement.setdefault(allegation.agreement_id, []).append(allegation)
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
            ceasefires=_ceasefires_at(self.ceasefires, self.lifts, by_ceasefire, as_of),
            security_zones=tuple(self.zones.values()),
            contested=tuple(self.contested),
            event_count=self.count,
            agreements=tuple(
                _shown(item, tuple(by_agreement.get(item.agreement_id, ())))
                for item in self.agreements.values()
            ),
            allegations=tuple(self.allegations.values()),
            hostilities=tuple(self.hostilities.values()),
            lifts=self.lifts.copy(),
            unplaced=self.unplaced.copy(),
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
        case AgreementReached():
            _agreement_reached(acc, event)
        case AgreementSigned():
            _agreement_signed(acc, event)
        case AgreementRatified():
            _agreement_ratified(acc, event)
        case AgreementSuspended():
            _agreement_suspended(acc, event)
        case AgreementTerminated():
            _agreement_terminated(acc, event)
        case ProvisionImplemented():
            _provision_implemented(acc, event)
        case CeasefireLifted():
            _ceasefire_lifted(acc, event)
        case ViolationAlleged():
            _violation_alleged(acc, event)
        case HostilitiesReported():
            _hostilities_reported(acc, event)
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
        addressee=data.addressees[0] if data.addressees else None,
        addressees=tuple(data.addressees),
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
        participants=previous.participants if previous else (),
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
            participants=(),
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
        participants=tuple(data.participants),
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
            ceasefire_id=event.id,
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
            ceasefire_id=event.id,
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
    # An allegation or a report may be folded before or after its disputes (they
    # are ordered by their own valid time): each side looks the other up.
    target = data.event_id
    disputes = acc.disputes.get(target, ()) + (
        Dispute(event.id, data.disputed_by, data.counter_claim),
    )
    acc.disputes[target] = disputes
    allegation = acc.allegations.get(target)
    if allegation is not None:
        acc.allegations[target] = replace(allegation, disputes=disputes)
    report = acc.hostilities.get(target)
    if report is not None:
        acc.hostilities[target] = replace(report, disputes=disputes)


def _agreement(
    acc: Accumulator, agreement_id: str, title: str, kind: str, event: UUID
) -> Agreement:
    """The agreement so far with ``event`` among its events, or a new one when ``event``
    is the first to name it: steps folded before it (earlier in valid time) join it."""
    previous = acc.agreements.get(agreement_id)
    if previous is not None:
        return replace(previous, events=previous.events + (event,))
    steps = acc.unplaced.pop(agreement_id, ())
    return Agreement(
        agreement_id=agreement_id,
        title=title,
        kind=kind,
        status="reached",
        parties=(),
        signatories=(),
        witnesses=(),
        guarantors=(),
        ratified_by=(),
        suspended_by=(),
        provisions=(),
        implementations=steps,
        place=None,
        text_url=None,
        terminated=None,
        events=tuple(step.event_id for step in steps) + (event,),
    )


def _unique(items: tuple[Any, ...], more: Any) -> tuple[Any, ...]:
    """``items`` and those of ``more`` not among them, in order."""
    for item in more:
        if item not in items:
            items = items + (item,)
    return items


def _merged(provisions: tuple[Provision, ...], more: Any) -> tuple[Provision, ...]:
    """Provisions by id: a later text of a provision replaces it in place."""
    by_id = {provision.id: provision for provision in provisions}
    for provision in more:
        by_id[provision.id] = provision
    return tuple(by_id.values())


def _lifecycle(item: Agreement, status: AgreementStatus) -> AgreementStatus:
    """The status after a lifecycle event: the latest one, but a termination is final."""
    return item.status if item.status == "terminated" else status


def _agreement_reached(acc: Accumulator, event: AgreementReached) -> None:
    data = event.data
    item = _agreement(acc, data.agreement_id, data.title, data.kind, event.id)
    acc.agreements[data.agreement_id] = replace(
        item,
        title=data.title,
        kind=data.kind,
        status=_lifecycle(item, data.stage),
        parties=_unique(item.parties, data.parties),
        provisions=_merged(item.provisions, data.provisions),
        place=data.place or item.place,
        text_url=data.text_url or item.text_url,
    )


def _agreement_signed(acc: Accumulator, event: AgreementSigned) -> None:
    data = event.data
    item = _agreement(acc, data.agreement_id, data.title, data.kind, event.id)
    acc.agreements[data.agreement_id] = replace(
        item,
        title=data.title,
        kind=data.kind,
        status=_lifecycle(item, "signed"),
        parties=_unique(item.parties, (s.on_behalf_of or s.actor for s in data.signatories)),
        signatories=_unique(item.signatories, data.signatories),
        witnesses=_unique(item.witnesses, data.witnesses),
        guarantors=_unique(item.guarantors, data.guarantors),
        provisions=_merged(item.provisions, data.provisions),
        place=data.place or item.place,
        text_url=data.text_url or item.text_url,
    )


def _agreement_ratified(acc: Accumulator, event: AgreementRatified) -> None:
    item = acc.agreements.get(event.data.agreement_id)
    if item is None:
        return  # not (yet) in this state: counted, and in the timeline
    acc.agreements[item.agreement_id] = replace(
        item,
        status=_lifecycle(item, "ratified"),
        ratified_by=_unique(item.ratified_by, (event.data.by,)),
        events=item.events + (event.id,),
    )


def _agreement_suspended(acc: Accumulator, event: AgreementSuspended) -> None:
    item = acc.agreements.get(event.data.agreement_id)
    if item is None:
        return
    acc.agreements[item.agreement_id] = replace(
        item,
        status=_lifecycle(item, "suspended"),
        suspended_by=_unique(item.suspended_by, (event.data.by,)),
        events=item.events + (event.id,),
    )


def _agreement_terminated(acc: Accumulator, event: AgreementTerminated) -> None:
    data = event.data
    item = acc.agreements.get(data.agreement_id)
    if item is None:
        return
    acc.agreements[item.agreement_id] = replace(
        item,
        status="terminated",
        # The first termination stands: a later one repeats what already ended.
        terminated=item.terminated or Termination(data.reason, data.superseded_by, data.by),
        events=item.events + (event.id,),
    )


def _provision_implemented(acc: Accumulator, event: ProvisionImplemented) -> None:
    data = event.data
    step = Implementation(
        event_id=event.id,
        provision=data.provision,
        occurred_at=event.occurred_at,
        by=tuple(data.by),
        summary=data.summary,
    )
    item = acc.agreements.get(data.agreement_id)
    if item is None:
        acc.unplaced[data.agreement_id] = acc.unplaced.get(data.agreement_id, ()) + (step,)
        return
    acc.agreements[item.agreement_id] = replace(
        item,
        implementations=item.implementations + (step,),
        events=item.events + (event.id,),
    )


def _ceasefire_lifted(acc: Accumulator, event: CeasefireLifted) -> None:
    data = event.data
    previous = acc.lifts.get(data.ceasefire)
    if previous is not None and previous.mode == "ended":
        return  # an ended ceasefire stays ended; a new one is a new declaration
    acc.lifts[data.ceasefire] = Lift(
        event_id=event.id,
        by=data.by,
        mode=data.mode,
        reason=data.reason,
        occurred_at=event.occurred_at,
    )


def _violation_alleged(acc: Accumulator, event: ViolationAlleged) -> None:
    data = event.data
    acc.allegations[event.id] = Allegation(
        event_id=event.id,
        accuser=data.accuser,
        accused=tuple(data.accused),
        ceasefire=data.ceasefire,
        agreement_id=data.agreement_id,
        regions=tuple(data.regions),
        kind=data.kind,
        summary=data.summary,
        occurred_at=event.occurred_at,
        occurred_until=event.occurred_until,
        precision=event.precision,
        disputes=acc.disputes.get(event.id, ()),
    )


def _hostilities_reported(acc: Accumulator, event: HostilitiesReported) -> None:
    data = event.data
    acc.hostilities[event.id] = Hostilities(
        event_id=event.id,
        parties=tuple(data.parties),
        regions=tuple(data.regions),
        kind=data.kind,
        summary=data.summary,
        occurred_at=event.occurred_at,
        occurred_until=event.occurred_until,
        precision=event.precision,
        disputes=acc.disputes.get(event.id, ()),
    )


_ShownT = TypeVar("_ShownT", Ceasefire, Agreement)


def _shown(item: _ShownT, allegations: tuple[Allegation, ...], **more: Any) -> _ShownT:
    """``item`` as the answer shows it: with its allegations and ``more`` joined in.

    The view is kept on the folded item while these inputs stay the same, so a warm
    answer reuses its JSON (tuples of items compare by identity first: cheap).
    """
    key = (allegations, more)
    kept = item._shown
    if kept is not None and kept[0] == key:
        return cast(_ShownT, kept[1])
    view = replace(item, allegations=allegations, **more)
    object.__setattr__(item, "_shown", (key, view))
    return view


def _party_keys(parties: tuple[Actor, ...]) -> frozenset[str]:
    # A party given only by name has no ISO3 code; its name keys it instead.
    return frozenset(party.country or party.label for party in parties)


_Successor = tuple[frozenset[str], frozenset[str], datetime]
"""A declared ceasefire as a possible successor: its parties, its scope, its start."""


def _successor(item: Ceasefire) -> _Successor:
    assert item.effective_from is not None
    return _party_keys(item.parties), frozenset(item.scope), start_of(item.effective_from)


def _not_in_force(
    item: Ceasefire, lift: Lift | None, later: list[_Successor], as_of: datetime | None
) -> NotInForce | None:
    """Why a ceasefire is not in force at ``as_of`` (None: it is), first reason first:
    proposed, not yet started, ended (its end passed, or lifted so), suspended (lifted
    so), superseded (a later declared ceasefire of at least its parties, over common
    ground, has taken effect; an empty scope is everywhere).

    A state without ``as_of`` (``initial_state``, ``evolve``) is read at the end of
    time for a ceasefire's own dates: begun, and ended if it has an end.
    """
    if item.status == "proposed" or item.effective_from is None:
        return "proposed"
    if as_of is not None and as_of < start_of(item.effective_from):
        return "not_yet_started"
    until = item.effective_until
    if (lift is not None and lift.mode == "ended") or (
        until is not None and (as_of is None or as_of > end_of_day(until))
    ):
        return "ended"
    if lift is not None:
        return "suspended"
    parties, scope = _party_keys(item.parties), frozenset(item.scope)
    for others, other_scope, starts in later:
        if (
            parties <= others
            and (not scope or not other_scope or not scope.isdisjoint(other_scope))
            and (as_of is None or starts <= as_of)
        ):
            return "superseded"
    return None


def _ceasefires_at(
    ceasefires: list[Ceasefire],
    lifts: Mapping[UUID, Lift],
    alleged: Mapping[UUID, list[Allegation]],
    as_of: datetime | None,
) -> tuple[Ceasefire, ...]:
    """Every ceasefire with what depends on ``as_of`` and on later events joined in."""
    successors = [_successor(item) for item in ceasefires if item.status == "declared"]
    shown = []
    declared_so_far = 0
    for item in ceasefires:
        if item.status == "declared":
            declared_so_far += 1
        key = item.ceasefire_id if item.ceasefire_id is not None else item.events[0]
        lift = lifts.get(key)
        reason = _not_in_force(item, lift, successors[declared_so_far:], as_of)
        shown.append(
            _shown(
                item,
                tuple(alleged.get(key, ())),
                in_force=reason is None,
                not_in_force=reason,
                lifted=lift,
            )
        )
    return tuple(shown)
