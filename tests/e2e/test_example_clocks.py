"""Both examples on all three clocks, over HTTP (issue 16; /work/notes/spec16.md).

``as_of`` asks what had happened, ``known_at`` what the desk had recorded, and
``reported_at`` what the world had been told: an event counts from the earliest
``published_at`` of its sources (a date: the end of that day). The two examples are
backfills, recorded long after the fact, so ``reported_at`` is the clock that tells
their story: the 2022 Black Sea Grain Initiative, and the founding Istanbul 2025 report
whose facts were first reported days before teleSUR summed them up on 28 May.

What each test needs of issue 16's parts: the state answer's ``agreements``,
``allegations``, ``hostilities`` and the new ceasefire fields come from the state fold;
the ``reported_at`` parameter, its echo and its bound from the third clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import REPO, append_event, just_before, ok_json

from store.loader import load
from store.log import ConflictLog

BLACK_SEA = "black-sea-grain-2022"
ISTANBUL = "istanbul-2025"
INITIATIVE = "black-sea-grain-initiative"
MEMORANDUM = "russia-un-memorandum"

ODESA_ALLEGATION = "e86169ed-8561-4659-ac66-3f9cb8e4a03f"
ODESA_STRIKE = "740c5bf3-9a22-49cf-8a22-1966976cef70"
RUSSIA_DENIES = "fda6f992-a5e5-4084-9b0b-2b33ec36c581"  # 23 July, first reported on the 24th
RUSSIA_ADMITS = "9e5fa82e-9dab-43da-80f5-4ec4deeddb87"  # 24 July: "military targets"
JCC_OPENED = "2ab91a55-b860-42d9-8420-5f40517e593f"
FIRST_SHIP = "ac5ebeb8-a641-401d-aa63-30c7830b43b4"
SEVASTOPOL = "784471ce-0cca-4c7c-ab99-706828fd5ffe"
UKRAINE_DENIES = "50042f39-26af-4abb-98d8-8387ad616ce4"
BRITAIN_DENIES = "09ef4388-856c-4b9f-825a-89e7eaebc0e4"  # reported on 2 November
MARCH_EXTENSION = "47f714d2-8852-4ca1-ba46-c9996cd240a6"
EXTENSIONS = [
    "1ead22de-6b14-468c-a2e9-2834fb8ef0aa",
    MARCH_EXTENSION,
    "ec12c3bb-696b-463c-af0f-655136309fea",
]
LAST_SHIP = "805fde0f-fcf7-4580-918a-e77f7f3c9785"  # 16 July 2023, reported on the 17th
CRIMEAN_BRIDGE = "297f998e-60e4-47d5-a96e-10c4e53c4fd4"

ROUND_ONE = "ba80f62c-edd4-4231-a54e-eaced7f113fa"
PUTIN_CEASEFIRE = "51d2fcce-5c7a-40f3-9c58-40817a9a98a6"
BUFFER_ZONE = "a12b1f35-8c76-4860-9765-cc2a92a6d916"
DISPUTED_CALL = "3221c451-fe72-4f21-b409-4d50f4b07cdd"


@pytest.fixture
def examples(client: TestClient, log: ConflictLog) -> TestClient:
    """``client`` on a store holding both examples, loaded as the desk loads them."""
    for name in (BLACK_SEA, ISTANBUL):
        load(log, REPO / "examples" / f"{name}.ndjson")
    return client


def state(client: TestClient, slug: str = BLACK_SEA, **params: str) -> dict[str, Any]:
    return ok_json(client, f"/negotiations/{slug}/state", **params)


def who(actor: dict[str, Any] | str) -> str:
    """A country code for a state, the name for anyone else (the United Nations)."""
    if isinstance(actor, str):
        return actor
    return str(actor.get("country") or actor.get("name"))


def agreements(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["agreement_id"]: item for item in body["agreements"]}


def steps(agreement: dict[str, Any], provision: str) -> list[str]:
    (found,) = [p for p in agreement["provisions"] if p["id"] == provision]
    return [step["event_id"] for step in found["implemented"]]


def disputes(item: dict[str, Any]) -> list[str]:
    return [dispute["event_id"] for dispute in item["disputes"]]


# --- valid time: the Initiative's life ---------------------------------------------


def test_agreed_in_principle_on_13_july_is_not_yet_in_force(examples: TestClient) -> None:
    body = state(examples, as_of="2022-07-15")
    (initiative,) = body["agreements"]
    assert initiative["agreement_id"] == INITIATIVE
    assert initiative["status"] == "reached" and initiative["in_force"] is False
    assert sorted(map(who, initiative["parties"])) == ["RUS", "TUR", "UKR", "United Nations"]
    assert initiative["signatories"] == [] and initiative["place"]["city"] == "Istanbul"


def test_on_22_july_two_agreements_are_signed_and_in_force(examples: TestClient) -> None:
    body = state(examples, as_of="2022-07-22")
    assert [a["agreement_id"] for a in body["agreements"]] == [INITIATIVE, MEMORANDUM]
    initiative, memorandum = body["agreements"]
    assert initiative["status"] == memorandum["status"] == "signed"
    assert initiative["in_force"] is memorandum["in_force"] is True
    signed_for = [who(s["on_behalf_of"]) for s in initiative["signatories"]]
    assert signed_for == ["RUS", "UKR", "TUR", "United Nations"]
    assert [w["name"] for w in initiative["witnesses"]] == ["Recep Tayyip Erdoğan"]
    assert sorted(map(who, initiative["guarantors"])) == ["TUR", "United Nations"]
    assert {p["id"] for p in initiative["provisions"]} == {
        "ports",
        "jcc",
        "inspections",
        "navigation",
        "term",
    }
    assert all(p["implemented"] == [] for p in initiative["provisions"])
    assert sorted(map(who, memorandum["parties"])) == ["RUS", "United Nations"]
    assert body["allegations"] == [] and body["hostilities"] == []


def test_the_odesa_strike_is_alleged_against_the_initiative_and_disputed_twice(
    examples: TestClient,
) -> None:
    body = state(examples, as_of="2022-07-24")
    (allegation,) = body["allegations"]
    assert allegation["event_id"] == ODESA_ALLEGATION
    assert allegation["agreement_id"] == INITIATIVE and allegation["ceasefire"] is None
    assert allegation["accuser"]["name"] == "Oleh Nikolenko"
    assert list(map(who, allegation["accused"])) == ["RUS"]
    assert allegation["regions"] == ["UA-51"] and allegation["kind"] == "missile_strike"
    assert disputes(allegation) == [RUSSIA_DENIES, RUSSIA_ADMITS]
    assert [who(d["disputed_by"]) for d in allegation["disputes"]] == ["RUS", "RUS"]
    # The agreement carries the allegation that names it; it stays in force.
    initiative = agreements(body)[INITIATIVE]
    assert [a["event_id"] for a in initiative["allegations"]] == [ODESA_ALLEGATION]
    assert initiative["in_force"] is True
    (strike,) = body["hostilities"]
    assert strike["event_id"] == ODESA_STRIKE and strike["disputes"] == []


def test_the_coordination_centre_and_the_first_ship_implement_their_provisions(
    examples: TestClient,
) -> None:
    initiative = agreements(state(examples, as_of="2022-08-01"))[INITIATIVE]
    assert steps(initiative, "jcc") == [JCC_OPENED]
    assert steps(initiative, "ports") == [FIRST_SHIP]
    (razoni,) = next(p for p in initiative["provisions"] if p["id"] == "ports")["implemented"]
    assert razoni["occurred_at"] == "2022-08-01" and "Razoni" in razoni["summary"]
    assert steps(initiative, "term") == []


def test_russia_suspends_after_sevastopol_and_its_account_is_disputed(
    examples: TestClient,
) -> None:
    body = state(examples, as_of="2022-10-30")
    initiative = agreements(body)[INITIATIVE]
    assert initiative["status"] == "suspended" and initiative["in_force"] is False
    assert list(map(who, initiative["suspended_by"])) == ["RUS"]
    sevastopol = next(h for h in body["hostilities"] if h["event_id"] == SEVASTOPOL)
    assert sevastopol["regions"] == ["UA-40"] and sevastopol["kind"] == "drone_strike"
    assert disputes(sevastopol) == [UKRAINE_DENIES, BRITAIN_DENIES]
    # The memorandum is a separate agreement: Russia suspended only the Initiative.
    assert agreements(body)[MEMORANDUM]["in_force"] is True


def test_russias_return_on_2_november_puts_the_initiative_back_in_force(
    examples: TestClient,
) -> None:
    initiative = agreements(state(examples, as_of="2022-11-02"))[INITIATIVE]
    # Recorded as a renewed consent (AgreementRatified): no type says "resumed".
    assert initiative["status"] == "ratified" and initiative["in_force"] is True
    assert list(map(who, initiative["ratified_by"])) == ["RUS"]


def test_three_extensions_then_the_end_on_17_july_2023(examples: TestClient) -> None:
    body = state(examples, as_of="2023-07-18")
    initiative, memorandum = body["agreements"]
    assert steps(initiative, "term") == EXTENSIONS
    assert steps(initiative, "ports") == [FIRST_SHIP, LAST_SHIP]
    assert initiative["status"] == "terminated" and initiative["in_force"] is False
    terminated = initiative["terminated"]
    assert who(terminated["by"]) == "RUS" and terminated["superseded_by"] is None
    assert "not been implemented" in terminated["reason"]
    # Russia said the memorandum outlived the Initiative (TASS, 21 July 2023).
    assert memorandum["status"] == "signed" and memorandum["in_force"] is True
    assert CRIMEAN_BRIDGE in [h["event_id"] for h in body["hostilities"]]
    # The extension whose length Russia disputed is contested, as before issue 16.
    assert MARCH_EXTENSION in [c["event_id"] for c in body["contested"]]


def test_before_the_talks_there_is_no_agreement(examples: TestClient) -> None:
    body = state(examples, as_of="2022-07-01")
    assert body["event_count"] == 0
    assert body["agreements"] == body["allegations"] == body["hostilities"] == []


# --- reported time: what the world had been told -------------------------------------


def test_reported_at_echoes_the_end_of_the_day_it_names(examples: TestClient) -> None:
    body = state(examples, as_of="2022-07-24", reported_at="2022-07-23")
    assert body["reported_at"].startswith("2022-07-23T23:59:59")
    again = state(
        examples, as_of=body["as_of"], known_at=body["known_at"], reported_at=body["reported_at"]
    )
    assert again == body


def test_on_the_day_of_the_signing_only_the_initiative_was_reported(
    examples: TestClient,
) -> None:
    # The desk's first source on the memorandum is of 23 July (CMIO).
    body = state(examples, as_of="2022-07-24", reported_at="2022-07-22")
    assert [a["agreement_id"] for a in body["agreements"]] == [INITIATIVE]
    assert agreements(body)[INITIATIVE]["status"] == "signed"
    assert body["allegations"] == [] and body["hostilities"] == []


def test_the_denial_of_the_odesa_strike_was_reported_a_day_after_the_accusation(
    examples: TestClient,
) -> None:
    on_23 = state(examples, as_of="2022-07-24", reported_at="2022-07-23")
    (allegation,) = on_23["allegations"]
    assert allegation["event_id"] == ODESA_ALLEGATION and allegation["disputes"] == []
    assert [m["event_id"] for m in on_23["hostilities"]] == [ODESA_STRIKE]

    on_24 = state(examples, as_of="2022-07-24", reported_at="2022-07-24")
    (allegation,) = on_24["allegations"]
    assert disputes(allegation) == [RUSSIA_DENIES, RUSSIA_ADMITS]


def test_britains_denial_counts_only_from_its_report_on_2_november(
    examples: TestClient,
) -> None:
    def sevastopol(reported_at: str) -> dict[str, Any]:
        body = state(examples, as_of="2022-11-01", reported_at=reported_at)
        return next(h for h in body["hostilities"] if h["event_id"] == SEVASTOPOL)

    assert disputes(sevastopol("2022-10-31")) == [UKRAINE_DENIES]
    assert disputes(sevastopol("2022-11-02")) == [UKRAINE_DENIES, BRITAIN_DENIES]


def test_the_last_ship_was_reported_the_day_after_it_sailed(examples: TestClient) -> None:
    def ports(reported_at: str) -> list[str]:
        body = state(examples, as_of="2023-07-16", reported_at=reported_at)
        return steps(agreements(body)[INITIATIVE], "ports")

    assert ports("2023-07-16") == [FIRST_SHIP]
    assert ports("2023-07-17") == [FIRST_SHIP, LAST_SHIP]


def test_the_termination_was_reported_the_day_it_happened(examples: TestClient) -> None:
    before = agreements(state(examples, as_of="2023-07-17", reported_at="2023-07-16"))
    assert before[INITIATIVE]["status"] == "ratified" and before[INITIATIVE]["in_force"]
    after = agreements(state(examples, as_of="2023-07-17", reported_at="2023-07-17"))
    assert after[INITIATIVE]["status"] == "terminated"


def test_the_founding_round_was_reported_on_16_may_not_only_on_28_may(
    examples: TestClient,
) -> None:
    body = state(examples, ISTANBUL, as_of="2025-05-17", reported_at="2025-05-16")
    assert [(r["round"], r["status"]) for r in body["rounds"]] == [(1, "held")]
    assert ROUND_ONE in body["rounds"][0]["events"]
    assert state(examples, ISTANBUL, as_of="2025-05-17", reported_at="2025-05-15")["rounds"] == []


def test_istanbul_as_the_world_knew_it_on_19_and_22_may(examples: TestClient) -> None:
    on_19 = state(examples, ISTANBUL, as_of="2025-05-28", reported_at="2025-05-19")
    (ceasefire,) = on_19["ceasefires"]
    assert ceasefire["ceasefire_id"] == PUTIN_CEASEFIRE and ceasefire["status"] == "proposed"
    assert ceasefire["in_force"] is False and ceasefire["not_in_force"] == "proposed"
    assert ceasefire["lifted"] is None and ceasefire["allegations"] == []
    assert on_19["security_zones"] == [] and on_19["contested"] == []
    assert [r["round"] for r in on_19["rounds"]] == [1]  # round 2: only teleSUR, 28 May

    on_22 = state(examples, ISTANBUL, as_of="2025-05-28", reported_at="2025-05-22")
    assert [z["events"] for z in on_22["security_zones"]] == [[BUFFER_ZONE]]


def test_teleSUR_at_12_57_in_caracas_brings_the_rest(examples: TestClient) -> None:
    just_before_it = state(
        examples, ISTANBUL, as_of="2025-05-28", reported_at="2025-05-28T16:56:59Z"
    )
    assert just_before_it["contested"] == []
    assert [r["round"] for r in just_before_it["rounds"]] == [1]
    after = state(examples, ISTANBUL, as_of="2025-05-28", reported_at="2025-05-28T16:57:00Z")
    assert [c["event_id"] for c in after["contested"]] == [DISPUTED_CALL]
    assert [r["round"] for r in after["rounds"]] == [1, 2]
    assert after["event_count"] == 16


# --- recorded time: what the desk had stored ------------------------------------------


def test_known_at_before_the_load_shows_nothing_whatever_was_reported(
    examples: TestClient, log: ConflictLog
) -> None:
    first = log.negotiation_events(BLACK_SEA, limit=1)[0]
    body = state(
        examples,
        as_of="2023-07-18",
        known_at=just_before(first.recorded_at.isoformat()),
        reported_at="2023-07-18",
    )
    assert body["event_count"] == 0 and body["agreements"] == []


def test_a_late_report_counts_on_each_clock_only_from_its_own_time(
    examples: TestClient,
) -> None:
    recorded = append_event(
        examples,
        BLACK_SEA,
        {
            "type": "HostilitiesReported",
            "occurred_at": "2023-07-18",
            "data": {
                "parties": ["RUS", "UKR"],
                "regions": ["UA-51"],
                "kind": "missile_strike",
                "summary": "Kyiv said Russian missiles and drones struck Odesa's port overnight.",
            },
            "sources": [{"outlet": "Politico", "published_at": "2023-07-18"}],
        },
    )

    def hostilities(**clocks: str) -> list[str]:
        body = state(examples, as_of="2023-07-19", **clocks)
        return [h["event_id"] for h in body["hostilities"]]

    assert recorded["id"] in hostilities()
    assert recorded["id"] not in hostilities(known_at=just_before(recorded["recorded_at"]))
    assert recorded["id"] not in hostilities(reported_at="2023-07-17")
    assert recorded["id"] in hostilities(reported_at="2023-07-18")
    assert CRIMEAN_BRIDGE in hostilities(reported_at="2023-07-17")


def test_reported_at_in_the_future_is_clamped_to_now(examples: TestClient) -> None:
    asked = datetime.now(UTC)
    body = state(examples, as_of="2023-07-18", reported_at="2999-01-01")
    echoed = datetime.fromisoformat(body["reported_at"].replace("Z", "+00:00"))
    assert asked <= echoed <= datetime.now(UTC)
