"""ACLED CSV exports, read into the events a negotiation log needs, one row at a time.

The columns are ACLED's own (2023 and later: ``event_id_cnty``, ``event_date``,
``time_precision``, ``event_type``, ``sub_event_type``, ``actor1``, ``actor2``, ``iso``,
``country``, ``admin1``, ``location``, ``source``, ``notes``, ``timestamp``…). ACLED
records violence, protest and strategic developments; of those a negotiation log keeps
the agreements (``sub_event_type`` "Agreement", which ACLED uses for "peace agreements,
ceasefires, prisoner exchanges, negotiated transfers of territory") and the fighting
(``SUB_EVENTS``). Every other row is a problem, "not a negotiation event", never dropped
silently. Each event's id is ``uuid5(NAMESPACE, "acled:" + event_id_cnty)``, so that a
re-import stores nothing new.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any, TextIO

from api.imports import Mapped
from api.imports.foreign import (
    NAME_MAX,
    TEXT_MAX,
    Unmapped,
    clip,
    country_code,
    event_id,
    region_code,
    text_of,
)

FORMAT = "acled"

REQUIRED = ("event_id_cnty", "event_date", "sub_event_type", "actor1", "source")

SUB_EVENTS: Mapping[str, str] = {
    "Armed clash": "ground_fighting",
    "Government regains territory": "ground_fighting",
    "Non-state actor overtakes territory": "ground_fighting",
    "Shelling/artillery/missile attack": "shelling",
    "Air/drone strike": "air_strike",
}
"""ACLED's sub-event types of fighting between armed parties, as Parley's hostilities
kinds ("Air/drone strike" is ``drone_strike`` when the notes say "drone"). Attacks on
civilians, explosions and protests are not hostilities between parties."""

CEASEFIRE = re.compile(r"\b(cease-?fires?|truces?|armistices?)\b", re.IGNORECASE)
DRONE = re.compile(r"\b(drones?|UAVs?)\b", re.IGNORECASE)

STATE_ACTOR = re.compile(r"^(?:Military|Police) Forces of (.+?) \(\d{4}-(?:\d{4})?\)$")
GOVERNMENT = re.compile(r"^Government of (.+?) \(\d{4}-(?:\d{4})?\)$")
"""ACLED's names of state actors ("Military Forces of Ukraine (2019-)"), which name
their country."""


def acled_rows(stream: TextIO) -> Iterator[Mapped]:
    """Each row of an ACLED CSV export as a Parley event, or as the reason it does not
    map; read one row at a time. A row's number is its line in the file (a quoted cell
    spanning lines ends on its last one)."""
    reader = csv.DictReader(stream)
    header = reader.fieldnames
    if header is None:
        return
    missing = [c for c in REQUIRED if c not in header]
    for row in reader:
        number = reader.line_num
        if missing:
            yield Mapped(number, None, None, f"{missing[0]}: not a column of this file; "
                         "an ACLED export has it")
            continue
        if None in row:
            yield Mapped(number, None, None, f"the row has {len(header) + len(row[None])} "
                         f"cells, the header {len(header)}")
            continue
        if not any(text_of(v) for v in row.values()):
            continue
        if any(v is None for v in row.values()):
            short = sum(v is not None for v in row.values())
            yield Mapped(number, None, None, f"the row has {short} cells, the header "
                         f"{len(header)}")
            continue
        try:
            yield Mapped(number, acled_event(row), None, None)
        except Unmapped as problem:
            yield Mapped(number, None, None, str(problem))


def acled_event(row: Mapping[str, Any]) -> dict[str, Any]:
    """One ACLED row as a Parley event in its input shape; raises ``Unmapped``."""
    record_id = text_of(row.get("event_id_cnty"))
    if record_id is None:
        raise Unmapped("event_id_cnty: the row has no ACLED event id")
    sub_event = text_of(row.get("sub_event_type")) or ""
    notes = text_of(row.get("notes"))
    if sub_event == "Agreement":
        kind = "AgreementReached"
    elif sub_event in SUB_EVENTS:
        kind = "HostilitiesReported"
    else:
        raise Unmapped(
            f"sub_event_type: {sub_event or 'none'!r} is not a negotiation event "
            "(Parley reads ACLED's agreements and its fighting)"
        )
    parties = [_actor(row, column) for column in ("actor1", "actor2") if text_of(row.get(column))]
    if not parties:
        raise Unmapped("actor1: the row names no actor")
    place = _place(row)
    event: dict[str, Any] = {
        "id": event_id(FORMAT, record_id),
        "type": kind,
        **_valid_time(row),
        "sources": _sources(row),
    }
    summary = clip(notes or f"{sub_event} ({record_id})", TEXT_MAX)
    if kind == "AgreementReached":
        data: dict[str, Any] = {
            "agreement_id": f"acled:{re.sub(r'[^A-Za-z0-9._-]+', '-', record_id)}"[:80],
            "title": clip(notes or f"Agreement {record_id}", NAME_MAX),
            # ACLED does not say what was agreed; its notes say "ceasefire" or "truce"
            # for a ceasefire. Anything else is "other", never guessed.
            "kind": "ceasefire" if notes and CEASEFIRE.search(notes) else "other",
            "stage": "reached",
            "parties": parties,
        }
        if place is not None:
            data["place"] = place
    else:
        fighting = SUB_EVENTS[sub_event]
        if fighting == "air_strike" and notes and DRONE.search(notes):
            fighting = "drone_strike"
        data = {
            "parties": parties,
            "regions": [place["region"]] if place and "region" in place else [],
            "kind": fighting,
            "summary": summary,
        }
    event["data"] = data
    return event


def _valid_time(row: Mapping[str, Any]) -> dict[str, Any]:
    """``event_date`` with its ``time_precision``: 1, the day; 2, a week or weekend
    around the date, 3, the month (ACLED then codes a day within it). Parley has no
    week: a week is written as the smallest precision holding all of it (its month,
    else its year), so the precision never claims more than ACLED knows."""
    day = _date(text_of(row.get("event_date")) or "")
    precision = text_of(row.get("time_precision")) or "1"
    if precision == "1":
        return {"occurred_at": day.isoformat(), "precision": "day"}
    if precision == "2":
        first, last = day - timedelta(days=3), day + timedelta(days=3)
        if (first.year, first.month) == (last.year, last.month):
            return {"occurred_at": day.isoformat(), "precision": "month"}
        if first.year == last.year:
            return {"occurred_at": day.isoformat(), "precision": "year"}
        raise Unmapped(
            "time_precision: a week across a new year; Parley has no precision for it"
        )
    if precision == "3":
        return {"occurred_at": day.isoformat(), "precision": "month"}
    raise Unmapped(f"time_precision: {precision!r} is none of ACLED's 1, 2 or 3")


def _date(text: str) -> date:
    """ACLED's ``event_date``: ISO (its API, ``2024-01-15``) or "15 January 2024" (its
    export tool)."""
    for parse in (date.fromisoformat, lambda t: datetime.strptime(t, "%d %B %Y").date()):
        try:
            return parse(text)
        except ValueError:
            continue
    raise Unmapped(f"event_date: {text!r} is no date (2024-01-15 or 15 January 2024)")


def _sources(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``source`` names ACLED's outlets, separated by ";". ACLED gives no publication
    date (``timestamp`` is when ACLED last changed the row, not when an outlet reported
    it), so ``published_at`` stays empty; ACLED is the ``via`` of every source."""
    outlets = [o.strip() for o in str(row.get("source") or "").split(";") if o.strip()]
    if not outlets:
        raise Unmapped("source: the row names no source; Parley records every event with one")
    unique = list(dict.fromkeys(outlets))[:50]
    return [{"outlet": clip(outlet, NAME_MAX), "via": ["ACLED"]} for outlet in unique]


def _country(row: Mapping[str, Any]) -> str | None:
    """The row's country: its numeric ``iso`` code, else its ``country`` name as ISO
    writes it."""
    return country_code(text_of(row.get("iso"))) or country_code(row.get("country"))


def _place(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """Where the row happened: its country, its ``admin1`` as an ISO 3166-2 region (a
    problem when the name matches none), and its ``location`` as the city."""
    country = _country(row)
    if country is None:
        if text_of(row.get("admin1")):
            raise Unmapped(
                f"iso: no ISO country for {row.get('iso')!r} / {row.get('country')!r}, "
                "so admin1 cannot be read as an ISO 3166-2 region"
            )
        return None
    place: dict[str, Any] = {"country": country}
    admin1 = text_of(row.get("admin1"))
    if admin1:
        try:
            place["region"] = region_code(country, admin1)
        except Unmapped as problem:
            raise Unmapped(f"admin1: {problem}") from None
    location = text_of(row.get("location"))
    if location:
        place["city"] = clip(location, NAME_MAX)
    return place


def _actor(row: Mapping[str, Any], column: str) -> dict[str, Any]:
    """An ACLED actor as Parley's: its name as ACLED writes it, and its country when the
    name is one of ACLED's state actors ("Military Forces of Ukraine (2019-)")."""
    name = str(row[column]).strip()
    actor: dict[str, Any] = {"name": clip(name, NAME_MAX)}
    found = STATE_ACTOR.match(name) or GOVERNMENT.match(name)
    if found:
        country = country_code(found.group(1))
        if country:
            actor["country"] = country
    return actor
