"""What search finds an event by (``domain.mentions``) and how a search is read from
what a person typed (``store.search``): pure functions, no store."""

from __future__ import annotations

import re

import pytest
from conftest import EventFactory
from hypothesis import given
from hypothesis import strategies as st

from domain.mentions import mentions, name_keys
from store.search import (
    COUNTRY,
    NAME,
    OUTLET,
    RECORDED_BY,
    REGION,
    Search,
    SearchQueryError,
    TextQuery,
)

PUTIN = {"name": "Vladimir Putin", "country": "RUS"}


def test_every_actor_of_an_event_is_found_by_country_and_name(make_event: EventFactory) -> None:
    held = make_event(
        "DocumentExchanged",
        {"title": "Memorandum", "from": PUTIN, "to": {"name": "Rustem Umerov", "country": "UKR"}},
        asserted_by={"name": "Kremlin"},
        sources=[{"outlet": "TASS", "attributed_to": {"name": "Peskov", "country": "RUS"}}],
    )
    found = mentions(held)
    assert found.countries == {"RUS", "UKR"}
    assert found.names == {
        "vladimir putin", "vladimir", "putin", "rustem umerov", "rustem", "umerov", "kremlin",
        "peskov",
    }  # fmt: skip


def test_regions_come_from_places_scopes_and_zones(make_event: EventFactory) -> None:
    istanbul = {"city": "Istanbul", "country": "TUR", "region": "TR-34"}
    held = make_event("RoundHeld", {"round": 1, "place": istanbul})
    ceasefire = make_event("CeasefireProposed", {"proposer": "RUS", "scope": ["UA-51", "UA-23"]})
    zone = make_event("SecurityZoneDeclared", {"declared_by": PUTIN, "regions": ["UA-63"]})
    assert mentions(held).regions == {"TR-34"}
    assert mentions(ceasefire).regions == {"UA-51", "UA-23"}
    assert mentions(zone).regions == {"UA-63"}


def test_outlets_include_the_ones_cited_and_text_includes_quotes(
    make_event: EventFactory,
) -> None:
    said = make_event(
        "StatementIssued",
        {"speaker": "UKR", "summary": "No ceasefire at sea.", "topic": "Black Sea"},
        sources=[{"outlet": "teleSUR", "via": ["EFE", "TASS"], "quote": "no deal"}],
    )
    found = mentions(said)
    assert found.outlets == {"telesur", "efe", "tass"}
    assert found.text.split("\n") == ["No ceasefire at sea.", "Black Sea", "no deal"]


def test_every_founding_event_is_found_by_its_outlet(founding_events: list) -> None:  # type: ignore[type-arg]
    assert all("telesur" in mentions(e).outlets for e in founding_events)


def test_a_name_is_found_whole_and_by_each_word() -> None:
    assert name_keys("  Sergey   LAVROV ") == {"sergey lavrov", "sergey", "lavrov"}
    assert name_keys("various agencies (unnamed)") == {
        "various agencies (unnamed)", "various", "agencies", "unnamed",
    }  # fmt: skip


# Reading what a person typed.


@pytest.mark.parametrize(
    ("typed", "groups", "exclude"),
    [
        ("ceasefire", [[("ceasefire",)]], []),
        ("Ceasefire  Istanbul", [[("ceasefire",)], [("istanbul",)]], []),
        ('"peace treaty" roadmap', [[("peace", "treaty")], [("roadmap",)]], []),
        ("roadmap or memorandum", [[("roadmap",), ("memorandum",)]], []),
        ("memorandum -roadmap", [[("memorandum",)]], [("roadmap",)]),
        ('memo -"peace treaty"', [[("memo",)]], [("peace", "treaty")]),
        ("long-range", [[("long", "range")]], []),
        ('"unbalanced quote', [[("unbalanced", "quote")]], []),
        ("the Kremlin", [[("kremlin",)]], []),  # a stop word at a phrase's edge
        ('"talks in Istanbul"', [[("talks", "in", "istanbul")]], []),  # inside, kept
        ("or ceasefire or", [[("ceasefire",)]], []),
        ("NEAR(a b)", [[("near",)], [("b",)]], []),  # "a" is a stop word
        ("Türkiye", [[("türkiye",)]], []),
    ],
)
def test_a_query_is_words_phrases_or_and_exclusions(
    typed: str, groups: list[list[tuple[str, ...]]], exclude: list[tuple[str, ...]]
) -> None:
    query = TextQuery.parse(typed)
    assert query.groups == tuple(tuple(g) for g in groups)
    assert query.exclude == tuple(exclude)


@pytest.mark.parametrize("typed", ['"', "-ceasefire", "the and of", "!!! ???", "  "])
def test_a_query_with_nothing_to_find_is_refused_naming_q(typed: str) -> None:
    with pytest.raises(SearchQueryError) as raised:
        TextQuery.parse(typed)
    assert raised.value.field == "q"


def test_a_very_long_query_is_refused() -> None:
    with pytest.raises(SearchQueryError, match="at most"):
        TextQuery.parse(" ".join(f"word{i}" for i in range(60)))


def test_the_fts5_query_quotes_every_phrase() -> None:
    query = TextQuery.parse('roadmap or "peace treaty" ceasefire -memorandum')
    assert query.fts5() == (
        '(("roadmap" OR "peace treaty") AND ("ceasefire")) NOT "memorandum"'
    )


def test_the_tsquery_passes_every_phrase_as_a_parameter() -> None:
    sql, params = TextQuery.parse('roadmap or "peace treaty" -memorandum').tsquery()
    assert sql == (
        "(phraseto_tsquery('english', ?) || phraseto_tsquery('english', ?))"
        " && !!phraseto_tsquery('english', ?)"
    )
    assert params == ["roadmap", "peace treaty", "memorandum"]


@given(st.text(max_size=300))
def test_any_text_makes_a_safe_query_or_a_refusal(typed: str) -> None:
    try:
        query = TextQuery.parse(typed)
    except SearchQueryError:
        return
    # Outside its quoted phrases of words, the FTS5 query holds only its own operators.
    outside = re.sub(r'"[^\W_]+(?: [^\W_]+)*"', " ", query.fts5())
    assert set(outside.replace("(", " ").replace(")", " ").split()) <= {"AND", "OR", "NOT"}
    sql, params = query.tsquery()
    assert "'" not in sql.replace("'english'", "") and len(params) == sql.count("?")


# Filters as terms.


def test_filters_become_terms_that_all_must_match() -> None:
    search = Search.of(
        actors=["rus", "Sergey Lavrov"],
        regions=["ua-63"],
        outlets=["TASS"],
        recorded_by=["desk"],
    )
    assert search is not None
    assert search.terms == (
        (COUNTRY, "RUS"),
        (NAME, "sergey lavrov"),
        (REGION, "UA-63"),
        (OUTLET, "tass"),
        (RECORDED_BY, "desk"),
    )
    assert Search.of() is None and Search.of(q="  ") is None


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"actors": ["XYZ"]}, "actor"),
        ({"actors": [""]}, "actor"),
        ({"regions": ["07"]}, "region"),
        ({"regions": ["UA-99"]}, "region"),
        ({"outlets": ["x" * 201]}, "outlet"),
        ({"recorded_by": ["a"] * 11}, "recorded_by"),
    ],
)
def test_a_bad_filter_names_its_parameter(filters: dict[str, list[str]], field: str) -> None:
    with pytest.raises(SearchQueryError) as raised:
        Search.of(**filters)  # type: ignore[arg-type]
    assert raised.value.field == field
