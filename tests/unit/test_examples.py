"""Every line of the shipped examples is an event Parley accepts, with fixed ids and dated
sources, so that loading one twice adds nothing and the reported clock has a date for
each fact (examples/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest

from domain.events import AnyEvent, parse_event

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FILES = ["istanbul-2025.ndjson", "black-sea-grain-2022.ndjson"]


def events_of(name: str) -> list[AnyEvent]:
    lines = (EXAMPLES / name).read_text(encoding="utf-8").splitlines()
    return [parse_event(json.loads(line)) for line in lines if line.strip()]


def test_the_examples_listed_here_are_all_the_examples() -> None:
    assert sorted(path.name for path in EXAMPLES.glob("*.ndjson")) == sorted(FILES)


@pytest.mark.parametrize("name", FILES)
def test_every_line_parses_as_an_event_with_its_own_fixed_id(name: str) -> None:
    raw = [json.loads(line) for line in (EXAMPLES / name).read_text("utf-8").splitlines()]
    events = events_of(name)
    assert len(events) == len(raw) > 0
    assert [str(e.id) for e in events] == [line["id"] for line in raw]  # none drawn at load
    assert all(UUID(line["id"]).version == 4 for line in raw)
    assert len({e.id for e in events}) == len(events)


@pytest.mark.parametrize("name", FILES)
def test_every_source_is_dated_and_a_dispute_follows_what_it_disputes(name: str) -> None:
    events = events_of(name)
    for event in events:
        assert all(source.published_at is not None for source in event.sources), event.id
    seen: set[UUID] = set()
    for event in events:
        if event.subject_id is not None:
            assert event.subject_id in seen, event.id
        seen.add(event.id)


def test_the_black_sea_example_keeps_to_its_two_agreements() -> None:
    named = {
        agreement
        for event in events_of("black-sea-grain-2022.ndjson")
        if (agreement := getattr(event.data, "agreement_id", None)) is not None
    }
    assert named == {"black-sea-grain-initiative", "russia-un-memorandum"}
