"""Imports over HTTP, for admins: a file sent as the request body, read as it arrives.

The body is pulled a chunk at a time by the import running in a worker thread
(``RequestBody``), so memory does not grow with it; it is bounded like every body by
``PARLEY_MAX_BODY_BYTES`` (api/http/limits.py): big files take ``parley import``.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal, get_args

import anyio.from_thread
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from api.http.deps import Admin, LogDep
from api.imports import FORMATS
from api.imports.core import Importer, ImportReport
from api.imports.stream import text_of
from domain.negotiation import Slug
from store.log import ConflictLog

router = APIRouter(tags=["import"])

ImportFormat = Literal["ndjson", "csv", "plover", "acled"]
assert set(get_args(ImportFormat)) == set(FORMATS)  # one list: api.imports.FORMATS

FormatParam = Annotated[
    ImportFormat,
    Query(
        description="ndjson (Parley's input or NDJSON export), csv (Parley's CSV export), "
        "plover (Parley's PLOVER export, or PLOVER and POLECAT JSON lines), acled (ACLED CSV)"
    ),
]
DryRunParam = Annotated[
    bool, Query(description="store nothing: report what would be stored, and the problems")
]


class ImportCountsOut(BaseModel):
    new: int
    already_stored: int


class ProblemOut(BaseModel):
    line: int
    field: str | None
    message: str


class ImportReportOut(BaseModel):
    """What an import stored (or would store, in a dry run), per type, and every
    problem with its line number (``problem_count`` beyond the first 10,000 listed)."""

    format: str
    dry_run: bool
    records: int
    new: int
    already_stored: int
    negotiations: list[str]
    by_type: dict[str, ImportCountsOut]
    problem_count: int
    problems: list[ProblemOut]


class RequestBody(io.RawIOBase):
    """A request's body as a blocking binary stream, for a worker thread: each read
    waits for the next chunk from the event loop (``anyio.from_thread``)."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._left = b""
        self._done = False

    def readable(self) -> bool:
        return True

    async def _next(self) -> bytes:
        return await anext(self._chunks)

    def readinto(self, buffer: Any) -> int:
        while not self._left and not self._done:
            try:
                self._left = anyio.from_thread.run(self._next)
            except StopAsyncIteration:
                self._done = True
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size


_BODY = {
    "requestBody": {
        "description": "the file, as is: any bytes are a file, and what does not read as "
        "its format is a problem in the report, named by its line",
        # An empty schema: no body is invalid as such ("type: string" would call a
        # number or a JSON array sent as text/csv invalid, which it is not).
        "content": {"application/x-ndjson": {"schema": {}}, "text/csv": {"schema": {}}},
    }
}


@router.post(
    "/negotiations/{slug}/import", response_model=ImportReportOut, openapi_extra=_BODY
)
async def import_into(
    slug: Slug,
    request: Request,
    log: LogDep,
    admin: Admin,
    format: FormatParam,
    dry_run: DryRunParam = False,
) -> Any:
    """Import a file into this negotiation (admins only): the records go through the
    same parsing and checks as an append, in batches, idempotently; a record the log
    refuses is a problem on its line, and the others are stored whole. Answers the
    report, per type, with every problem's line number."""
    return await _import(log, request, format, slug, dry_run, admin.name)


@router.post("/import", response_model=ImportReportOut, openapi_extra=_BODY)
async def import_file(
    request: Request,
    log: LogDep,
    admin: Admin,
    format: FormatParam,
    dry_run: DryRunParam = False,
) -> Any:
    """Import a file whose records name their negotiation (Parley's exports do), as
    ``POST /negotiations/{slug}/import`` does."""
    return await _import(log, request, format, None, dry_run, admin.name)


async def _import(
    log: ConflictLog,
    request: Request,
    fmt: str,
    slug: str | None,
    dry_run: bool,
    recorded_by: str,
) -> dict[str, Any]:
    def run() -> ImportReport:
        importer = Importer(
            log, fmt, negotiation=slug, dry_run=dry_run, recorded_by=recorded_by
        )
        raw = io.BufferedReader(RequestBody(request.stream().__aiter__()), 256 * 1024)
        return importer.feed(FORMATS[fmt](text_of(raw)))

    report = await run_in_threadpool(run)
    return report.to_json()
