"""parse_events holds the cyclic garbage collector off while it validates a body, and
gives it back as it found it, whatever the body."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import orjson
import pytest

from api.invalid import InvalidRequestError, MalformedRequestError
from api.parsing import parse_events

EVENT = {
    "type": "StatementIssued",
    "occurred_at": "2025-05-16",
    "data": {"speaker": "RUS", "summary": "Talks will go on."},
    "sources": [{"outlet": "TASS", "url": "https://tass.com/politics/1"}],
}


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (orjson.dumps([EVENT] * 3), None),
        (orjson.dumps({**EVENT, "occurred_at": "2025-05-16T10:00:00"}), InvalidRequestError),
        (b"[{]", MalformedRequestError),
    ],
)
@pytest.mark.usefixtures("collector_on")
def test_the_collector_is_on_again_after_a_body_valid_or_not(
    body: bytes, error: type[Exception] | None
) -> None:
    if error is None:
        assert len(parse_events(body)[0]) == 3
    else:
        with pytest.raises(error):
            parse_events(body)

    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        parse_events(orjson.dumps(EVENT))
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


@pytest.mark.usefixtures("collector_on")
def test_no_collection_starts_while_a_batch_is_validated() -> None:
    body = orjson.dumps([EVENT] * 2000)  # some 60,000 new objects: dozens of collections
    gc.collect()
    starts: list[int] = []
    gc.callbacks.append(lambda phase, info: starts.append(1) if phase == "start" else None)
    try:
        events, _ = parse_events(body)
    finally:
        gc.callbacks.pop()

    assert len(events) == 2000
    assert len(starts) <= 1  # the one the allocations after it start, not dozens
