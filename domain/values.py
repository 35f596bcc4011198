"""Value objects shared by every event: Actor, Place, Source, and the ISO code types.

Country codes are ISO 3166-1 alpha-3 and regions ISO 3166-2, both checked against
pycountry's tables. A region is never a bare number: GeoNames "07" is Kharkiv while
ISO ``UA-07`` is Volyn, so only the prefixed ISO form is accepted.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from functools import cache, lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)


class Frozen(BaseModel):
    """Base of every domain model: immutable, and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


@cache
def _alpha3_codes() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.countries)


@cache
def _alpha2_to_alpha3() -> dict[str, str]:
    return {c.alpha_2: c.alpha_3 for c in pycountry.countries}


@lru_cache(maxsize=4096)
def _subdivision_country(code: str) -> str | None:
    sub = pycountry.subdivisions.get(code=code)  # type: ignore[no-untyped-call]
    return None if sub is None else _alpha2_to_alpha3().get(sub.country_code)


def check_country(value: str) -> str:
    """Accept an ISO 3166-1 alpha-3 code (any case); return it upper-cased."""
    code = value.strip().upper()
    if code not in _alpha3_codes():
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-3 country code (e.g. UKR)")
    return code


def check_region(value: str) -> str:
    """Accept an ISO 3166-2 subdivision code such as ``UA-63``; return it upper-cased."""
    code = value.strip().upper()
    if "-" not in code:
        raise ValueError(
            f"{value!r} is not an ISO 3166-2 region code: give the country prefix, "
            "e.g. UA-63 for Kharkiv (bare GeoNames numbers are ambiguous)"
        )
    if _subdivision_country(code) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-2 region code")
    return code


def region_country(code: str) -> str | None:
    """The alpha-3 country that an ISO 3166-2 region belongs to."""
    return _subdivision_country(code)


CountryCode = Annotated[str, AfterValidator(check_country)]
RegionCode = Annotated[str, AfterValidator(check_region)]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


EARLIEST_YEAR = 1800
YEARS_AHEAD = 10
_latest_year = (0, 0.0)  # (the year, when to compute it again)


def latest_valid_year() -> int:
    """The last year a valid time may fall in: ``YEARS_AHEAD`` years from now (computed
    once an hour, not once per field: it sits on the hot path of every append)."""
    global _latest_year
    year, refresh = _latest_year
    now = time.time()
    if now >= refresh:
        year = datetime.now(UTC).year + YEARS_AHEAD
        _latest_year = (year, now + 3600)
    return year


def _valid_time(value: Any) -> date | datetime:
    """Read a valid time: an ISO 8601 date, or a datetime with a UTC offset, in bounds.

    One function, called once per field: pydantic would otherwise bend a naive midnight
    datetime (``2025-05-16T00:00:00``) into a date and a number such as ``20250516``
    into a Unix timestamp in 1970. The bounds are the policy for valid times: from 1800
    (older diplomacy is history, not a feed) to ten years ahead (a schedule, never a
    typo such as 20225). The year is checked before any conversion to UTC, which
    overflows at the edges of the calendar.
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed: date | datetime = (
                date.fromisoformat(text) if len(text) <= 10 else datetime.fromisoformat(text)
            )
        except ValueError:
            raise ValueError(
                f"{value!r} is neither an ISO 8601 date (2025-05-16) nor a datetime with a "
                "UTC offset (2025-05-16T10:00:00+03:00)"
            ) from None
    elif isinstance(value, date) and not isinstance(value, bool):
        parsed = value
    else:
        raise ValueError(
            "a valid time is an ISO 8601 date or a datetime with a UTC offset, not a number"
        )
    if isinstance(parsed, datetime):
        offset = parsed.utcoffset()
        if offset is None:
            raise ValueError(
                f"{value!r} has no UTC offset: give one (e.g. 2025-05-16T10:00:00+03:00 "
                "or ...Z), or give a date (2025-05-16)"
            )
        if abs(offset) >= timedelta(hours=24):
            raise ValueError("a UTC offset must be less than 24 hours")
    if not EARLIEST_YEAR <= parsed.year <= latest_valid_year():
        raise ValueError(
            f"a valid time must lie between {EARLIEST_YEAR}-01-01 and the end of "
            f"{latest_valid_year()}, got {parsed.isoformat()}"
        )
    return parsed


def _valid_time_json(value: date | datetime) -> str:
    """ISO text of a valid time, UTC written ``Z`` (as pydantic writes a datetime)."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


ValidTime = Annotated[
    datetime | date,
    PlainValidator(_valid_time),
    PlainSerializer(_valid_time_json, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
            ],
            "description": "an ISO 8601 date, or a datetime with a UTC offset, "
            f"from {EARLIEST_YEAR} to {YEARS_AHEAD} years ahead",
        }
    ),
]
"""A point in valid time: a calendar date, or a datetime with a UTC offset, between
1800 and ten years from now."""


_SPACE = re.compile(r"\s")


def check_url(value: str) -> str:
    """Accept an http(s) URL with a host; keep it exactly as sent."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or _SPACE.search(value):
        raise ValueError(f"{value!r} is not an http(s) URL with a host")
    return value


Url = Annotated[
    str,
    Field(min_length=1, max_length=2000, json_schema_extra={"format": "uri"}),
    AfterValidator(check_url),
]
"""A web address, kept as the client wrote it (http or https, with a host)."""


def parse_instant(text: str, *, bound: Literal["end", "start"] = "end") -> datetime:
    """Read a query time: an ISO date, or an ISO datetime with a UTC offset, as UTC.

    The one place where time text from a query is read. A date means the end of that
    day in UTC, inclusive (``bound="start"``: its beginning, for the lower end of a
    range). Any year from 1 to 9999 is a fair question; an instant that UTC cannot hold
    (0001-01-01T00:00:00+14:00) is not. Raises ValueError saying what to send.
    """
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        try:
            return end_of_day(day) if bound == "end" else start_of(day)
        except OverflowError:
            raise ValueError(f"{text!r} is out of range") from None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a date (2025-05-28) nor a datetime with a UTC offset "
            "(2025-05-28T12:57:00-04:00)"
        ) from None
    if moment.utcoffset() is None:
        raise ValueError(
            f"{text!r} has no UTC offset: add one, e.g. {value}Z or {value}+03:00, "
            "or give a date alone"
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{text!r} has no UTC instant: it lies beyond the calendar's edge"
        ) from None


def start_of(value: date | datetime) -> datetime:
    """The UTC instant at which a valid time begins (a date begins at 00:00 UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.combine(value, clock_time.min, tzinfo=UTC)


def end_of_day(value: date | datetime) -> datetime:
    """A query bound: a date means the end of that day in UTC, inclusive."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.combine(value, clock_time.max, tzinfo=UTC)


class Actor(Frozen):
    """A party to the talks. A bare country code (``"RUS"``) is a state actor."""

    name: Name | None = None
    country: CountryCode | None = None
    role: Name | None = None
    wikidata: Annotated[str, Field(pattern=r"^Q[1-9][0-9]*$")] | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_country_is_a_state(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"country": value}
        return value

    @model_validator(mode="after")
    def _named_or_national(self) -> Actor:
        if self.name is None and self.country is None:
            raise ValueError("an actor needs a name or a country")
        return self

    @property
    def label(self) -> str:
        """How a person would name this actor in one line."""
        if self.name and self.country:
            return f"{self.name} ({self.country})"
        return self.name or self.country or "?"


class Place(Frozen):
    """Where something happened. ``region`` must lie in ``country``."""

    city: Name | None = None
    country: CountryCode
    region: RegionCode | None = None
    geonames: Annotated[int, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _region_in_country(self) -> Place:
        if self.region is not None and region_country(self.region) != self.country:
            raise ValueError(f"region {self.region} does not lie in country {self.country}")
        return self


class Source(Frozen):
    """Who reported a fact, when, and on whose word."""

    outlet: Name
    url: Url | None = None
    published_at: ValidTime | None = None
    attributed_to: Actor | None = None
    quote: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    via: list[Name] = Field(default_factory=list, max_length=10)
