"""Importers: each turns a file into candidate events in Parley's input shape, streamed
record by record, for ``api.imports.core`` to check and append as every other way in
does (``parley import``, ``POST /negotiations/{slug}/import``).

``FORMATS`` names each format's mapper. Parley's own exports (``ndjson``, ``csv``, and
``plover`` when a record carries ``parley_event``) are read here; foreign PLOVER or
POLECAT records and ACLED rows by ``api.imports.plover`` and ``api.imports.acled``,
imported only when asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TextIO


class Mapped(NamedTuple):
    line: int  # 1-based line or row number in the file
    event: dict[str, Any] | None  # Parley input shape, None when the record does not map
    negotiation: str | None  # slug when the record names one (Parley's own exports do), else None
    problem: str | None  # why it does not map (never silently dropped)


Mapper = Callable[[TextIO], Iterator[Mapped]]  # streams: reads the file lazily, never whole


def _foreign(module: str, function: str) -> Mapper:
    """A mapper found in ``api.imports.<module>`` when first used, so that this package
    loads whether or not that module is installed."""

    def mapper(stream: TextIO) -> Iterator[Mapped]:
        try:
            found: Mapper = getattr(importlib.import_module(f"api.imports.{module}"), function)
        except (ModuleNotFoundError, AttributeError):
            yield Mapped(0, None, None, f"this build of Parley has no {module} importer")
            return
        yield from found(stream)

    mapper.__name__ = function
    return mapper


def _ndjson(stream: TextIO) -> Iterator[Mapped]:
    from api.imports.ndjson import ndjson_records

    return ndjson_records(stream)


def _csv(stream: TextIO) -> Iterator[Mapped]:
    from api.imports.csv import csv_rows

    return csv_rows(stream)


def _plover(stream: TextIO) -> Iterator[Mapped]:
    from api.imports.ndjson import plover_lines

    return plover_lines(stream, _foreign("plover", "plover_records"))


FORMATS: dict[str, Mapper] = {
    "ndjson": _ndjson,
    "csv": _csv,
    "plover": _plover,
    "acled": _foreign("acled", "acled_rows"),
}
"""Each format's mapper; ``plover`` also reads POLECAT."""
