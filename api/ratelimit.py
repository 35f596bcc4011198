"""Per-token rate limits: a token bucket per token name, in this worker process; and
the limits on heavy reads that ``api.http.guard`` enforces (``Limits``).

``PARLEY_RATE_LIMIT="60/minute"`` lets each token make 60 requests at once, then one
more each second: the bucket holds ``count`` requests and refills at ``count`` per
period. Past it, a request is refused with 429 and ``Retry-After``, the whole seconds
until the bucket holds a request again. Buckets live in each worker's memory, so with
N workers a token may make up to N times the limit; requests without a token are not
limited here.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Literal

_PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}
_RULE = re.compile(r"^\s*(\d{1,9})\s*/\s*(second|minute|hour)\s*$")


class RateLimitedError(Exception):
    """A token past its rate; ``retry_after`` is whole seconds."""

    def __init__(self, name: str, rule: RateLimit, retry_after: int) -> None:
        super().__init__(
            f"the token {name!r} is over its rate limit of {rule}; retry in {retry_after} s"
        )
        self.name = name
        self.retry_after = retry_after


@dataclass(frozen=True)
class RateLimit:
    """``count`` requests per ``period`` seconds, ``count`` of them at once."""

    count: int
    period: float
    text: str

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``N/second``, ``N/minute`` or ``N/hour``, N at least 1."""
        match = _RULE.match(text)
        if not match or int(match.group(1)) < 1:
            raise ValueError(
                f"a rate limit is N/second, N/minute or N/hour with N >= 1, e.g. 60/minute; "
                f"not {text!r}"
            )
        return cls(
            int(match.group(1)), _PERIODS[match.group(2)], f"{match.group(1)}/{match.group(2)}"
        )

    def __str__(self) -> str:
        return self.text


class RateLimiter:
    """One bucket per token name. ``take`` spends a request or raises ``RateLimitedError``."""

    def __init__(self, rule: RateLimit) -> None:
        self.rule = rule
        self._rate = rule.count / rule.period  # requests regained per second
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (level, at)
        self._lock = threading.Lock()  # requests run on the event loop, but may not always

    def take(self, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            level, at = self._buckets.get(name, (float(self.rule.count), now))
            level = min(float(self.rule.count), level + (now - at) * self._rate)
            if level < 1.0:
                self._buckets[name] = (level, now)
                retry = max(1, math.ceil((1.0 - level) / self._rate))
                raise RateLimitedError(name, self.rule, retry)
            self._buckets[name] = (level - 1.0, now)


HeavyClass = Literal["export", "timeline", "replay"]


@dataclass(frozen=True)
class Limits:
    """How many heavy answers run at once: per class, and per client across classes."""

    export: int = 8
    timeline: int = 4
    replay: int = 8
    per_client: int = 2
    stall_seconds: float = 30.0
    retry_after: int = 5
    replay_lag: int = 1000  # a stream starting further behind the tail than this replays

    def of(self, heavy: HeavyClass) -> int:
        limit: int = getattr(self, heavy)
        return limit
