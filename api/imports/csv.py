"""Parley's own CSV export, read back from its last column, ``parley_event``: the event
as stored, with the corrections applied to the row (``api.formats.CSV_COLUMNS``).

The other columns are what a spreadsheet user reads; they are derived, so they are
not read back. The ``#`` lines that name the export are skipped; each row's number is
its line in the file (a quoted cell spanning lines ends on its last one).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import TextIO

import orjson

from api.imports import Mapped
from api.imports.ndjson import InLogOrder

COLUMN = "parley_event"


def csv_rows(stream: TextIO) -> Iterator[Mapped]:
    """Each event of a Parley CSV export, in log order."""
    skipped = 0

    def rows() -> Iterator[str]:
        nonlocal skipped
        heading = True
        for text in stream:
            if heading and (text.startswith("#") or not text.strip()):
                skipped += 1
                continue
            heading = False
            yield text

    reader = csv.reader(rows())
    header = next(reader, None)
    if header is None:
        return
    if COLUMN not in header:
        for _row in reader:
            yield Mapped(skipped + reader.line_num, None, None,
                         f"{COLUMN}: this CSV has no {COLUMN} column, so it is not an "
                         "export of Parley's that can be read back (export it again)")
        return
    at = header.index(COLUMN)
    order = InLogOrder()
    for row in reader:
        number = skipped + reader.line_num
        if not any(row):
            continue
        cell = row[at] if at < len(row) else ""
        try:
            found = orjson.loads(cell)
        except orjson.JSONDecodeError as error:
            yield Mapped(number, None, None, f"{COLUMN}: not JSON ({error})")
            continue
        if not isinstance(found, dict):
            yield Mapped(number, None, None, f"{COLUMN}: not a JSON object")
            continue
        yield from order.row(number, found)
    yield from order.rest()
