"""Hostile input, class by class: every string field of every event type, every query
and path parameter. Each answer is a problem+json 4xx that names the field (a line of
text naming it, under /api/v1), and nothing is stored.

On SQLite only: every refusal here comes from parsing the request, before any store is
reached, so a second backend ran the same code again (about half of this module's
~25 s of CPU). Were a hostile value to get past the parsing, the test would fail on
SQLite too (a 2xx where it wants a 4xx), as it would on PostgreSQL (a 2xx, or a 500
where its jsonb refuses a NUL).

The classes: NUL, a lone surrogate (JSON ``"\\ud800"``), NaN and Infinity literals, a
string of most of a megabyte, JSON nested 100,000 deep, numbers beyond 64 bits.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from builders import GENEVA_OPENING
from fastapi.testclient import TestClient
from support import AUTH, EXAMPLE, Server

SLUG = "istanbul-2025"
JSON_AUTH = {**AUTH, "Content-Type": "application/json"}
EVENTS = f"/negotiations/{SLUG}/events"
MARK = "@@hostile@@"
MEGABYTE_STRING = '"' + "x" * 900_000 + '"'  # under the 1 MiB body limit
DEEP = "[" * 100_000 + "]" * 100_000

TEXT_CLASSES = {
    "NUL": '"a\\u0000b"',
    "lone surrogate": '"a\\ud800b"',
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "megabyte string": MEGABYTE_STRING,
}
"""Each class as the JSON literal a client sends in place of a string."""

SOURCE = {"outlet": "teleSUR"}
MORE_TYPES = [
    {
        "type": "ProposalAnswered",
        "occurred_at": "2025-05-29",
        "sources": [SOURCE],
        "data": {
            "proposal_id": "rus-2025-05-19-roadmap",
            "responder": {"name": "Andrii Sybiha", "country": "UKR", "role": "minister"},
            "response": "noted",
            "summary": "Kyiv asked for the memorandum in writing.",
        },
    },
    {
        "type": "DocumentExchanged",
        "occurred_at": "2025-06-02",
        "sources": [SOURCE],
        "data": {"title": "Memorandum", "from": "RUS", "to": {"name": "Kyiv"}, "round": 2},
    },
    {
        "type": "CeasefireDeclared",
        "occurred_at": "2025-06-02T10:00:00+03:00",
        "sources": [SOURCE],
        "data": {
            "parties": ["RUS", "UKR"],
            "effective_from": "2025-06-03",
            "effective_until": "2025-06-05",
            "scope": ["UA-63"],
        },
    },
    {
        "type": "EventCorrected",
        "occurred_at": "2025-06-02",
        "sources": [SOURCE],
        "data": {
            "event_id": "4a867148-8169-4fd9-8ac2-c1f2282badd5",
            "data": {"status": "confirmed", "place": {"city": "Istanbul", "country": "TUR"}},
            "reason": "confirmed by Ankara",
        },
    },
    {
        "type": "EventRetracted",
        "occurred_at": "2025-06-02",
        "sources": [SOURCE],
        "data": {"event_id": "2d6187ac-1e03-42a2-8ab5-52110b3649aa", "reason": "misquoted"},
    },
]


def sample_events() -> list[dict[str, Any]]:
    """One or more events of every type, each with every optional text filled in."""
    events = [json.loads(line) for line in EXAMPLE.read_text().splitlines() if line.strip()]
    events += MORE_TYPES
    for event in events:
        event.pop("id", None)
        event["asserted_by"] = {"name": "Dmitry Peskov", "country": "RUS", "role": "spokesman"}
        event["sources"] = [
            {
                "outlet": "teleSUR",
                "url": "https://www.telesurenglish.net/turkiye-to-host/",
                "published_at": "2025-05-28T12:57:00-04:00",
                "attributed_to": {"name": "Sergey Lavrov", "wikidata": "Q4101"},
                "quote": "June 2 in Istanbul",
                "via": ["TASS"],
            }
        ]
    return events


def string_paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """The path of every string in a JSON value."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from string_paths(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from string_paths(inner, (*path, index))


def with_literal(value: Any, path: tuple[str | int, ...], literal: str) -> bytes:
    """``value`` as JSON with the string at ``path`` replaced by a raw JSON literal."""
    copy = json.loads(json.dumps(value))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = MARK
    text = json.dumps(copy)
    assert text.count(f'"{MARK}"') == 1
    return text.replace(f'"{MARK}"', literal).encode()


def dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(map(str, path))


OLD_SHAPES = (
    (re.compile(r"^data\.delegations\.(\d+)"), r"data.participants.\1.actor"),
    (re.compile(r"^data\.addressee\b"), "data.addressees.0"),
)
"""An old shape's field (the founding example sends them), as the field it became: a
bad value in it is a 422 naming the new field (the README's "Old shapes")."""


def names(field: str, problem: dict[str, Any]) -> bool:
    """Whether a problem names ``field`` (or a field inside it, as a bare country code
    that is read as ``{"country": ...}``). A number JSON cannot hold inside a
    correction's fields is named at the fields, ``data.data``, with its key in the
    message."""
    lifted = field
    for old, new in OLD_SHAPES:
        lifted = old.sub(new, lifted)
    return any(
        e["field"] == name
        or e["field"].startswith(name + ".")
        or (e["field"] == "data.data" and name.startswith("data.data."))
        for e in problem["errors"]
        for name in {field, lifted}
    )


@pytest.fixture
def backend() -> str:
    """SQLite (the module docstring says why), in place of tests/conftest.py's two."""
    return "sqlite"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    assert len(response.content) < 20_000, "a problem quotes back no megabytes"
    return body


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    """The founding example, appended through the API (its first event opens it)."""
    example = [json.loads(line) for line in EXAMPLE.read_text().splitlines() if line.strip()]
    appended = client.post(EVENTS, json=example, headers=AUTH)
    assert appended.status_code == 201, appended.text
    return client


def log_state(client: TestClient) -> tuple[int, Any]:
    verify = client.get("/verify").json()
    return client.get("/health").json()["position"], (verify["ok"], verify["events"])


@pytest.mark.parametrize("kind", sorted(TEXT_CLASSES))
def test_hostile_text_in_every_string_field_of_every_event_type_is_a_422_naming_it(
    loaded: TestClient, kind: str
) -> None:
    before = log_state(loaded)
    tried = 0
    for event in sample_events():
        for path in string_paths(event):
            body = with_literal(event, path, TEXT_CLASSES[kind])
            response = loaded.post(EVENTS, content=body, headers=AUTH)
            problem = assert_problem(response, 422)
            assert names(dotted(path), problem), (dotted(path), problem["errors"])
            tried += 1
    assert tried > 150  # every string of 16 event types
    assert log_state(loaded) == before


@pytest.mark.parametrize("kind", sorted(TEXT_CLASSES))
def test_hostile_text_in_a_batch_names_the_event_and_the_field(
    loaded: TestClient, kind: str
) -> None:
    before = log_state(loaded)
    good, bad = sample_events()[9], sample_events()[9]
    batch = json.loads(json.dumps([good, bad]))
    for body in (
        with_literal(batch, (1, "data", "summary"), TEXT_CLASSES[kind]),
        with_literal({"events": batch, "expected_version": 1}, ("events", 1, "data", "summary"),
                     TEXT_CLASSES[kind]),
    ):
        problem = assert_problem(loaded.post(EVENTS, content=body, headers=AUTH), 422)
        assert names("events.1.data.summary", problem), problem["errors"]
    assert log_state(loaded) == before


def test_a_lone_surrogate_in_a_field_name_is_a_422_naming_it(loaded: TestClient) -> None:
    event = sample_events()[9]
    body = json.dumps(event).replace('"summary"', '"sum\\ud800mary"').encode()
    problem = assert_problem(loaded.post(EVENTS, content=body, headers=AUTH), 422)
    assert problem["errors"][0]["field"] == "data.sum\\ud800mary"


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        (EVENTS, DEEP, 400),
        (EVENTS, '{"type": "StatementIssued", "data": ' + DEEP + "}", 400),
        (EVENTS, '{"events": ' + DEEP + "}", 400),
        ("/negotiations", '{"slug": ' + DEEP + "}", 400),
        ("/negotiations", DEEP, 400),
    ],
    ids=["list", "event", "batch", "open-field", "open"],
)
def test_json_nested_100000_deep_is_a_4xx(
    loaded: TestClient, path: str, body: str, status: int
) -> None:
    before = log_state(loaded)
    assert_problem(loaded.post(path, content=body.encode(), headers=JSON_AUTH), status)
    assert log_state(loaded) == before


@pytest.mark.parametrize(
    ("field", "literal"),
    [
        ("data.data.round", "1" + "0" * 30),
        ("data.data.round", "NaN"),
        ("data.data.round", "1e999"),
        ("data.data.status", '"con\\u0000firmed"'),
        ("data.data.place.city", '"\\ud800"'),
    ],
)
def test_hostile_values_in_a_correction_are_a_422_naming_the_field(
    loaded: TestClient, field: str, literal: str
) -> None:
    before = log_state(loaded)
    correction = MORE_TYPES[3]
    path = ("data", "data", *field.split(".")[2:])
    correction = json.loads(json.dumps(correction))
    target = correction
    for step in path[:-1]:
        target = target.setdefault(step, {})
    target[path[-1]] = "placeholder"
    body = with_literal(correction, path, literal)
    problem = assert_problem(loaded.post(EVENTS, content=body, headers=AUTH), 422)
    assert any(e["field"].startswith(field[: field.rindex(".")]) for e in problem["errors"])
    assert log_state(loaded) == before


@pytest.mark.parametrize(
    ("field", "literal"),
    [
        ("data.place.geonames", "1" + "0" * 30),
        ("data.round", "1" + "0" * 30),
        ("data.place.geonames", "NaN"),
        ("data.round", "-Infinity"),
    ],
)
def test_numbers_beyond_64_bits_and_nan_in_number_fields_are_a_422(
    loaded: TestClient, field: str, literal: str
) -> None:
    before = log_state(loaded)
    scheduled = next(e for e in sample_events() if e["type"] == "RoundScheduled")
    scheduled["data"]["round"] = 7
    scheduled["data"]["place"]["geonames"] = 745044
    body = json.dumps(scheduled).replace(
        '"geonames": 745044' if "geonames" in field else '"round": 7',
        ('"geonames": ' if "geonames" in field else '"round": ') + literal,
    )
    problem = assert_problem(loaded.post(EVENTS, content=body.encode(), headers=AUTH), 422)
    assert names(field, problem), problem["errors"]
    assert log_state(loaded) == before


def test_a_version_beyond_64_bits_in_a_batch_or_if_match_is_a_422(loaded: TestClient) -> None:
    event = sample_events()[9]
    batch = json.dumps({"events": [event], "expected_version": 2**70}).encode()
    problem = assert_problem(loaded.post(EVENTS, content=batch, headers=AUTH), 422)
    assert names("expected_version", problem)
    header = {**AUTH, "If-Match": '"' + "9" * 40 + '"'}
    problem = assert_problem(loaded.post(EVENTS, json=event, headers=header), 422)
    assert names("If-Match", problem)


OPEN = {**GENEVA_OPENING, "sources": [{"outlet": "Reuters", "quote": "talks in Geneva"}]}


@pytest.mark.parametrize("kind", sorted(TEXT_CLASSES))
def test_hostile_text_when_opening_a_negotiation_is_a_422_naming_the_field(
    client: TestClient, kind: str
) -> None:
    for path in string_paths(OPEN):
        body = with_literal(OPEN, path, TEXT_CLASSES[kind])
        response = client.post("/negotiations", content=body, headers=JSON_AUTH)
        problem = assert_problem(response, 422)
        assert names(dotted(path), problem), (dotted(path), problem["errors"])
    assert client.get("/negotiations/geneva-talks").status_code == 404


QUERIES = [
    ("/negotiations/{slug}/events", ["as_of", "known_at", "type", "after_version", "limit"]),
    ("/negotiations/{slug}/state", ["as_of", "known_at"]),
    ("/negotiations/{slug}/timeline", ["from", "to", "known_at"]),
    ("/negotiations/{slug}/diff", ["from", "to", "known_at"]),
    ("/events", ["after", "limit", "type"]),
    ("/negotiations", ["wait_for"]),
    ("/events/stream", ["after", "type"]),  # refused before any streaming starts
]
QUERY_CLASSES = {
    "NUL": "a\x00b",
    "invalid UTF-8 (an encoded surrogate)": "%ED%A0%80",
    "NaN": "NaN",
    "Infinity": "Infinity",
    "beyond 64 bits": "1" + "0" * 30,
    "long string": "2" * 60_000,  # a URL's limit in the client; a megabyte: see the last test
}


@pytest.mark.parametrize("kind", sorted(QUERY_CLASSES))
def test_hostile_query_parameters_are_a_422_naming_the_parameter(
    loaded: TestClient, kind: str
) -> None:
    for template, parameters in QUERIES:
        for name in parameters:
            params = {"from": "2025-05-01", "to": "2025-06-01", name: QUERY_CLASSES[kind]}
            if kind.startswith("invalid UTF-8"):  # sent as is, not percent-encoded again
                query = "&".join(f"{key}={value}" for key, value in params.items())
                response = loaded.get(f"{template.format(slug=SLUG)}?{query}")
            else:
                response = loaded.get(template.format(slug=SLUG), params=params)
            problem = assert_problem(response, 422)
            assert names(name, problem), (template, name, problem["errors"])


@pytest.mark.parametrize("kind", sorted(set(QUERY_CLASSES) - {"beyond 64 bits"}))
def test_hostile_path_parameters_are_a_422_naming_the_parameter(
    loaded: TestClient, kind: str
) -> None:
    """(A number beyond 64 bits is a well-formed slug, of no negotiation: 404.)"""
    value = QUERY_CLASSES[kind].replace("\x00", "%00")
    for template, name in [
        ("/negotiations/{}", "slug"),
        ("/negotiations/{}/events", "slug"),
        ("/negotiations/{}/state", "slug"),
        ("/negotiations/{}/head", "slug"),
        ("/events/{}", "event_id"),
    ]:
        problem = assert_problem(loaded.get(template.format(value)), 422)
        assert names(name, problem), (template, problem["errors"])
    before = log_state(loaded)
    problem = assert_problem(
        loaded.post(f"/negotiations/{value}/events", json=sample_events()[9], headers=AUTH), 422
    )
    assert names("slug", problem)
    assert log_state(loaded) == before


@pytest.mark.parametrize("kind", sorted(TEXT_CLASSES))
def test_hostile_text_through_the_eventsourcingdb_api_is_a_422_naming_the_field(
    loaded: TestClient, kind: str
) -> None:
    before = log_state(loaded)
    event = sample_events()[9]
    del event["type"]
    candidate = {
        "source": "https://desk.example.org",
        "subject": f"/negotiations/{SLUG}",
        "type": "io.parley.StatementIssued",
        "data": event,
    }
    for path, field in [
        (("events", 0, "data", "data", "summary"), "events.0.data.data.summary"),
        (("events", 0, "subject"), "events.0.subject"),
    ]:
        body = with_literal({"events": [candidate]}, path, TEXT_CLASSES[kind])
        response = loaded.post("/api/v1/write-events", content=body, headers=AUTH)
        assert response.status_code == 422, response.text[:300]
        assert response.text.startswith(field), response.text[:300]
    read = with_literal({"subject": "/", "options": {"recursive": True}}, ("subject",),
                        TEXT_CLASSES[kind])
    response = loaded.post("/api/v1/read-events", content=read)
    assert response.status_code == 422 and response.text.startswith("subject"), response.text
    deep = loaded.post("/api/v1/write-events", content=DEEP.encode(), headers=AUTH)
    assert deep.status_code == 400 and "not valid JSON" in deep.text
    assert log_state(loaded) == before


def test_a_megabyte_url_is_refused_by_the_http_layer_with_a_414(server: Server) -> None:
    """The server's head bound (api/http/protocol.py) refuses a request line this long before
    Parley sees it; Parley's own bound (64 characters for a time) answers anything
    shorter that gets through."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(
            f"GET /negotiations/{SLUG}/state?as_of=".encode()
            + b"2" * 1_000_000
            + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        status_line = conn.makefile("rb").readline()
    assert status_line.split()[1] == b"414"
