"""The request bodies of the EventSourcingDB API (v1) and their checks, parsed once at
the edge: a write becomes one negotiation's typed events and preconditions, a read or
an observation becomes a scope and a range of positions.

Field names are EventSourcingDB's (camelCase). A problem names the field at fault by its
path in the request, e.g. ``events.0.data.data.title`` for the title of the first
event's ``NegotiationOpened`` data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    create_model,
)

from api.esdb.wire import (
    NEGOTIATIONS,
    SUBJECT_PATTERN,
    EsdbError,
    esdb_type,
    is_subject,
    known_types,
    parley_type,
    slug_of,
    subject_error,
)
from api.invalid import InvalidRequestError
from api.parsing import VERSION_TEXT, event_errors, parse_json
from domain.events import EVENT_TYPES, AnyEvent, parse_event
from domain.negotiation import SLUG_PATTERN
from domain.redaction import SEALED_PREFIX
from domain.values import ONE_LINE

_EVENT_ID = re.compile(VERSION_TEXT)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


Subject = Annotated[
    StrictStr,
    Field(
        description="e.g. /negotiations/istanbul-2025",
        json_schema_extra={"pattern": SUBJECT_PATTERN},
    ),
]
NegotiationSubject = Annotated[
    StrictStr,
    Field(
        description="the negotiation written to: /negotiations/{slug}",
        json_schema_extra={"pattern": "^" + NEGOTIATIONS + "/" + SLUG_PATTERN.removeprefix("^")},
    ),
]
EventType = Annotated[
    StrictStr,
    Field(json_schema_extra={"enum": [esdb_type(name) for name in sorted(EVENT_TYPES)]}),
]
NonEmpty = Annotated[StrictStr, Field(min_length=1)]


def _not_sealed(value: str) -> str:
    if value.startswith(SEALED_PREFIX):
        raise ValueError("text may not begin with 'sealed:v1:' (how Parley stores sealed fields)")
    return value


EventSource = Annotated[
    StrictStr,
    Field(min_length=1, max_length=2000, pattern=ONE_LINE),
    AfterValidator(_not_sealed),
]
"""A CloudEvent's ``source`` (a URI-reference), stored beside the event: held to the rules
of Parley's other text (no NUL, no ``sealed:v1:`` text, bounded), and on one line."""
EventId = Annotated[
    StrictStr,
    Field(
        json_schema_extra={"pattern": VERSION_TEXT},
        description="an event id: its position in the log, e.g. \"12\"",
    ),
]


class CandidateIn(_In):
    source: EventSource
    subject: Subject
    type: NonEmpty
    data: dict[str, Any]
    traceparent: StrictStr | None = None
    tracestate: StrictStr | None = None


class SubjectPayload(_In):
    subject: Subject


class EventIdPayload(_In):
    subject: Subject
    eventId: EventId


class QueryPayload(_In):
    query: StrictStr


class IsSubjectPristine(_In):
    type: Literal["isSubjectPristine"]
    payload: SubjectPayload


class IsSubjectPopulated(_In):
    type: Literal["isSubjectPopulated"]
    payload: SubjectPayload


class IsSubjectOnEventId(_In):
    type: Literal["isSubjectOnEventId"]
    payload: EventIdPayload


class IsEventQlQueryTrue(_In):
    type: Literal["isEventQlQueryTrue"]
    payload: QueryPayload


Precondition = Annotated[
    Union[IsSubjectPristine, IsSubjectPopulated, IsSubjectOnEventId, IsEventQlQueryTrue],
    Field(discriminator="type"),
]


class WriteEventsIn(_In):
    events: Annotated[list[CandidateIn], Field(min_length=1)]
    preconditions: list[Precondition] = []


class BoundIn(_In):
    id: EventId
    type: Literal["inclusive", "exclusive"]


class ReadFromLatestIn(_In):
    subject: Subject
    type: NonEmpty
    ifEventIsMissing: Literal["read-nothing", "read-everything"]


class ObserveFromLatestIn(_In):
    subject: Subject
    type: NonEmpty
    ifEventIsMissing: Literal["wait-for-event", "read-everything"]


class ReadOptionsIn(_In):
    recursive: StrictBool
    order: Literal["chronological", "antichronological"] | None = None
    lowerBound: BoundIn | None = None
    upperBound: BoundIn | None = None
    fromLatestEvent: ReadFromLatestIn | None = None


class ObserveOptionsIn(_In):
    recursive: StrictBool
    lowerBound: BoundIn | None = None
    fromLatestEvent: ObserveFromLatestIn | None = None


class ReadEventsIn(_In):
    subject: Subject
    options: ReadOptionsIn


class ObserveEventsIn(_In):
    subject: Subject
    options: ObserveOptionsIn


class ReadSubjectsIn(_In):
    baseSubject: Subject


class ReadEventTypeIn(_In):
    eventType: EventType


class RegisterEventSchemaIn(_In):
    eventType: StrictStr
    schema_: Annotated[dict[str, Any], Field(alias="schema")]


def _candidate(name: str) -> type[BaseModel]:
    """The schema of a candidate of one event type: its ``data`` is the type's event
    without ``type``, from the same model ``parse_event`` validates it with."""
    fields: Any = {
        field: (info.annotation, info)
        for field, info in EVENT_TYPES[name].model_fields.items()
        if field != "type"
    }
    body = create_model(f"{name}Body", __base__=_In, **fields)
    tag: Any = Literal[esdb_type(name)]
    candidate: type[BaseModel] = create_model(
        f"{name}Candidate",
        __base__=_In,
        source=(EventSource, ...),
        subject=(NegotiationSubject, ...),
        type=(tag, ...),
        data=(body, ...),
        traceparent=(StrictStr | None, None),
        tracestate=(StrictStr | None, None),
    )
    return candidate


_CANDIDATES: Any = Union[tuple(_candidate(name) for name in sorted(EVENT_TYPES))]


class WriteEvents(_In):
    """The OpenAPI document's schema of a write (``WriteEventsIn`` parses it): each
    candidate's ``data`` by its type, and the preconditions Parley offers. Every
    candidate and precondition names the same negotiation."""

    events: Annotated[
        list[Annotated[_CANDIDATES, Field(discriminator="type")]], Field(min_length=1)
    ]
    preconditions: list[
        Annotated[
            Union[IsSubjectPristine, IsSubjectPopulated, IsSubjectOnEventId],
            Field(discriminator="type"),
        ]
    ] = []


Model = TypeVar("Model", bound=BaseModel)


def parse_body(model: type[Model], body: bytes) -> Model:
    """A request body as ``model``; raises for bad JSON (400) or bad fields (422)."""
    found = model.model_validate(parse_json(body))
    for name, value in _subjects(found):
        if not is_subject(value):
            raise InvalidRequestError([{"field": name, "message": subject_error(value)}])
    return found


def _subjects(found: BaseModel, path: str = "") -> list[tuple[str, str]]:
    """Every subject field in a parsed request, with its path."""
    out: list[tuple[str, str]] = []
    for name, value in found:
        field = type(found).model_fields[name]
        where = f"{path}{field.alias or name}"
        if isinstance(value, BaseModel):
            out += _subjects(value, where + ".")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    out += _subjects(item, f"{where}.{index}.")
        elif name in ("subject", "baseSubject") and isinstance(value, str):
            out.append((where, value))
    return out


# Writes.
@dataclass(frozen=True)
class Preconditions:
    """What a write expects of its negotiation before it appends."""

    pristine: bool = False
    populated: bool = False
    on_position: int | None = None  # isSubjectOnEventId

    @property
    def pins_version(self) -> bool:
        """Whether the append must find the negotiation as the check saw it: a subject
        stays populated once it is, so only these two need the version to hold."""
        return self.pristine or self.on_position is not None


@dataclass(frozen=True)
class WritePlan:
    slug: str
    events: list[AnyEvent]
    preconditions: Preconditions
    sources: list[str | None] = field(default_factory=list)  # each event's CloudEvent source


def plan_write(request: WriteEventsIn) -> WritePlan:
    """The events of a write, parsed as Parley events, and its preconditions.

    A write goes to one negotiation: Parley appends atomically per negotiation, so the
    preconditions, which it checks atomically with the append, must name that subject.
    """
    subject = request.events[0].subject
    slug = slug_of(subject)
    if slug is None:
        raise _invalid(
            "events.0.subject",
            "Parley's subjects are /negotiations/{slug}, a slug being 1-64 lower-case "
            "letters, digits and inner hyphens",
            subject,
        )
    errors: list[dict[str, Any]] = []
    events: list[AnyEvent] = []
    for index, candidate in enumerate(request.events):
        at = f"events.{index}."
        name = parley_type(candidate.type)
        if candidate.subject != subject:
            errors.append(
                _entry(
                    at + "subject",
                    f"one request writes to one negotiation, here {subject}: Parley appends "
                    "atomically per negotiation; write the others in their own requests",
                    candidate.subject,
                )
            )
        elif name is None:
            errors.append(
                _entry(at + "type", f"unknown event type; known: {known_types()}", candidate.type)
            )
        elif "type" in candidate.data:
            errors.append(
                _entry(
                    at + "data.type",
                    f"the type is the event's ({candidate.type}), not a field of its data",
                    None,
                )
            )
        else:
            try:
                events.append(parse_event({**candidate.data, "type": name}))
            except ValidationError as error:
                errors.extend(event_errors(error, at + "data."))
    if errors:
        raise InvalidRequestError(errors)
    sources: list[str | None] = [candidate.source for candidate in request.events]
    return WritePlan(slug, events, _preconditions(request.preconditions, subject), sources)


def _preconditions(found: list[Precondition], subject: str) -> Preconditions:
    pristine = populated = False
    on_position: int | None = None
    for index, precondition in enumerate(found):
        at = f"preconditions.{index}."
        if isinstance(precondition, IsEventQlQueryTrue):
            raise EsdbError(
                422,
                f"{at}type: isEventQlQueryTrue is not supported: Parley offers no EventQL; "
                "use isSubjectPristine, isSubjectPopulated or isSubjectOnEventId",
            )
        if precondition.payload.subject != subject:
            raise _invalid(
                at + "payload.subject",
                f"a precondition must name the subject written to ({subject}): Parley "
                "checks preconditions atomically with the append, one negotiation at a time",
                precondition.payload.subject,
            )
        if isinstance(precondition, IsSubjectPristine):
            pristine = True
        elif isinstance(precondition, IsSubjectPopulated):
            populated = True
        else:
            position = event_id(precondition.payload.eventId, at + "payload.eventId")
            if on_position is not None and on_position != position:
                raise EsdbError(409, "state conflict: precondition failed: two different eventIds")
            on_position = position
    return Preconditions(pristine=pristine, populated=populated, on_position=on_position)


# Reads.
def event_id(value: str, field: str) -> int:
    """An EventSourcingDB event id: Parley's position, a whole number >= 0."""
    if not _EVENT_ID.fullmatch(value):
        raise _invalid(
            field, 'an event id is a position in the log: a whole number >= 0, e.g. "12"', value
        )
    return int(value)


@dataclass(frozen=True)
class Range:
    """Positions from ``lowest`` to ``highest``, both inclusive (``None``: no end)."""

    lowest: int = 0
    highest: int | None = None

    @property
    def empty(self) -> bool:
        return self.highest is not None and self.highest < self.lowest

    def holds(self, position: int) -> bool:
        return position >= self.lowest and (self.highest is None or position <= self.highest)


def read_range(options: ReadOptionsIn | ObserveOptionsIn) -> Range:
    """The positions that ``lowerBound`` and ``upperBound`` allow."""
    if options.lowerBound is not None and options.fromLatestEvent is not None:
        raise _invalid(
            "options.fromLatestEvent",
            "lowerBound and fromLatestEvent are mutually exclusive: give one of them",
            None,
        )
    lowest, highest = 0, None
    if options.lowerBound is not None:
        bound = options.lowerBound
        lowest = event_id(bound.id, "options.lowerBound.id")
        lowest += bound.type == "exclusive"
    upper = getattr(options, "upperBound", None)
    if upper is not None:
        highest = event_id(upper.id, "options.upperBound.id")
        highest -= upper.type == "exclusive"
    return Range(lowest, highest)


def _entry(field: str, message: str, value: object) -> dict[str, Any]:
    entry: dict[str, Any] = {"field": field, "message": message}
    if value is not None:
        entry["value"] = value
    return entry


def _invalid(field: str, message: str, value: object) -> InvalidRequestError:
    return InvalidRequestError([_entry(field, message, value)])
