"""Fixtures shared by the unit tests: an event builder, a clock, and the founding example.

Everything here is real domain code and real data; nothing is mocked. The founding
example is ``examples/istanbul-2025.ndjson``, curated from the teleSUR report of
28 May 2025 that DESIGN.md names as the founding document.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from builders import event, event_body

from domain.events import AnyEvent, parse_event

ROOT = Path(__file__).resolve().parents[2]
FOUNDING_EXAMPLE = ROOT / "examples" / "istanbul-2025.ndjson"
FOUNDING_REPORT_NAME = "telesur-2025-05-28-turkiye-to-host-2nd-round.txt"

Envelope = Callable[..., dict[str, Any]]
EventFactory = Callable[..., AnyEvent]


@pytest.fixture
def envelope() -> Envelope:
    """Build a JSON-like event as a client sends it, with a fresh id and one source:
    ``envelope("RoundHeld", {...}, occurred_at=...)``; keyword fields override the envelope.
    """
    def build(type_: str, data: dict[str, Any], **fields: Any) -> dict[str, Any]:
        return event_body(type_, data, **{"id": str(uuid4()), **fields})

    return build


@pytest.fixture
def make_event() -> EventFactory:
    """Build and validate one event: ``make_event("RoundHeld", {...}, occurred_at=...)``."""

    return event


@pytest.fixture
def recorded_at() -> datetime:
    """The server clock for one append (aware, UTC)."""
    return datetime(2025, 5, 28, 17, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def founding_lines() -> list[dict[str, Any]]:
    """The founding example, one JSON object per line, as stored on disk."""
    with FOUNDING_EXAMPLE.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture
def founding_events(founding_lines: list[dict[str, Any]]) -> list[AnyEvent]:
    """The founding example, parsed."""
    return [parse_event(line) for line in founding_lines]


@pytest.fixture(scope="session")
def founding_report() -> str:
    """The text of the founding news report, or a skip when this checkout lacks it."""
    for candidate in (
        ROOT / "sources" / FOUNDING_REPORT_NAME,
        ROOT.parent / "shared" / "sources" / FOUNDING_REPORT_NAME,
    ):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    pytest.skip(f"the founding report {FOUNDING_REPORT_NAME} is not in this checkout")
