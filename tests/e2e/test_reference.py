"""Reference data for the page's forms (``/reference``) and who a token writes as
(``/me``): the same tables the server checks codes against."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from support import AUTH

from domain.events import IDENTITY_FIELDS
from domain.values import check_country, check_region


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_countries_are_listed_by_alpha_3_with_their_names_and_cacheable(
    client: TestClient,
) -> None:
    answer = client.get("/reference/countries")
    assert answer.status_code == 200
    assert "max-age" in answer.headers["cache-control"]
    countries = {c["code"]: c for c in answer.json()["countries"]}
    assert countries["UKR"]["name"] == "Ukraine" and countries["UKR"]["alpha_2"] == "UA"
    assert countries["TUR"]["name"].startswith("T")
    assert len(countries) > 240
    for code in countries:  # every code offered is one an event may carry
        assert check_country(code) == code


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_regions_are_a_countrys_iso_3166_2_codes(client: TestClient) -> None:
    answer = client.get("/reference/regions", params={"country": "ukr"})
    assert answer.status_code == 200 and "max-age" in answer.headers["cache-control"]
    regions = {r["code"]: r for r in answer.json()["regions"]}
    # ISO UA-63 is Kharkiv and UA-07 Volyn (GeoNames "07" is Kharkiv: never a bare number).
    assert "Kharkiv" in regions["UA-63"]["name"] and "Volyn" in regions["UA-07"]["name"]
    assert {r["country"] for r in regions.values()} == {"UKR"}
    for code in regions:
        check_region(code)
    both = client.get("/reference/regions", params=[("country", "UKR"), ("country", "TUR")])
    codes = {r["code"] for r in both.json()["regions"]}
    assert "TR-34" in codes and "UA-59" in codes


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_regions_of_an_unknown_country_are_a_422_naming_it(client: TestClient) -> None:
    answer = client.get("/reference/regions", params=[("country", "UKR"), ("country", "XXX")])
    assert answer.status_code == 422
    [error] = answer.json()["errors"]
    assert error["field"] == "country" and "XXX" in str(error.get("value", error["message"]))
    assert client.get("/reference/regions").status_code == 422


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_tokens_me_names_who_the_token_writes_as(client: TestClient) -> None:
    made = client.post("/tokens", json={"name": "desk-alice", "scope": "append"}, headers=AUTH)
    secret = made.json()["token"]
    me = client.get("/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    assert me.json() == {"name": "desk-alice", "scope": "append", "scopes": ["read", "append"]}
    assert client.get("/me").status_code == 401
    wrong = client.get("/me", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_fields_a_correction_may_not_change_are_served(client: TestClient) -> None:
    answer = client.get("/reference/corrections")
    assert answer.status_code == 200
    assert set(answer.json()["fixed_fields"]) == set(IDENTITY_FIELDS)
    assert "round" in answer.json()["fixed_fields"]
