"""The ISO tables a form offers: countries (ISO 3166-1 alpha-3) and their regions
(ISO 3166-2), from pycountry, the same tables ``domain.values`` checks codes against."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pycountry

from domain.values import check_country


@dataclass(frozen=True, slots=True)
class Country:
    """A country as a form offers it: its alpha-3 code, names and alpha-2 code."""

    code: str
    name: str
    alpha_2: str
    common_name: str | None = None
    official_name: str | None = None


@dataclass(frozen=True, slots=True)
class Region:
    """A region as a form offers it: its ISO 3166-2 code, name, kind and parent code."""

    code: str
    name: str
    type: str
    country: str
    parent: str | None = None


@cache
def countries() -> tuple[Country, ...]:
    """Every ISO 3166-1 country, by alpha-3 code."""
    return tuple(
        sorted(
            (
                Country(
                    code=c.alpha_3,
                    name=c.name,
                    alpha_2=c.alpha_2,
                    common_name=getattr(c, "common_name", None),
                    official_name=getattr(c, "official_name", None),
                )
                for c in pycountry.countries
            ),
            key=lambda c: c.code,
        )
    )


@cache
def regions(country: str) -> tuple[Region, ...]:
    """The ISO 3166-2 regions of a country given by its alpha-3 code (checked: a
    ``ValueError`` names a code that is not one)."""
    code = check_country(country)
    alpha_2 = next(c.alpha_2 for c in countries() if c.code == code)
    found = pycountry.subdivisions.get(country_code=alpha_2) or []  # type: ignore[no-untyped-call]
    return tuple(
        sorted(
            (
                Region(
                    code=s.code,
                    name=s.name,
                    type=s.type,
                    country=code,
                    parent=s.parent_code,
                )
                for s in found
            ),
            key=lambda r: r.code,
        )
    )
