"""The server's answers as the client reads them: pydantic models of Parley's JSON.

They mirror the API's shapes without importing the server (``api.schemas`` pulls in the
store and the domain). Every model keeps fields it does not know (``extra="allow"``):
new fields are additive, so an older client still reads a newer server's answers.
An event's own ``data`` stays a dict, as its fields depend on its type.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

Moment = date | datetime  # a valid time as sent: a date, or a datetime with offset


class Answer(BaseModel):
    """Base of every answer model: frozen, and keeps fields added by newer servers."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class Actor(Answer):
    name: str | None = None
    country: str | None = None
    role: str | None = None
    wikidata: str | None = None


class Place(Answer):
    city: str | None = None
    country: str
    region: str | None = None
    geonames: int | None = None


class Source(Answer):
    outlet: str
    url: str | None = None
    published_at: Moment | None = None
    attributed_to: Actor | None = None
    quote: str | None = None
    via: list[str] = []


class Negotiation(Answer):
    negotiation: str
    title: str
    parties: list[Actor]
    mediators: list[Actor]
    opened_at: Moment
    version: int
    event_count: int
    last_occurred_at: datetime | None = None
    last_recorded_at: datetime | None = None
    last_position: int


class Event(Answer):
    """An event as stored: the envelope plus what the store added."""

    id: UUID
    type: str
    occurred_at: Moment
    occurred_until: Moment | None = None
    precision: str
    data: dict[str, Any]
    sources: list[Source]
    asserted_by: Actor | None = None
    negotiation: str
    position: int
    version: int
    recorded_at: datetime
    hash: str
    previous_hash: str | None = None
    recorded_by: str | None = None  # the name of the token that appended it, when known
    source: str | None = None  # who wrote it, when the writer said (EventSourcingDB API)


class EventDetail(Event):
    """One event with the disputes, corrections and retractions that name it."""

    disputes: list[Event]
    corrections: list[Event]
    retractions: list[Event]


class EventPage(Answer):
    events: list[Event]
    next: str | None = Field(description="the next page's path and query, or None at the end")


class AppendedEvent(Answer):
    id: UUID
    type: str
    position: int
    version: int
    recorded_at: datetime
    hash: str
    stored: str  # "created" now, or "existing" from an earlier request


class Appended(Answer):
    negotiation: str
    version: int
    events: list[AppendedEvent]

    @property
    def created(self) -> list[AppendedEvent]:
        return [e for e in self.events if e.stored == "created"]

    @property
    def position(self) -> int:
        """The last position of the answer: pass it as ``wait_for`` to read your write."""
        return max(e.position for e in self.events)


class Delegation(Answer):
    party: Actor
    head: Actor
    members: list[Actor]
    named_at: Moment
    events: list[UUID]


class Participant(Answer):
    """Who sat at a round held, and in which role (party, mediator, chair, observer,
    guarantor)."""

    actor: Actor
    role: str


class Round(Answer):
    round: int
    status: str
    starts_at: Moment | None = None
    place: Place | None = None
    host: Actor | None = None
    participants: list[Participant] = []  # of the round held, each with a role
    outcomes: list[str] = []
    events: list[UUID]


class ProposalAnswer(Answer):
    event_id: UUID
    responder: Actor
    response: str
    summary: str | None = None
    answered_at: Moment


class Proposal(Answer):
    proposal_id: str
    proposer: Actor
    addressee: Actor | None = None  # the first of the addressees
    addressees: list[Actor] = []
    subject: str
    summary: str
    terms: list[str] = []
    status: str
    made_at: Moment
    answers: list[ProposalAnswer]
    events: list[UUID]


class Document(Answer):
    title: str
    sender: Actor = Field(alias="from")
    recipient: Actor = Field(alias="to")
    round: int | None = None
    exchanged_at: Moment
    events: list[UUID]


class Ceasefire(Answer):
    status: str
    proposer: Actor | None = None
    parties: list[Actor] = []
    scope: list[str] = []
    duration: timedelta | None = None
    conditions: list[str] = []
    effective_from: Moment | None = None
    effective_until: Moment | None = None
    occurred_at: Moment
    events: list[UUID]


class SecurityZone(Answer):
    declared_by: Actor
    regions: list[str]
    depth_km: float | None = None
    status: str
    declared_at: Moment
    events: list[UUID]


class ContestedClaim(Answer):
    event_id: UUID
    disputed_by: Actor
    counter_claim: str
    recorded_at: datetime
    disputed_at: Moment
    events: list[UUID]


class State(Answer):
    """A negotiation at valid time ``as_of`` as known at ``known_at``; ``position`` is the
    last event folded, so that the query can be repeated exactly."""

    negotiation: str
    title: str | None = None
    as_of: datetime | None = None
    known_at: datetime | None = None
    position: int | None = None
    parties: list[Actor]
    mediators: list[Actor]
    delegations: dict[str, Delegation]
    rounds: list[Round]
    proposals: list[Proposal]
    documents: list[Document]
    ceasefires: list[Ceasefire]
    security_zones: list[SecurityZone]
    contested: list[ContestedClaim]
    event_count: int


class Dispute(Answer):
    event_id: UUID
    disputed_by: Actor
    counter_claim: str


class TimelineEntry(Answer):
    """A world event as known at the timeline's ``known_at`` (corrections applied)."""

    id: UUID
    type: str
    occurred_at: Moment
    occurred_until: Moment | None = None
    precision: str
    position: int
    recorded_at: datetime
    data: dict[str, Any]
    sources: list[Source]
    asserted_by: Actor | None = None
    disputed_by: list[Dispute]
    corrected_by: list[UUID]
    retracted_by: UUID | None = None


class Timeline(Answer):
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    known_at: datetime | None = None
    position: int | None = None
    total: int | None = None  # the entries in the window; ``events`` may be the latest
    events: list[TimelineEntry]


class Change(Answer):
    """A state item added or changed between two valid times (its identity fields, such
    as ``round`` or ``proposal_id``, are kept as extra fields)."""

    change: str  # "added" or "changed"
    before: dict[str, Any] | None = None
    after: dict[str, Any]
    events: list[UUID]


class Diff(Answer):
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    known_at: datetime | None = None
    position: int | None = None
    rounds: list[Change]
    proposals: list[Change]
    security_zones: list[Change]
    ceasefires: list[Change]


class Head(Answer):
    """A negotiation's head, signed by the server: save it to check the log later."""

    parley_head: int
    negotiation: str
    version: int
    position: int
    hash: str
    recorded_at: str  # kept as the server wrote it: the signature covers this text
    key_id: str
    signature: str


class Key(Answer):
    key_id: str
    algorithm: str
    public_key: str
    pem: str


class Verification(Answer):
    """``GET /verify``: whether every hash chain holds, and the first break if not."""

    ok: bool
    events: int
    negotiations: int
    first_break: str | None = None
    broken_event: str | None = None
    detail: dict[str, Any] = {}


class Health(Answer):
    status: str
    backend: str
    position: int


class Heartbeat(Answer):
    """A live stream's heartbeat: the position scanned so far, to resume after."""

    position: int
