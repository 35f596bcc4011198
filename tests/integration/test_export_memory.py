"""An export streams: the memory it takes does not grow with the negotiation's size.

Two negotiations of the same mix of events, one four times the other, are exported
in process in each format while ``tracemalloc`` records the peak of what Python
allocates. An export that held its rows, or its output, would peak four times as high
on the larger one; a streaming one peaks at about one page on both. No timings.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from api.formats import FORMATS, Format, write
from domain.events import AnyEvent, parse_event
from projections.export import ExportQuery, start
from store.log import ConflictLog

PAGE = 200  # a smaller page than the server reads, so that a few thousand events are many pages
SMALL, LARGE = 1_000, 4_000  # five and twenty pages of an export
PROPOSALS = 10
SOURCE = [{"outlet": "teleSUR", "via": ["TASS"], "quote": "a short quote"}]


def one(type_: str, day: int, **data: Any) -> AnyEvent:
    return parse_event(
        {
            "type": type_,
            "occurred_at": f"2025-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}",
            "data": data,
            "sources": SOURCE,
        }
    )


def history(size: int) -> Iterator[AnyEvent]:
    """An opening, a few proposals, then statements, calls, answers and disputes."""
    yield one("NegotiationOpened", 0, title="Talks", parties=["RUS", "UKR"], mediators=["TUR"])
    for n in range(PROPOSALS):
        yield one(
            "ProposalMade", n, proposal_id=f"p-{n}", proposer="RUS", subject="meeting",
            summary="Meet in Istanbul.",
        )  # fmt: skip
    for n in range(size - 1 - PROPOSALS):
        match n % 4:
            case 0:
                yield one("StatementIssued", n, speaker="UKR", summary=f"Statement {n}.")
            case 1:
                yield one(
                    "ContactHeld", n, participants=["RUS", "USA"], medium="phone",
                    summary=f"Call {n}.",
                )  # fmt: skip
            case 2:
                yield one(
                    "ProposalAnswered", n, proposal_id=f"p-{n % PROPOSALS}", responder="UKR",
                    response="rejected",
                )  # fmt: skip
            case _:
                yield one(
                    "SecurityZoneDeclared", n, declared_by="RUS", regions=["UA-63", "UA-59"]
                )


def fill(log: ConflictLog, slug: str, size: int, batch: int = 2000) -> None:
    events = list(history(size))
    log.open(slug, events[0])  # type: ignore[arg-type]
    for at in range(1, len(events), batch):
        log.append(slug, events[at : at + batch])


def export_peak(log: ConflictLog, slug: str, fmt: Format) -> tuple[int, int]:
    """(rows written, peak bytes allocated) of a whole export in ``fmt``."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        head, rows = start(log, ExportQuery(slug))
        lines = sum(chunk.count(b"\n") for chunk in write(fmt, head, rows))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return lines, peak


@pytest.fixture
def logs(log: ConflictLog, monkeypatch: pytest.MonkeyPatch) -> ConflictLog:
    monkeypatch.setattr("projections.export.EXPORT_PAGE", PAGE)
    fill(log, "small", SMALL)
    fill(log, "large", LARGE)
    return log


def test_an_export_four_times_larger_peaks_at_about_the_same_memory(logs: ConflictLog) -> None:
    for fmt in FORMATS:
        small_lines, small_peak = export_peak(logs, "small", fmt)
        large_lines, large_peak = export_peak(logs, "large", fmt)

        assert large_lines >= 4 * (small_lines - 20)  # the rows were all written
        # Holding the rows would make the large peak about four times the small one.
        assert large_peak < 1.3 * small_peak, (fmt, small_peak, large_peak)
