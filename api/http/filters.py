"""Query filters shared by the routes that list events: ``type`` and the search filters.

``type`` names event types (repeat it or separate with commas); any one of them
matches, and an unknown one is a 422 listing the known types. The search filters
(``actor``, ``region``, ``outlet``, ``recorded_by``, ``q``) are parsed into a
``store.search.Search``: every filter given must match, and a repeated one must match
each time (``actor=RUS&actor=UKR``: events naming both).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from pydantic import Field

from api.invalid import InvalidRequestError
from domain.events import RECORDED_TYPES
from store.search import Search, SearchQueryError

_TYPE_NAME = "|".join(sorted(RECORDED_TYPES))
EventTypes = Annotated[
    str,
    Field(
        examples=["RoundScheduled,HostAnnounced"],
        json_schema_extra={"pattern": f"^(?:{_TYPE_NAME})?(?:,(?:{_TYPE_NAME})?)*$"},
    ),
]
"""Event types, comma-separated, as the OpenAPI document states them; ``types_of``
checks them (its 422 lists the known types)."""

TypeFilter = Annotated[
    list[EventTypes] | None, Query(description="event types; repeat or comma-separate")
]


def types_of(values: list[str] | None) -> list[str]:
    """The event types of a ``type`` filter; a 422 naming ``type`` for an unknown one."""
    types = [t.strip() for v in values or [] for t in v.split(",") if t.strip()]
    unknown = [t for t in types if t not in RECORDED_TYPES]
    if unknown:
        raise InvalidRequestError(
            [
                {
                    "field": "type",
                    "message": f"unknown event type; known: {', '.join(sorted(RECORDED_TYPES))}",
                    "value": unknown[0],
                    "known": sorted(RECORDED_TYPES),
                }
            ]
        )
    return types


def search_filter(
    actor: Annotated[
        list[str] | None,
        Query(
            description="an actor the event names: an ISO 3166-1 alpha-3 country (RUS, "
            "any case) or a name, whole or one word of it (Lavrov), case-insensitive; "
            "parties, mediators, delegations, participants, speakers, proposers, "
            "addressees, responders, hosts, declarers, disputers, asserted_by and each "
            "source's attributed_to",
        ),
    ] = None,
    region: Annotated[
        list[str] | None,
        Query(description="an ISO 3166-2 region the event names (UA-63): a place's "
              "region, a ceasefire's scope, a security zone's regions"),
    ] = None,
    outlet: Annotated[
        list[str] | None,
        Query(description="a source's outlet, or an outlet it cites (via), case-insensitive"),
    ] = None,
    recorded_by: Annotated[
        list[str] | None, Query(description="the name of the token that recorded the event")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=500,
            description='full text of summaries, terms, outcomes, reasons and quotes: words '
            '(all must appear, in any form: ceasefire finds ceasefires), "a phrase", '
            "or between alternatives, -word to exclude",
        ),
    ] = None,
) -> Search | None:
    """The search filters of a request, None when none is given."""
    try:
        return Search.of(
            actors=actor or (),
            regions=region or (),
            outlets=outlet or (),
            recorded_by=recorded_by or (),
            q=q,
        )
    except SearchQueryError as error:
        raise InvalidRequestError(
            [{"field": error.field, "message": str(error), "value": error.value}]
        ) from None


SearchDep = Annotated[Search | None, Depends(search_filter)]
