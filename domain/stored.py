"""The trusted side of the boundary: stored events become typed events without validation.

Input is validated once, at the edge (``domain.events.parse_events_json``). What the
log holds was valid when it was written, and must stay readable when pycountry, a rule
or a model changes; so a stored event is read back by ``build_event``, which only
converts JSON types (text to UUID, date, datetime, duration, URL) and sets the model's
fields, the way pydantic's ``model_construct`` does, recursively. It runs no validator
and checks no constraint. Older schema versions are first lifted by ``upcast``, one
registered function per (type, version) step, so the builder only ever sees the shape
of today's models.

Each builder is compiled once per model class from its field annotations.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

from pydantic import BaseModel, HttpUrl, TypeAdapter

from domain.events import RECORDED_TYPES, AnyEvent, lift_old_shape

Convert = Callable[[Any], Any]
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

SCHEMA_VERSIONS: dict[str, int] = {
    **dict.fromkeys(RECORDED_TYPES, 1),
    # Issue 16: a proposal made to several addressees, a round's participants with their
    # roles, a contact's place and host (the upcasters below lift version 1).
    "ProposalMade": 2,
    "RoundHeld": 2,
    "ContactHeld": 2,
}
"""Today's schema version of each event type. Bump one when its shape changes, and
register an upcaster from the version before (see the README's upcasting recipe)."""

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``function`` to lift a stored ``event_type`` from ``from_version`` to the
    next version. It gets and returns the event's JSON object (a dict)."""

    def register(function: Upcaster) -> Upcaster:
        _UPCASTERS[(event_type, from_version)] = function
        return function

    return register


@contextmanager
def schema_change(event_type: str, version: int, steps: dict[int, Upcaster]) -> Iterator[None]:
    """Pretend, for a test, that ``event_type`` is at ``version`` with these upcasters."""
    saved = SCHEMA_VERSIONS[event_type], dict(_UPCASTERS)
    SCHEMA_VERSIONS[event_type] = version
    _UPCASTERS.update({(event_type, v): f for v, f in steps.items()})
    try:
        yield
    finally:
        SCHEMA_VERSIONS[event_type] = saved[0]
        _UPCASTERS.clear()
        _UPCASTERS.update(saved[1])


@upcaster("ProposalMade", from_version=1)
def addressee_to_addressees(fields: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had one optional ``addressee``; version 2 has ``addressees``, a list:
    ``[addressee]``, or empty for none."""
    data = lift_old_shape("ProposalMade", fields["data"])
    return {**fields, "data": {"addressees": [], **data}}


@upcaster("RoundHeld", from_version=1)
def delegations_to_participants(fields: dict[str, Any]) -> dict[str, Any]:
    """Version 1 listed ``delegations`` (actors); version 2 lists ``participants``, each
    ``{actor, role}``: a delegation sat as a ``party``."""
    data = lift_old_shape("RoundHeld", fields["data"])
    return {**fields, "data": {"participants": [], **data}}


@upcaster("ContactHeld", from_version=1)
def contact_place_and_host(fields: dict[str, Any]) -> dict[str, Any]:
    """Version 2 added ``place`` and ``host``; version 1 never said them: both null."""
    return {**fields, "data": {"place": None, "host": None, **fields["data"]}}


class UnreadableEventError(ValueError):
    """A stored event that no upcaster can lift to today's shape."""


def current_schema(event_type: str) -> int:
    return SCHEMA_VERSIONS.get(event_type, 1)


def upcast(fields: dict[str, Any], schema: int) -> dict[str, Any]:
    """Lift a stored event's JSON from ``schema`` to its type's current version."""
    event_type = fields.get("type")
    if not isinstance(event_type, str) or event_type not in RECORDED_TYPES:
        raise UnreadableEventError(f"unknown event type {event_type!r}")
    target = current_schema(event_type)
    while schema < target:
        step = _UPCASTERS.get((event_type, schema))
        if step is None:
            raise UnreadableEventError(
                f"no upcaster lifts {event_type} from schema version {schema}"
            )
        fields = step(dict(fields))
        schema += 1
    if schema > target:
        raise UnreadableEventError(
            f"{event_type} is stored at schema version {schema}, newer than this "
            f"code's {target}: upgrade Parley"
        )
    return fields


def build_event(fields: dict[str, Any]) -> AnyEvent:
    """A typed event from its stored JSON object (current schema), without validation."""
    cls = RECORDED_TYPES.get(fields.get("type", ""))
    if cls is None:
        raise UnreadableEventError(f"unknown event type {fields.get('type')!r}")
    event: AnyEvent = _builder(cls)(fields)
    return event


def build_builders() -> int:
    """Build every recorded type's builder now, as its first stored event would (about
    0.4 ms of CPU each); the number of types."""
    for cls in RECORDED_TYPES.values():
        _builder(cls)
    return len(RECORDED_TYPES)


def stored_time(value: Any) -> Any:
    """A stored valid time (a date, or a datetime with its offset) from its JSON text."""
    if isinstance(value, str):
        return datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)
    return value


def _url(value: Any) -> Any:
    try:
        return HttpUrl(value)
    except Exception:  # a URL today's rules refuse stays the text it was
        return value


_DURATION: TypeAdapter[timedelta] = TypeAdapter(timedelta)


def _duration(value: Any) -> Any:
    try:
        return _DURATION.validate_python(value)
    except Exception:
        return value


def _optional(convert: Convert) -> Convert:
    return lambda value: None if value is None else convert(value)


def _converter(annotation: Any) -> Convert | None:
    """How to turn JSON into a value of ``annotation``; None when JSON already is one."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _converter(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        plain = {get_origin(m) or m for m in members}
        if plain & {date, datetime}:
            return stored_time  # ValidTime: a date or an aware datetime
        if len(members) == 1:
            inner = _converter(members[0])
            return None if inner is None else _optional(inner)
        return None
    if origin is list:
        inner = _converter(get_args(annotation)[0])
        if inner is None:
            return None
        return lambda values: [inner(v) for v in values]
    if origin is Literal or origin is dict:
        return None
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return _builder(annotation)
        if annotation is UUID:
            return UUID
        if annotation is datetime:
            return datetime.fromisoformat
        if annotation is date:
            return stored_time
        if annotation is timedelta:
            return _duration
        if annotation is HttpUrl:
            return _url
    return None


@cache
def _builder(cls: type[BaseModel]) -> Convert:
    """A function that sets ``cls``'s fields from JSON, as ``model_construct`` would.

    It is generated as straight-line code, one line per field (a loop over the fields
    in Python costs twice as much, and a log holds many events to build).
    """
    names: dict[str, Any] = {"cls": cls, "new": cls.__new__, "set": object.__setattr__}
    lines = [
        "def build(raw):",
        "    if type(raw) is not dict:",
        "        raw = odd(raw)",
        "    get = raw.get",
        "    values = {",
    ]
    for index, (name, info) in enumerate(cls.model_fields.items()):
        key = info.alias or name
        convert = _converter(info.annotation)
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        names[f"d{index}"] = default
        if convert is None:
            lines.append(f"        {name!r}: get({key!r}, d{index}),")
        else:
            names[f"c{index}"] = convert
            lines.append(
                f"        {name!r}: d{index} if (v := get({key!r})) is None else c{index}(v),"
            )
    lines += [
        "    }",
        "    model = new(cls)",
        "    set(model, '__dict__', values)",
        "    set(model, '__pydantic_fields_set__', set_of(values))",
        "    set(model, '__pydantic_extra__', None)",
        "    set(model, '__pydantic_private__', None)",
        "    return model",
    ]

    def odd(raw: Any) -> dict[str, Any]:
        if isinstance(raw, str) and cls.__name__ == "Actor":
            return {"country": raw}  # a bare country code is a state actor
        raise UnreadableEventError(f"{cls.__name__} stored as {type(raw).__name__}")

    names |= {"odd": odd, "set_of": set}
    exec("\n".join(lines), names)  # noqa: S102 - code made above from the model's fields
    build: Convert = names["build"]
    return build
