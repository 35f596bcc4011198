"""Verification: walk every hash chain over the stored bytes, and check positions.

Integrity is checked by hashes, not by validation (DESIGN.md §10). ``verify`` reads each
row raw: a row that is no longer JSON, or whose bytes no longer match its hash, whose
link to the event before it is broken, or whose version skips, is reported by its
negotiation, version and event id, never raised. Nothing here builds a typed event, so
a rule tightened since an event was written cannot make the log look broken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from store.codec import CorruptRowError, decode_record
from store.damage import failure_of, probe
from store.index import ChainRow, EventIndex


@dataclass(frozen=True)
class ChainReport:
    """What ``verify`` found: ``first_break`` names the first broken event, if any."""

    ok: bool
    events: int
    negotiations: int
    first_break: str | None = None
    broken_event: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def check_row(row: ChainRow, previous: ChainRow | None, previous_hash: str | None) -> str | None:
    """What is wrong with one row, given the row before it in its negotiation."""
    where = f"{row.negotiation} v{row.version} (event {row.event_id})"
    expected_version = 1 if previous is None else previous.version + 1
    if row.version != expected_version:
        return f"{where}: version {row.version} follows {expected_version - 1}"
    try:
        record = decode_record(
            "00000000-0000-0000-0000-000000000000", row.version, row.state, row.position
        )
    except CorruptRowError as error:
        return f"{where}: the stored row is unreadable ({error})"
    if record.previous_hash != previous_hash:
        return f"{where}: previous_hash does not match the hash before it"
    if record.hash != row.hash:
        return f"{where}: the row's hash differs from the index's"
    try:
        expected = record.expected_hash()
    except (ValueError, TypeError) as error:
        return f"{where}: the stored event is unreadable ({error})"
    if expected != record.hash:
        return f"{where}: content does not match its hash"
    return None


def verify(
    index: EventIndex, where: str, newest_event: Callable[[], object]
) -> ChainReport:
    """Walk every hash chain of ``index``'s store (``where``, as errors name it) and
    check positions; report the first break. A database
    too damaged to read (``store.damage``) is a break too, named by the store and the
    database's message; on SQLite, ``PRAGMA quick_check`` then names the broken pages,
    which it also finds where no chain is stored (the index, the search tables, keys)."""
    try:
        report = _walk(index)
    except Exception as error:
        failure = failure_of(error, where)
        if failure is None or failure.kind != "damaged":
            raise
        report = ChainReport(ok=False, events=0, negotiations=0, first_break=str(failure))
    checked = probe(index, where, newest_event)
    if checked is None or checked.kind != "damaged":
        return report
    if report.first_break is None:
        return replace(report, ok=False, first_break=str(checked))
    if checked.reason not in report.first_break:
        return replace(report, first_break=f"{report.first_break} ({checked.reason})")
    return report


def _walk(index: EventIndex) -> ChainReport:
    events = 0
    negotiations = 0
    previous: ChainRow | None = None
    previous_hash: str | None = None
    first_break: str | None = None
    broken_event: str | None = None
    for row in index.iter_chain():
        events += 1
        if previous is None or previous.negotiation != row.negotiation:
            negotiations += 1
            previous, previous_hash = None, None
        if first_break is None:
            first_break = check_row(row, previous, previous_hash)
            if first_break is not None:
                broken_event = row.event_id
        previous, previous_hash = row, row.hash
    stored_rows, highest = index.stored_count()
    contiguous = index.contiguous_positions
    detail: dict[str, Any] = {
        "stored_rows": stored_rows,
        "indexed_rows": events,
        "highest_position": highest,
        "contiguous_positions": contiguous,
    }
    if first_break is None and stored_rows != events:
        first_break = f"{stored_rows} stored events but {events} indexed"
    if first_break is None and contiguous and highest != stored_rows:
        first_break = f"positions have holes: {stored_rows} events up to position {highest}"
    return ChainReport(
        ok=first_break is None,
        events=events,
        negotiations=negotiations,
        first_break=first_break,
        broken_event=broken_event,
        detail=detail,
    )
