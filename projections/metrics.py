"""The projections' Prometheus metrics: their lag, their restarts, and the as-of cache.

Below the HTTP layer, like ``store.metrics``; ``api.http.metrics`` exposes them. The lag
gauges are set when ``/metrics`` is read (``observe_lag``), from what ``/projections``
reports; under several workers the highest lag any live process saw is shown."""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import Counter, Gauge

PROJECTION_LAG_EVENTS = Gauge(
    "parley_projection_lag_events",
    "Events appended to the log that the projection has not processed yet",
    ["projection"],
    multiprocess_mode="livemax",
)
PROJECTION_LAG_SECONDS = Gauge(
    "parley_projection_lag_seconds",
    "Seconds since the projection was last seen caught up with the log (0 when it is)",
    ["projection"],
    multiprocess_mode="livemax",
)
PROJECTION_RESTARTS = Counter(
    "parley_projection_restarts_total",
    "Times a projection's runner failed and was restarted",
    ["projection"],
)
AS_OF_CACHE = Counter(
    "parley_asof_cache_total",
    "As-of engine cache lookups and evictions, by outcome: hit, miss, eviction, checkpoint "
    "(a cold state answered from a stored checkpoint)",
    ["outcome"],
)

_caught_up_at: dict[str, float] = {}
_started = time.monotonic()


def observe_lag(lags: Iterable[tuple[str, int]]) -> None:
    """Set the lag gauges from each projection's lag in events. The lag in seconds is
    how long ago this process last saw the projection caught up (or started)."""
    now = time.monotonic()
    for name, lag in lags:
        if lag <= 0:
            _caught_up_at[name] = now
        PROJECTION_LAG_EVENTS.labels(projection=name).set(lag)
        seen = _caught_up_at.get(name, _started)
        PROJECTION_LAG_SECONDS.labels(projection=name).set(0 if lag <= 0 else now - seen)
