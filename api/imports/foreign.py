"""What the importers of foreign data (PLOVER and POLECAT JSON lines, ACLED CSV) share:
the deterministic event id of a foreign record, and reading country and region names
into the ISO codes Parley stores (pycountry's tables, as ``domain.values`` checks them).

A record that cannot be read raises ``Unmapped`` with the reason; each mapper turns it
into a ``Mapped`` problem for the record's line, so nothing is dropped silently.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from functools import cache
from typing import Any

import pycountry

NAMESPACE = uuid.UUID("6b1d3c0e-6f4e-5a7b-9c2d-1e0f3a4b5c6d")
"""The namespace of foreign records' event ids (``/work/notes/spec17.md``)."""

NAME_MAX = 200
TEXT_MAX = 4000


class Unmapped(Exception):
    """A record that does not map: its message says why, naming the field."""


def event_id(fmt: str, record_id: str) -> str:
    """A foreign record's event id: uuid5 of ``"{fmt}:{record id}"``, so that importing
    the same file twice gives the same ids and stores nothing new."""
    return str(uuid.uuid5(NAMESPACE, f"{fmt}:{record_id}"))


def clip(text: str, limit: int) -> str:
    """``text`` on at most ``limit`` characters, its cut marked with an ellipsis."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def text_of(value: Any) -> str | None:
    """A non-blank string's stripped text, else None (numbers and nulls are no text)."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


COMMON_NAMES: dict[str, str] = {
    "Russia": "RUS",
    "Turkey": "TUR",
    "Palestine": "PSE",
    "Democratic Republic of Congo": "COD",
    "Republic of Congo": "COG",
    "Ivory Coast": "CIV",
    "Czech Republic": "CZE",
    "Cape Verde": "CPV",
    "eSwatini": "SWZ",
    "Micronesia": "FSM",
    "Brunei": "BRN",
}
"""Country names that ACLED (and the news) write and ISO's tables do not hold, each the
one country it always names. Kept short and exact: a name not here nor in ISO's
tables names no country."""


@cache
def _countries() -> dict[str, str]:
    """Every ISO 3166-1 code and name (alpha-2, alpha-3, numeric, name, official and
    common name), folded, to its alpha-3 code."""
    found: dict[str, str] = {}
    for country in pycountry.countries:
        for key in ("alpha_2", "alpha_3", "numeric", "name", "official_name", "common_name"):
            value = getattr(country, key, None)
            if value:
                found.setdefault(fold(value), country.alpha_3)
    for name, alpha3 in COMMON_NAMES.items():
        found.setdefault(fold(name), alpha3)
    return found


def country_code(value: Any) -> str | None:
    """The ISO 3166-1 alpha-3 code that ``value`` names exactly (a code of two or three
    letters, a numeric code, or a name as ISO writes it), else None. Never a fuzzy
    match: "Congo" and "Niger" are too close for that."""
    text = text_of(value) if not isinstance(value, int) else str(value)
    if text is None:
        return None
    if text.isdigit():
        text = text.zfill(3)
    return _countries().get(fold(text))


def country_names(alpha3: str) -> frozenset[str]:
    """The folded names ISO gives a country (to tell a bare state from a named actor)."""
    country = pycountry.countries.get(alpha_3=alpha3)
    if country is None:
        return frozenset()
    names = (getattr(country, k, None) for k in ("name", "official_name", "common_name"))
    return frozenset(fold(n) for n in names if n)


def fold(text: str) -> str:
    """Text compared without case, accents or punctuation: "Côte d'Ivoire" is
    "cote d ivoire"."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain.lower()).split())


_DESIGNATIONS = frozenset(
    {
        "oblast",
        "oblast'",
        "region",
        "province",
        "governorate",
        "state",
        "district",
        "county",
        "prefecture",
        "department",
        "municipality",
        "autonomous",
        "republic",
    }
)
"""Words that say what kind of subdivision a name is, not which: ISO writes
"Kharkivska oblast" and "Khartoum", ACLED "Kharkiv" and "Khartoum State"."""


def _bare(name: str) -> str:
    return " ".join(w for w in fold(name).split() if w not in _DESIGNATIONS)


@cache
def _regions(alpha3: str) -> tuple[tuple[str, frozenset[str], str], ...]:
    """(code, folded names, folded name without designations) of a country's top-level
    subdivisions (those without a parent). A subdivision is named by its name, or its
    name and type ("Kyiv City": ISO's "Kyiv", of type "City")."""
    country = pycountry.countries.get(alpha_3=alpha3)
    if country is None:
        return ()
    subdivisions = pycountry.subdivisions.get(country_code=country.alpha_2) or []  # type: ignore[no-untyped-call]
    return tuple(
        (s.code, frozenset({fold(s.name), fold(f"{s.name} {s.type}")}), _bare(s.name))
        for s in subdivisions
        if getattr(s, "parent_code", None) is None
    )


def region_code(alpha3: str, name: str) -> str:
    """The ISO 3166-2 code of the first-level subdivision of ``alpha3`` that ``name``
    names: its name or its name and type, without case, accents or punctuation; else
    that name without words such as "oblast" or "state"; else the one subdivision whose
    name begins with it ("Kharkiv" of "Kharkivska oblast"). A name that also begins
    another subdivision's name is ambiguous ("Kyiv": the city, or "Kyivska oblast"?).
    An ISO code (``UA-63``) is taken as it is. Raises ``Unmapped`` when no subdivision,
    or more than one, matches."""
    text = name.strip()
    regions = _regions(alpha3)
    if re.fullmatch(r"[A-Za-z]{2}-[A-Za-z0-9]{1,3}", text):
        code = text.upper()
        if any(code == c for c, _, _ in regions):
            return code
    folded, bare = fold(text), _bare(text)
    beginning = {c for c, _, short in regions if len(bare) >= 4 and short.startswith(bare)}
    for matches in (
        {c for c, names, _ in regions if folded in names},
        {c for c, _, short in regions if bare and short == bare},
        beginning,
    ):
        candidates = matches | beginning
        if len(matches) == 1 and len(candidates) == 1:
            return next(iter(matches))
        if matches:
            raise Unmapped(
                f"{name!r} may name more than one ISO 3166-2 region of {alpha3} "
                f"({', '.join(sorted(candidates))})"
            )
    raise Unmapped(f"{name!r} is no ISO 3166-2 region of {alpha3} that Parley can name")
