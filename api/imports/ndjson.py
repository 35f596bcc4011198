"""Parley's NDJSON, as sent to ``parley load`` or as its NDJSON export writes it; and
Parley's own PLOVER export, whose records carry the stored event in ``parley_event``.

An export line is an event as stored plus what the store and the export added to it
(``EXPORT_FIELDS``: its negotiation, position, hashes, coding, disputes, corrections…).
Those are stripped, so the event goes in as it was first sent; the export's first line
(``{"export": {...}}``) names the export and is skipped. An export leaves retracted
events out and attaches each counting correction to the event it corrects: a correction
is imported too, in the log's order (held back until the first row recorded after it),
so the new store applies it as the old one did.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any, TextIO, cast

import orjson

from api.imports import Mapped, Mapper, lazy

EXPORT_FIELDS = frozenset(
    {
        "negotiation",
        "recorded_at",
        "previous_hash",
        "hash",
        "recorded_by",
        "source",
        "position",
        "version",
        "coding",
        "disputes",
        "corrections",
        "retractions",
    }
)
"""What the store (``store.codec.answer_json``) and the NDJSON export
(``api.schemas.event_detail_json``) add to an event; never part of what a client sends."""


def ndjson_records(stream: TextIO) -> Iterator[Mapped]:
    """Each event of a Parley NDJSON file (input lines or an export), in log order."""
    order = InLogOrder()
    for number, text in enumerate(stream, start=1):
        found = _json_line(number, text)
        if found is None:
            continue
        if isinstance(found, Mapped):
            yield found
            continue
        yield from order.row(number, found)
    yield from order.rest()


def plover_export_or_foreign(stream: TextIO) -> Iterator[Mapped]:
    """Parley's own PLOVER export, or else PLOVER or POLECAT records
    (``api.imports.plover.plover_records``)."""
    return plover_lines(stream, lazy("plover", "plover_records"))


def plover_lines(stream: TextIO, foreign: Mapper) -> Iterator[Mapped]:
    """Parley's own PLOVER export read from each record's ``parley_event``; any other
    PLOVER or POLECAT file is handed whole to ``foreign``."""
    seen: list[str] = []
    parley = False
    for text in stream:
        seen.append(text)
        if not text.strip():
            continue
        try:
            first = orjson.loads(text)
        except orjson.JSONDecodeError:
            break
        if _is_header(first):
            continue
        parley = isinstance(first, dict) and "parley_event" in first
        break
    lines = cast(TextIO, _Replay(seen, stream))
    if not parley:
        yield from foreign(lines)
        return
    order = InLogOrder()
    for number, text in enumerate(lines, start=1):
        found = _json_line(number, text)
        if found is None:
            continue
        if isinstance(found, Mapped):
            yield found
        elif not isinstance(found.get("parley_event"), dict):
            yield Mapped(number, None, None, "parley_event: a record of Parley's PLOVER "
                         "export carries the stored event here; it is missing")
        else:
            yield from order.row(number, found["parley_event"])
    yield from order.rest()


def _json_line(number: int, text: str) -> dict[str, Any] | Mapped | None:
    """A line's JSON object; None for a blank, comment or export header line; a Mapped
    problem for a line that is no JSON object."""
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    try:
        found = orjson.loads(stripped)
    except orjson.JSONDecodeError as error:
        return Mapped(number, None, None, f"not JSON ({error})")
    if not isinstance(found, dict):
        return Mapped(number, None, None, "not a JSON object: send one event a line")
    return None if _is_header(found) else found


def _is_header(found: Any) -> bool:
    return isinstance(found, dict) and set(found) == {"export"}


def input_shape(found: dict[str, Any]) -> dict[str, Any]:
    """The event as a client sends it: ``found`` without ``EXPORT_FIELDS``."""
    return {key: value for key, value in found.items() if key not in EXPORT_FIELDS}


class InLogOrder:
    """Turns export rows into events in the order the log recorded them: a row comes
    in position order, with the corrections applied to it, each recorded after it;
    those wait (a heap by position) until a row recorded after them has gone."""

    def __init__(self) -> None:
        self._held: list[tuple[int, int, Mapped]] = []
        self._count = 0

    def row(self, number: int, found: dict[str, Any]) -> Iterator[Mapped]:
        """The events of one line: the row's own (once those held before it have gone);
        its corrections are held."""
        if not EXPORT_FIELDS & found.keys():
            yield Mapped(number, found, None, None)  # Parley's input shape, as is
            return
        position = found.get("position")
        if isinstance(position, int):
            while self._held and self._held[0][0] < position:
                yield heapq.heappop(self._held)[2]
        negotiation = found.get("negotiation")
        slug = negotiation if isinstance(negotiation, str) else None
        yield Mapped(number, input_shape(found), slug, None)
        corrections = found.get("corrections") or []
        if not isinstance(corrections, list):
            yield Mapped(number, None, slug, "corrections: a list of events, as exported")
            return
        for correction in _objects(corrections):
            at = correction.get("position")
            self._count += 1
            mapped = Mapped(number, input_shape(correction), slug, None)
            heapq.heappush(self._held, (at if isinstance(at, int) else 0, self._count, mapped))

    def rest(self) -> Iterator[Mapped]:
        """The corrections still held, in position order."""
        while self._held:
            yield heapq.heappop(self._held)[2]


def _objects(items: Iterable[Any]) -> Iterator[dict[str, Any]]:
    return (item for item in items if isinstance(item, dict))


class _Replay:
    """A text stream (what a mapper reads: its lines, ``readline``, ``read``) that gives
    ``head`` (lines already read) again, then the rest."""

    def __init__(self, head: list[str], rest: Iterable[str]) -> None:
        self._lines = chain(head, rest)

    def __iter__(self) -> Iterator[str]:
        return self._lines

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> str:
        return next(self._lines, "")

    def read(self, size: int | None = -1) -> str:
        return "".join(self._lines)
