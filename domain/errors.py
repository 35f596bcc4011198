"""Domain errors. Each ends in ``Error``; the API maps each to one HTTP status."""

from __future__ import annotations

from uuid import UUID


class ParleyError(Exception):
    """Base class of every error Parley raises on purpose."""


class InvalidEventError(ParleyError):
    """An event breaks an invariant of its negotiation. ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str, value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class NegotiationNotFoundError(ParleyError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"no negotiation with slug {slug!r}")
        self.slug = slug


class NegotiationExistsError(ParleyError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"negotiation {slug!r} is already open")
        self.slug = slug


class EventNotFoundError(ParleyError):
    def __init__(self, event_id: UUID) -> None:
        super().__init__(f"no event with id {event_id}")
        self.event_id = event_id


class VersionConflictError(ParleyError):
    """The caller expected another version of the negotiation than the stored one."""

    def __init__(self, slug: str, expected: int, current: int) -> None:
        super().__init__(
            f"negotiation {slug!r} is at version {current}, not {expected}; re-read it and retry"
        )
        self.slug = slug
        self.expected = expected
        self.current = current


class EventIdReusedError(ParleyError):
    """An event id is already stored with other content (or in another negotiation)."""

    def __init__(self, event_id: UUID) -> None:
        super().__init__(
            f"event id {event_id} is already stored with different content; "
            "use a new id for a new event"
        )
        self.event_id = event_id


class WriteContentionError(ParleyError):
    """Other writers kept winning the race for a negotiation; nothing was stored."""

    def __init__(self, slug: str, attempts: int) -> None:
        super().__init__(
            f"negotiation {slug!r} is too busy: {attempts} concurrent writers won first; "
            "nothing was stored, retry"
        )
        self.slug = slug


class PersonNotFoundError(ParleyError):
    """No key is stored for this person: nothing names them where fields are sealed, or
    they were redacted already."""

    def __init__(self, person: str) -> None:
        super().__init__(
            f"no sealed field names {person!r} (as a source or as asserted_by), or the "
            "person was redacted already"
        )
        self.person = person
