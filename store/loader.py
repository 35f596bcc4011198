"""Load an NDJSON file of events into a negotiation, idempotently.

Every line is validated before anything is stored. A line without an ``id`` gets one
derived from the negotiation and the line's content, so loading the same file twice
stores nothing new. Batches are appended atomically, in file order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID, uuid5

import orjson
from pydantic import ValidationError

from domain.events import AnyEvent, error_loc, parse_event
from domain.negotiation import check_slug
from domain.values import refusal
from store.writer import Appended

_LINE_IDS = UUID("0d3c7c1e-2b7a-4f0e-8d55-5e1f1a7a9b21")


class LoadError(Exception):
    """Lines that are not valid events; nothing was stored."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class LoadReport:
    negotiation: str
    lines: int = 0
    created: int = 0
    existing: int = 0
    positions: list[int] = field(default_factory=list)


def slug_for(path: Path) -> str:
    """The default negotiation slug: the file name without its extension."""
    return path.name.split(".")[0]


def line_id(slug: str, line: str) -> str:
    """The id of an event sent without one: derived from its negotiation and its text,
    so that loading the same line again stores nothing new."""
    return str(uuid5(_LINE_IDS, f"{slug}\n{line}"))


def check_event(raw: Any) -> AnyEvent | list[tuple[str, str]]:
    """One event from JSON-like data, validated as every way in validates it (the append
    route's ``any_event``); else its problems as (dotted field, message)."""
    try:
        return parse_event(raw)
    except ValidationError as error:
        return [
            (".".join(str(p) for p in error_loc(entry)) or "type", refusal(entry))
            for entry in error.errors()
        ]


def read_events(path: Path, slug: str) -> list[AnyEvent]:
    """Parse and validate every line; raise LoadError naming each bad line and field."""
    events: list[AnyEvent] = []
    problems: list[str] = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith(b"#"):
            continue
        try:
            raw: Any = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            problems.append(f"{path}:{number}: not JSON ({error})")
            continue
        if isinstance(raw, dict) and "id" not in raw:
            raw["id"] = line_id(slug, line.decode())
        checked = check_event(raw)
        if isinstance(checked, list):
            problems.extend(f"{path}:{number}: {field}: {message}" for field, message in checked)
        else:
            events.append(checked)
    if problems:
        raise LoadError(problems)
    return events


class AppendingLog(Protocol):
    """What ``load`` needs of a log (``store.log.ConflictLog`` is one)."""

    def append(
        self, slug: str, events: Sequence[AnyEvent], *, recorded_by: str | None = None
    ) -> Appended: ...


def load(
    log: AppendingLog,
    path: Path,
    slug: str | None = None,
    *,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
    recorded_by: str | None = None,
) -> LoadReport:
    """Append the file's events to ``slug`` (default: from the file name), recorded by
    ``recorded_by``."""
    slug = check_slug(slug or slug_for(path))
    events = read_events(path, slug)
    report = LoadReport(negotiation=slug, lines=len(events))
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        appended = log.append(slug, chunk, recorded_by=recorded_by)
        report.created += len(appended.created)
        report.existing += len(appended.existing)
        report.positions.extend(r.position or 0 for r in appended.created)
        if progress:
            progress(len(chunk))
    return report
