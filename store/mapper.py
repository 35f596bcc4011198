"""The mapper between ``Recorded`` events and the library's stored events.

The wheel of ``eventsourcing`` ships no pydantic mapper; this one follows the shape of
its aggregate7 example, but needs no serialisation of its own: the state is the
record's head and its canonical event bytes, laid out by ``store.codec``. Each stored
event also carries its index row, made here from the typed event the writer already
has, so the recorder inserts both in one transaction without parsing the JSON again;
the row carries what search finds the event by (``domain.mentions``) too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic

from domain.events import REDACTIONS, PersonRedacted
from domain.mentions import Mentions, mentions
from domain.negotiation import Recorded
from domain.reported import reported_time
from store.codec import decode_record, encode_record

RECORDED_TOPIC = get_topic(Recorded)


@dataclass(frozen=True)
class IndexRow:
    """One row of the event index (store/index.py), less the position, which the
    recorder learns only as it inserts the event."""

    event_id: UUID
    negotiation: str
    version: int
    type: str
    subject_id: UUID | None
    occurred_at: datetime
    recorded_at: datetime
    hash: str
    reported_at: datetime | None = None  # None: its recorded_at (``domain.reported``)
    recorded_by: str | None = None
    mentions: Mentions | None = None  # what search finds it by (store/search.py)


@dataclass(frozen=True)
class IndexedStoredEvent(StoredEvent):
    """A stored event with the index row that goes with it."""

    index: IndexRow | None = None
    destroys: str | None = None  # a person key id deleted in the same transaction


def index_row(recorded: Recorded) -> IndexRow:
    event = recorded.event
    return IndexRow(
        event_id=event.id,
        negotiation=recorded.negotiation,
        version=recorded.originator_version,
        type=event.type,
        subject_id=event.subject_id,
        occurred_at=event.valid_from,
        recorded_at=recorded.timestamp,
        hash=recorded.hash,
        reported_at=reported_time(event.sources, recorded.timestamp),
        recorded_by=recorded.recorded_by,
        mentions=mentions(event),
    )


def destroyed_key(recorded: Recorded) -> str | None:
    """The person key a ``PersonRedacted`` destroys as it is stored (else None)."""
    if recorded.type not in REDACTIONS:
        return None
    event = recorded.event
    assert isinstance(event, PersonRedacted)
    return event.data.person


class RecordMapper(Mapper[UUID]):
    """Maps ``Recorded`` to and from ``StoredEvent``."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        assert isinstance(domain_event, Recorded)
        return IndexedStoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=RECORDED_TOPIC,
            state=encode_record(domain_event),
            index=index_row(domain_event),
            destroys=destroyed_key(domain_event),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return decode_record(
            stored_event.originator_id, stored_event.originator_version, stored_event.state
        )
