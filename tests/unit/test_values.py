"""Unit tests for the value objects: Actor, Place, Source, and the ISO code checks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from domain.values import (
    Actor,
    Place,
    Source,
    check_country,
    check_region,
    end_of_day,
    region_country,
    start_of,
)


def error_locs(error: ValidationError) -> list[tuple[int | str, ...]]:
    return [tuple(e["loc"]) for e in error.errors()]


def messages(error: ValidationError) -> str:
    return " | ".join(e["msg"] for e in error.errors())


# Actor


def test_bare_country_code_is_a_state_actor() -> None:
    actor = Actor.model_validate("RUS")

    assert actor.country == "RUS"
    assert actor.name is None
    assert actor == Actor(country="RUS")


@pytest.mark.parametrize("given", ["rus", " Rus ", "rUS"])
def test_lower_or_mixed_case_country_code_is_normalised_to_upper_case(given: str) -> None:
    assert Actor.model_validate(given).country == "RUS"
    assert Actor(name="Vladimir Medinsky", country=given).country == "RUS"


@pytest.mark.parametrize("code", ["XYZ", "UA", "UKRAINE", "804", ""])
def test_country_that_is_not_an_iso_alpha3_code_is_rejected(code: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Actor(country=code)

    assert ("country",) in error_locs(raised.value)
    assert "alpha-3" in messages(raised.value)


@pytest.mark.parametrize("given", [{}, {"role": "chief negotiator"}, {"wikidata": "Q7747"}])
def test_actor_without_name_or_country_is_rejected(given: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="needs a name or a country"):
        Actor.model_validate(given)


def test_actor_may_be_named_without_a_country() -> None:
    actor = Actor(name="various news agencies")

    assert actor.country is None
    assert actor.label == "various news agencies"


def test_actor_label_names_the_person_and_the_country() -> None:
    putin = Actor(name="Vladimir Putin", country="RUS", role="President")

    assert putin.label == "Vladimir Putin (RUS)"
    assert Actor.model_validate("TUR").label == "TUR"


@pytest.mark.parametrize("qid", ["Q7747", "Q22686", "Q1"])
def test_wikidata_id_in_q_form_is_accepted(qid: str) -> None:
    assert Actor(name="someone", wikidata=qid).wikidata == qid


@pytest.mark.parametrize("qid", ["7747", "q7747", "Q0", "Q07747", "P31", "Q"])
def test_wikidata_id_not_in_q_form_is_rejected(qid: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Actor(name="someone", wikidata=qid)

    assert ("wikidata",) in error_locs(raised.value)


def test_empty_actor_name_is_rejected() -> None:
    with pytest.raises(ValidationError) as raised:
        Actor(name="", country="RUS")

    assert ("name",) in error_locs(raised.value)


# Place


def test_place_with_region_inside_its_country_is_accepted() -> None:
    istanbul = Place(city="Istanbul", country="TUR", region="TR-34")

    assert (istanbul.country, istanbul.region) == ("TUR", "TR-34")


def test_lower_case_region_and_country_are_normalised() -> None:
    place = Place(city="Kharkiv", country="ukr", region="ua-63")

    assert (place.country, place.region) == ("UKR", "UA-63")


def test_region_outside_the_place_country_is_rejected() -> None:
    with pytest.raises(ValidationError, match="UA-63 does not lie in country TUR"):
        Place(city="Istanbul", country="TUR", region="UA-63")


@pytest.mark.parametrize("bare", ["07", "63", " 59 "])
def test_bare_geonames_region_number_is_rejected_with_the_iso_form_named(bare: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Place(country="UKR", region=bare)

    assert ("region",) in error_locs(raised.value)
    text = messages(raised.value)
    assert "ISO 3166-2" in text
    assert "UA-63" in text  # the message shows the prefixed ISO form to use


def test_iso_region_code_is_kept_as_given_never_read_as_a_geonames_number() -> None:
    # GeoNames "07" is Kharkiv, but ISO UA-07 is Volyn: the ISO code is stored as is.
    volyn = Place(country="UKR", region="UA-07")

    assert volyn.region == "UA-07"
    assert region_country("UA-07") == "UKR"


@pytest.mark.parametrize("region", ["UA-99", "XX-01", "UA-", "-63"])
def test_unknown_iso_region_code_is_rejected(region: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Place(country="UKR", region=region)

    assert ("region",) in error_locs(raised.value)


def test_place_needs_a_country() -> None:
    with pytest.raises(ValidationError) as raised:
        Place.model_validate({"city": "Istanbul"})

    assert ("country",) in error_locs(raised.value)


def test_place_without_region_or_city_is_accepted() -> None:
    assert Place(country="TUR") == Place(country="tur")


@pytest.mark.parametrize("geonames", [0, -745044])
def test_geonames_id_must_be_positive(geonames: int) -> None:
    with pytest.raises(ValidationError) as raised:
        Place(country="TUR", geonames=geonames)

    assert ("geonames",) in error_locs(raised.value)


# The ISO code checks on their own


def test_region_country_maps_iso_regions_to_alpha3_countries() -> None:
    assert region_country("UA-63") == "UKR"
    assert region_country("UA-59") == "UKR"
    assert region_country("TR-34") == "TUR"
    assert region_country("UA-99") is None


def test_check_country_and_check_region_return_the_upper_case_code() -> None:
    assert check_country(" deu ") == "DEU"
    assert check_region("tr-34") == "TR-34"


# Source


def test_source_needs_an_outlet() -> None:
    with pytest.raises(ValidationError) as raised:
        Source.model_validate({"quote": "It was the other way around"})

    assert ("outlet",) in error_locs(raised.value)


def test_source_outlet_may_not_be_empty() -> None:
    with pytest.raises(ValidationError) as raised:
        Source(outlet="")

    assert ("outlet",) in error_locs(raised.value)


def test_quote_of_300_characters_is_accepted() -> None:
    assert Source(outlet="teleSUR", quote="x" * 300).quote == "x" * 300


def test_quote_longer_than_300_characters_is_rejected() -> None:
    with pytest.raises(ValidationError) as raised:
        Source(outlet="teleSUR", quote="x" * 301)

    assert ("quote",) in error_locs(raised.value)


def test_source_with_attribution_and_outlet_chain_is_accepted() -> None:
    source = Source.model_validate(
        {
            "outlet": "teleSUR",
            "url": "https://www.telesurenglish.net/",
            "published_at": "2025-05-28T12:57:00-04:00",
            "attributed_to": {"name": "Sergey Lavrov", "country": "RUS"},
            "via": ["TASS"],
        }
    )

    assert source.via == ["TASS"]
    assert source.attributed_to == Actor(name="Sergey Lavrov", country="RUS")
    assert source.published_at == datetime(2025, 5, 28, 16, 57, tzinfo=UTC)


def test_source_without_url_is_accepted_because_wire_reports_may_have_none() -> None:
    source = Source(outlet="EFE")

    assert source.url is None
    assert source.via == []


def test_source_url_that_is_not_a_url_is_rejected() -> None:
    with pytest.raises(ValidationError) as raised:
        Source.model_validate({"outlet": "teleSUR", "url": "not a url"})

    assert ("url",) in error_locs(raised.value)


def test_source_published_at_without_offset_is_rejected() -> None:
    with pytest.raises(ValidationError) as raised:
        Source.model_validate({"outlet": "teleSUR", "published_at": "2025-05-28T12:57:00"})

    assert ("published_at",) in error_locs(raised.value)


# Shared model behaviour


@pytest.mark.parametrize(
    ("model", "given"),
    [
        (Actor, {"country": "RUS", "nickname": "x"}),
        (Place, {"country": "TUR", "district": "Fatih"}),
        (Source, {"outlet": "teleSUR", "author": "JF"}),
    ],
)
def test_unknown_fields_are_forbidden(model: type[Actor | Place | Source], given: dict) -> None:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(given)

    assert [e["type"] for e in raised.value.errors()] == ["extra_forbidden"]


def test_value_objects_are_frozen() -> None:
    actor, place, source = Actor(country="RUS"), Place(country="TUR"), Source(outlet="EFE")

    with pytest.raises(ValidationError, match="frozen"):
        actor.country = "UKR"
    with pytest.raises(ValidationError, match="frozen"):
        place.region = "TR-06"
    with pytest.raises(ValidationError, match="frozen"):
        source.outlet = "TASS"


def test_equal_value_objects_hash_alike() -> None:
    assert len({Actor(country="RUS"), Actor.model_validate("rus"), Actor(country="UKR")}) == 2


# Valid-time helpers


def test_a_date_starts_at_midnight_utc() -> None:
    assert start_of(date(2025, 5, 16)) == datetime(2025, 5, 16, tzinfo=UTC)


def test_a_datetime_with_offset_starts_at_its_utc_instant() -> None:
    caracas = timezone(timedelta(hours=-4))

    assert start_of(datetime(2025, 5, 28, 12, 57, tzinfo=caracas)) == datetime(
        2025, 5, 28, 16, 57, tzinfo=UTC
    )


def test_a_date_as_query_bound_means_the_end_of_that_day_in_utc() -> None:
    bound = end_of_day(date(2025, 5, 28))

    assert bound.tzinfo is not None
    assert bound.date() == date(2025, 5, 28)
    assert bound < datetime(2025, 5, 29, tzinfo=UTC) <= bound + timedelta(microseconds=1)
