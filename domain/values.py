"""Value objects shared by every event: Actor, Place, Source, and the ISO code types.

Country codes are ISO 3166-1 alpha-3 and regions ISO 3166-2, both checked against
pycountry's tables. A region is never a bare number: GeoNames "07" is Kharkiv while
ISO ``UA-07`` is Volyn, so only the prefixed ISO form is accepted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from functools import cache, lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, SchemaValidator, ValidationError, core_schema


class Frozen(BaseModel):
    """Base of every domain model: immutable, and strict about unknown fields."""

    # No NaN or Infinity in a float field: JSON has neither, and the hash of an event
    # must mean one number.
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False
    )


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


def quoted(value: Any, limit: int = 40) -> str:
    """A value as a message quotes it: its repr, a text cut after ``limit`` characters."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}…"
    return repr(value)


def check_country(value: str) -> str:
    """Accept an ISO 3166-1 alpha-3 code (any case); return it upper-cased."""
    code = value.strip().upper()
    if code not in _alpha3_codes():
        raise ValueError(
            f"{quoted(value)} is not an ISO 3166-1 alpha-3 country code (e.g. UKR)"
        )
    return code


def check_region(value: str) -> str:
    """Accept an ISO 3166-2 subdivision code such as ``UA-63``; return it upper-cased."""
    code = value.strip().upper()
    if "-" not in code:
        raise ValueError(
            f"{quoted(value)} is not an ISO 3166-2 region code: give the country prefix, "
            "e.g. UA-63 for Kharkiv (bare GeoNames numbers are ambiguous)"
        )
    if _subdivision_country(code) is None:
        raise ValueError(f"{quoted(value)} is not an ISO 3166-2 region code")
    return code


def region_country(code: str) -> str | None:
    """The alpha-3 country that an ISO 3166-2 region belongs to."""
    return _subdivision_country(code)


class _Checked:
    """A type validated in pydantic-core on its common path, and by its Python check
    (the validator it had before, kept whole) for anything else.

    The core schema is a union tried left to right: the ``fast`` schemas, each a strict
    string matched by a pattern and read in Rust, accept the canonical text that nearly
    every client sends, and yield what the check would; anything they do not accept
    goes to the check, which decides as it always did (lower case, spaces, a date
    object, a leap day, a refusal). A refusal is one error of type ``error`` at the
    field, whose message ``message`` states the rule; ``refusal`` words it as the check
    does, naming the value. The JSON schema is the check's."""

    def __init__(self, error: str, message: str, *fast: CoreSchema) -> None:
        self.error, self.message, self.fast = error, message, list(fast)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return self.schema(handler(source))

    def schema(self, checked: CoreSchema, **extra: Any) -> CoreSchema:
        """The union of the fast schemas and ``checked`` (the check's whole schema)."""
        if self.error not in _CHECKS:
            _CHECKS[self.error] = SchemaValidator(checked)
        metadata = extra.pop("metadata", None) or {
            "pydantic_js_functions": [
                lambda _, handler: handler.generate_json_schema.generate_inner(checked)
            ]
        }
        return core_schema.union_schema(
            [*self.fast, checked],
            mode="left_to_right",
            custom_error_type=self.error,
            custom_error_message=self.message,
            metadata=metadata,
            **extra,
        )


_CHECKS: dict[str, SchemaValidator] = {}
"""The check of each ``_Checked`` type, by its error type: what words a refusal."""


def refusal(error: Mapping[str, Any]) -> str:
    """The message of one pydantic error (``ValidationError.errors()``) as pydantic gave
    it before the fast path: the refusal of a checked type (a country code, a URL, a
    valid time) in its check's own words, naming the value (``Value error, 'XXX' is not
    an ISO 3166-1 alpha-3 country code (e.g. UKR)``); any other error's own message."""
    check = _CHECKS.get(str(error.get("type")))
    if check is not None:
        try:
            check.validate_python(error.get("input"))
        except ValidationError as refused:
            return str(refused.errors()[0]["msg"])
    return str(error.get("msg", "invalid"))


def _strict_text(pattern: str) -> CoreSchema:
    """A JSON string (or an exact Python str) matching ``pattern``, read in Rust."""
    return core_schema.str_schema(pattern=pattern, strict=True)


class _CodeTable:
    """A string checked by ``check`` whose JSON schema names the table's codes, defined
    once in the OpenAPI document (``components/schemas/<name>``) and referenced wherever
    the code appears. The codes are a pattern of alternatives rather than an ``enum``:
    the same set, which tools read without listing thousands of values one by one.
    The pattern takes the canonical upper case; the check also upper-cases lower case."""

    def __init__(
        self, name: str, check: Any, codes: Any, description: str, fast: _Checked | None = None
    ) -> None:
        self.name, self.check, self.codes, self.description = name, check, codes, description
        self.fast = fast

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        metadata: dict[str, Any] = {"pydantic_js_functions": [self._json_schema]}
        if self.fast is None:
            return core_schema.no_info_after_validator_function(
                self.check, handler(source), ref=self.name, metadata=metadata
            )
        checked = core_schema.no_info_after_validator_function(self.check, handler(source))
        return self.fast.schema(checked, ref=self.name, metadata=metadata)

    def _json_schema(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {
            "type": "string",
            "title": self.name,
            "description": self.description,
            "pattern": f"^(?:{alternatives(self.codes())})$",
        }


def alternatives(codes: Iterable[str]) -> str:
    """A regular expression matching exactly ``codes``, grouped by their first character
    (``A(?:BW|FG)|B(?:EL)``), recursively."""
    by_first: dict[str, list[str]] = {}
    for code in sorted(set(codes)):
        by_first.setdefault(code[:1], []).append(code[1:])
    parts = []
    for first, rests in by_first.items():
        head = first if first.isalnum() or first == "-" else re.escape(first)
        if rests == [""]:
            parts.append(head)
        elif "" in rests:
            parts.append(f"{head}(?:{alternatives(r for r in rests if r)})?")
        else:
            parts.append(f"{head}{_group(alternatives(rests))}")
    return "|".join(parts)


def _group(pattern: str) -> str:
    """``pattern`` in a group when it has alternatives at its top level."""
    depth = 0
    for character in pattern:
        depth += {"(": 1, ")": -1}.get(character, 0)
        if character == "|" and depth == 0:
            return f"(?:{pattern})"
    return pattern


@cache
def _region_codes() -> frozenset[str]:
    return frozenset(s.code for s in pycountry.subdivisions)


CountryCode = Annotated[
    str,
    _CodeTable(
        "CountryCode",
        check_country,
        _alpha3_codes,
        "ISO 3166-1 alpha-3 (pycountry's table); lower case is upper-cased",
        _Checked(
            "country_code",
            "not an ISO 3166-1 alpha-3 country code (e.g. UKR)",
            _strict_text(f"^(?:{alternatives(_alpha3_codes())})$"),
        ),
    ),
]
RegionCode = Annotated[
    str,
    _CodeTable(
        "RegionCode",
        check_region,
        _region_codes,
        "ISO 3166-2 subdivision with its country prefix, e.g. UA-63 (pycountry's table); "
        "lower case is upper-cased",
    ),
]

NO_NUL = r"^[^\x00]*$"
"""Text never holds NUL (U+0000): PostgreSQL cannot store it, and no source needs it.
A pattern, so pydantic checks it in Rust on the append path (api/invalid.py words the
refusal). Lone surrogates never get this far: pydantic refuses a str holding one."""

ONE_LINE = r"^[^\x00-\x1f\x7f-\x9f]*$"
"""Text on one line: NUL refused as everywhere, and every other control character too
(newlines, tabs, C1), for identifiers such as an EventSourcingDB event's ``source``."""


DURATION_PATTERN = (
    r"^(?!PT?$)P(?:[0-9]{1,4}Y)?(?:[0-9]{1,4}M)?(?:[0-9]{1,4}W)?(?:[0-9]{1,4}D)?"
    r"(?:T(?:[0-9]{1,4}H)?(?:[0-9]{1,4}M)?(?:[0-9]{1,4}S)?)?$"
)
"""An ISO 8601 duration such as ``P30D`` or ``PT72H``: whole numbers of at most four
digits each, so no duration overflows and none is negative."""
_DURATION = re.compile(DURATION_PATTERN)


def _duration_text(value: Any) -> Any:
    """Only an ISO 8601 duration's text (or a duration already made): pydantic would also
    read a number as seconds, and ``false`` as none."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str) and _DURATION.fullmatch(value):
        return value
    raise ValueError("a duration is ISO 8601 text such as P30D or PT72H")


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration_text),
    WithJsonSchema({"type": "string", "format": "duration", "pattern": DURATION_PATTERN}),
]
"""How long something lasts, as ISO 8601 text."""


Text = Annotated[str, Field(min_length=1, max_length=4000, pattern=NO_NUL)]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
Quote = Annotated[str, Field(min_length=1, max_length=300, pattern=NO_NUL)]


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
                f"{quoted(value)} is neither an ISO 8601 date (2025-05-16) nor a datetime with a "
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
                f"{quoted(value)} has no UTC offset: give one (e.g. 2025-05-16T10:00:00+03:00 "
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
    """ISO text of a valid time, UTC written ``Z`` (as pydantic writes a datetime).

    Not ``domain.instants.utc_text``: a valid time keeps the date, offset and precision
    the client gave; only an instant the log makes is normalised to UTC microseconds."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def year_pattern(first: int, last: int) -> str:
    """A regular expression for the four-digit years ``first`` (a century's first year)
    to ``last``: whole centuries, then whole decades, then the last years. Digits are
    ``[0-9]``: Python's ``\\d`` (which generators follow) also matches other scripts'."""
    parts, year = [], first
    while year + 99 <= last:
        parts.append(f"{year // 100}[0-9][0-9]")
        year += 100
    while year + 9 <= last:
        parts.append(f"{year // 10}[0-9]")
        year += 10
    if year <= last:
        parts.append(f"{year // 10}[{year % 10}-{last % 10}]")
    return "(?:" + "|".join(parts) + ")"


_DAY = (
    r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
)
"""A month and day that every year has (the 29th of February is valid, but no pattern
says in which years)."""
_CLOCK = r"T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
_OFFSET = r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"


def iso_time_pattern(years: str) -> str:
    """A pattern for an ISO 8601 date, or a datetime with a UTC offset, in ``years``."""
    return f"^{years}-{_DAY}(?:{_CLOCK}{_OFFSET})?$"


class _ValidTimeSchema:
    """The JSON schema of a valid time, made when the OpenAPI document is: a pattern,
    rather than a format, so that it bounds the year, from EARLIEST_YEAR to
    ``latest_valid_year()``, and a generator need not draw dates of any year to keep
    the few it may send."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": iso_time_pattern(year_pattern(EARLIEST_YEAR, latest_valid_year())),
            "description": "an ISO 8601 date (2025-05-16), or a datetime with a UTC offset "
            f"(2025-05-16T10:00:00+03:00), from {EARLIEST_YEAR} to {YEARS_AHEAD} years ahead",
        }


_YEARS = year_pattern(EARLIEST_YEAR, latest_valid_year())
"""The years a valid time may fall in from the start of this process to its end: the
latest only grows (a later year is in bounds from its new year on, and read by the
check, which computes the bound again)."""

ValidTime = Annotated[
    datetime | date,
    PlainValidator(_valid_time),
    _Checked(
        "valid_time",
        "a valid time is an ISO 8601 date (2025-05-16) or a datetime with a UTC offset "
        f"(2025-05-16T10:00:00+03:00), from {EARLIEST_YEAR} to {YEARS_AHEAD} years ahead",
        core_schema.chain_schema(
            [_strict_text(f"^{_YEARS}-{_DAY}$"), core_schema.date_schema()]
        ),
        core_schema.chain_schema(
            [_strict_text(f"^{_YEARS}-{_DAY}{_CLOCK}{_OFFSET}$"), core_schema.datetime_schema()]
        ),
    ),
    PlainSerializer(_valid_time_json, return_type=str, when_used="json"),
    _ValidTimeSchema(),
]
"""A point in valid time: a calendar date, or a datetime with a UTC offset, between
1800 and ten years from now."""


_BLANK = r"\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
URL_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9._~%!$&'()*+,;=:@-]+(?:[/?#][^" + _BLANK + r"]*)?$"
)
"""An http(s) URL: an ASCII host (an international one in its xn-- form), then anything
but control characters and blanks. The blanks are spelled out, as Python's ``\\s`` and
JavaScript's differ; the schema's pattern and the check are this one expression."""
_URL = re.compile(URL_PATTERN)


def check_url(value: str) -> str:
    """Accept an http(s) URL with a host; keep it exactly as sent."""
    try:
        host = urlsplit(value).netloc if _URL.fullmatch(value) else ""
    except ValueError:  # e.g. an unclosed IPv6 bracket
        host = ""
    if not host:
        raise ValueError(f"{quoted(value)} is not an http(s) URL with a host")
    return value


Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        json_schema_extra={"pattern": URL_PATTERN},
    ),
    AfterValidator(check_url),
    _Checked(
        "url",
        "not an http(s) URL with a host",
        core_schema.str_schema(min_length=1, max_length=2000, pattern=URL_PATTERN, strict=True),
    ),
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

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The two forms an actor takes: a bare country code, or an object with a name
        or a country (or both)."""
        reference = super().__get_pydantic_json_schema__(schema, handler)
        target = handler.resolve_ref_schema(reference)
        as_object = dict(target)
        country = as_object["properties"]["country"]["anyOf"][0]  # CountryCode
        as_object["anyOf"] = [
            {"required": [name], "properties": {name: {"type": "string"}}}
            for name in ("name", "country")
        ]
        target.clear()
        target.update(
            title=as_object.pop("title"),
            description=as_object.pop("description"),
            anyOf=[country, as_object],
        )
        return reference

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
    geonames: Annotated[int, Field(gt=0, le=2**31 - 1)] | None = None  # a GeoNames id

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
    quote: Quote | None = None
    via: list[Name] = Field(default_factory=list, max_length=10)
