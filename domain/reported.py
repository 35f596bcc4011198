"""The third clock: when an event was reported, from its sources and its recording.

An event is reported at the earliest ``published_at`` among its sources. A date means
the end of that day in UTC, as a date does in a query (DESIGN.md §3): that an outlet
reported it "on that day" is certain only once the day is over. An event whose sources
name no publication time (and a ``PersonRedacted``, which has no sources) is reported
at its ``recorded_at``: nothing shows that it was public earlier than the desk knew it.
A ``published_at`` after ``recorded_at`` is kept: such an event counts for
``reported_at`` only from that later moment on.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from domain.values import Source, end_of_day


def reported_time(sources: Iterable[Source], recorded_at: datetime) -> datetime:
    """The instant an event was reported: its sources' earliest ``published_at`` (a date
    is the end of that day, UTC), or ``recorded_at`` when none names one."""
    published = [
        end_of_day(source.published_at)
        for source in sources
        if isinstance(source.published_at, date)  # a datetime is a date too
    ]
    return min(published) if published else end_of_day(recorded_at)
