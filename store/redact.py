"""Redaction: destroy a person's key, and say so in every negotiation that named them.

``redact`` finds the person's key (``store.keyring``), the negotiations whose stored
rows hold a field sealed under it, and appends one ``PersonRedacted`` to each, as ONE
group of the writer (so one transaction). The recorder deletes the key in the
transaction that stores a ``PersonRedacted`` (``IndexedStoredEvent.destroys``), so the
key is gone exactly when the log says so, on both backends, and in that transaction
writes the search rows of the events sealed under it again, as they now read
(``PersonKeys.redacted_search``). Every reader then finds
the key missing: the fields read ``[redacted]``; the as-of engines, which see the new
event of their negotiation when they next catch up, read it again from the store.

The event carries the key's id (random, so it names nobody), why, and who asked; never
the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast
from uuid import UUID, uuid5

from domain.errors import PersonNotFoundError
from domain.events import AnyEvent, PersonRedacted
from domain.negotiation import Recorded
from domain.redaction import person_id
from store.keyring import Keyring
from store.writer import Writer

_NAMESPACE = UUID("0b3f2a4e-8d51-4e0c-b0a7-5e6d7c8f9a10")


@dataclass(frozen=True)
class Redaction:
    """What a redaction did: the key destroyed, and the events that record it."""

    key_id: str
    records: list[Recorded]

    @property
    def negotiations(self) -> list[str]:
        return [record.negotiation for record in self.records]


def redaction_event(
    key_id: str, slug: str, reason: str, requested_by: str | None
) -> PersonRedacted:
    """The ``PersonRedacted`` of one negotiation (validated: ``reason`` is 1 to 4,000
    characters, ``requested_by`` a name); its id follows from the key and the slug."""
    return PersonRedacted(
        id=uuid5(_NAMESPACE, f"{key_id}/{slug}"),
        occurred_at=datetime.now(UTC),
        data=PersonRedacted.Data(person=key_id, reason=reason, requested_by=requested_by),
    )


def redact(
    keys: Keyring,
    writer: Writer,
    person: str,
    reason: str,
    requested_by: str | None = None,
    *,
    recorded_by: str | None = None,
) -> Redaction:
    """Destroy ``person``'s key (of ``keys``) and record ``PersonRedacted`` where they
    were named, through ``writer``.

    Raises ``PersonNotFoundError`` when no key is stored for the person (never named
    where a field is sealed, or redacted already), and pydantic's ``ValidationError``
    for a reason or requester that is not valid text.
    """
    key = keys.key_of(person_id(person))
    if key is None:
        raise PersonNotFoundError(person)
    slugs = keys.store.negotiations_sealed_with(key.key_id)
    # The writer's types are the events clients send; it records this one all the same.
    events = [
        (slug, [cast("AnyEvent", redaction_event(key.key_id, slug, reason, requested_by))])
        for slug in slugs
    ]
    if not events:
        # Their key was stored, but no stored event uses it (its append failed before
        # keys were stored with their first event).
        keys.store.delete_person_key(key.key_id)
        keys.forget(key.key_id)
        return Redaction(key.key_id, [])
    futures = writer.submit_together(events, recorded_by=recorded_by)
    try:
        records = [record for future in futures for record in future.result().records]
    finally:
        keys.forget(key.key_id)
    return Redaction(key.key_id, records)
