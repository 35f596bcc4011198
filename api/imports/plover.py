"""PLOVER and POLECAT JSON lines, read into Parley's events, one record a line.

Three shapes of record are read, by their own field names:

- the PLOVER manual's (``PLOVER_MANUAL.tex``, "Data Fields": ``id``, ``date``, ``time``,
  ``enddate``, ``actor``, ``recipient``, ``event``, ``mode``, ``context``, ``link``,
  ``event_loc``, ``event_text``, ``text``, ``cite_info``, ``has_event``), which Parley's
  own PLOVER export also writes;
- the OEDA gold-standard records (``gold_standard_records/PLOVER_GSR_CAMEO.txt``,
  PLOVER 0.5: ``source``/``target`` entities with ``actorText``, ``eventText``,
  ``eventLoc``, ``publication``, and the old category names FIGHT, DEMAND, DISAPPROVE,
  INVESTIGATE);
- POLECAT's, as its coder NGEC writes them (``event_type``, ``event_mode``,
  ``attributes.ACTOR``/``RECIP`` with ``text``, ``wiki``, ``country``,
  ``event_geolocation.geo``, ``date_resolved``, ``pub_date``, ``publisher``).

Which Parley type a record becomes is ``RULES``' business: PLOVER's ``event`` and
``mode``, and how many actors the record names. Nothing is read from free text to choose
a richer type; text is read only to refuse a reading that would hide a ceasefire or an
agreement behind a statement. A record that does not map clearly is a problem with its
reason, never a guess and never dropped. Each event's id is
``uuid5(NAMESPACE, "plover:" + record id)`` (``api.imports.foreign``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from typing import Any, TextIO

import orjson

from api.imports import Mapped
from api.imports.foreign import (
    NAME_MAX,
    TEXT_MAX,
    Unmapped,
    clip,
    country_code,
    country_names,
    event_id,
    region_code,
    text_of,
)

FORMAT = "plover"

OLD_NAMES: Mapping[str, tuple[str, str | None]] = {
    "FIGHT": ("ASSAULT", None),
    "DEMAND": ("REQUEST", None),
    "DISAPPROVE": ("ACCUSE", "disapprove"),
    "INVESTIGATE": ("ACCUSE", "investigate"),
}
"""PLOVER 0.5 categories (the gold-standard records) as today's event and mode."""

CONTACT_MODES: Mapping[str, str] = {
    "phone": "phone",
    "visit": "visit",
    "host": "visit",  # PLOVER 0.5: the actor hosts the visit
    "third-party": "third-party",
}
"""CONSULT's modes as Parley's contact media. ``multilateral`` has no medium."""

FIGHTING_MODES: Mapping[str, str] = {
    "firearms": "ground_fighting",
    "aerial": "air_strike",
    "drone": "drone_strike",
    # Artillery, rockets, tanks; and in CAMEO-converted data (195) aerial weapons too:
    # not told apart, so not "shelling".
    "heavy-weapons": "other",
}
"""ASSAULT's modes of fighting between armed parties, as Parley's hostilities kinds."""

ARMED_SECTORS = frozenset({"MIL", "REB", "PRM", "UAF"})
"""PLOVER sectors of armed forces: an ASSAULT among them is fighting, not repression."""

STATEMENTS = frozenset({"ACCUSE", "REQUEST", "THREATEN", "REJECT", "SUPPORT", "CONCEDE"})
"""Verbal categories (PLOVER's quad codes 1 and 3) read as one speaker's statement."""

NOT_NEGOTIATION = frozenset(
    {"COOPERATE", "AID", "PROTEST", "SANCTION", "MOBILIZE", "COERCE", "DOCUMENT"}
)

OWN_TYPES = re.compile(
    r"\b(cease-?fires?|truces?|armistices?|agreements?|accords?|treat(?:y|ies)|"
    r"violat\w*)\b",
    re.IGNORECASE,
)
"""Words that name what Parley records as its own types (CeasefireDeclared,
AgreementSigned, ViolationAlleged…): a statement must not hide them."""


class Record:
    """One PLOVER or POLECAT record, read through its fields in any of the three shapes."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields
        record_id = fields.get("id")
        if isinstance(record_id, int) and not isinstance(record_id, bool):
            record_id = str(record_id)
        if not text_of(record_id):
            raise Unmapped("id: a PLOVER record needs its identifier (the manual requires it)")
        self.id: str = str(record_id).strip()
        self.event, self.modes = self._event_and_modes()
        attributes = fields.get("attributes")
        attributes = attributes if isinstance(attributes, dict) else {}
        self.actors = _entities(
            fields.get("actor", fields.get("source", attributes.get("ACTOR"))), "actor"
        )
        self.recipients = _entities(
            fields.get("recipient", fields.get("target", attributes.get("RECIP"))),
            "recipient",
        )
        self.raw_entities = [
            e
            for key in ("actor", "source", "recipient", "target")
            for e in _list(fields.get(key))
            if isinstance(e, dict)
        ] + [e for key in ("ACTOR", "RECIP") for e in _list(attributes.get(key))]

    def _event_and_modes(self) -> tuple[str, list[str]]:
        raw = self.fields.get("event", self.fields.get("event_type"))
        names = sorted({n.strip().upper() for n in _list(raw) if text_of(n)})
        if not names:
            raise Unmapped("event: the record names no PLOVER event category")
        if len(names) > 1:
            raise Unmapped(
                f"event: several categories ({', '.join(names)}); Parley records one type "
                "per event, and the record does not say which act is which"
            )
        event, implied = OLD_NAMES.get(names[0], (names[0], None))
        raw_modes = self.fields.get("mode", self.fields.get("event_mode"))
        modes = [m.strip().lower() for m in _list(raw_modes) if text_of(m)]
        if implied and implied not in modes:
            modes.append(implied)
        return event, modes

    @property
    def contexts(self) -> list[str]:
        raw = self.fields.get("context", self.fields.get("contexts"))
        if isinstance(raw, str):
            return [c.strip().lower() for c in raw.split(",") if c.strip()]
        return [c.strip().lower() for c in _list(raw) if text_of(c)]

    @property
    def text(self) -> str | None:
        """What the record says the event was: its text, else its event text, headline
        or comment."""
        for key in ("text", "event_text", "eventText", "headline", "comment"):
            value = self.fields.get(key)
            if isinstance(value, list):
                value = " ".join(v.strip() for v in value if text_of(v))
            if text_of(value):
                return str(value).strip()
        return None

    def summary(self) -> str:
        """The text, cut to Parley's limit; failing any text, what the record's fields
        say (its category, mode and actors)."""
        if self.text:
            return clip(self.text, TEXT_MAX)
        who = ", ".join(_label(a) for a in self.actors)
        to = ", ".join(_label(a) for a in self.recipients)
        mode = f" ({', '.join(self.modes)})" if self.modes else ""
        return clip(f"PLOVER {self.event}{mode}: {who}" + (f" to {to}" if to else ""), TEXT_MAX)

    def envelope(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        """The event in Parley's input shape: id, type, valid time, sources, data."""
        event: dict[str, Any] = {
            "id": event_id(FORMAT, self.id),
            "type": kind,
            **self.valid_time(),
            "sources": [self._source()],
            "data": data,
        }
        return event

    def valid_time(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        day = _day(self.fields.get("date_resolved", self.fields.get("date")), "date")
        if day is None:
            raise Unmapped("date: a PLOVER record needs its date (YYYY-MM-DD)")
        found["occurred_at"] = _moment(day, self.fields.get("time"))
        until = _day(self.fields.get("enddate"), "enddate")
        if until is not None:
            found["occurred_until"] = _moment(until, self.fields.get("endtime"))
        return found

    def _source(self) -> dict[str, Any]:
        cite = self.fields.get("cite_info")
        cites = [c for c in _list(cite) if isinstance(c, dict)]
        first = cites[0] if cites else {}
        outlet = (
            text_of(first.get("publication"))
            or text_of(self.fields.get("publisher"))
            or text_of(self.fields.get("publication"))
        )
        if outlet is None:
            raise Unmapped(
                "cite_info.publication: the record names no publication (nor publisher); "
                "Parley records every event with its source"
            )
        source: dict[str, Any] = {"outlet": clip(outlet, NAME_MAX)}
        url = text_of(first.get("url"))
        if url and re.match(r"^https?://", url, re.IGNORECASE):
            source["url"] = url
        published = _day(first.get("date", self.fields.get("pub_date")), "pub_date")
        if published is not None:
            source["published_at"] = published.isoformat()
        via = text_of(self.fields.get("version")) or text_of(self.fields.get("coder"))
        if via:
            source["via"] = [clip(via, NAME_MAX)]
        return source

    def place(self) -> dict[str, Any] | None:
        """Where the record locates the event, as a Parley place; None when its location
        names no country. A region name that names no ISO region is a problem."""
        loc = self._location()
        if loc is None:
            return None
        country = (
            country_code(loc.get("country_code"))
            or country_code(loc.get("country_code3"))
            or country_code(loc.get("country code"))
            or country_code(loc.get("country"))
        )
        if country is None:
            return None
        place: dict[str, Any] = {"country": country}
        city = text_of(loc.get("city"))
        if city is None and loc.get("feature_class") == "P":
            city = text_of(loc.get("resolved_placename"))
        if city:
            place["city"] = clip(city, NAME_MAX)
        regions = [r for r in _list(loc.get("iso_region")) if text_of(r)]
        province = text_of(loc.get("province")) or text_of(loc.get("admin1_name"))
        if regions:
            place["region"] = region_code(country, regions[0])
        elif province:
            try:
                place["region"] = region_code(country, province)
            except Unmapped as problem:
                raise Unmapped(f"event_loc.province: {problem}") from None
        geonames = loc.get("geonameid")
        if isinstance(geonames, str) and geonames.isdigit():
            geonames = int(geonames)
        if isinstance(geonames, int) and not isinstance(geonames, bool) and geonames > 0:
            place["geonames"] = geonames
        return place

    def _location(self) -> dict[str, Any] | None:
        for key in ("event_loc", "eventLoc"):
            if isinstance(self.fields.get(key), dict):
                return dict(self.fields[key])
        geolocation = self.fields.get("event_geolocation")
        if isinstance(geolocation, dict) and isinstance(geolocation.get("geo"), dict):
            return dict(geolocation["geo"])
        return None

    def regions(self) -> list[str]:
        place = self.place()
        return [place["region"]] if place and "region" in place else []

    def armed(self) -> bool:
        """The record says the fight was military: its context, or an armed sector."""
        sectors = {
            str(e.get(k, "")).strip().upper()[:3]
            for e in self.raw_entities
            for k in ("sector", "code_1")
        }
        return "military" in self.contexts or bool(sectors & ARMED_SECTORS)


def plover_records(stream: TextIO) -> Iterator[Mapped]:
    """Each PLOVER or POLECAT record of a JSON-lines stream as a Parley event, or as the
    reason it does not map; read one line at a time. Blank lines, ``#`` lines and an
    export's first line (``{"export": ...}``) are skipped."""
    for number, line in enumerate(stream, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            fields = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            yield Mapped(number, None, None, f"not JSON ({error})")
            continue
        if not isinstance(fields, dict):
            yield Mapped(number, None, None, "not a JSON object: one PLOVER record a line")
            continue
        if set(fields) == {"export"}:
            continue
        try:
            yield Mapped(number, plover_event(fields), None, None)
        except Unmapped as problem:
            yield Mapped(number, None, None, str(problem))


def plover_event(fields: dict[str, Any]) -> dict[str, Any]:
    """One record as a Parley event in its input shape; raises ``Unmapped``."""
    if fields.get("has_event") is False:
        raise Unmapped("has_event: false, the record was not coded as an event")
    record = Record(fields)
    rule = RULES.get(record.event)
    if rule is None:
        if record.event in NOT_NEGOTIATION:
            raise Unmapped(
                f"event: {record.event} is not a negotiation event Parley records "
                "(it records talks, proposals, agreements, ceasefires and fighting)"
            )
        raise Unmapped(f"event: {record.event!r} is no PLOVER category Parley reads")
    return rule(record)


def _consult(record: Record) -> dict[str, Any]:
    media = sorted({CONTACT_MODES[m] for m in record.modes if m in CONTACT_MODES})
    if len(media) != 1:
        said = ", ".join(record.modes) or "none"
        raise Unmapped(
            f"mode: CONSULT by {said}; Parley records a contact with its medium (phone, "
            "visit, third-party), and a multilateral meeting or a talk without a medium "
            "is a round to record by hand"
        )
    participants = record.actors + record.recipients
    if len(participants) < 2:
        raise Unmapped("actor: a CONSULT needs two sides; the record names one")
    data: dict[str, Any] = {
        "participants": participants,
        "medium": media[0],
        "summary": record.summary(),
    }
    # The manual: a visitor is the actor and its host the recipient; PLOVER 0.5's
    # "host" mode had the host as the actor.
    if "host" in record.modes and len(record.actors) == 1:
        data["host"] = record.actors[0]
    elif media[0] == "visit" and len(record.recipients) == 1:
        data["host"] = record.recipients[0]
    place = record.place()
    if place is not None:
        data["place"] = place
    return record.envelope("ContactHeld", data)


def _agree(record: Record) -> dict[str, Any]:
    if len(record.actors) == 1:
        # AGREE is "offer, promise, or otherwise indicate willingness" (the manual): an
        # offer by one actor, to its recipients. What it offers is not coded: "other".
        return record.envelope(
            "ProposalMade",
            {
                "proposal_id": _proposal_id(record),
                "proposer": record.actors[0],
                "addressees": record.recipients,
                "subject": "other",
                "summary": record.summary(),
            },
        )
    if len(record.actors) >= 2 and not record.recipients:
        # Compound actors agreeing with each other (the manual's reciprocal events).
        data: dict[str, Any] = {
            "agreement_id": _local_id("plover", record.id),
            "title": clip(record.text or f"Agreement {record.id}", NAME_MAX),
            "kind": "other",
            "stage": "reached",
            "parties": record.actors,
        }
        place = record.place()
        if place is not None:
            data["place"] = place
        return record.envelope("AgreementReached", data)
    raise Unmapped(
        "actor: an AGREE by several actors towards a recipient is neither one party's "
        "proposal nor an agreement among the actors"
    )


def _reject(record: Record) -> dict[str, Any]:
    link = text_of(record.fields.get("link"))
    if link is None:
        return _statement(record)
    if len(record.actors) != 1:
        raise Unmapped("actor: an answer to a proposal has one responder")
    return record.envelope(
        "ProposalAnswered",
        {
            "proposal_id": _local_id("plover", link),
            "responder": record.actors[0],
            "response": "rejected",
            "summary": record.summary(),
        },
    )


def _retreat(record: Record) -> dict[str, Any]:
    if "ceasefire" not in record.modes:
        said = ", ".join(record.modes) or "no mode"
        raise Unmapped(
            f"mode: RETREAT by {said}; of PLOVER's retreats Parley records only the "
            "ceasefire put in place (a release or withdrawal implements an agreement's "
            "provision, which the record does not name)"
        )
    parties = record.actors + [r for r in record.recipients if r not in record.actors]
    if not parties:
        raise Unmapped("actor: a ceasefire needs its parties")
    # RETREAT/ceasefire is "implement ceasefire": in force on the record's date.
    day = record.valid_time()["occurred_at"]
    return record.envelope(
        "CeasefireDeclared",
        {"parties": parties, "effective_from": day, "scope": record.regions()},
    )


def _assault(record: Record) -> dict[str, Any]:
    kinds = sorted({FIGHTING_MODES[m] for m in record.modes if m in FIGHTING_MODES})
    others = [m for m in record.modes if m not in FIGHTING_MODES]
    if others:
        raise Unmapped(
            f"mode: ASSAULT by {', '.join(others)} is not fighting between armed parties "
            "(Parley's hostilities); abductions, beatings and targeted killings are not "
            "recorded"
        )
    if not record.armed():
        raise Unmapped(
            "context: an ASSAULT with no military context and no armed sector "
            "(MIL, REB, PRM, UAF) may be repression, not hostilities"
        )
    kind = kinds[0] if len(kinds) == 1 else "other"
    parties = record.actors + [r for r in record.recipients if r not in record.actors]
    if not parties:
        raise Unmapped("actor: hostilities need their parties")
    return record.envelope(
        "HostilitiesReported",
        {
            "parties": parties,
            "regions": record.regions(),
            "kind": kind,
            "summary": record.summary(),
        },
    )


def _statement(record: Record) -> dict[str, Any]:
    if record.event == "ACCUSE" and "investigate" in record.modes:
        raise Unmapped("mode: an investigation is not a statement nor a negotiation event")
    if len(record.actors) != 1:
        raise Unmapped(
            f"actor: this {record.event} has {len(record.actors)} actors; Parley's statement "
            "has one speaker"
        )
    named = OWN_TYPES.search(record.text or "")
    if named:
        raise Unmapped(
            f"event: this {record.event} names in its text {named.group(0)!r}; Parley records "
            "ceasefires, agreements and alleged violations as their own types, which this "
            "record cannot fill in (which ceasefire, which agreement), and a statement "
            "would hide it: record it by hand"
        )
    mode = f" {record.modes[0]}" if record.modes else ""
    return record.envelope(
        "StatementIssued",
        {
            "speaker": record.actors[0],
            "summary": record.summary(),
            "topic": f"PLOVER {record.event}{mode}",
        },
    )


RULES: Mapping[str, Callable[[Record], dict[str, Any]]] = {
    "CONSULT": _consult,
    "AGREE": _agree,
    "REJECT": _reject,
    "RETREAT": _retreat,
    "ASSAULT": _assault,
    **dict.fromkeys(STATEMENTS - {"REJECT"}, _statement),
}
"""How each PLOVER category becomes a Parley event (README, "PLOVER and POLECAT")."""


def _proposal_id(record: Record) -> str:
    """A proposal's id: the record's ``link`` (the manual's "common reference across
    multiple related events") when it has one, so that a REJECT linked to it answers
    it; else its own id."""
    return _local_id("plover", text_of(record.fields.get("link")) or record.id)


def _local_id(prefix: str, value: str) -> str:
    """An id Parley accepts (``[A-Za-z0-9._:-]``, at most 80) made from a record's."""
    cleaned = re.sub(r"[^A-Za-z0-9._:-]+", "-", value).strip("-")
    text = f"{prefix}:{cleaned}"
    return text if len(text) <= 80 else f"{prefix}:{event_id(prefix, value)}"


def _list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def _entities(value: Any, field: str) -> list[dict[str, Any]]:
    """PLOVER entity objects as Parley actors (in input shape). A string where a list
    of entities belongs (the gold standard's ``"target": "diplomatic"``) names none."""
    actors: list[dict[str, Any]] = []
    for index, entity in enumerate(_list(value)):
        if not isinstance(entity, dict):
            continue
        actor = _actor(entity, f"{field}.{index}")
        if actor not in actors:
            actors.append(actor)
    return actors


def _actor(entity: dict[str, Any], where: str) -> dict[str, Any]:
    """An entity as a Parley actor: its ISO country (``code``, NGEC's ``country``, or a
    ``country_name`` as ISO writes it), its canonical name (Wikidata's, else the text),
    its Wikidata id and office. A code that is no ISO country (IGO, UNO, NGO, CAMEO's
    JAP) leaves the actor to its name."""
    country = (
        country_code(entity.get("code"))
        if len(str(entity.get("code", ""))) == 3
        else None
    )
    country = country or (
        country_code(entity.get("country")) if len(str(entity.get("country", ""))) == 3 else None
    )
    country = country or country_code(entity.get("country_name"))
    name = None
    for key in ("identifier_text", "entity_name", "wiki", "entity_text", "actorText", "text",
                "raw_text"):
        name = text_of(entity.get(key))
        if name:
            break
    if name and country and name.casefold() in {n.casefold() for n in country_names(country)}:
        name = None  # the state itself, as Parley writes a state: its code alone
    if name is None and country is None:
        code = text_of(entity.get("code")) or text_of(entity.get("country"))
        said = f"code {code!r} is no ISO country" if code else "no code"
        raise Unmapped(f"{where}: the entity has {said} and no name")
    actor: dict[str, Any] = {}
    if name:
        actor["name"] = clip(name, NAME_MAX)
    if country:
        actor["country"] = country
    wikidata = text_of(entity.get("identifier_id")) or text_of(entity.get("wikidata_id"))
    if wikidata and re.fullmatch(r"Q[1-9][0-9]*", wikidata):
        actor["wikidata"] = wikidata
    office = text_of(entity.get("office"))
    if office:
        actor["role"] = clip(office, NAME_MAX)
    return actor


def _label(actor: dict[str, Any]) -> str:
    return str(actor.get("name") or actor.get("country"))


def _day(value: Any, field: str) -> date | None:
    """A date field: ``YYYY-MM-DD`` (or an ISO datetime's date part); None when absent."""
    text = text_of(value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise Unmapped(f"{field}: {text!r} is no date in YYYY-MM-DD form") from None


def _moment(day: date, time: Any) -> str:
    """The valid time of a date and an optional ISO time: a datetime when the time
    carries a UTC offset, else the date (a time without an offset names no instant)."""
    clock = text_of(time)
    if clock:
        try:
            moment = datetime.fromisoformat(f"{day.isoformat()}T{clock.replace('z', 'Z')}")
        except ValueError:
            raise Unmapped(f"time: {clock!r} is no ISO 8601 time") from None
        if moment.utcoffset() is not None:
            return moment.isoformat().replace("+00:00", "Z")
    return day.isoformat()
