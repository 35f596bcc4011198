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


def lazy(module: str, function: str) -> Mapper:
    """The mapper ``function`` of ``api.imports.<module>``, imported when first used:
    this package imports none of its modules (they import it), and a format whose
    module this build lacks is one problem, not an import error."""

    def mapper(stream: TextIO) -> Iterator[Mapped]:
        try:
            found: Mapper = getattr(importlib.import_module(f"api.imports.{module}"), function)
        except (ModuleNotFoundError, AttributeError):
            yield Mapped(0, None, None, f"this build of Parley has no {module} importer")
            return
        yield from found(stream)

    mapper.__name__ = function
    return mapper


FORMATS: dict[str, Mapper] = {
    "ndjson": lazy("ndjson", "ndjson_records"),
    "csv": lazy("csv", "csv_rows"),
    "plover": lazy("ndjson", "plover_export_or_foreign"),
    "acled": lazy("acled", "acled_rows"),
}
"""Each format's mapper; ``plover`` also reads POLECAT."""
