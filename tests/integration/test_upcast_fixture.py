"""A store written before issue 16 reads, folds, verifies and exports with today's code.

The fixture (``tests/fixtures/store-before-16/``, its README says how it was made) is a
real store that the code before the issue wrote: ``ProposalMade``, ``RoundHeld`` and
``ContactHeld`` at schema version 1 (``addressee``, ``delegations``, no place or host),
with corrections that name the old fields and retractions of events of all three
types. On SQLite the committed file itself is opened (a copy); on PostgreSQL its
``parley dump`` is restored into a fresh schema. Its events must read back in today's
shapes (the upcasters of ``domain/stored.py``), and the state must be what the old code
answered (``answers-before-16.json``), plus the new fields.
"""

from __future__ import annotations

import copy
import csv
import io
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from support import REPO, Cli

from domain.events import RECORDED_TYPES, ProposalMade, RoundHeld
from domain.stored import SCHEMA_VERSIONS, upcast
from domain.values import Actor
from store.config import StoreConfig
from store.dump import read_dump_key, restore
from store.log import ConflictLog

FIXTURE = REPO / "tests" / "fixtures" / "store-before-16"
DUMP = FIXTURE / "dump.ndjson"
OLD_ANSWERS: dict[str, Any] = orjson.loads((FIXTURE / "answers-before-16.json").read_bytes())

SLUG = "before-16"
AS_OF = "2025-12-31"
BEFORE_CORRECTIONS = "2026-12-07T16:54:00Z"  # the first two loads recorded, not the third
AFTER_ALL = "2026-12-07T16:55:00Z"
KNOWN = {"1654": BEFORE_CORRECTIONS, "1655": AFTER_ALL}
CHANGED_TYPES = ("ContactHeld", "ProposalMade", "RoundHeld")

ZELENSKY = {"name": "Volodymyr Zelensky", "country": "UKR", "role": "President", "wikidata": None}


def eid(n: int) -> str:
    """The id of the fixture's n-th event (``before-16*.ndjson``)."""
    return f"16000000-0000-4000-8000-{n:012d}"


RETRACTED = {eid(5), eid(9), eid(14)}  # a ContactHeld, a ProposalMade, a RoundHeld
WORLD = {eid(n) for n in [*range(1, 20), 26]}  # not the corrections and retractions


@pytest.fixture
def store_config(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> StoreConfig:
    """The fixture store: the SQLite file copied, or its dump restored into PostgreSQL."""
    if backend == "sqlite":
        shutil.copytree(FIXTURE / "datadir", tmp_path / "data")
        return StoreConfig(data_dir=tmp_path / "data")
    config = StoreConfig(
        data_dir=tmp_path,
        database_url=request.getfixturevalue("postgres_url"),
        postgres_schema=request.getfixturevalue("postgres_schema"),
    )
    with ConflictLog(config) as log, DUMP.open("rb") as lines:
        restore(log, lines, key=read_dump_key(FIXTURE / "dump.ndjson.key"))
    return config


def contains(new: Any, old: Any, path: str = "") -> list[str]:
    """Where ``new`` fails to hold ``old``: every key of an old object with the same
    value, lists of the same length item by item (answers may only gain fields)."""
    if isinstance(old, dict):
        if not isinstance(new, dict):
            return [f"{path}: {new!r} is no object"]
        missing = [f"{path}.{key}: missing" for key in old if key not in new]
        return missing + [
            problem
            for key in old
            if key in new
            for problem in contains(new[key], old[key], f"{path}.{key}")
        ]
    if isinstance(old, list):
        if not isinstance(new, list) or len(new) != len(old):
            return [f"{path}: {new!r} instead of {old!r}"]
        return [
            p
            for i, (n, o) in enumerate(zip(new, old, strict=True))
            for p in contains(n, o, f"{path}[{i}]")
        ]
    return [] if new == old else [f"{path}: {new!r} instead of {old!r}"]


def test_the_fixture_holds_version_1_rows_of_the_changed_types(log: ConflictLog) -> None:
    heads = [
        orjson.loads(state[: state.index(b',"event":')] + b"}")
        for _, _, state in log.stored_states(limit=100)
    ]

    assert len(heads) == 43
    assert {h["type"] for h in heads} >= set(CHANGED_TYPES)
    assert all(h["schema"] == 1 for h in heads)
    assert all(SCHEMA_VERSIONS[t] == 2 for t in CHANGED_TYPES)


def test_every_event_of_the_dump_lifts_to_data_that_todays_rules_accept() -> None:
    rows = [orjson.loads(line) for line in DUMP.read_bytes().splitlines()]
    stored = [row["state"] for row in rows if "state" in row]

    assert len(stored) == 43
    for state in stored:
        lifted = upcast(state["event"], state["schema"])
        model = RECORDED_TYPES[lifted["type"]].model_fields["data"].annotation
        assert model is not None
        data = model.model_validate(lifted["data"])
        assert data.model_dump(mode="json", by_alias=True) == lifted["data"], lifted["id"]


def test_old_events_read_back_in_todays_shapes(log: ConflictLog, client: TestClient) -> None:
    proposal = log.event(eid(7)).event
    to_no_one = log.event(eid(8)).event
    round_1 = log.event(eid(13)).event
    round_2 = log.event(eid(14)).event

    assert isinstance(proposal, ProposalMade) and isinstance(to_no_one, ProposalMade)
    assert proposal.data.addressees == [Actor(country="UKR")]
    assert to_no_one.data.addressees == []
    assert isinstance(round_1, RoundHeld) and isinstance(round_2, RoundHeld)
    assert [(p.actor.country, p.role) for p in round_1.data.participants] == [
        ("RUS", "party"),
        ("UKR", "party"),
    ]
    assert round_2.data.participants == []
    for n in (4, 5):
        data = client.get(f"/events/{eid(n)}").json()["data"]
        assert (data["place"], data["host"]) == (None, None)
        assert data["medium"] in ("phone", "visit")
    shown = client.get(f"/events/{eid(7)}").json()["data"]
    assert "addressee" not in shown
    assert shown["addressees"] == [{"name": None, "country": "UKR", "role": None, "wikidata": None}]
    listed = client.get(f"/negotiations/{SLUG}/events", params={"limit": 100}).json()
    for event in listed["events"]:
        data = event["data"]
        assert "addressee" not in data and "delegations" not in data
        if event["type"] == "ContactHeld":
            assert {"place", "host"} <= set(data)
    found = client.get(f"/negotiations/{SLUG}/events", params={"actor": "UKR", "limit": 100})
    assert {eid(7), eid(13)} <= {e["id"] for e in found.json()["events"]}  # search finds both
    example = client.get("/negotiations/istanbul-2025/events", params={"limit": 100}).json()
    roadmap = next(e for e in example["events"] if e["data"].get("subject") == "roadmap")
    assert [a["name"] for a in roadmap["data"]["addressees"]] == ["Donald Trump"]


@pytest.mark.parametrize("slug", ["istanbul-2025", SLUG])
@pytest.mark.parametrize("known", ["1654", "1655"])
def test_the_state_is_what_the_old_code_answered_with_the_new_fields_beside(
    client: TestClient, slug: str, known: str
) -> None:
    old = OLD_ANSWERS[f"state-{slug}-known-{known}"]
    new = client.get(
        f"/negotiations/{slug}/state", params={"as_of": AS_OF, "known_at": KNOWN[known]}
    ).json()

    assert contains(new, old) == []
    for proposal in new["proposals"]:
        first = proposal["addressees"][0] if proposal["addressees"] else None
        assert proposal["addressee"] == first
    assert all("participants" in item for item in new["rounds"])


def test_corrections_that_name_the_old_fields_correct_the_new_ones(client: TestClient) -> None:
    def state(known_at: str) -> dict[str, Any]:
        answer = client.get(
            f"/negotiations/{SLUG}/state", params={"as_of": AS_OF, "known_at": known_at}
        )
        return dict(answer.json())

    before, after = state(BEFORE_CORRECTIONS), state(AFTER_ALL)
    proposals = {p["proposal_id"]: p for p in after["proposals"]}
    round_1 = {r["round"]: r for r in after["rounds"]}[1]

    assert [a["country"] for a in proposals["rus-meeting"]["addressees"]] == ["UKR"]
    assert proposals["rus-meeting"]["addressee"] == ZELENSKY
    assert [a["country"] for a in proposals["tur-roadmap"]["addressees"]] == ["RUS"]
    assert "usa-ceasefire" not in proposals  # retracted
    assert "usa-ceasefire" in {p["proposal_id"] for p in before["proposals"]}
    assert [(p["actor"]["country"], p["role"]) for p in round_1["participants"]] == [
        ("RUS", "party"),
        ("UKR", "party"),
        ("TUR", "party"),
    ]
    assert [
        (p["actor"]["country"], p["role"])
        for p in {r["round"]: r for r in before["rounds"]}[1]["participants"]
    ] == [("RUS", "party"), ("UKR", "party")]
    assert 2 in {r["round"] for r in before["rounds"]}
    assert 2 not in {r["round"] for r in after["rounds"]}  # held, then retracted


@pytest.mark.parametrize("known", ["1654", "1655"])
def test_the_timeline_shows_the_same_events_in_todays_shapes(
    client: TestClient, known: str
) -> None:
    old = copy.deepcopy(OLD_ANSWERS[f"timeline-{SLUG}-known-{known}"])  # popped below
    new = client.get(
        f"/negotiations/{SLUG}/timeline",
        params={"from": "2025-01-01", "to": AS_OF, "known_at": KNOWN[known]},
    ).json()

    assert [e["id"] for e in new["events"]] == [e["id"] for e in old["events"]]
    for was, now in zip(old["events"], new["events"], strict=True):
        kept = {k: v for k, v in was.items() if k not in ("data", "coding")}
        assert contains(now, kept) == [], now["id"]
        if now["type"] == "ProposalMade":
            addressee = was["data"].pop("addressee")
            assert now["data"].pop("addressees") == ([] if addressee is None else [addressee])
        elif now["type"] == "RoundHeld":
            parties = [{"actor": a, "role": "party"} for a in was["data"].pop("delegations")]
            assert now["data"].pop("participants") == parties
        elif now["type"] == "ContactHeld":
            assert (now["data"].pop("place"), now["data"].pop("host")) == (None, None)
        assert now["data"] == was["data"], now["id"]
    if known == "1655":
        contact = next(e for e in new["events"] if e["id"] == eid(4))
        assert contact["data"]["summary"].endswith("about direct talks in Istanbul.")


def test_the_fixture_verifies(log: ConflictLog, parley_cli: Cli, client: TestClient) -> None:
    report = log.verify()
    answer = client.get("/verify").json()
    code, out, _ = parley_cli.run("verify")

    assert report.ok and report.first_break is None
    assert (answer["ok"], answer["events"], answer["negotiations"]) == (True, 43, 2)
    assert code == 0
    assert "ok: 43 events in 2 negotiation(s)" in out


def _export(client: TestClient, fmt: str) -> str:
    answer = client.get(
        f"/negotiations/{SLUG}/export",
        params={"format": fmt, "as_of": AS_OF, "known_at": AFTER_ALL},
    )
    assert answer.status_code == 200, answer.text
    return answer.text


def test_the_fixture_exports_as_ndjson_in_todays_shapes(client: TestClient) -> None:
    lines = [orjson.loads(line) for line in _export(client, "ndjson").splitlines()]
    head, events = lines[0]["export"], {e["id"]: e for e in lines[1:]}

    assert head["position"] == 43
    assert set(events) == WORLD - RETRACTED
    assert events[eid(7)]["data"]["addressees"] == [
        {"name": None, "country": "UKR", "role": None, "wikidata": None}
    ]
    [correction] = events[eid(7)]["corrections"]
    assert correction["id"] == eid(20)
    assert list(correction["data"]["data"]) == ["addressee"]  # shown as it was recorded
    assert [p["role"] for p in events[eid(13)]["data"]["participants"]] == ["party", "party"]
    assert (events[eid(4)]["data"]["place"], events[eid(4)]["data"]["host"]) == (None, None)
    assert all(
        "addressee" not in e["data"] and "delegations" not in e["data"] for e in events.values()
    )


def test_the_fixture_exports_as_csv_with_corrected_recipients(client: TestClient) -> None:
    text = _export(client, "csv")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    rows = {row["event_id"]: row for row in csv.DictReader(io.StringIO(body))}

    assert set(rows) == WORLD - RETRACTED
    proposal, to_moscow, held = rows[eid(7)], rows[eid(8)], rows[eid(13)]
    assert (proposal["actor1"], proposal["actor2"]) == ("RUS", "Volodymyr Zelensky")
    assert (to_moscow["actor2"], to_moscow["country2"]) == ("RUS", "RUS")
    assert held["actor1"] == "RUS"
    assert {held["actor2"], held["assoc_actor_2"]} == {"UKR", "TUR"}
    assert held["corrected_by"] == eid(21)


def test_the_fixture_exports_as_plover_with_its_addressees_as_recipients(
    client: TestClient,
) -> None:
    lines = [orjson.loads(line) for line in _export(client, "plover").splitlines()]
    events = {e["id"]: e for e in lines[1:]}

    assert set(events) == WORLD - RETRACTED
    assert [r.get("entity_text") for r in events[eid(7)]["recipient"]] == ["Volodymyr Zelensky"]
    assert [r["code"] for r in events[eid(8)]["recipient"]] == ["RUS"]
    assert [a["code"] for a in events[eid(13)]["actor"]] == ["RUS", "UKR", "TUR"]
    assert events[eid(13)]["recipient"] == []
