"""ACLED CSV exports read into Parley's events (``api.imports.acled``).

Rows are written with ACLED's own 31 columns (``COLUMNS``, as its exports since March
2023 have them), one field changed at a time; the fixture
``tests/fixtures/imports/acled.csv`` holds agreements, fighting, a protest and a
malformed row. Every event made must pass ``domain.events.parse_event``.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from streams import Guarded

from api.imports import Mapped
from api.imports.acled import acled_rows
from api.imports.foreign import NAMESPACE
from domain.events import parse_event

FIXTURE = Path(__file__).parents[1] / "fixtures" / "imports" / "acled.csv"

COLUMNS = (
    "event_id_cnty,event_date,year,time_precision,disorder_type,event_type,sub_event_type,"
    "actor1,assoc_actor_1,inter1,actor2,assoc_actor_2,inter2,interaction,civilian_targeting,"
    "iso,region,country,admin1,admin2,admin3,location,latitude,longitude,geo_precision,"
    "source,source_scale,notes,fatalities,tags,timestamp"
).split(",")


def row(**fields: str) -> dict[str, str]:
    """An armed clash between Russia's and Ukraine's forces in Donetsk, on a day."""
    base = dict.fromkeys(COLUMNS, "")
    base.update(
        event_id_cnty="UKR1",
        event_date="2023-01-16",
        year="2023",
        time_precision="1",
        event_type="Battles",
        sub_event_type="Armed clash",
        actor1="Military Forces of Russia (2000-)",
        actor2="Military Forces of Ukraine (2019-)",
        iso="804",
        country="Ukraine",
        admin1="Donetsk",
        location="Soledar",
        source="Ukrinform",
        notes="Forces clashed near Soledar.",
        timestamp="1674100000",
    )
    base.update(fields)
    return base


def csv_text(*rows: dict[str, str], columns: list[str] | tuple[str, ...] = COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def mapped(*rows: dict[str, str]) -> list[Mapped]:
    return list(acled_rows(io.StringIO(csv_text(*rows), newline="")))


def event_of(fields: dict[str, str]) -> dict[str, Any]:
    [found] = mapped(fields)
    assert found.problem is None, found.problem
    assert found.event is not None
    parse_event(found.event)
    return found.event


def problem_of(fields: dict[str, str]) -> str:
    [found] = mapped(fields)
    assert found.event is None, found.event
    assert found.problem
    return found.problem


def test_the_fixture_maps_each_row_to_its_type_or_its_problem() -> None:
    with FIXTURE.open(encoding="utf-8", newline="") as stream:
        found = {m.line: m for m in acled_rows(stream)}
    types = {line: m.event["type"] for line, m in found.items() if m.event}
    # A quoted notes cell spans lines 4 and 5: the row is numbered by its last line.
    assert types == {
        2: "AgreementReached",
        3: "AgreementReached",
        5: "HostilitiesReported",
        6: "HostilitiesReported",
        10: "HostilitiesReported",
    }
    problems = {line: m.problem for line, m in found.items() if m.problem}
    assert set(problems) == {7, 8, 9}
    assert problems[7].startswith("admin1: 'Zaporizhia'")
    assert "'Peaceful protest' is not a negotiation event" in problems[8]
    assert problems[9] == "the row has 7 cells, the header 31"
    ceasefire, exchange = found[2].event, found[3].event
    assert ceasefire and ceasefire["data"]["kind"] == "ceasefire"
    assert exchange and exchange["data"]["kind"] == "other"
    for m in found.values():
        if m.event:
            parse_event(m.event)


def test_an_agreement_is_reached_between_the_rows_actors() -> None:
    event = event_of(
        row(sub_event_type="Agreement", event_id_cnty="SDN7", notes="The sides agreed.",
            actor1="Military Forces of Sudan (2019-)", actor2="RSF: Rapid Support Forces",
            iso="729", country="Sudan", admin1="Khartoum", location="Khartoum")
    )
    assert event["type"] == "AgreementReached"
    data = event["data"]
    assert data["agreement_id"] == "acled:SDN7"
    assert (data["kind"], data["stage"], data["title"]) == ("other", "reached", "The sides agreed.")
    assert data["parties"] == [
        {"name": "Military Forces of Sudan (2019-)", "country": "SDN"},
        {"name": "RSF: Rapid Support Forces"},
    ]
    assert data["place"] == {"country": "SDN", "region": "SD-KH", "city": "Khartoum"}


@pytest.mark.parametrize("word", ["ceasefire", "cease-fire", "truce", "Ceasefires"])
def test_an_agreement_whose_notes_name_a_ceasefire_is_of_that_kind(word: str) -> None:
    event = event_of(row(sub_event_type="Agreement", notes=f"The parties agreed a {word}."))
    assert event["data"]["kind"] == "ceasefire"


@pytest.mark.parametrize(
    ("sub_event", "notes", "kind"),
    [
        ("Armed clash", "Clashes.", "ground_fighting"),
        ("Government regains territory", "Retaken.", "ground_fighting"),
        ("Non-state actor overtakes territory", "Overrun.", "ground_fighting"),
        ("Shelling/artillery/missile attack", "Shelled.", "shelling"),
        ("Air/drone strike", "Aircraft struck.", "air_strike"),
        ("Air/drone strike", "Shahed drones struck.", "drone_strike"),
    ],
)
def test_fighting_is_hostilities_of_the_sub_events_kind(
    sub_event: str, notes: str, kind: str
) -> None:
    event = event_of(row(sub_event_type=sub_event, notes=notes))
    assert event["type"] == "HostilitiesReported"
    assert event["data"]["kind"] == kind
    assert event["data"]["regions"] == ["UA-14"]
    assert event["data"]["summary"] == notes


@pytest.mark.parametrize(
    "sub_event",
    ["Peaceful protest", "Attack", "Remote explosive/landmine/IED", "Arrests", "Other", ""],
)
def test_other_rows_are_not_negotiation_events(sub_event: str) -> None:
    assert problem_of(row(sub_event_type=sub_event)).startswith("sub_event_type:")


@pytest.mark.parametrize(
    ("day", "precision", "occurred_at", "expected"),
    [
        ("2023-01-16", "1", "2023-01-16", "day"),
        ("16 January 2023", "1", "2023-01-16", "day"),
        ("2023-01-16", "2", "2023-01-16", "month"),  # 13 to 19 January: in January
        ("2023-01-30", "2", "2023-01-30", "year"),  # the week reaches into February
        ("2023-01-15", "3", "2023-01-15", "month"),
    ],
)
def test_event_date_and_time_precision_give_valid_time_and_precision(
    day: str, precision: str, occurred_at: str, expected: str
) -> None:
    event = event_of(row(event_date=day, time_precision=precision))
    assert (event["occurred_at"], event["precision"]) == (occurred_at, expected)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_date": "16/01/2023"}, "event_date:"),
        ({"time_precision": "4"}, "time_precision:"),
        ({"event_date": "2022-12-30", "time_precision": "2"}, "time_precision:"),
        ({"source": ""}, "source:"),
        ({"actor1": "", "actor2": ""}, "actor1:"),
        ({"event_id_cnty": ""}, "event_id_cnty:"),
        ({"admin1": "Atlantis"}, "admin1:"),
        ({"admin1": "Kyiv"}, "admin1:"),  # the city, or Kyivska oblast?
        ({"iso": "", "country": "Ruritania"}, "iso:"),
    ],
)
def test_a_row_that_does_not_map_names_the_column(change: dict[str, str], field: str) -> None:
    assert problem_of(row(**change)).startswith(field)


@pytest.mark.parametrize(
    ("admin1", "region"),
    [("Kharkiv", "UA-63"), ("Kyiv City", "UA-30"), ("Luhansk", "UA-09"), ("UA-46", "UA-46")],
)
def test_admin1_names_become_iso_3166_2_regions(admin1: str, region: str) -> None:
    assert event_of(row(admin1=admin1))["data"]["regions"] == [region]


def test_the_country_comes_from_the_numeric_iso_code_or_else_the_name() -> None:
    by_name = event_of(row(iso="", country="Ukraine", sub_event_type="Agreement"))
    assert by_name["data"]["place"]["country"] == "UKR"
    no_place = event_of(row(iso="", country="", admin1="", sub_event_type="Agreement"))
    assert "place" not in no_place["data"]


def test_sources_are_the_outlets_each_once_with_no_publication_date() -> None:
    event = event_of(row(source="Ukrinform; Ministry of Defence of Ukraine; Ukrinform"))
    # ``timestamp`` is when ACLED last changed the row, not when an outlet reported it.
    assert event["sources"] == [
        {"outlet": "Ukrinform", "via": ["ACLED"]},
        {"outlet": "Ministry of Defence of Ukraine", "via": ["ACLED"]},
    ]


def test_state_actors_name_their_country() -> None:
    event = event_of(row())
    assert event["data"]["parties"] == [
        {"name": "Military Forces of Russia (2000-)", "country": "RUS"},
        {"name": "Military Forces of Ukraine (2019-)", "country": "UKR"},
    ]


def test_a_file_without_acleds_columns_names_the_missing_one() -> None:
    columns = [c for c in COLUMNS if c != "sub_event_type"]
    [found] = acled_rows(io.StringIO(csv_text(row(), columns=columns)))
    assert found.problem and found.problem.startswith("sub_event_type: not a column")


def test_a_row_with_more_cells_than_the_header_is_a_problem() -> None:
    text = csv_text(row()).rstrip("\r\n") + ",extra\r\n"
    [found] = acled_rows(io.StringIO(text, newline=""))
    assert found.problem == "the row has 32 cells, the header 31"


def test_ids_are_uuid5_of_the_format_and_acleds_event_id() -> None:
    first, again = event_of(row(event_id_cnty="UKR77")), event_of(row(event_id_cnty="UKR77"))
    assert first["id"] == again["id"] == str(uuid.uuid5(NAMESPACE, "acled:UKR77"))
    assert event_of(row(event_id_cnty="UKR78"))["id"] != first["id"]


def test_rows_are_read_lazily() -> None:
    def endless() -> Iterator[str]:
        header, *_ = csv_text(row()).splitlines(keepends=True)
        yield header
        number = 0
        while True:
            number += 1
            yield csv_text(row(event_id_cnty=f"UKR{number}")).splitlines(keepends=True)[1]

    stream = Guarded(endless(), allowed=6)  # the header and five rows
    taken = list(islice(acled_rows(stream), 5))  # type: ignore[arg-type]
    assert [m.line for m in taken] == [2, 3, 4, 5, 6]
    assert all(m.event for m in taken)
    assert stream.count == 6
