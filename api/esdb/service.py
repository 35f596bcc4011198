"""The EventSourcingDB operations on Parley's log: write with preconditions, read a range
of positions in either order, observe live, list subjects.

They go through ``ConflictLog``'s public API and the live tail of projections/tail.py, and
answer in the wire format of api/esdb/wire.py. A write checks its preconditions, then appends
with the negotiation's version as ``expected_version``, so that the check holds at the
commit: a writer that slipped in between makes it fail as a precondition would have.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import orjson
from fastapi.concurrency import run_in_threadpool

from api.esdb.requests import (
    ObserveEventsIn,
    Range,
    ReadEventsIn,
    WritePlan,
    read_range,
)
from api.esdb.wire import (
    HEARTBEAT,
    EsdbError,
    Scope,
    cloud_event,
    error_line,
    line,
    parley_type,
    resume_hint,
    scope_of,
    slug_of,
    subject_of,
    tree,
    under,
)
from api.invalid import InvalidRequestError
from api.schemas import event_out
from domain.errors import InvalidEventError, NegotiationNotFoundError, VersionConflictError
from projections.tail import (
    PAGE,
    Heartbeat,
    LiveEvent,
    LogTail,
    Overflow,
    StreamFilter,
    event_from_recorded,
    follow,
    read_page,
)
from store.log import ConflictLog


# Writes.
async def write(
    log: ConflictLog, plan: WritePlan, *, recorded_by: str | None = None
) -> list[dict[str, Any]]:
    """Append a write's events once its preconditions hold, as recorded by
    ``recorded_by`` (the token's name); the stored events."""
    expected = await run_in_threadpool(check_preconditions, log, plan)
    subject = subject_of(plan.slug)
    try:
        appended = await asyncio.wrap_future(
            log.submit(
                plan.slug,
                plan.events,
                expected,
                sources=plan.sources or None,
                recorded_by=recorded_by,
            )
        )
    except VersionConflictError as error:
        raise EsdbError(
            409,
            f"state conflict: precondition failed: {subject} changed while writing and is "
            f"at version {error.current} now; read it again and retry",
        ) from None
    except NegotiationNotFoundError:
        raise InvalidRequestError(
            [
                {
                    "field": "events.0.type",
                    "message": f"{subject} holds no events yet: the first event written to it "
                    "must be io.parley.NegotiationOpened",
                    "value": plan.events[0].type,
                }
            ]
        ) from None
    except InvalidEventError as error:
        entry: dict[str, Any] = {"field": request_field(error.field), "message": str(error)}
        if error.value is not None:
            entry["value"] = error.value
        raise InvalidRequestError([entry]) from None
    return [cloud_event(event_out(record)) for record in appended.records]


def check_preconditions(log: ConflictLog, plan: WritePlan) -> int | None:
    """Check the preconditions; the version the append must find, if they pin one."""
    wanted = plan.preconditions
    if not (wanted.pristine or wanted.populated or wanted.on_position is not None):
        return None
    subject = subject_of(plan.slug)
    try:
        summary = log.summary(plan.slug)
        version, last = summary.version, summary.last_position
    except NegotiationNotFoundError:
        version, last = 0, None
    failed = "state conflict: precondition failed: "
    if wanted.pristine and version:
        raise EsdbError(409, f"{failed}isSubjectPristine: {subject} holds {version} event(s)")
    if wanted.populated and not version:
        raise EsdbError(409, f"{failed}isSubjectPopulated: {subject} holds no events")
    if wanted.on_position is not None and last != wanted.on_position:
        now = f"is on event {last}" if last is not None else "holds no events"
        raise EsdbError(
            409, f"{failed}isSubjectOnEventId: {subject} {now}, not on {wanted.on_position}"
        )
    return version if wanted.pins_version else None


_BATCH_FIELD = re.compile(r"^events\.(\d+)\.(.+)$")


def request_field(field: str) -> str:
    """Where a field the domain names (``data.round``, ``events.1.type``) is in a
    write-events request: under the candidate's ``data``, but for ``type``."""
    found = _BATCH_FIELD.match(field)
    index, rest = (found.group(1), found.group(2)) if found else ("0", field)
    if field.startswith("events.") and not found:
        return field
    return f"events.{index}.type" if rest == "type" else f"events.{index}.data.{rest}"


# Reads.
@dataclass(frozen=True)
class ReadPlan:
    scope: Scope
    range: Range
    descending: bool


async def plan_read(log: ConflictLog, request: ReadEventsIn) -> ReadPlan:
    """The scope and positions a read-events request asks for."""
    options = request.options
    scope = scope_of(request.subject, options.recursive)
    positions = read_range(options)
    latest = options.fromLatestEvent
    if latest is not None:
        found = await run_in_threadpool(latest_position, log, latest.subject, latest.type)
        if found is None and latest.ifEventIsMissing == "read-nothing":
            positions = Range(1, 0)
        elif found is not None:
            if positions.highest is not None and found > positions.highest:
                raise EsdbError(
                    409,
                    "state conflict: fromLatestEvent results in an event ID greater than "
                    f"upperBound ID ({found} > {positions.highest})",
                )
            positions = Range(found, positions.highest)
    return ReadPlan(scope, positions, options.order == "antichronological")


def latest_position(log: ConflictLog, subject: str, esdb_type: str) -> int | None:
    """The position of the latest event of a type on a subject, if there is one."""
    slug, name = slug_of(subject), parley_type(esdb_type)
    if slug is None or name is None:
        return None
    for batch in _negotiation_backwards(log, slug, Range(), types=(name,)):
        return batch[0].position
    return None


async def read_lines(log: ConflictLog, plan: ReadPlan) -> AsyncIterator[bytes]:
    """The events of a read, one NDJSON line each, in chunks; an error ends the stream
    with an error line."""
    try:
        pages = _backwards(log, plan) if plan.descending else _forwards(log, plan)
        while True:
            events = await anyio.to_thread.run_sync(next, pages, None)
            if events is None:
                return
            yield b"".join(event_line(e) for e in events)
    except Exception as error:
        yield error_line(f"reading the log failed: {error}")


def event_line(event: LiveEvent) -> bytes:
    return line("event", cloud_event(orjson.loads(event.body)))


def _forwards(log: ConflictLog, plan: ReadPlan) -> Iterator[list[LiveEvent]]:
    if plan.scope.nothing or plan.range.empty:
        return
    wanted, highest = plan.scope.stream_filter(), plan.range.highest
    after = max(plan.range.lowest - 1, 0)
    while True:
        page = read_page(log, wanted, after, PAGE)
        inside = [e for e in page if highest is None or e.position <= highest]
        if inside:
            yield inside
        if len(page) < PAGE or len(inside) < len(page):
            return
        after = page[-1].position


def _backwards(log: ConflictLog, plan: ReadPlan) -> Iterator[list[LiveEvent]]:
    if plan.scope.nothing or plan.range.empty:
        return
    if plan.scope.slug is not None:
        yield from _negotiation_backwards(log, plan.scope.slug, plan.range)
        return
    # Windows of PAGE positions, from the top down: a window holds at most PAGE events.
    top = log.last_position()
    if plan.range.highest is not None:
        top = min(top, plan.range.highest)
    floor = plan.range.lowest - 1
    while top > floor:
        start = max(floor, top - PAGE)
        records = log.records(after_position=start, limit=PAGE)
        inside = [event_from_recorded(r) for r in reversed(records) if (r.position or 0) <= top]
        if inside:
            yield inside
        top = start


def _negotiation_backwards(
    log: ConflictLog, slug: str, positions: Range, types: Sequence[str] = ()
) -> Iterator[list[LiveEvent]]:
    """One negotiation's events from the newest, in windows of versions (which, unlike
    positions, have no holes and no other negotiations' events between them)."""
    top = log.version_of(slug)
    while top > 0:
        start = max(0, top - PAGE)
        records = log.records(
            negotiation=slug, after_version=start, limit=top - start, types=types
        )
        inside = [
            event_from_recorded(r)
            for r in reversed(records)
            if r.originator_version <= top and positions.holds(r.position or 0)
        ]
        if inside:
            yield inside
        if records and (records[0].position or 0) < positions.lowest:
            return
        top = start


# Observing.
@dataclass(frozen=True)
class ObservePlan:
    scope: Scope
    after: int
    waits_for: tuple[str, str] | None = None  # (slug, type): start at its first event


async def plan_observe(log: ConflictLog, request: ObserveEventsIn) -> ObservePlan:
    """Where an observation starts: after a lower bound, at the latest event of a type,
    or (``wait-for-event``) at the next such event."""
    options = request.options
    scope = scope_of(request.subject, options.recursive)
    after = max(read_range(options).lowest - 1, 0)
    latest = options.fromLatestEvent
    if latest is None:
        return ObservePlan(scope, after)
    head = await run_in_threadpool(log.last_position)  # before the look-up: nothing slips
    found = await run_in_threadpool(latest_position, log, latest.subject, latest.type)
    if found is not None:
        return ObservePlan(scope, found - 1)
    if latest.ifEventIsMissing == "read-everything":
        return ObservePlan(scope, 0)
    slug, name = slug_of(latest.subject), parley_type(latest.type)
    if slug is None or name is None:  # an event that can never come: wait for ever
        return ObservePlan(Scope(), head)
    return ObservePlan(scope, head, waits_for=(slug, name))


async def observe_lines(
    tail: LogTail, plan: ObservePlan, heartbeat_seconds: float
) -> AsyncIterator[bytes]:
    """The events of an observation, then live ones, as NDJSON lines with heartbeats.

    It never ends by itself: when the client falls too far behind, or the server stops,
    the last line is an error that says where to resume.
    """
    wanted = StreamFilter() if plan.waits_for else plan.scope.stream_filter()
    waiting = plan.waits_for
    cursor = plan.after
    last_line = time.monotonic()
    batches = follow(tail, wanted, plan.after, heartbeat_seconds=heartbeat_seconds)
    try:
        async with aclosing(batches):
            async for batch in batches:
                out: list[bytes] = []
                for message in batch:
                    if isinstance(message, Overflow):
                        out.append(
                            error_line(
                                "this client fell too far behind the log; "
                                + resume_hint(message.resume_after)
                            )
                        )
                        yield b"".join(out)
                        return
                    if isinstance(message, Heartbeat):
                        cursor = max(cursor, message.position)
                        out.append(HEARTBEAT)
                        continue
                    cursor = message.position
                    if waiting and (message.negotiation, message.type) != waiting:
                        continue
                    waiting = None
                    if plan.scope.covers(message.negotiation):
                        out.append(event_line(message))
                if not out and time.monotonic() - last_line >= heartbeat_seconds:
                    out.append(HEARTBEAT)  # everything in the batch was filtered out
                if out:
                    yield b"".join(out)
                    last_line = time.monotonic()
    except Exception as error:
        yield error_line(f"observing the log failed: {error}; {resume_hint(cursor)}")
        return
    yield error_line(f"the server is shutting down; {resume_hint(cursor)}")


# Subjects.
async def read_subjects(log: ConflictLog, base: str) -> list[str]:
    """``base`` and every subject under it that Parley holds."""
    summaries = await run_in_threadpool(log.summaries)
    return [s for s in tree([summary.negotiation for summary in summaries]) if under(s, base)]
