"""The checked types (country codes, URLs, valid times) validate their common text in
pydantic-core and anything else with their Python check: property tests that they
accept, normalise and refuse exactly as the check alone did.

The oracle is each type as it was before the fast path (its check, called by pydantic
for every value), copied here. For any input, from JSON or from Python, both accept it
with the same value (same type, same JSON), or both refuse it at the same place, and
``refusal`` words the new refusal as the old one was worded.
"""

from __future__ import annotations

import json
import string
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated, Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import (
    AfterValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    TypeAdapter,
    ValidationError,
)

from api.invalid import field_errors
from domain.values import (
    EARLIEST_YEAR,
    URL_PATTERN,
    CountryCode,
    Url,
    ValidTime,
    _alpha3_codes,
    _valid_time,
    _valid_time_json,
    check_country,
    check_url,
    latest_valid_year,
    refusal,
)
from store.loader import check_event

OLD_COUNTRY = Annotated[str, AfterValidator(check_country)]
OLD_URL = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(check_url)]
OLD_VALID_TIME = Annotated[
    datetime | date,
    PlainValidator(_valid_time),
    PlainSerializer(_valid_time_json, return_type=str, when_used="json"),
]

PAIRS = {
    "country": (TypeAdapter(CountryCode), TypeAdapter(OLD_COUNTRY)),
    "url": (TypeAdapter(Url), TypeAdapter(OLD_URL)),
    "valid_time": (TypeAdapter(ValidTime), TypeAdapter(OLD_VALID_TIME)),
}


def outcome(adapter: TypeAdapter[Any], value: Any, mode: str) -> tuple[str, Any]:
    """("ok", (type, JSON)) or ("refused", [(loc, message)]) of one validation."""
    try:
        if mode == "json":
            result = adapter.validate_json(json.dumps(value))
        else:
            result = adapter.validate_python(value)
    except ValidationError as error:
        return "refused", [
            (entry["field"], entry["message"]) for entry in field_errors(error.errors())
        ]
    return "ok", (type(result), adapter.dump_json(result), _offset(result))


def _offset(value: Any) -> Any:
    return value.utcoffset() if isinstance(value, datetime) else None


def same(kind: str, value: Any) -> None:
    new, old = PAIRS[kind]
    modes = ("json", "python") if _json_able(value) else ("python",)
    for mode in modes:
        assert outcome(new, value, mode) == outcome(old, value, mode), (mode, value)


def _json_able(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


# Country codes

CODES = sorted(_alpha3_codes())
# Characters that str.upper() (and Rust's to_uppercase) turn into ASCII letters, the
# whitespace Python strips and Rust does not, and letters that only fold to ASCII.
ODD = "ßſıﬀﬁﬂﬃﬄﬅﬆKÅ\x1c\x1d\x1e\x1f\x85\xa0\u3000 \t\n"


@st.composite
def country_texts(draw: st.DrawFn) -> str:
    code = draw(st.sampled_from(CODES))
    letters = "".join(c if draw(st.booleans()) else c.lower() for c in code)
    pad = st.text(alphabet=" \t\n\x1c\xa0\u3000", max_size=2)
    return draw(pad) + letters + draw(pad)


@settings(max_examples=600, deadline=None)
@given(
    st.one_of(
        st.sampled_from(CODES),
        country_texts(),
        st.text(alphabet=string.ascii_letters + ODD, min_size=0, max_size=4),
        st.text(max_size=5),
        st.integers(),
        st.none(),
        st.binary(max_size=4),
    )
)
@example("SSD")
@example("ßd")
@example("ruſ")
@example("\u212aen")
@example("\x1cUKR")
@example("ukr\x1f")
@example("UKR\n")
@example("")
def test_a_country_code_validates_as_its_check_alone_did(value: Any) -> None:
    same("country", value)


# URLs

HOST = st.from_regex(r"\A[A-Za-z0-9._~%!$&'()*+,;=:@\[\]-]{0,12}\Z")
TAIL = st.text(max_size=12)


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTPS", "hTtP", "ftp", "http", ""]))
    slashes = draw(st.sampled_from(["://", ":/", ":", "//"]))
    head = draw(st.text(alphabet=" \t\x00\xa0", max_size=1))
    host, tail = draw(HOST), draw(TAIL)
    return head + scheme + slashes + host + draw(st.sampled_from(["", "/", "?", "#"])) + tail


@settings(max_examples=800, deadline=None)
@given(
    st.one_of(
        urls(),
        st.from_regex(URL_PATTERN, fullmatch=True),
        st.text(max_size=20),
        st.integers(),
        st.none(),
    )
)
@example("https://www.reuters.com/world/europe/3-talks-2023-01-01")
@example("http://[::1/")
@example("https://a.b/" + "x" * 1990)
@example("https://a.b/" + "x" * 1988)
@example("https://a.b/\u2028")
@example("https://a.b\n")
@example("https://")
def test_a_url_validates_as_its_check_alone_did(value: Any) -> None:
    same("url", value)


# Valid times

YEARS = st.integers(EARLIEST_YEAR - 2, latest_valid_year() + 2) | st.sampled_from(
    [1, 999, 9999, EARLIEST_YEAR, latest_valid_year(), latest_valid_year() + 1]
)


@st.composite
def valid_time_texts(draw: st.DrawFn) -> str:
    year = draw(YEARS)
    month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    dash = draw(st.sampled_from(["-", "-", ""]))
    text = f"{year:04d}{dash}{month:02d}{dash}{day:02d}"
    if draw(st.booleans()):
        text += draw(st.sampled_from(["T", "t", " ", "T", "T"]))
        text += f"{draw(st.integers(0, 25)):02d}"
        if draw(st.integers(0, 4)):
            text += f":{draw(st.integers(0, 61)):02d}"
            if draw(st.integers(0, 3)):
                text += f":{draw(st.integers(0, 61)):02d}"
                if draw(st.booleans()):
                    text += draw(st.sampled_from([".", ","])) + draw(
                        st.text(alphabet=string.digits, min_size=1, max_size=8)
                    )
        text += draw(
            st.sampled_from(
                ["", "Z", "z", "+00:00", "-00:00", "+03:00", "-04:00", "+23:59", "-23:59"]
                + ["+24:00", "+0300", "+03", "+05:30:15", "+14:00"]
            )
        )
    pad = st.sampled_from(["", "", "", " ", "\t", "\n"])
    return draw(pad) + text + draw(pad)


@st.composite
def aware_datetimes(draw: st.DrawFn) -> str:
    offset = timezone(timedelta(minutes=draw(st.integers(-23 * 60 - 59, 23 * 60 + 59))))
    moment = draw(
        st.datetimes(min_value=datetime(EARLIEST_YEAR - 1, 1, 1), max_value=datetime(2200, 1, 1))
    ).replace(tzinfo=offset)
    spec = draw(st.sampled_from(["auto", "minutes", "seconds", "milliseconds", "microseconds"]))
    return moment.isoformat(timespec=spec)


@settings(max_examples=1500, deadline=None)
@given(
    st.one_of(
        valid_time_texts(),
        aware_datetimes(),
        st.dates(min_value=date(EARLIEST_YEAR - 1, 1, 1), max_value=date(2200, 1, 1)).map(str),
        st.dates(),
        st.datetimes(timezones=st.just(UTC) | st.none()),
        st.text(max_size=12),
        st.integers(),
        st.floats(),
        st.booleans(),
        st.none(),
    )
)
@example("2024-02-29")
@example("2025-02-29")
@example("2025-05-16T10:00:00.5+03:00")
@example("2025-05-16T10:00Z")
@example("2025-05-16T10:00:00.1234567Z")
@example("2025-05-16T24:00:00Z")
@example("1799-12-31T23:59:59+23:59")
@example("2025-W20-5")
@example("20250516")
def test_a_valid_time_validates_as_its_check_alone_did(value: Any) -> None:
    same("valid_time", value)


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("country", "XXX", "'XXX' is not an ISO 3166-1 alpha-3 country code (e.g. UKR)"),
        ("url", "x", "'x' is not an http(s) URL with a host"),
        ("valid_time", "2025-05-16T10:00:00", "'2025-05-16T10:00:00' has no UTC offset"),
        ("valid_time", 20250516, "not a number"),
    ],
)
def test_a_refusal_names_the_value_in_the_check_own_words(
    kind: str, value: Any, message: str
) -> None:
    new, _ = PAIRS[kind]
    with pytest.raises(ValidationError) as raised:
        new.validate_json(json.dumps(value))

    [error] = raised.value.errors()
    assert message in refusal(error)
    assert refusal(error).startswith("Value error, ")


def test_parley_load_names_a_refused_value_as_before() -> None:
    problems = check_event(
        {
            "type": "StatementIssued",
            "occurred_at": "2025-05-16T10:00:00",
            "data": {"speaker": "XXX", "summary": "s"},
            "sources": [{"outlet": "TASS", "url": "tass.com"}],
        }
    )

    assert problems == [
        (
            "occurred_at",
            "Value error, '2025-05-16T10:00:00' has no UTC offset: give one "
            "(e.g. 2025-05-16T10:00:00+03:00 or ...Z), or give a date (2025-05-16)",
        ),
        ("sources.0.url", "Value error, 'tass.com' is not an http(s) URL with a host"),
        (
            "data.speaker.country",
            "Value error, 'XXX' is not an ISO 3166-1 alpha-3 country code (e.g. UKR)",
        ),
    ]
