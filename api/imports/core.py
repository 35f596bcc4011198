"""The import runner: candidate events from a mapper, checked and appended as every
other way in checks and appends them.

Each record is parsed by ``store.loader.check_event`` (the append route's and
``parley load``'s validation), then gathered per negotiation into batches of
``BATCH`` events and appended through the log's writer, idempotently: an event whose id
is stored with the same content counts as already stored. A batch the log refuses is
appended again one event at a time, so each refused event is a problem on its own line
and the others are stored whole; no record is ever stored in part. Memory holds one
batch per negotiation, whatever the file's size.

A dry run stores nothing: it parses every record and looks its id up, reporting per
type what would be new and what is already stored, and every problem with its line.
It does not replay the negotiation's rules (a round held twice is refused only when
appended).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

import orjson

from api.imports import Mapped
from domain.errors import InvalidEventError, ParleyError
from domain.events import AnyEvent, NegotiationOpened
from domain.negotiation import Recorded, check_slug
from store.loader import check_event, line_id
from store.writer import Appended

BATCH = 500
"""Events appended in one transaction."""
MAX_LISTED = 10_000
"""Problems a report lists; past that it counts them (a file of nothing but bad lines
would otherwise hold them all)."""


class ImportingLog(Protocol):
    """What an import needs of a log (``store.log.ConflictLog`` is one)."""

    def append(
        self, slug: str, events: Sequence[AnyEvent], *, recorded_by: str | None = None
    ) -> Appended: ...

    def records_by_ids(self, ids: Sequence[UUID]) -> list[Recorded]: ...

    def exists(self, slug: str) -> bool: ...


@dataclass
class Problem:
    """Why one record was not stored: its line, the field at fault, and the reason."""

    line: int
    message: str
    field: str | None = None

    def __str__(self) -> str:
        at = f"{self.field}: " if self.field else ""
        return f"line {self.line}: {at}{self.message}"


@dataclass
class Counts:
    new: int = 0
    stored: int = 0


@dataclass
class ImportReport:
    """What an import stored (or, in a dry run, would store), per type, and its problems."""

    format: str
    dry_run: bool
    records: int = 0
    by_type: dict[str, Counts] = field(default_factory=dict)
    negotiations: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0

    @property
    def new(self) -> int:
        return sum(c.new for c in self.by_type.values())

    @property
    def stored(self) -> int:
        return sum(c.stored for c in self.by_type.values())

    def problem(self, found: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append(found)

    def count(self, kind: str, *, new: bool) -> None:
        counts = self.by_type.setdefault(kind, Counts())
        if new:
            counts.new += 1
        else:
            counts.stored += 1

    def summary(self) -> str:
        """One line: what was (or would be) stored, and the problems."""
        verb = "would store" if self.dry_run else "stored"
        where = ", ".join(self.negotiations) or "no negotiation"
        return (
            f"{where}: {verb} {self.new} new, {self.stored} already stored, "
            f"{self.problem_count} problem(s) ({self.records} records, {self.format})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "dry_run": self.dry_run,
            "records": self.records,
            "new": self.new,
            "already_stored": self.stored,
            "negotiations": self.negotiations,
            "by_type": {
                kind: {"new": c.new, "already_stored": c.stored}
                for kind, c in sorted(self.by_type.items())
            },
            "problem_count": self.problem_count,
            "problems": [
                {"line": p.line, "field": p.field, "message": p.message} for p in self.problems
            ],
        }


@dataclass
class _Pending:
    lines: list[int] = field(default_factory=list)
    events: list[AnyEvent] = field(default_factory=list)


class Importer:
    """Runs one import into ``log``: ``feed`` the mapped records, then ``finish``."""

    def __init__(
        self,
        log: ImportingLog,
        fmt: str,
        *,
        negotiation: str | None = None,
        dry_run: bool = False,
        batch: int = BATCH,
        recorded_by: str | None = None,
    ) -> None:
        self.log = log
        self.negotiation = None if negotiation is None else check_slug(negotiation)
        self.batch = batch
        self.recorded_by = recorded_by
        self.report = ImportReport(format=fmt, dry_run=dry_run)
        self._pending: dict[str, _Pending] = {}
        self._opened: set[str] = set()  # negotiations a dry run has seen opened

    def feed(self, records: Iterable[Mapped]) -> ImportReport:
        for record in records:
            self.add(record)
        return self.finish()

    def add(self, record: Mapped) -> None:
        """Check one mapped record and queue it for its negotiation's next batch."""
        report = self.report
        report.records += 1
        if record.problem is not None or record.event is None:
            report.problem(Problem(record.line, record.problem or "the record does not map"))
            return
        slug = self.negotiation or record.negotiation
        if slug is None:
            report.problem(
                Problem(record.line, "the record names no negotiation: pass one "
                        "(--negotiation SLUG, or the route's slug)", "negotiation")
            )
            return
        raw = record.event
        if "id" not in raw:
            # As ``parley load`` does: an id from the negotiation and the content.
            raw = {**raw, "id": line_id(slug, orjson.dumps(raw).decode())}
        checked = check_event(raw)
        if isinstance(checked, list):
            for name, message in checked:
                report.problem(Problem(record.line, message, name))
            return
        if slug not in report.negotiations:
            report.negotiations.append(slug)
        pending = self._pending.setdefault(slug, _Pending())
        pending.lines.append(record.line)
        pending.events.append(checked)
        if len(pending.events) >= self.batch:
            self._flush(slug)

    def finish(self) -> ImportReport:
        """Append what is still queued; the report."""
        for slug in list(self._pending):
            self._flush(slug)
        return self.report

    def _flush(self, slug: str) -> None:
        pending = self._pending.pop(slug, None)
        if pending is None or not pending.events:
            return
        if self.report.dry_run:
            self._check(slug, pending)
            return
        try:
            self._count(self.log.append(slug, pending.events, recorded_by=self.recorded_by))
        except ParleyError:
            # One refused event refuses its batch: append each alone to name it.
            for line, event in zip(pending.lines, pending.events, strict=True):
                try:
                    self._count(self.log.append(slug, [event], recorded_by=self.recorded_by))
                except ParleyError as error:
                    self.report.problem(Problem(line, str(error), _field_of(error)))

    def _count(self, appended: Appended) -> None:
        for record in appended.created:
            self.report.count(record.event.type, new=True)
        for record in appended.existing:
            self.report.count(record.event.type, new=False)

    def _check(self, slug: str, pending: _Pending) -> None:
        """A dry run's batch: new, already stored, or an id stored with other content."""
        stored = {r.event.id: r for r in self.log.records_by_ids([e.id for e in pending.events])}
        exists = slug in self._opened or self.log.exists(slug)
        for line, event in zip(pending.lines, pending.events, strict=True):
            found = stored.get(event.id)
            if found is not None:
                if found.negotiation == slug and found.event == event:
                    self.report.count(event.type, new=False)
                else:
                    self.report.problem(Problem(
                        line, f"event {event.id} is stored already with other content "
                        f"(in {found.negotiation}); send a new id", "id"))
                continue
            if not exists and not isinstance(event, NegotiationOpened):
                self.report.problem(Problem(
                    line, f"negotiation {slug} does not exist: open it first "
                    "(a NegotiationOpened event)", "negotiation"))
                continue
            exists = True
            self._opened.add(slug)
            self.report.count(event.type, new=True)


def _field_of(error: ParleyError) -> str | None:
    return error.field if isinstance(error, InvalidEventError) else None


def run(
    log: ImportingLog,
    records: Iterable[Mapped],
    fmt: str,
    *,
    negotiation: str | None = None,
    dry_run: bool = False,
    batch: int = BATCH,
    recorded_by: str | None = None,
) -> ImportReport:
    """Import ``records`` (a mapper's output) into ``log``; the report."""
    importer = Importer(
        log, fmt, negotiation=negotiation, dry_run=dry_run, batch=batch, recorded_by=recorded_by
    )
    return importer.feed(records)
