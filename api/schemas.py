"""Request and response schemas, one family per resource, apart from domain events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.coding import Coding
from domain.negotiation import Recorded, Slug
from domain.tokens import RESERVED_NAMES, TOKEN_NAME, Scope
from domain.values import Actor, Name, Source, Text, ValidTime
from store.codec import answer_json
from store.index import NegotiationSummary


class NegotiationIn(BaseModel):
    """Open a negotiation. ``occurred_at`` defaults to today, ``sources`` to the desk."""

    model_config = ConfigDict(extra="forbid")

    slug: Slug
    title: Name
    parties: Annotated[list[Actor], Field(min_length=1, max_length=50)]
    mediators: Annotated[list[Actor], Field(max_length=50)] = []
    id: UUID | None = None
    occurred_at: ValidTime | None = None
    sources: Annotated[list[Source], Field(max_length=50)] | None = None


class NegotiationOut(BaseModel):
    negotiation: str
    title: str
    parties: list[dict[str, Any]]
    mediators: list[dict[str, Any]]
    opened_at: date | datetime
    version: int
    event_count: int
    last_occurred_at: datetime | None
    last_recorded_at: datetime | None
    last_position: int


class EventOut(BaseModel):
    """An event as stored: the envelope plus what the store added."""

    id: UUID
    type: str
    occurred_at: date | datetime
    occurred_until: date | datetime | None = None
    precision: str
    data: dict[str, Any]
    sources: list[dict[str, Any]]
    asserted_by: dict[str, Any] | None = None
    negotiation: str
    position: int
    version: int
    recorded_at: datetime
    hash: str
    previous_hash: str | None
    recorded_by: str | None = Field(
        default=None, description="the name of the token that appended it"
    )
    source: str | None = Field(
        default=None, description="who wrote it, when the writer said (EventSourcingDB API)"
    )


class PloverOut(BaseModel):
    event: str | None = Field(description="PLOVER event category, from CAMEO2PLOVER-2021")
    mode: str | None
    context: list[str]


class CodingOut(BaseModel):
    """An event's CAMEO code and its PLOVER reading (``domain.coding``); all null for
    the events no code describes (an opening, a delegation, facts about the log)."""

    cameo: str | None = Field(description="CAMEO 1.1b3 code, e.g. 041 for a phone call")
    cameo_label: str | None
    plover: PloverOut


class CodedEventOut(EventOut):
    coding: CodingOut


class AppendedEventOut(BaseModel):
    id: UUID
    type: str
    position: int
    version: int
    recorded_at: datetime
    hash: str
    stored: str = Field(description="'created' now, or 'existing' from an earlier request")


class AppendOut(BaseModel):
    negotiation: str
    version: int
    events: list[AppendedEventOut]


class DryRunEventOut(BaseModel):
    id: UUID
    type: str
    version: int = Field(description="the version it would be stored at")
    stored: Literal["would be created", "existing"]
    event: dict[str, Any] = Field(description="the event as it would be stored")


class StatePreviewOut(BaseModel):
    """The part of the state that the events would change (``projections.preview``)."""

    as_of: datetime = Field(description="the events' latest valid time")
    known_at: datetime
    changed: list[str] = Field(description="the state's fields that differ")
    before: dict[str, Any] = Field(description="each changed field without the events")
    after: dict[str, Any] = Field(description="each changed field with the events")


class DryRunOut(BaseModel):
    """A dry run's answer (``?dry_run=true``): nothing was stored."""

    negotiation: str
    dry_run: Literal[True]
    version: int = Field(description="the negotiation's version after the events")
    events: list[DryRunEventOut]
    state: StatePreviewOut | None = Field(description="null when every event is stored")


class EventPage(BaseModel):
    events: list[CodedEventOut]
    next: str | None = Field(description="URL of the next page, or null at the end")


class LogPage(BaseModel):
    """A page of the global log: the events as stored and as the live stream sends them."""

    events: list[EventOut]
    next: str | None = Field(description="URL of the next page, or null at the end")


class EventDetailOut(CodedEventOut):
    disputes: list[EventOut]
    corrections: list[EventOut]
    retractions: list[EventOut]


class HeadOut(BaseModel):
    """A negotiation's head, signed: save it to check the log later (``parley verify
    --heads``). The signature covers every field but itself (``api.signing``)."""

    parley_head: int = Field(description="the head format: 1")
    negotiation: str
    version: int = Field(description="the last event's version")
    position: int = Field(description="the last event's position in the global log")
    hash: str = Field(description="the last event's hash: the end of the chain")
    recorded_at: str = Field(description="the last event's recorded_at")
    key_id: str = Field(description="which key signed it (GET /keys)")
    signature: str = Field(description="Ed25519 over the head's canonical JSON, base64")


class KeyOut(BaseModel):
    key_id: str = Field(description="the first 16 hex digits of SHA-256 of the raw key")
    algorithm: str
    public_key: str = Field(description="the raw 32-byte public key, base64")
    pem: str = Field(description="the same key as PEM (SubjectPublicKeyInfo)")
    retired_at: str | None = Field(
        default=None, description="when a new key replaced this one; null on the current key"
    )
    retired_because: str | None = Field(default=None, description="why it was replaced")


class KeysOut(BaseModel):
    keys: list[KeyOut]


class RedactionIn(BaseModel):
    """Redact a person: destroy their key, so every field sealed under it reads
    ``[redacted]`` (see the README's "Redaction")."""

    model_config = ConfigDict(extra="forbid")

    person: Name = Field(examples=["Vladimir Medinsky"])
    reason: Text = Field(examples=["the source asked"])
    requested_by: Name | None = None

    @field_validator("person", "reason", "requested_by")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        """Text a database can hold: no NUL, no lone surrogate."""
        if value is not None and ("\x00" in value or not _utf8(value)):
            raise ValueError("text may not hold NUL or a lone surrogate")
        return value


def _utf8(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


class RedactionOut(BaseModel):
    key_id: str = Field(description="the destroyed key's id (PersonRedacted's data.person)")
    negotiations: list[str] = Field(description="where a PersonRedacted was recorded")
    events: list[EventOut]


def event_out(record: Recorded) -> dict[str, Any]:
    """The JSON form of a stored event, as a dict (``store.codec.answer_json`` parsed)."""
    body: dict[str, Any] = orjson.loads(answer_json(record))
    return body


def events_json(records: Sequence[Recorded]) -> bytes:
    """A JSON array of events as ``answer_json`` shows each."""
    return b"[" + b",".join(map(answer_json, records)) + b"]"


def coded_json(record: Recorded, coding: Coding) -> bytes:
    """An event as ``answer_json`` shows it, with its ``coding`` object added."""
    return answer_json(record)[:-1] + b',"coding":' + orjson.dumps(coding.as_json()) + b"}"


def coded_events_json(records: Sequence[Recorded], codings: Sequence[Coding]) -> bytes:
    """A JSON array of events, each with its coding (``coded_json``)."""
    return b"[" + b",".join(map(coded_json, records, codings)) + b"]"


def event_detail_json(record: Recorded, about: Sequence[Recorded], coding: Coding) -> bytes:
    """One event as ``GET /events/{id}`` shows it: with its coding, and the disputes,
    corrections and retractions among ``about`` (the facts that name it). An export's
    NDJSON lines are made here too, from the facts known at its ``known_at``."""

    def of(kind: str) -> bytes:
        return events_json([r for r in about if r.type == kind])

    return (
        coded_json(record, coding)[:-1]
        + b',"disputes":'
        + of("ClaimDisputed")
        + b',"corrections":'
        + of("EventCorrected")
        + b',"retractions":'
        + of("EventRetracted")
        + b"}"
    )


def negotiation_out(opening: Recorded, summary: NegotiationSummary) -> dict[str, Any]:
    data = opening.event.data.model_dump(mode="json")
    return {
        "negotiation": summary.negotiation,
        "title": data["title"],
        "parties": data["parties"],
        "mediators": data["mediators"],
        "opened_at": opening.event.occurred_at.isoformat(),
        "version": summary.version,
        "event_count": summary.event_count,
        "last_occurred_at": summary.last_occurred_at,
        "last_recorded_at": summary.last_recorded_at,
        "last_position": summary.last_position,
    }


class TokenIn(BaseModel):
    """Make a named token. Its name is what the log records as ``recorded_by``."""

    model_config = ConfigDict(extra="forbid")

    # The rules are checked by domain.tokens, whose messages say which was broken; the
    # schema states them too (reserved names included) for clients and fuzzers.
    name: str = Field(
        max_length=40,
        examples=["alice"],
        json_schema_extra={
            "pattern": f"^(?!(?:{'|'.join(sorted(RESERVED_NAMES))})$)" + TOKEN_NAME.pattern[1:]
        },
    )
    scope: Scope = Field(description="read, append (implies read) or admin (implies append)")


class TokenOut(BaseModel):
    """A named token as stored: never its secret nor its hash."""

    name: str
    scope: Scope
    scopes: list[Scope] = Field(description="the scope and those it implies")
    created_at: datetime
    created_by: str = Field(description="the token that made it, or cli:<user>")
    revoked_at: datetime | None


class IdentityOut(BaseModel):
    """Who a request's bearer token acts as (``GET /tokens/me``)."""

    name: str
    scope: Scope
    scopes: list[Scope] = Field(description="the scope and those it implies")


class TokenCreatedOut(TokenOut):
    token: str = Field(description="the secret: shown this once, kept nowhere")


class TokensOut(BaseModel):
    tokens: list[TokenOut]
