"""The export formats: NDJSON as the API shows events, ACLED-style CSV, and PLOVER JSON lines.

Each writer turns an export's head and rows (``projections.export``) into chunks of
bytes as the rows arrive, so an export streams in constant memory. Each names first
what repeats it exactly (the as_of, the known_at and the last position read): a first
metadata line ``{"export": {...}}`` for the JSON lines formats, and comment lines
beginning with ``#`` for CSV (``pandas.read_csv(f, comment="#")``: every CSV field is
quoted, so a ``#`` inside one is kept).

A CSV is opened in spreadsheets, which run a cell that begins with ``=``, ``+``, ``-`` or
``@`` as a formula (OWASP, "CSV Injection"). So the CSV's text cells are neutralised
(``spreadsheet_text``), and every value in a ``#`` line is escaped (``header_text``):
no text an event or a title holds can start a formula or a line of its own.

- ``ndjson``: each event as ``GET /events/{id}`` shows it (the stored event, its
  ``coding``, and the disputes and corrections known at ``known_at``); the stored data
  is not rewritten, so its ``hash`` still checks.
- ``csv``: one row per event with the columns an ACLED user looks for (``CSV_COLUMNS``),
  the data as corrected by ``known_at``, and Parley's provenance.
- ``plover``: the PLOVER manual's field names (draft 0.8 and later: ``id``, ``date``,
  ``event``, ``mode``, ``context``, ``actor``, ``recipient``, …), lists where the
  manual has lists, plus ``cameo``, Parley's provenance under ``parley``, and the event
  as stored under ``parley_event`` (what ``parley import --format plover`` reads back).

``recorded_by`` is read with ``getattr``: stored records carry it from the version that
records who appended each event on; before that it is null.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, Literal

import orjson
from starlette.datastructures import URL

from api.schemas import event_detail_json, events_json
from domain.coding import MEETINGS_OF_EQUALS, acled_sub_event, name_of, notes, roles, where
from domain.instants import utc_text
from domain.values import Actor, Place, Source, region_country
from projections.export import ExportHead, ExportRow
from store.codec import answer_json

Format = Literal["ndjson", "csv", "plover"]
FORMATS: tuple[Format, ...] = ("ndjson", "csv", "plover")
MEDIA_TYPES: dict[Format, str] = {
    "ndjson": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "plover": "application/x-ndjson",
}
PLOVER_MANUAL = (
    "openeventdata/PLOVER PLOVER_MANUAL.tex @ 5e0c24fba623f2d8df5ae3c7de7a94dba90d5b6f"
    " (JSON fields as in draft 0.8 and later)"
)
CHUNK = 64 * 1024  # bytes gathered before a chunk is sent


def write(fmt: Format, head: ExportHead, rows: Iterable[ExportRow]) -> Iterator[bytes]:
    """The export in ``fmt``, as chunks of bytes: the head first, then the rows."""
    writers: dict[Format, Callable[[ExportHead, Iterable[ExportRow]], Iterator[bytes]]] = {
        "ndjson": _ndjson,
        "csv": _csv,
        "plover": _plover,
    }
    return chunked(writers[fmt](head, rows))


def file_name(fmt: Format, head: ExportHead) -> str:
    suffix = {"ndjson": "ndjson", "csv": "csv", "plover": "plover.jsonl"}[fmt]
    return f"{head.negotiation}-{head.known_at:%Y%m%dT%H%M%SZ}.{suffix}"


def metadata(fmt: Format, head: ExportHead) -> dict[str, Any]:
    """What repeats the export exactly, and what it used."""
    return {
        "format": fmt,
        "negotiation": head.negotiation,
        "title": head.title,
        "as_of": utc_text(head.as_of),
        "known_at": utc_text(head.known_at),
        "reported_at": None if head.reported_at is None else utc_text(head.reported_at),
        "from": None if head.from_ is None else utc_text(head.from_),
        "to": None if head.to is None else utc_text(head.to),
        "type": list(head.types),
        "position": head.position,
        "order": "position",
        "codebook": head.codebook,
        "plover_manual": PLOVER_MANUAL,
        "repeat": repeat_url(fmt, head),
    }


def repeat_url(fmt: Format, head: ExportHead) -> str:
    """The path and query that give this export again, byte for byte."""
    params: list[tuple[str, str]] = [
        ("format", fmt),
        ("as_of", utc_text(head.as_of)),
        ("known_at", utc_text(head.known_at)),
    ]
    if head.reported_at is not None:
        params.append(("reported_at", utc_text(head.reported_at)))
    if head.from_ is not None:
        params.append(("from", utc_text(head.from_)))
    if head.to is not None:
        params.append(("to", utc_text(head.to)))
    if head.types:
        params.append(("type", ",".join(head.types)))
    url = URL(f"/negotiations/{head.negotiation}/export").replace_query_params(**dict(params))
    return f"{url.path}?{url.query}"


def chunked(parts: Iterable[bytes]) -> Iterator[bytes]:
    """``parts`` joined into chunks of about ``CHUNK`` bytes, the last one as it is."""
    buffer: list[bytes] = []
    size = 0
    for part in parts:
        buffer.append(part)
        size += len(part)
        if size >= CHUNK:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)


# NDJSON


def _ndjson(head: ExportHead, rows: Iterable[ExportRow]) -> Iterator[bytes]:
    yield orjson.dumps({"export": metadata("ndjson", head)}) + b"\n"
    for row in rows:
        about = [*row.disputes, *row.corrections]
        yield event_detail_json(row.record, about, row.recorded_coding) + b"\n"


# CSV

CSV_COLUMNS = (
    "event_id",
    "event_date",
    "end_date",
    "time_precision",
    "occurred_at",
    "occurred_until",
    "event_type",
    "sub_event_type",
    "actor1",
    "country1",
    "assoc_actor_1",
    "actor2",
    "country2",
    "assoc_actor_2",
    "iso",
    "iso_region",
    "location",
    "source",
    "sources",
    "notes",
    "cameo",
    "cameo_label",
    "plover_event",
    "plover_mode",
    "plover_context",
    "disputed_by",
    "corrected_by",
    "negotiation",
    "version",
    "position",
    "recorded_at",
    "recorded_by",
    "hash",
    "parley_event",
)
"""The CSV's columns, in order. ACLED's names where ACLED has the field (``event_date``,
``time_precision``, ``event_type``, ``sub_event_type``, ``actor1``, ``assoc_actor_1``,
``actor2``, ``iso``, ``location``, ``source``, ``notes``), then the codes, then Parley's
provenance. ``event_type`` is Parley's type; ``sub_event_type`` is ACLED's own where
ACLED records such an event (``domain.coding.acled_sub_event``: "Agreement", the kinds
of fighting), else empty. The last, ``parley_event``, is the event as stored (its JSON
as ``GET /events/{id}`` shows it, with ``corrections``: those applied to the row), which
``parley import --format csv`` reads back; it begins with ``{``, so no spreadsheet
reads it as a formula."""


CSV_TEXT_COLUMNS = frozenset(
    {
        "actor1",
        "assoc_actor_1",
        "actor2",
        "assoc_actor_2",
        "location",
        "source",
        "notes",
        "recorded_by",
    }
)
"""The columns that hold text someone wrote (names, outlets, summaries, cities, titles,
who recorded): the ones neutralised with ``spreadsheet_text``. Every other column is
written by Parley from a closed form and never begins with a formula character: ids,
dates and times (years 1800 on), codes, types, ACLED's sub-event types, the slug, the
``sources`` JSON (``[``), and the counts ``version`` and ``position``, which are
written as the numbers they are."""
_TEXT_AT = frozenset(i for i, name in enumerate(CSV_COLUMNS) if name in CSV_TEXT_COLUMNS)

_FORMULA = re.compile(r"'*[=+\-@\t\r]")


def spreadsheet_text(text: str) -> str:
    """``text`` as a spreadsheet reads it as text, never as a formula (OWASP's guidance
    on CSV injection): a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return gets a single quote in front. A cell that begins with quotes and
    then one of these gets one more quote too, so the rule can be undone exactly: drop
    the first quote of a cell that begins with quotes and then one of the six."""
    return f"'{text}" if _FORMULA.match(text) else text


_HEADER_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# What a "#" line escapes: the backslash and the double quote (a quote that opens a
# spreadsheet cell would swallow the lines after it), every control character (C0, DEL
# and C1, among them every line break that pandas, csv or str.splitlines knows), the
# Unicode line and paragraph separators, and a formula character that would begin a
# cell when a spreadsheet splits the line at a comma or a semicolon.
_HEADER_UNSAFE = re.compile(r'[\\"\x00-\x1f\x7f-\x9f\u2028\u2029]|(?<=[,;])( *)([=+\-@])')


def header_text(text: str) -> str:
    """``text`` as it may stand in a ``#`` line of the CSV: on that one line, opening no
    spreadsheet cell or formula. Escaped as inside a JSON string, so
    ``json.loads('"' + value + '"')`` gives ``text`` back exactly."""

    def escape(found: re.Match[str]) -> str:
        if found.group(2) is not None:
            return f"{found.group(1)}\\u{ord(found.group(2)):04x}"
        character = found.group()
        return _HEADER_ESCAPES.get(character) or f"\\u{ord(character):04x}"

    return _HEADER_UNSAFE.sub(escape, text)


def _csv(head: ExportHead, rows: Iterable[ExportRow]) -> Iterator[bytes]:
    meta = metadata("csv", head)
    lines = [f"# parley export of {head.negotiation}: {header_text(head.title)}"]
    lines += [f"# {key}: {_meta_text(value)}" for key, value in meta.items() if key != "title"]
    lines.append(
        "# read with pandas.read_csv(path, comment='#', dtype={'cameo': str}): every field"
        " is quoted, and CAMEO codes keep their leading zeros as text"
    )
    yield ("\n".join(lines) + "\n").encode()
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(_neutralised(_csv_row(head, row)))
        if out.tell() >= CHUNK:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()


def _meta_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return header_text(",".join(map(str, value)))
    return header_text(str(value))


def _neutralised(cells: list[Any]) -> list[Any]:
    for i in _TEXT_AT:
        if isinstance(cells[i], str):
            cells[i] = spreadsheet_text(cells[i])
    return cells


def _csv_row(head: ExportHead, row: ExportRow) -> list[Any]:
    event, record, coding = row.event, row.record, row.coding
    actors, recipients = _roles(head, row)
    if not recipients and len(actors) > 1 and isinstance(event, MEETINGS_OF_EQUALS):
        # PLOVER gives a meeting of equals no recipient; ACLED's dyad columns still
        # name the second side.
        actors, recipients = actors[:1], actors[1:]
    first = actors[0] if actors else None
    second = recipients[0] if recipients else None
    place, regions = where(event)
    return [
        str(event.id),
        _date(event.occurred_at),
        None if event.occurred_until is None else _date(event.occurred_until),
        event.precision,
        _time(event.occurred_at),
        None if event.occurred_until is None else _time(event.occurred_until),
        event.type,
        acled_sub_event(event),
        _actor_name(first),
        None if first is None else first.country,
        "; ".join(map(name_of, actors[1:])) or None,
        _actor_name(second),
        None if second is None else second.country,
        "; ".join(map(name_of, recipients[1:])) or None,
        _country(place, regions),
        "; ".join(regions) or None,
        _location(place),
        "; ".join(dict.fromkeys(_outlet(s) for s in event.sources)),
        orjson.dumps(_sources(event.sources)).decode(),
        notes(event),
        coding.cameo,
        coding.cameo_label,
        coding.plover_event,
        coding.plover_mode,
        "; ".join(coding.plover_context) or None,
        "; ".join(map(str, row.disputed_by)) or None,
        "; ".join(map(str, row.corrected_by)) or None,
        record.negotiation,
        record.version,
        record.position,
        utc_text(record.recorded_at),
        record.recorded_by,
        record.hash,
        stored_event_json(row).decode(),
    ]


def stored_event_json(row: ExportRow) -> bytes:
    """The row's event as stored and as the API shows it, with the corrections applied to
    the row: what ``parley import`` needs to store it again (CSV's ``parley_event``
    column, PLOVER's ``parley_event`` field)."""
    return answer_json(row.record)[:-1] + b',"corrections":' + events_json(row.corrections) + b"}"


def _roles(head: ExportHead, row: ExportRow) -> tuple[list[Actor], list[Actor]]:
    proposer = None if row.proposal is None else row.proposal.proposer
    return roles(row.event, head.parties, proposer, row.disputed)


def _date(value: date | datetime) -> str:
    """The calendar day of a valid time: as given for a date, in UTC for a datetime."""
    if isinstance(value, datetime):
        return utc_text(value)[:10]
    return value.isoformat()


def _time(value: date | datetime) -> str:
    return utc_text(value) if isinstance(value, datetime) else value.isoformat()


def _actor_name(actor: Actor | None) -> str | None:
    return None if actor is None else name_of(actor)


def _sources(sources: Sequence[Source]) -> list[dict[str, Any]]:
    return [s.model_dump(mode="json", exclude_none=True, exclude_defaults=True) for s in sources]


def _outlet(source: Source) -> str:
    return f"{source.outlet} (via {', '.join(source.via)})" if source.via else source.outlet


def _country(place: Place | None, regions: Sequence[str]) -> str | None:
    if place is not None:
        return place.country
    countries = sorted({c for r in regions if (c := region_country(r))})
    return "; ".join(countries) or None


def _location(place: Place | None) -> str | None:
    return None if place is None else (place.city or place.region or place.country)


# PLOVER


def _plover(head: ExportHead, rows: Iterable[ExportRow]) -> Iterator[bytes]:
    yield orjson.dumps({"export": metadata("plover", head)}) + b"\n"
    for row in rows:
        yield orjson.dumps(plover_record(head, row)) + b"\n"


def plover_record(head: ExportHead, row: ExportRow) -> dict[str, Any]:
    """One event in the PLOVER manual's JSON fields, with Parley's own under ``parley``."""
    event, record, coding = row.event, row.record, row.coding
    actors, recipients = _roles(head, row)
    place, regions = where(event)
    fields: dict[str, Any] = {
        "id": str(event.id),
        "has_event": coding.plover_event is not None,
        "date": _date(event.occurred_at),
    }
    if isinstance(event.occurred_at, datetime):
        fields["time"] = utc_text(event.occurred_at)[11:]
    if event.occurred_until is not None:
        fields["enddate"] = _date(event.occurred_until)
        if isinstance(event.occurred_until, datetime):
            fields["endtime"] = utc_text(event.occurred_until)[11:]
    fields |= {
        "actor": [_entity(a) for a in actors],
        "recipient": [_entity(a) for a in recipients],
        "event": [coding.plover_event] if coding.plover_event else [],
        "mode": [coding.plover_mode] if coding.plover_mode else [],
        "context": list(coding.plover_context),
        "event_loc": _location_object(place, regions),
        "event_text": [s.quote for s in event.sources if s.quote],
        "cite_info": [_citation(s) for s in event.sources],
        "coder": "Parley",
        "coded_date": utc_text(record.recorded_at)[:10],
        "coded_time": utc_text(record.recorded_at)[11:],
        "comment": notes(event),
        "cameo": coding.cameo,
        "cameo_label": coding.cameo_label,
        "parley": {
            "type": event.type,
            "negotiation": record.negotiation,
            "occurred_at": _time(event.occurred_at),
            "occurred_until": None if event.occurred_until is None else _time(event.occurred_until),
            "precision": event.precision,
            "sources": _sources(event.sources),
            "asserted_by": None
            if event.asserted_by is None
            else event.asserted_by.model_dump(mode="json", exclude_none=True),
            "disputed_by": [str(i) for i in row.disputed_by],
            "corrected_by": [str(i) for i in row.corrected_by],
            "version": record.version,
            "position": record.position,
            "recorded_at": utc_text(record.recorded_at),
            "recorded_by": record.recorded_by,
            "hash": record.hash,
        },
        "parley_event": orjson.Fragment(stored_event_json(row)),
    }
    return fields


def _entity(actor: Actor) -> dict[str, Any]:
    """A PLOVER entity object: ``code`` is the ISO alpha-3 country."""
    entity: dict[str, Any] = {"code": actor.country}
    if actor.name:
        entity["entity_text"] = actor.name
    if actor.wikidata:
        entity["identifier_id"] = actor.wikidata
        entity["identifier_text"] = actor.name
    if actor.role:
        entity["office"] = actor.role
    return entity


def _location_object(place: Place | None, regions: Sequence[str]) -> dict[str, Any] | None:
    """PLOVER's location object, with ``iso_region`` (ISO 3166-2) added for the regions."""
    if place is None and not regions:
        return None
    found: dict[str, Any] = {}
    if place is not None:
        found["country_code"] = place.country
        if place.city:
            found["city"] = place.city
            found["resolved_place"] = place.city
        if place.geonames:
            found["geonameid"] = place.geonames
    else:
        countries = sorted({c for r in regions if (c := region_country(r))})
        if len(countries) == 1:
            found["country_code"] = countries[0]
    if regions:
        found["iso_region"] = list(regions)
    return found


def _citation(source: Source) -> dict[str, Any]:
    """A PLOVER citeInfo object for one source."""
    cite: dict[str, Any] = {"publication": source.outlet}
    if source.url:
        cite["url"] = str(source.url)
    if source.published_at:
        cite["date"] = _time(source.published_at)
    if source.via:
        cite["via"] = list(source.via)
    if source.attributed_to is not None:
        cite["attributed_to"] = source.attributed_to.model_dump(mode="json", exclude_none=True)
    return cite
