"""What an event mentions: the actors, regions and outlets it names, and its free text.

Search reads these (``store/search.py`` indexes them when the event is appended). They
are found by walking the event rather than listed per type, so a new type's actors and
places are found without a change here:

- **actors**: every ``Actor`` in the event's data (parties, mediators, delegations,
  heads and members, participants, speakers, proposers and addressees, responders,
  hosts, senders and recipients, declarers, disputers; signatories and those they sign
  for, witnesses, guarantors, accusers and the accused, who ratified, suspended,
  implemented or lifted), the envelope's ``asserted_by``
  and each source's ``attributed_to``; each by its country code and by its name;
- **regions**: the ISO 3166-2 region of every ``Place``, and every list of region
  codes (a ceasefire's ``scope``, a security zone's, an allegation's and a report of
  hostilities' ``regions``);
- **outlets**: each source's outlet and the outlets it cites (``via``);
- **text**: the fields written in prose (``TEXT_FIELDS``) and each source's quote.

A correction's ``data`` is a bare mapping, not typed: a correction is found by its
``reason``, and the event it corrects by what that event said.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from pydantic import BaseModel

from domain.events import Event
from domain.values import Actor, Place, RegionCode

TEXT_FIELDS = frozenset(
    {
        "title",
        "summary",
        "topic",
        "terms",
        "outcomes",
        "conditions",
        "counter_claim",
        "reason",
        "text",
    }
)
"""The data fields written in prose, whose words full-text search finds (``text``: an
agreement's provisions)."""

_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class Mentions:
    """What one event names, as search keys (``name_key`` for names and outlets)."""

    countries: frozenset[str]
    names: frozenset[str]
    regions: frozenset[str]
    outlets: frozenset[str]
    text: str


def name_key(name: str) -> str:
    """A name as search compares it: case folded, runs of spaces made one."""
    return " ".join(name.casefold().split())


def name_keys(name: str) -> set[str]:
    """The keys an actor's name is found by: the whole name and each of its words, so
    that ``Putin`` and ``Vladimir Putin`` both find Vladimir Putin."""
    whole = name_key(name)
    return {whole, *_WORD.findall(whole)}


def mentions(event: Event) -> Mentions:
    """The actors, regions, outlets and prose of ``event``."""
    found = _Found()
    found.walk(event.data)
    if event.asserted_by is not None:
        found.actor(event.asserted_by)
    outlets: set[str] = set()
    for source in event.sources:
        outlets.add(name_key(source.outlet))
        outlets.update(name_key(v) for v in source.via)
        if source.attributed_to is not None:
            found.actor(source.attributed_to)
        if source.quote:
            found.text.append(source.quote)
    return Mentions(
        countries=frozenset(found.countries),
        names=frozenset(found.names),
        regions=frozenset(found.regions),
        outlets=frozenset(outlets),
        text="\n".join(found.text),
    )


@cache
def _region_lists(model: type[BaseModel]) -> frozenset[str]:
    """The fields of ``model`` that hold lists of ISO 3166-2 codes."""
    return frozenset(
        name for name, info in model.model_fields.items() if info.annotation == list[RegionCode]
    )


class _Found:
    def __init__(self) -> None:
        self.countries: set[str] = set()
        self.names: set[str] = set()
        self.regions: set[str] = set()
        self.text: list[str] = []

    def actor(self, actor: Actor) -> None:
        if actor.country:
            self.countries.add(actor.country)
        if actor.name:
            self.names.update(name_keys(actor.name))

    def walk(self, model: BaseModel) -> None:
        regions = _region_lists(type(model))
        for name in type(model).model_fields:
            value = getattr(model, name)
            if name in regions:
                self.regions.update(value)
            elif name in TEXT_FIELDS and isinstance(value, str):
                self.text.append(value)
            elif name in TEXT_FIELDS and isinstance(value, list):
                self.text.extend(v for v in value if isinstance(v, str))
            else:
                self.value(value if isinstance(value, list) else (value,))

    def value(self, values: Iterable[object]) -> None:
        for value in values:
            if isinstance(value, Actor):
                self.actor(value)
            elif isinstance(value, Place):
                if value.region:
                    self.regions.add(value.region)
            elif isinstance(value, BaseModel):
                self.walk(value)
