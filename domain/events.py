"""The closed set of negotiation events, each a frozen pydantic model.

An event is an envelope (id, type, valid time, precision, sources, asserted_by) around
its type's own ``data``. Types are named in the past tense. ``AnyEvent`` is the
discriminated union on ``type`` that parses what a client sends.

How each event is coded in CAMEO and PLOVER is ``domain/coding.py``'s business;
``CODEBOOK`` names the codebooks and tables it uses.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal, Union
from uuid import UUID

import orjson
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from domain.cameo2plover import TABLE_SOURCE
from domain.values import (
    Actor,
    Duration,
    Frozen,
    Name,
    Place,
    RegionCode,
    Source,
    Text,
    Url,
    ValidTime,
    end_of_day,
    start_of,
)

CODEBOOK = (
    "CAMEO 1.1b3 (GDELT CAMEO.eventcodes.txt), Parley coding rules v2;"
    f" PLOVER from {TABLE_SOURCE}"
)
"""What exports and codings name as their codebook. Raise the rules' version when
``domain/coding.py`` changes the code it gives to any event."""

Precision = Literal["exact", "day", "month", "year"]
ProposalId = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._:-]+$")]
RoundNumber = Annotated[int, Field(ge=1, le=1000)]
Regions = Annotated[list[RegionCode], Field(max_length=200)]

ContactMedium = Literal["phone", "visit", "third-party", "video", "letter"]
ProposalSubject = Literal[
    "meeting", "memorandum", "ceasefire", "roadmap", "prisoner_exchange", "other"
]
ProposalResponse = Literal["accepted", "rejected", "countered", "noted"]
RoundStatus = Literal["proposed", "confirmed", "postponed", "cancelled"]
ZoneStatus = Literal["declared", "implemented"]

AgreementId = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._:-]+$")]
"""The desk's name for an agreement (``minsk-2``), shared by every event of its life."""
ProvisionId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._:-]+$")]
"""A provision's name within its agreement (``1``, ``3.b``, ``prisoners``)."""
AgreementKind = Literal[
    "ceasefire",
    "pre_negotiation",
    "framework",
    "partial",
    "comprehensive",
    "implementation",
    "declaration",
    "other",
]
"""PA-X's stages of an agreement, kept coarse: ``partial`` and ``comprehensive`` are
its two framework-substantive kinds, ``framework`` one that sets a process only."""
ProvisionTopic = Literal[
    "ceasefire",
    "withdrawal",
    "prisoners",
    "humanitarian",
    "security",
    "demining",
    "monitoring",
    "political",
    "territory",
    "economic",
    "implementation",
    "other",
]
AgreementStage = Literal["reached", "initialled"]
"""Before signature: agreed in principle or announced (``reached``), or its text
initialled by the negotiators (``initialled``)."""
ParticipantRole = Literal["party", "mediator", "chair", "observer", "guarantor"]
HostilitiesKind = Literal[
    "shelling",
    "air_strike",
    "drone_strike",
    "missile_strike",
    "ground_fighting",
    "naval",
    "other",
]
"""What the report says the fighting was, kept coarse: context for the talks, not a
battle dataset."""
CeasefireEnd = Literal["suspended", "ended"]


_ids = random.Random()  # seeded from the operating system once per process


def new_event_id() -> UUID:
    """A random (version 4) UUID for an event sent without one.

    Drawn from a generator seeded once by the operating system rather than from
    ``os.urandom`` per id: the system call lets go of the interpreter lock on the
    request path, and winning it back from the writer thread cost more than the rest
    of parsing. Ids need to be unique, not secret.
    """
    return UUID(int=_ids.getrandbits(128), version=4)


@dataclass(frozen=True, slots=True)
class OldShape:
    """A field that a type's data had at an earlier schema version, and how its value
    becomes today's field."""

    field: str
    becomes: str
    lift: Callable[[Any], Any]


def _one_addressee(value: Any) -> Any:
    return [] if value is None else [value]


def _delegations(value: Any) -> Any:
    if not isinstance(value, list):
        return value  # not a list: today's field says what is wrong with it
    return [{"actor": actor, "role": "party"} for actor in value]


OLD_SHAPES: dict[str, tuple[OldShape, ...]] = {
    "ProposalMade": (OldShape("addressee", "addressees", _one_addressee),),
    "RoundHeld": (OldShape("delegations", "participants", _delegations),),
}
"""The old fields that clients may still send, and that corrections may still name, by
type: each reads as today's field with the same meaning (``addressee: X`` as
``addressees: [X]``, ``delegations`` as participants in the role ``party``). The stored
upcasters (``domain.stored``) lift version 1 events the same way."""


def lift_old_shape(event_type: str, data: Any) -> Any:
    """``data`` (the JSON object of an ``event_type``'s data, or a correction's fields)
    with its old fields lifted to today's. Sending an old field beside the field it
    became is ambiguous: a validation error naming the old field."""
    shapes = OLD_SHAPES.get(event_type, ())
    if not isinstance(data, dict) or not any(shape.field in data for shape in shapes):
        return data
    lifted = dict(data)
    for shape in shapes:
        if shape.field not in lifted:
            continue
        if shape.becomes in lifted:
            raise ValidationError.from_exception_data(
                f"{event_type}.Data",
                [
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "old_shape",
                            "{old} is the old shape of {new}: send {new} only",
                            {"old": shape.field, "new": shape.becomes},
                        ),
                        loc=(shape.field,),
                        input=lifted[shape.field],
                    )
                ],
            )
        lifted[shape.becomes] = shape.lift(lifted.pop(shape.field))
    return lifted


def _type_required(schema: dict[str, Any]) -> None:
    """``type`` has a default in Python, but a client must send it: it picks the model."""
    schema["required"] = ["type", *schema.get("required", [])]


class Event(Frozen):
    """The envelope every event shares (DESIGN.md §2.1)."""

    model_config = ConfigDict(json_schema_extra=_type_required)

    id: UUID = Field(default_factory=new_event_id, description="idempotency key")
    type: str
    occurred_at: ValidTime = Field(
        description="valid time: when it happened in the world", examples=["2025-05-16"]
    )
    occurred_until: ValidTime | None = Field(
        default=None,
        description="the end of an interval; not before occurred_at",
        examples=["2025-05-17"],
    )
    precision: Precision | None = Field(
        default=None, description="defaults to 'day' for a date, 'exact' for a datetime"
    )
    sources: Annotated[list[Source], Field(min_length=1, max_length=50)]
    asserted_by: Actor | None = None
    data: Frozen

    @model_validator(mode="after")
    def _precision_and_interval(self) -> Event:
        if self.precision is None:
            implied = "exact" if isinstance(self.occurred_at, datetime) else "day"
            # The model is frozen; filling a default during validation is still ours.
            self.__dict__["precision"] = implied
        # A date as the end of an interval means the whole of that day, so a round
        # that began at 10:00 on 16 May may end "on 16 May".
        if self.occurred_until is not None and end_of_day(self.occurred_until) < start_of(
            self.occurred_at
        ):
            raise ValueError("occurred_until must not be before occurred_at")
        return self

    @property
    def valid_from(self) -> datetime:
        """The UTC instant used to order this event along valid time."""
        return start_of(self.occurred_at)

    @property
    def subject_id(self) -> UUID | None:
        """The event this one is about, for disputes, corrections and retractions."""
        return None


class NegotiationOpened(Event):
    class Data(Frozen):
        title: Name
        parties: Annotated[list[Actor], Field(min_length=1, max_length=50)]
        mediators: Annotated[list[Actor], Field(max_length=50)] = []

    type: Literal["NegotiationOpened"] = "NegotiationOpened"
    data: Data


class DelegationNamed(Event):
    class Data(Frozen):
        party: Actor
        head: Actor
        members: Annotated[list[Actor], Field(max_length=100)] = []

    type: Literal["DelegationNamed"] = "DelegationNamed"
    data: Data


class ContactHeld(Event):
    """A contact outside the rounds: a call, a visit, a letter. ``place`` is where it
    was held (for a call, where the caller was, if the sources say), ``host`` who
    received it (schema version 2; stored version 1 events read with both null)."""

    class Data(Frozen):
        participants: Annotated[list[Actor], Field(min_length=2, max_length=50)]
        medium: ContactMedium
        summary: Text
        place: Place | None = None
        host: Actor | None = None

    type: Literal["ContactHeld"] = "ContactHeld"
    data: Data


class StatementIssued(Event):
    class Data(Frozen):
        speaker: Actor
        summary: Text
        topic: Name | None = None

    type: Literal["StatementIssued"] = "StatementIssued"
    data: Data


class ProposalMade(Event):
    """A proposal, to its ``addressees`` (none: to no one in particular, or to all the
    parties, as a mediator's often is). Schema version 2: version 1 had one optional
    ``addressee``, which clients may still send (``OLD_SHAPES``)."""

    class Data(Frozen):
        proposal_id: ProposalId
        proposer: Actor
        addressees: Annotated[
            list[Actor],
            Field(max_length=50, description="whom the proposal is made to; may be empty"),
        ] = []
        subject: ProposalSubject
        summary: Text
        terms: Annotated[list[Text], Field(max_length=100)] = []

        @model_validator(mode="before")
        @classmethod
        def _old_shape(cls, value: Any) -> Any:
            return lift_old_shape("ProposalMade", value)

    type: Literal["ProposalMade"] = "ProposalMade"
    data: Data


class ProposalAnswered(Event):
    class Data(Frozen):
        proposal_id: ProposalId
        responder: Actor
        response: ProposalResponse
        summary: Text | None = None

    type: Literal["ProposalAnswered"] = "ProposalAnswered"
    data: Data


class RoundScheduled(Event):
    """A round announced for a date. ``occurred_at`` is the announcement."""


    class Data(Frozen):
        round: RoundNumber
        starts_at: ValidTime
        place: Place
        status: RoundStatus = "proposed"

    type: Literal["RoundScheduled"] = "RoundScheduled"
    data: Data


class HostAnnounced(Event):
    class Data(Frozen):
        round: RoundNumber
        host: Actor
        place: Place | None = None

    type: Literal["HostAnnounced"] = "HostAnnounced"
    data: Data


class Participant(Frozen):
    """Who sat at a round, and in which capacity."""

    actor: Actor
    role: ParticipantRole


class RoundHeld(Event):
    """A round held. Schema version 2: its ``participants`` carry a role; version 1 had
    ``delegations`` (actors only), which read, and which clients may still send, as
    participants in the role ``party`` (``OLD_SHAPES``)."""

    class Data(Frozen):
        round: RoundNumber
        place: Place
        participants: Annotated[
            list[Participant],
            Field(max_length=50, description="who sat at the round, each with a role"),
        ] = []
        outcomes: Annotated[list[Text], Field(max_length=100)] = []

        @model_validator(mode="before")
        @classmethod
        def _old_shape(cls, value: Any) -> Any:
            return lift_old_shape("RoundHeld", value)

    type: Literal["RoundHeld"] = "RoundHeld"
    data: Data


class DocumentExchanged(Event):
    class Data(Frozen):
        title: Name
        sender: Actor = Field(alias="from")
        recipient: Actor = Field(alias="to")
        round: RoundNumber | None = None

    type: Literal["DocumentExchanged"] = "DocumentExchanged"
    data: Data


class CeasefireProposed(Event):
    class Data(Frozen):
        proposer: Actor
        scope: Regions = []
        duration: Duration | None = None
        conditions: Annotated[list[Text], Field(max_length=100)] = []

    type: Literal["CeasefireProposed"] = "CeasefireProposed"
    data: Data


class CeasefireDeclared(Event):
    class Data(Frozen):
        parties: Annotated[list[Actor], Field(min_length=1, max_length=50)]
        effective_from: ValidTime
        effective_until: ValidTime | None = None
        scope: Regions = []

    type: Literal["CeasefireDeclared"] = "CeasefireDeclared"
    data: Data


class SecurityZoneDeclared(Event):
    class Data(Frozen):
        declared_by: Actor
        regions: Annotated[list[RegionCode], Field(min_length=1, max_length=200)]
        depth_km: Annotated[float, Field(gt=0, le=5000)] | None = None
        status: ZoneStatus = "declared"

    type: Literal["SecurityZoneDeclared"] = "SecurityZoneDeclared"
    data: Data


class ClaimDisputed(Event):
    class Data(Frozen):
        event_id: UUID
        disputed_by: Actor
        counter_claim: Text

    type: Literal["ClaimDisputed"] = "ClaimDisputed"
    data: Data

    @property
    def subject_id(self) -> UUID:
        return self.data.event_id


class Provision(Frozen):
    """One provision of an agreement: a short text with a topic."""

    id: ProvisionId
    topic: ProvisionTopic
    text: Text


class Signatory(Frozen):
    """Who signed, and for which party (a minister signs for a state)."""

    actor: Actor
    on_behalf_of: Actor | None = None


Provisions = Annotated[list[Provision], Field(max_length=200)]
Actors = Annotated[list[Actor], Field(max_length=50)]


class AgreementReached(Event):
    """An agreement announced or initialled before it is signed (or without signature)."""

    class Data(Frozen):
        agreement_id: AgreementId
        title: Name
        kind: AgreementKind
        stage: AgreementStage = "reached"
        parties: Annotated[list[Actor], Field(min_length=1, max_length=50)]
        provisions: Provisions = []
        place: Place | None = None
        text_url: Url | None = None

    type: Literal["AgreementReached"] = "AgreementReached"
    data: Data


class AgreementSigned(Event):
    """An agreement signed: its signatories, witnesses, guarantors and provisions."""

    class Data(Frozen):
        agreement_id: AgreementId
        title: Name
        kind: AgreementKind
        signatories: Annotated[list[Signatory], Field(min_length=1, max_length=50)]
        witnesses: Actors = []
        guarantors: Actors = []
        provisions: Provisions = []
        place: Place | None = None
        text_url: Url | None = None

    type: Literal["AgreementSigned"] = "AgreementSigned"
    data: Data


class AgreementRatified(Event):
    """A party ratified an agreement (a parliament's vote, a decree)."""

    class Data(Frozen):
        agreement_id: AgreementId
        by: Actor
        summary: Text | None = None

    type: Literal["AgreementRatified"] = "AgreementRatified"
    data: Data


class AgreementSuspended(Event):
    """A party suspended its part in an agreement; it may resume (a later signing or
    ratification) or end (``AgreementTerminated``)."""

    class Data(Frozen):
        agreement_id: AgreementId
        by: Actor
        reason: Text

    type: Literal["AgreementSuspended"] = "AgreementSuspended"
    data: Data


class AgreementTerminated(Event):
    """An agreement ended: withdrawn from, expired, or replaced by another."""

    class Data(Frozen):
        agreement_id: AgreementId
        by: Actor | None = None
        reason: Text
        superseded_by: AgreementId | None = None

    type: Literal["AgreementTerminated"] = "AgreementTerminated"
    data: Data


class ProvisionImplemented(Event):
    """A step that carries out one provision (a prisoner exchange, a withdrawal)."""

    class Data(Frozen):
        agreement_id: AgreementId
        provision: ProvisionId
        by: Annotated[list[Actor], Field(min_length=1, max_length=50)]
        summary: Text

    type: Literal["ProvisionImplemented"] = "ProvisionImplemented"
    data: Data


class CeasefireLifted(Event):
    """A party suspended or ended a declared ceasefire (``ceasefire``: the id of its
    ``CeasefireDeclared`` event)."""

    class Data(Frozen):
        ceasefire: UUID
        by: Actor
        mode: CeasefireEnd
        reason: Text | None = None

    type: Literal["CeasefireLifted"] = "CeasefireLifted"
    data: Data


class ViolationAlleged(Event):
    """A sourced claim: one party accuses another of violating a ceasefire (the id of
    its ``CeasefireDeclared`` event) or an agreement, where and when the envelope says."""

    class Data(Frozen):
        accuser: Actor
        accused: Annotated[list[Actor], Field(min_length=1, max_length=50)]
        ceasefire: UUID | None = None
        agreement_id: AgreementId | None = None
        regions: Regions = []
        kind: HostilitiesKind | None = None
        summary: Text

        @model_validator(mode="after")
        def _names_what_was_violated(self) -> ViolationAlleged.Data:
            if self.ceasefire is None and self.agreement_id is None:
                raise ValueError("name what was violated: ceasefire or agreement_id")
            return self

    type: Literal["ViolationAlleged"] = "ViolationAlleged"
    data: Data


class HostilitiesReported(Event):
    """A sourced report of fighting between parties, in regions, over the envelope's
    interval: the context a ceasefire ends, kept coarse."""

    class Data(Frozen):
        parties: Annotated[list[Actor], Field(min_length=1, max_length=50)]
        regions: Regions = []
        kind: HostilitiesKind
        summary: Text

    type: Literal["HostilitiesReported"] = "HostilitiesReported"
    data: Data


EXACT_INTEGER = 2**53
"""The largest whole number a JSON number holds exactly (and far inside 64 bits)."""


def _json_values(fields: dict[str, Any]) -> dict[str, Any]:
    """Corrected fields are checked against their target's type later, in the aggregate;
    here only that JSON can hold them as they are: whole numbers within ±2**53 and
    finite numbers (a correction is serialised, and hashed, before it is checked)."""
    pending: list[tuple[str, Any]] = list(fields.items())
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            pending.extend((f"{path}.{key}", inner) for key, inner in value.items())
        elif isinstance(value, list):
            pending.extend((f"{path}.{index}", inner) for index, inner in enumerate(value))
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int) and abs(value) > EXACT_INTEGER:
            raise ValueError(f"{path}: a whole number beyond ±2**53 is not exact in JSON")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{path}: NaN and Infinity are no JSON numbers")
    return fields


class EventCorrected(Event):
    """A fact about the log: fields of an earlier event, as they should have been."""

    class Data(Frozen):
        event_id: UUID
        data: Annotated[dict[str, Any], Field(min_length=1), AfterValidator(_json_values)]
        reason: Text

    type: Literal["EventCorrected"] = "EventCorrected"
    data: Data

    @property
    def subject_id(self) -> UUID:
        return self.data.event_id


class EventRetracted(Event):
    """A fact about the log: an earlier event should no longer count."""

    class Data(Frozen):
        event_id: UUID
        reason: Text

    type: Literal["EventRetracted"] = "EventRetracted"
    data: Data

    @property
    def subject_id(self) -> UUID:
        return self.data.event_id


AnyEvent = Annotated[
    Union[
        NegotiationOpened,
        DelegationNamed,
        ContactHeld,
        StatementIssued,
        ProposalMade,
        ProposalAnswered,
        RoundScheduled,
        HostAnnounced,
        RoundHeld,
        DocumentExchanged,
        CeasefireProposed,
        CeasefireDeclared,
        SecurityZoneDeclared,
        ClaimDisputed,
        EventCorrected,
        EventRetracted,
        AgreementReached,
        AgreementSigned,
        AgreementRatified,
        AgreementSuspended,
        AgreementTerminated,
        ProvisionImplemented,
        CeasefireLifted,
        ViolationAlleged,
        HostilitiesReported,
    ],
    Field(discriminator="type"),
]

class PersonRedacted(Event):
    """A fact about the log: a person's key was destroyed, so the fields sealed under it
    (``domain.redaction``) read ``[redacted]`` from now on. The log records it, never a
    client: ``parley redact`` appends it to every negotiation that named the person, in
    the transaction that deletes the key. ``person`` is the key's id, not the name."""

    class Data(Frozen):
        person: Annotated[str, Field(min_length=1, max_length=80)]
        reason: Text
        requested_by: Name | None = None

    type: Literal["PersonRedacted"] = "PersonRedacted"
    sources: list[Source] = Field(default_factory=list, max_length=0)
    data: Data


EVENT_TYPES: dict[str, type[Event]] = {
    cls.model_fields["type"].default: cls
    for cls in Event.__subclasses__()
    if cls is not PersonRedacted
}
"""Every event type a client may send, by name."""

RECORDED_TYPES: dict[str, type[Event]] = {**EVENT_TYPES, "PersonRedacted": PersonRedacted}
"""Every event type the log holds: what clients send, and what the log itself records."""

any_event: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


@dataclass(frozen=True, slots=True)
class Traits:
    """What the rest of Parley must know of an event type: the one table (``TRAITS``)
    that every list of "which types are which" derives from."""

    about_event: bool = False
    """It speaks about another event rather than about the world: its ``data.event_id``
    names it (``LOG_FACTS``)."""
    knowledge: bool = False
    """A fact about the log alone: it changes what counts or what it shows, never
    happens in the world; folds along valid time skip it (``KNOWLEDGE``)."""
    write_side_content: bool = False
    """The write side's invariants read its content (rounds, proposal ids, what a
    retraction retracts); of other events the aggregate needs only what the event index
    holds."""
    content_free: bool = False
    """The state fold needs nothing of it but its index row (it is only counted, names
    its target, or tells the engine to read its negotiation again)."""
    redacts: bool = False
    """Storing it destroys a person's key (``REDACTIONS``)."""


def data_model(cls: type[Event]) -> type[Frozen]:
    """The model of an event type's ``data``."""
    model = cls.model_fields["data"].annotation
    assert isinstance(model, type) and issubclass(model, Frozen)
    return model


def type_name(cls: type[Event]) -> str:
    """The ``type`` an event class carries in JSON."""
    return str(cls.model_fields["type"].default)


TRAITS: dict[str, Traits] = {
    type_name(NegotiationOpened): Traits(),
    type_name(DelegationNamed): Traits(),
    type_name(ContactHeld): Traits(content_free=True),
    type_name(StatementIssued): Traits(content_free=True),
    type_name(ProposalMade): Traits(write_side_content=True),
    type_name(ProposalAnswered): Traits(),
    type_name(RoundScheduled): Traits(write_side_content=True),
    type_name(HostAnnounced): Traits(),
    type_name(RoundHeld): Traits(write_side_content=True),
    type_name(DocumentExchanged): Traits(),
    type_name(CeasefireProposed): Traits(),
    type_name(CeasefireDeclared): Traits(),
    type_name(SecurityZoneDeclared): Traits(),
    type_name(ClaimDisputed): Traits(about_event=True),
    type_name(EventCorrected): Traits(about_event=True, knowledge=True),
    type_name(EventRetracted): Traits(
        about_event=True, knowledge=True, content_free=True, write_side_content=True
    ),
    type_name(PersonRedacted): Traits(knowledge=True, content_free=True, redacts=True),
    type_name(AgreementReached): Traits(),
    type_name(AgreementSigned): Traits(),
    type_name(AgreementRatified): Traits(),
    type_name(AgreementSuspended): Traits(),
    type_name(AgreementTerminated): Traits(),
    type_name(ProvisionImplemented): Traits(),
    type_name(CeasefireLifted): Traits(),
    type_name(ViolationAlleged): Traits(),
    type_name(HostilitiesReported): Traits(),
}
"""Every recorded type's traits, by name."""


def types_where(trait: Callable[[Traits], bool]) -> frozenset[str]:
    """The names of the types whose traits pass ``trait``."""
    return frozenset(name for name, traits in TRAITS.items() if trait(traits))


LOG_FACTS = types_where(lambda t: t.about_event)
"""Types that speak about another event rather than about the world: their
``data.event_id`` names it. Disputes are also claims about the world; corrections and
retractions are knowledge only (``KNOWLEDGE``)."""

KNOWLEDGE = types_where(lambda t: t.knowledge)
"""Facts about the log alone: they change what counts or what it shows, never happen in
the world (folds along valid time skip them)."""

REDACTIONS = types_where(lambda t: t.redacts)
"""Types whose storing destroys a person's key (``PersonRedacted``)."""

IDENTITY_FIELDS = frozenset({"event_id", "proposal_id", "round"})
"""Fields that say which thing an event is about: a correction may not change them
(retract the event and record it anew), or the aggregate's invariants would be blind."""


def error_loc(error: Mapping[str, Any]) -> list[str | int]:
    """The field path of one ``parse_event`` validation error, without the
    discriminator's tag (``RoundScheduled``) that pydantic puts first; a missing or
    unknown ``type`` is reported at ``type``."""
    loc = list(error.get("loc", ()))
    if not loc and str(error.get("type", "")).startswith("union_tag"):
        return ["type"]
    if loc and isinstance(loc[0], str) and loc[0][:1].isupper():
        return loc[1:]
    return loc


def parse_event(value: Any) -> AnyEvent:
    """Validate one event from JSON-like data (raises pydantic's ValidationError)."""
    return any_event.validate_python(value)


def corrected(event: AnyEvent, fields: dict[str, Any]) -> AnyEvent:
    """The event with ``fields`` of its data replaced, validated as its own type."""
    aliases = {
        name: info.alias
        for name, info in type(event.data).model_fields.items()
        if info.alias is not None
    }
    # A correction may name a field in its old shape (``addressee``): it corrects the
    # field that it became.
    fields = lift_old_shape(event.type, fields)
    merged = {
        **event.data.model_dump(by_alias=True),
        **{aliases.get(key, key): value for key, value in fields.items()},
    }
    return event.model_copy(update={"data": type(event.data).model_validate(merged)})


def dump_event(event: Event) -> dict[str, Any]:
    """The JSON-ready form of an event: its fields under their JSON names."""
    return event.model_dump(mode="json", by_alias=True)


def encode_json(fields: Mapping[str, Any]) -> bytes:
    """Canonical JSON: keys sorted at every level, no spaces, UTF-8 (orjson)."""
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def encode_event(event: Event) -> bytes:
    """An event's canonical JSON: made once per event, then hashed and stored as is."""
    return encode_json(dump_event(event))


def event_date(value: date | datetime) -> str:
    """ISO text of a valid time, as the client gave it."""
    return value.isoformat()
