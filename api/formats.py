"""The export formats: NDJSON as the API shows events, ACLED-style CSV, and PLOVER JSON lines.

Each writer turns an export's head and rows (``projections.export``) into chunks of
bytes as the rows arrive, so an export streams in constant memory. Each names first
what repeats it exactly (the as_of, the known_at and the last position read): a first
metadata line ``{"export": {...}}`` for the JSON lines formats, and comment lines
beginning with ``#`` for CSV (``pandas.read_csv(f, comment="#")``: every CSV field is
quoted, so a ``#`` inside one is kept).

- ``ndjson``: each event as ``GET /events/{id}`` shows it (the stored event, its
  ``coding``, and the disputes and corrections known at ``known_at``); the stored data
  is not rewritten, so its ``hash`` still checks.
- ``csv``: one row per event with the columns an ACLED user looks for (``CSV_COLUMNS``),
  the data as corrected by ``known_at``, and Parley's provenance.
- ``plover``: the PLOVER manual's field names (draft 0.8 and later: ``id``, ``date``,
  ``event``, ``mode``, ``context``, ``actor``, ``recipient``, …), lists where the
  manual has lists, plus ``cameo`` and Parley's provenance under ``parley``.

``recorded_by`` is read with ``getattr``: stored records carry it from the version that
records who appended each event on; before that it is null.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, Literal

import orjson
from starlette.datastructures import URL

from api.invalid import InvalidRequestError
from api.parsing import instant
from api.schemas import event_detail_json
from domain.events import (
    AnyEvent,
    CeasefireDeclared,
    CeasefireProposed,
    ClaimDisputed,
    ContactHeld,
    DelegationNamed,
    DocumentExchanged,
    EventCorrected,
    EventRetracted,
    HostAnnounced,
    NegotiationOpened,
    ProposalAnswered,
    ProposalMade,
    RoundHeld,
    RoundScheduled,
    SecurityZoneDeclared,
    StatementIssued,
)
from domain.values import Actor, Place, Source, region_country
from projections.export import WORLD_TYPES, ExportHead, ExportQuery, ExportRow
from store.codec import utc_text

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


def parse_query(
    slug: str,
    *,
    as_of: str | None = None,
    known_at: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    types: Sequence[str] = (),
) -> ExportQuery:
    """An export's query from the request's (or the command line's) text; a bad time or
    type is an ``InvalidRequestError`` naming the parameter."""
    start = instant(from_, "from", bound="start") if from_ is not None else None
    end = instant(to, "to") if to is not None else None
    if start is not None and end is not None and start > end:
        raise InvalidRequestError([{"field": "from", "message": "from must not be later than to"}])
    unknown = [t for t in types if t not in WORLD_TYPES]
    if unknown:
        raise InvalidRequestError(
            [
                {
                    "field": "type",
                    "message": f"an export holds the types {', '.join(WORLD_TYPES)} "
                    "(corrections and retractions are applied, not exported)",
                    "value": ",".join(unknown),
                }
            ]
        )
    return ExportQuery(
        negotiation=slug,
        as_of=instant(as_of, "as_of") if as_of is not None else None,
        known_at=instant(known_at, "known_at") if known_at is not None else None,
        from_=start,
        to=end,
        types=tuple(dict.fromkeys(types)),
    )


def write(fmt: Format, head: ExportHead, rows: Iterable[ExportRow]) -> Iterator[bytes]:
    """The export in ``fmt``, as chunks of bytes: the head first, then the rows."""
    writers: dict[Format, Callable[[ExportHead, Iterable[ExportRow]], Iterator[bytes]]] = {
        "ndjson": _ndjson,
        "csv": _csv,
        "plover": _plover,
    }
    return _chunked(writers[fmt](head, rows))


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
    if head.from_ is not None:
        params.append(("from", utc_text(head.from_)))
    if head.to is not None:
        params.append(("to", utc_text(head.to)))
    if head.types:
        params.append(("type", ",".join(head.types)))
    url = URL(f"/negotiations/{head.negotiation}/export").replace_query_params(**dict(params))
    return f"{url.path}?{url.query}"


def _chunked(parts: Iterator[bytes]) -> Iterator[bytes]:
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
)
"""The CSV's columns, in order. ACLED's names where ACLED has the field (``event_date``,
``time_precision``, ``event_type``, ``actor1``, ``assoc_actor_1``, ``actor2``, ``iso``,
``location``, ``source``, ``notes``), then the codes, then Parley's provenance."""


MEETINGS_OF_EQUALS = (ContactHeld, RoundScheduled, RoundHeld, CeasefireDeclared)
"""Types whose actors are all sides alike (no recipient in PLOVER)."""


def _csv(head: ExportHead, rows: Iterable[ExportRow]) -> Iterator[bytes]:
    meta = metadata("csv", head)
    lines = [f"# parley export of {head.negotiation}: {head.title}"]
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
        writer.writerow(_csv_row(head, row))
        if out.tell() >= CHUNK:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()


def _meta_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value).replace("\n", " ")


def _csv_row(head: ExportHead, row: ExportRow) -> list[Any]:
    event, record, coding = row.event, row.record, row.coding
    actors, recipients = roles(event, head, row)
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
        _actor_name(first),
        None if first is None else first.country,
        "; ".join(map(_name, actors[1:])) or None,
        _actor_name(second),
        None if second is None else second.country,
        "; ".join(map(_name, recipients[1:])) or None,
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
    ]


def _date(value: date | datetime) -> str:
    """The calendar day of a valid time: as given for a date, in UTC for a datetime."""
    if isinstance(value, datetime):
        return utc_text(value)[:10]
    return value.isoformat()


def _time(value: date | datetime) -> str:
    return utc_text(value) if isinstance(value, datetime) else value.isoformat()


def _name(actor: Actor) -> str:
    return actor.name or actor.country or ""


def _actor_name(actor: Actor | None) -> str | None:
    return None if actor is None else _name(actor)


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


# What every format reads of an event: who acted, towards whom, where, and what it said.


def roles(event: AnyEvent, head: ExportHead, row: ExportRow) -> tuple[list[Actor], list[Actor]]:
    """PLOVER's ``actor`` and ``recipient`` of an event: who initiated it, and to whom it
    was directed when that is clear (the manual: all participants of a meeting of
    equals are actors, with no recipient)."""
    parties = list(head.parties)
    match event:
        case NegotiationOpened():
            return list(event.data.parties), list(event.data.mediators)
        case DelegationNamed():
            return [event.data.party, event.data.head, *event.data.members], []
        case ContactHeld():
            return list(event.data.participants), []
        case StatementIssued():
            return [event.data.speaker], []
        case ProposalMade():
            addressee = event.data.addressee
            return [event.data.proposer], [] if addressee is None else [addressee]
        case ProposalAnswered():
            proposer = None if row.proposal is None else row.proposal.proposer
            return [event.data.responder], [] if proposer is None else [proposer]
        case RoundScheduled():
            return parties, []
        case HostAnnounced():
            return [event.data.host], parties
        case RoundHeld():
            return list(event.data.delegations) or parties, []
        case DocumentExchanged():
            return [event.data.sender], [event.data.recipient]
        case CeasefireProposed():
            return [event.data.proposer], []
        case CeasefireDeclared():
            return list(event.data.parties), []
        case SecurityZoneDeclared():
            countries = sorted({c for r in event.data.regions if (c := region_country(r))})
            return [event.data.declared_by], [Actor(country=c) for c in countries]
        case ClaimDisputed():
            return [event.data.disputed_by], []
        case EventCorrected() | EventRetracted():
            return [], []  # never exported: facts about the log


def where(event: AnyEvent) -> tuple[Place | None, list[str]]:
    """The place an event names, and the ISO 3166-2 regions it covers."""
    match event:
        case RoundScheduled() | RoundHeld():
            place: Place | None = event.data.place
        case HostAnnounced():
            place = event.data.place
        case CeasefireProposed() | CeasefireDeclared():
            return None, list(event.data.scope)
        case SecurityZoneDeclared():
            return None, list(event.data.regions)
        case _:
            place = None
    return place, [] if place is None or place.region is None else [place.region]


def notes(event: AnyEvent) -> str:
    """What the event says, in a sentence or two (ACLED's ``notes``)."""
    match event:
        case NegotiationOpened():
            return event.data.title
        case DelegationNamed():
            party, chief = _name(event.data.party), _name(event.data.head)
            return f"{party} names its delegation, headed by {chief}"
        case ContactHeld():
            return f"{event.data.medium}: {event.data.summary}"
        case StatementIssued():
            topic = f" (topic: {event.data.topic})" if event.data.topic else ""
            return event.data.summary + topic
        case ProposalMade():
            terms = f" Terms: {'; '.join(event.data.terms)}" if event.data.terms else ""
            return f"{event.data.subject}: {event.data.summary}{terms}"
        case ProposalAnswered():
            said = f": {event.data.summary}" if event.data.summary else ""
            return f"{event.data.response} proposal {event.data.proposal_id}{said}"
        case RoundScheduled():
            return (
                f"round {event.data.round} {event.data.status} "
                f"for {event.data.starts_at.isoformat()}"
            )
        case HostAnnounced():
            return f"{_name(event.data.host)} to host round {event.data.round}"
        case RoundHeld():
            outcomes = f": {'; '.join(event.data.outcomes)}" if event.data.outcomes else ""
            return f"round {event.data.round} held{outcomes}"
        case DocumentExchanged():
            return event.data.title
        case CeasefireProposed():
            duration = f" for {event.data.duration}" if event.data.duration else ""
            conditions = "; ".join(event.data.conditions)
            return f"ceasefire proposed{duration}" + (f": {conditions}" if conditions else "")
        case CeasefireDeclared():
            until = event.data.effective_until
            return f"ceasefire from {event.data.effective_from.isoformat()}" + (
                f" until {until.isoformat()}" if until else ""
            )
        case SecurityZoneDeclared():
            depth = f", {event.data.depth_km:g} km deep" if event.data.depth_km else ""
            return f"security zone {event.data.status}{depth}"
        case ClaimDisputed():
            return f"disputes {event.data.event_id}: {event.data.counter_claim}"
        case EventCorrected() | EventRetracted():
            return event.data.reason


# PLOVER


def _plover(head: ExportHead, rows: Iterable[ExportRow]) -> Iterator[bytes]:
    yield orjson.dumps({"export": metadata("plover", head)}) + b"\n"
    for row in rows:
        yield orjson.dumps(plover_record(head, row)) + b"\n"


def plover_record(head: ExportHead, row: ExportRow) -> dict[str, Any]:
    """One event in the PLOVER manual's JSON fields, with Parley's own under ``parley``."""
    event, record, coding = row.event, row.record, row.coding
    actors, recipients = roles(event, head, row)
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
