"""Request and response schemas, one family per resource, apart from domain events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field

from domain.negotiation import Recorded, Slug
from domain.values import Actor, Name, Source, ValidTime
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
    source: str | None = Field(
        default=None, description="who wrote it, when the writer said (EventSourcingDB API)"
    )


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


class EventPage(BaseModel):
    events: list[EventOut]
    next: str | None = Field(description="URL of the next page, or null at the end")


class EventDetailOut(EventOut):
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


class KeysOut(BaseModel):
    keys: list[KeyOut]


def event_out(record: Recorded) -> dict[str, Any]:
    """The JSON form of a stored event, as a dict (``store.codec.answer_json`` parsed)."""
    body: dict[str, Any] = orjson.loads(answer_json(record))
    return body


def events_json(records: Sequence[Recorded]) -> bytes:
    """A JSON array of events as ``answer_json`` shows each."""
    return b"[" + b",".join(map(answer_json, records)) + b"]"


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
