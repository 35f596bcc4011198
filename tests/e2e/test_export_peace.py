"""Issue 16's types in the PLOVER and CSV exports and the event answers, on both
backends: each new type's codes, actors, recipients and places, ACLED's sub-event type,
and a denial that reads the right way round (the denier rejecting the accuser)."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd
import peace_events as peace
import pytest
from fastapi.testclient import TestClient
from support import append_event

SLUG = "istanbul-2025"
EXPORT = f"/negotiations/{SLUG}/export"


def export(client: TestClient, fmt: str, **params: str) -> str:
    response = client.get(EXPORT, params={"format": fmt, **params})
    assert response.status_code == 200, response.text
    return response.text


def plover(client: TestClient) -> dict[str, dict[str, Any]]:
    lines = [json.loads(line) for line in export(client, "plover").splitlines() if line]
    return {r["id"]: r for r in lines[1:]}


def csv_rows(client: TestClient) -> pd.DataFrame:
    text = export(client, "csv")
    return pd.read_csv(io.StringIO(text), comment="#", dtype={"cameo": str}).set_index("event_id")


def append(client: TestClient, body: dict[str, Any]) -> str:
    return str(append_event(client, SLUG, body)["id"])


@pytest.fixture
def peace_log(istanbul: TestClient) -> tuple[TestClient, dict[str, str]]:
    """The example, then a declared ceasefire, one event of each new type, a second
    provision carried out, and a denial of the allegation."""
    ceasefire = peace.body(
        "CeasefireDeclared",
        {"parties": ["RUS", "UKR"], "effective_from": "2025-08-09"},
        id=str(peace.CEASEFIRE),
    )
    ids = {"CeasefireDeclared": append(istanbul, ceasefire)}
    for type_, build in peace.BUILDERS.items():
        ids[type_] = append(istanbul, build())
    ids["withdrawal"] = append(istanbul, peace.implemented(provision="3"))
    denial = peace.body(
        "ClaimDisputed",
        {
            "event_id": ids["ViolationAlleged"],
            "disputed_by": "AZE",
            "counter_claim": "No shots were fired from our positions.",
        },
        at="2025-09-22",
    )
    ids["denial"] = append(istanbul, denial)
    return istanbul, ids


EXPECTED = {
    # type: (CAMEO, PLOVER event, mode, actors, recipients)
    "AgreementReached": ("037", "AGREE", None, ["ARM", "AZE"], []),
    "AgreementSigned": ("057", "SUPPORT", None, ["ARM", "AZE"], []),
    "AgreementRatified": ("057", "SUPPORT", None, ["ARM"], ["RUS", "UKR"]),
    "AgreementSuspended": ("160", "SANCTION", None, ["AZE"], ["RUS", "UKR"]),
    "AgreementTerminated": ("160", "SANCTION", None, ["AZE"], ["RUS", "UKR"]),
    "ProvisionImplemented": ("0841", "RETREAT", "release", ["AZE"], ["RUS", "UKR"]),
    "withdrawal": ("0874", "RETREAT", "disarm", ["AZE"], ["RUS", "UKR"]),
    "CeasefireLifted": ("1246", "REJECT", "yield", ["AZE"], ["RUS", "UKR"]),
    "ViolationAlleged": ("1123", "ACCUSE", "allege", ["ARM"], ["AZE"]),
    "HostilitiesReported": ("193", "ASSAULT", "firearms", ["ARM", "AZE"], []),
    "denial": ("120", "REJECT", None, ["AZE"], ["ARM"]),
}


def test_every_new_type_exports_to_plover_with_its_codes_and_roles(
    peace_log: tuple[TestClient, dict[str, str]],
) -> None:
    client, ids = peace_log
    records = plover(client)

    for name, (cameo, event, mode, actors, recipients) in EXPECTED.items():
        record = records[ids[name]]
        assert record["cameo"] == cameo, name
        assert (record["event"], record["mode"]) == ([event], [mode] if mode else []), name
        assert [a["code"] for a in record["actor"]] == actors, name
        assert [r["code"] for r in record["recipient"]] == recipients, name
        assert record["comment"], name
    signed = records[ids["AgreementSigned"]]
    assert signed["event_loc"] == {
        "country_code": "USA",
        "city": "Washington",
        "resolved_place": "Washington",
        "iso_region": ["US-DC"],
    }
    alleged = records[ids["ViolationAlleged"]]
    assert alleged["event_loc"] == {"country_code": "ARM", "iso_region": ["AM-TV"]}
    assert (alleged["date"], alleged["enddate"]) == ("2025-09-20", "2025-09-21")
    assert alleged["parley"]["disputed_by"] == [ids["denial"]]
    assert records[ids["HostilitiesReported"]]["event_loc"]["iso_region"] == ["AM-SU", "AZ-ZAN"]


def test_every_new_type_has_a_csv_row_with_acled_columns_kept_spreadsheet_safe(
    peace_log: tuple[TestClient, dict[str, str]],
) -> None:
    client, ids = peace_log
    rows = csv_rows(client)

    for name, (cameo, event, _, actors, recipients) in EXPECTED.items():
        row = rows.loc[ids[name]]
        assert (row["cameo"], row["plover_event"]) == (cameo, event), name
        assert row["country1"] == actors[0], name
        second = recipients[0] if recipients else (actors[1] if len(actors) > 1 else None)
        assert (row["country2"] if isinstance(row["country2"], str) else None) == second, name
    sub = rows["sub_event_type"]
    assert sub[ids["AgreementSigned"]] == sub[ids["ProvisionImplemented"]] == "Agreement"
    assert sub[ids["HostilitiesReported"]] == "Armed clash"
    assert pd.isna(sub[ids["ViolationAlleged"]])
    assert rows.loc[ids["ViolationAlleged"], "iso_region"] == "AM-TV"
    assert rows.loc[ids["ViolationAlleged"], "iso"] == "ARM"
    assert rows.loc[ids["AgreementSigned"], "location"] == "Washington"
    assert "Witnesses: Donald Trump" in rows.loc[ids["AgreementSigned"], "notes"]
    assert rows.loc[ids["denial"], "notes"].endswith("No shots were fired from our positions.")
    assert rows.loc[ids["ViolationAlleged"], "disputed_by"] == ids["denial"]


def test_an_implementation_step_is_coded_by_its_topic_in_every_answer(
    peace_log: tuple[TestClient, dict[str, str]],
) -> None:
    client, ids = peace_log
    step = ids["ProvisionImplemented"]

    detail = client.get(f"/events/{step}").json()
    page = client.get(
        f"/negotiations/{SLUG}/events", params={"type": "ProvisionImplemented"}
    ).json()

    assert detail["coding"]["cameo"] == "0841"
    assert [e["coding"]["cameo"] for e in page["events"]] == ["0841", "0874"]


def test_a_new_types_names_and_notes_cannot_start_a_formula(
    peace_log: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = peace_log
    shelling = append(client, peace.hostilities(kind="shelling"))
    hostile = peace.body(
        "HostilitiesReported",
        {
            "parties": [{"name": "=cmd|' /C calc'!A0", "country": "ARM"}, "AZE"],
            "kind": "naval",
            "summary": "@SUM(1)",
        },
    )
    hostile_id = append(client, hostile)

    rows = csv_rows(client)

    assert rows.loc[hostile_id, "actor1"] == "'=cmd|' /C calc'!A0"
    assert rows.loc[hostile_id, "notes"] == "naval: @SUM(1)"  # begins with a letter
    assert rows.loc[hostile_id, "cameo"] == "190" and pd.isna(
        rows.loc[hostile_id, "sub_event_type"]
    )
    assert rows.loc[shelling, "sub_event_type"] == "Shelling/artillery/missile attack"


def test_a_steps_code_and_a_denials_recipient_follow_corrections_as_known(
    peace_log: tuple[TestClient, dict[str, str]],
) -> None:
    client, ids = peace_log
    before = client.get(f"/events/{ids['denial']}").json()["recorded_at"]
    retopic = [p | {"topic": "other"} if p["id"] == "2" else p for p in peace.PROVISIONS]
    for target, fields in (
        (ids["AgreementSigned"], {"provisions": retopic}),
        (ids["AgreementReached"], {"provisions": retopic[:2]}),
        (ids["ViolationAlleged"], {"accuser": "GEO"}),
    ):
        correction = peace.body(
            "EventCorrected",
            {"event_id": target, "data": fields, "reason": "misread"},
            at="2025-09-23",
        )
        append(client, correction)

    now, then = (
        plover(client),
        {
            r["id"]: r
            for r in (
                json.loads(line)
                for line in export(client, "plover", known_at=before).splitlines()[1:]
            )
        },
    )

    assert then[ids["ProvisionImplemented"]]["cameo"] == "0841"
    assert now[ids["ProvisionImplemented"]]["cameo"] == "060"  # the topic corrected
    assert [r["code"] for r in then[ids["denial"]]["recipient"]] == ["ARM"]
    assert [r["code"] for r in now[ids["denial"]]["recipient"]] == ["GEO"]


def test_a_step_whose_agreement_texts_are_retracted_is_coded_without_their_topic(
    peace_log: tuple[TestClient, dict[str, str]],
) -> None:
    """A retracted text was, the log says, never agreed: it gives its provisions no topic
    from the retraction on (hypothesis found an export coding by a retracted text, which
    the import of that export, rightly without it, then coded otherwise)."""
    client, ids = peace_log
    before = client.get(f"/events/{ids['denial']}").json()["recorded_at"]
    for target in (ids["AgreementSigned"], ids["AgreementReached"]):
        retraction = peace.body(
            "EventRetracted", {"event_id": target, "reason": "never signed"}, at="2025-09-23"
        )
        append(client, retraction)

    now = plover(client)
    then = {
        r["id"]: r
        for r in (
            json.loads(line) for line in export(client, "plover", known_at=before).splitlines()[1:]
        )
    }
    timeline = client.get(f"/negotiations/{SLUG}/timeline").json()["events"]

    assert then[ids["ProvisionImplemented"]]["cameo"] == "0841"
    assert now[ids["ProvisionImplemented"]]["cameo"] == "060"  # no topic known
    coded = {e["id"]: e for e in timeline}[ids["ProvisionImplemented"]]["coding"]
    assert coded["cameo"] == "060"
