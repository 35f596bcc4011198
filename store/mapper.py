"""The pydantic mapper: ``Recorded`` events to the library's stored events and back.

The wheel of ``eventsourcing`` ships no pydantic mapper; this follows the pattern of
its aggregate7 example, with orjson for speed. The stored state is the canonical JSON
of the event without the columns the table already has.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic

from domain.negotiation import Recorded

RECORDED_TOPIC = get_topic(Recorded)


def encode_state(recorded: Recorded) -> bytes:
    state = recorded.model_dump(
        mode="json", by_alias=True, exclude={"originator_id", "originator_version"}
    )
    return orjson.dumps(state)


def decode(
    originator_id: UUID | str, version: int, state: bytes, position: int | None = None
) -> Recorded:
    """Rebuild a Recorded from a stored row."""
    fields: dict[str, Any] = orjson.loads(state)
    fields["originator_id"] = originator_id
    fields["originator_version"] = version
    fields["position"] = position
    return Recorded.model_validate(fields)


class PydanticMapper(Mapper[UUID]):
    """Maps ``Recorded`` (a pydantic model) to and from ``StoredEvent``."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        assert isinstance(domain_event, Recorded)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=RECORDED_TOPIC,
            state=encode_state(domain_event),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return decode(
            stored_event.originator_id, stored_event.originator_version, stored_event.state
        )
