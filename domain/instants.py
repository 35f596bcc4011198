"""UTC instants as text: one function per purpose, each defined once.

- ``utc_key``: the index's fixed-width UTC text, without a zone mark; it sorts as time
  does, so the store keeps it in SQLite columns and the as-of engine compares it.
- ``utc_text``: an instant as JSON shows it everywhere: ``utc_key`` ending in ``Z``.

Valid times are not instants of this kind: a client may give a date, or an offset, and
their JSON keeps what was given (``domain.values``, which only writes ``+00:00`` as
``Z``); they are deliberately not made here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


def utc_key(moment: datetime) -> str:
    """An instant as the index's fixed-width UTC text: it sorts as time does."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def from_utc_key(key: str) -> datetime:
    """The instant a ``utc_key`` text names (its inverse)."""
    return datetime.fromisoformat(key).replace(tzinfo=UTC)


@lru_cache(maxsize=64)
def utc_text(moment: datetime) -> str:
    """An instant as JSON shows it everywhere: UTC, microseconds, ending in ``Z``.

    Cached: a group commit gives one ``recorded_at`` to every event it writes."""
    return utc_key(moment) + "Z"


def clamped(moment: datetime | None, now: datetime) -> datetime:
    """A knowledge bound (``known_at``, ``reported_at``) as used: now when absent or later.

    What the log will know or will have seen reported later is not an answer yet: it
    could change. The answer echoes the clamped instant, so repeating it repeats it."""
    return now if moment is None or moment > now else moment
