"""Token names, scopes and rate-limit rules: pure rules, no I/O."""

from __future__ import annotations

import pytest

from api.ratelimit import RateLimit, RateLimitedError, RateLimiter
from domain.tokens import (
    BOOTSTRAP,
    READER,
    Identity,
    InvalidTokenError,
    check_scope,
    check_token_name,
    implied,
)


def test_scopes_nest_admin_over_append_over_read() -> None:
    assert implied("read") == ("read",)
    assert implied("append") == ("read", "append")
    assert implied("admin") == ("read", "append", "admin")
    alice = Identity("alice", "append")
    assert alice.allows("read") and alice.allows("append") and not alice.allows("admin")
    assert BOOTSTRAP.name == "admin" and BOOTSTRAP.allows("admin")
    assert READER.name == "reader" and not READER.allows("append")


@pytest.mark.parametrize("name", ["alice", "a", "desk-2", "kyiv-independent-desk"])
def test_slug_like_names_are_token_names(name: str) -> None:
    assert check_token_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "Alice", "al ice", "-alice", "alice-", "a" * 41, "alice\x00", "admin", "reader"]
)
def test_other_names_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(InvalidTokenError) as raised:
        check_token_name(name)
    assert raised.value.field == "name"


def test_an_unknown_scope_is_refused() -> None:
    assert check_scope("append") == "append"
    with pytest.raises(InvalidTokenError, match="read, append, admin"):
        check_scope("root")


@pytest.mark.parametrize(
    ("text", "count", "period"),
    [("60/minute", 60, 60.0), ("5/second", 5, 1.0), (" 1000 / hour ", 1000, 3600.0)],
)
def test_rate_limits_parse(text: str, count: int, period: float) -> None:
    rule = RateLimit.parse(text)
    assert (rule.count, rule.period) == (count, period)


@pytest.mark.parametrize("text", ["0/minute", "60", "60/day", "-1/second", "1e3/hour", ""])
def test_other_rate_limits_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="N/second"):
        RateLimit.parse(text)


def test_a_bucket_lets_its_count_through_at_once_then_refuses_that_token_only() -> None:
    limiter = RateLimiter(RateLimit.parse("3/hour"))  # refills one per 20 minutes
    for _ in range(3):
        limiter.take("alice")
    with pytest.raises(RateLimitedError) as raised:
        limiter.take("alice")
    assert 1 <= raised.value.retry_after <= 1200
    limiter.take("bob")
