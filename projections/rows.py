"""The rows the projections read from the event index, as the store makes them.

The store does not decide what a fold needs: ``ConflictLog.engine_rows`` and
``chart_rows`` take the row type from here and make each row with it.
"""

from __future__ import annotations

from typing import NamedTuple

from domain.negotiation import Recorded


class EngineRow(NamedTuple):
    """What the as-of engine needs of one event, read from the index.

    Times are the index's fixed-width UTC text (``utc_key``), which sorts as time does:
    ``valid`` is when the event begins in valid time, ``recorded`` when the log stored
    it. A dispute, correction or retraction names its target by position (``target``)
    and valid time (``target_valid``), resolved by the index. ``record`` is the stored
    event for the types whose fold needs its content, and None for ``CONTENT_FREE``
    ones. ``reported`` is when it was reported (``domain.reported``; None: at
    ``recorded``). A tuple, since the engine reads a hundred thousand of them at a time.
    """

    position: int
    version: int
    type: str
    valid: str
    recorded: str
    target: int | None
    target_valid: str | None
    record: Recorded | None
    reported: str | None = None

    @property
    def reported_key(self) -> str:
        """When the event was reported, as ``utc_key`` text."""
        return self.recorded if self.reported is None else self.reported


class ChartRow(NamedTuple):
    """What the charts need of one event, read from the index alone (nothing decoded).

    ``valid`` and ``recorded`` are ``utc_key`` text, as in ``EngineRow``; ``target`` is
    the position of the event a dispute, correction or retraction names; ``reported``
    when it was reported (None: at ``recorded``).
    """

    position: int
    event_id: str
    type: str
    valid: str
    recorded: str
    target: int | None
    reported: str | None = None

    @property
    def reported_key(self) -> str:
        """When the event was reported, as ``utc_key`` text."""
        return self.recorded if self.reported is None else self.reported

