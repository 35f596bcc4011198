"""Reference data for the page's forms: ISO countries and their ISO 3166-2 regions,
served from the tables the server checks codes against (``domain.places``), so that a
form never offers a code the append would refuse. Cacheable: the tables change only
with pycountry."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api.http.deps import CanRead
from api.invalid import InvalidRequestError
from domain.events import IDENTITY_FIELDS
from domain.places import Region, countries, regions
from domain.values import CountryCode

router = APIRouter(prefix="/reference", tags=["reference"])

CACHE = {"Cache-Control": "public, max-age=86400"}


@router.get("/countries", dependencies=[CanRead])
def list_countries(response: Response) -> dict[str, Any]:
    """Every ISO 3166-1 country: alpha-3 code (what events carry), name, alpha-2 code."""
    response.headers.update(CACHE)
    return {"countries": [asdict(country) for country in countries()]}


@router.get("/regions", dependencies=[CanRead])
def list_regions(
    response: Response,
    country: Annotated[
        list[CountryCode],
        Query(description="alpha-3 codes of the countries whose regions to list, e.g. UKR"),
    ],
) -> dict[str, Any]:
    """The ISO 3166-2 regions of one or more countries (``?country=UKR&country=RUS``)."""
    found: list[Region] = []
    for index, code in enumerate(country):
        try:
            found.extend(regions(code))
        except ValueError as error:
            raise InvalidRequestError(
                [{"field": f"country.{index}", "message": str(error), "value": code}]
            ) from None
    response.headers.update(CACHE)
    return {"regions": [asdict(region) for region in found]}


@router.get("/corrections", dependencies=[CanRead])
def correction_rules(response: Response) -> dict[str, Any]:
    """What a correction (``EventCorrected``) may not change: the fields that say which
    thing an event is about (retract the event and record it anew instead)."""
    response.headers.update(CACHE)
    return {"fixed_fields": sorted(IDENTITY_FIELDS)}
