"""How a recorded event lies in a stored row's ``state``, and how it is read back.

A row written by this version of Parley is one JSON object whose small head comes first
and whose event comes last, as the canonical bytes that were hashed::

    {"schema":1,"chain":2,"type":"RoundScheduled","negotiation":"istanbul-2025",
     "recorded_at":"2025-05-28T16:57:00.123456Z","previous_hash":"…","hash":"…",
     "event":{…canonical event JSON…}}

So reading a row parses the head only (a few hundred bytes), and the event's bytes are
sliced out, not re-serialised: answers, streams and ``verify`` use them as they are. The
typed event is built later, and only if a fold needs it (``Recorded.event``).

Rows written before this layout (no ``schema`` key: the whole record as pydantic dumped
it, ``timestamp`` for ``recorded_at``, the event unsorted, hashed by chain version 1) are
read by ``_decode_legacy``: the layout's own upcaster.

Nothing here validates: what is stored is trusted (DESIGN.md §10). A row that is not
JSON, or lacks a field, raises ``CorruptRowError`` naming what it could read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from domain.events import encode_json
from domain.instants import utc_text
from domain.negotiation import CHAIN_VERSION, Recorded
from domain.redaction import SEALED_MARK
from domain.stored import current_schema

_EVENT_KEY = b',"event":'
_HEAD_START = b'{"schema":'


Opener = Callable[[bytes], bytes]
"""Opens the sealed fields of an event's JSON (``store.keyring.Opener``)."""


class CorruptRowError(ValueError):
    """A stored row that cannot be read as a recorded event."""


def encode_record(recorded: Recorded) -> bytes:
    """The row's ``state``: the head, then the event's canonical bytes as hashed."""
    fields: dict[str, Any] = {
        "schema": recorded.schema,
        "chain": recorded.chain,
        "type": recorded.type,
        **_store_facts(recorded),
    }
    head = orjson.dumps(fields)
    return b"".join((head[:-1], _EVENT_KEY, recorded.event_json, b"}"))


def decode_record(
    originator_id: UUID | str,
    version: int,
    state: bytes,
    position: int | None = None,
    opener: Opener | None = None,
) -> Recorded:
    """A stored row as a ``Recorded``, its event left undecoded until it is needed.

    With an ``opener`` (``store.keyring``), a row with sealed fields shows them opened,
    or ``[redacted]``; its stored bytes, which the hash covers, are kept as they are."""
    record = _decode(originator_id, version, state, position)
    if opener is not None and SEALED_MARK in record.event_json:
        record.shows(opener(record.json))
    return record


def _decode(
    originator_id: UUID | str, version: int, state: bytes, position: int | None
) -> Recorded:
    if not isinstance(originator_id, UUID):
        originator_id = UUID(originator_id)
    try:
        if state.startswith(_HEAD_START):
            split = state.find(_EVENT_KEY)
            if split < 0 or not state.endswith(b"}"):
                raise CorruptRowError("the row has no event")
            head: dict[str, Any] = orjson.loads(state[:split] + b"}")
            return Recorded(
                originator_id=originator_id,
                originator_version=version,
                timestamp=datetime.fromisoformat(head["recorded_at"]),
                negotiation=head["negotiation"],
                event_json=state[split + len(_EVENT_KEY) : -1],
                previous_hash=head["previous_hash"],
                hash=head["hash"],
                position=position,
                schema=head["schema"],
                chain=head["chain"],
                event_type=head["type"],
                source=head.get("source"),
                recorded_by=head.get("recorded_by"),
            )
        return _decode_legacy(originator_id, version, state, position)
    except CorruptRowError:
        raise
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        where = "" if position is None else f" at position {position}"
        raise CorruptRowError(
            f"the stored row{where} is not a readable record ({error!r}); "
            "run 'parley verify' to find every damaged row"
        ) from None


def _decode_legacy(
    originator_id: UUID, version: int, state: bytes, position: int | None
) -> Recorded:
    """A row of the first layout (before schema versions): lifted to today's record."""
    fields = orjson.loads(state)
    event = fields["event"]
    return Recorded(
        originator_id=originator_id,
        originator_version=version,
        timestamp=datetime.fromisoformat(fields["timestamp"]).astimezone(UTC),
        negotiation=fields["negotiation"],
        event_json=encode_json(event),
        previous_hash=fields["previous_hash"],
        hash=fields["hash"],
        position=position,
        schema=1,
        chain=1,
        event_type=event["type"],
    )


def answer_json(record: Recorded) -> bytes:
    """An event as every answer shows it (the API's ``EventOut``, the streams), as bytes:
    the stored canonical JSON of the event, then what the store added. The one place
    that says how an event looks in JSON (``answer_from_row`` makes the same bytes
    straight from a stored row)."""
    head = orjson.dumps(_store_facts(record))[1:-1]
    return _answer(record.json, head, record.position, record.version)


def _store_facts(recorded: Recorded) -> dict[str, Any]:
    """What the store adds to an event, in the order both the row and the answer keep:
    its negotiation, when it was recorded, the chain's hashes, and who and what sent it
    (those two only when known)."""
    facts: dict[str, Any] = {
        "negotiation": recorded.negotiation,
        "recorded_at": utc_text(recorded.timestamp),
        "previous_hash": recorded.previous_hash,
        "hash": recorded.hash,
    }
    if recorded.recorded_by is not None:
        facts["recorded_by"] = recorded.recorded_by
    if recorded.source is not None:
        facts["source"] = recorded.source
    return facts


def answer_from_row(
    position: int, version: int, state: bytes, opener: Opener | None = None
) -> tuple[str, str, bytes]:
    """(type, negotiation, ``answer_json``'s bytes) of a stored row, with only its small
    head parsed: the head's own bytes from ``negotiation`` on are spliced in as they are,
    and so are the event's, its sealed fields opened by ``opener`` (which splices too:
    ``domain.redaction.open_json``). The hot path of a stream's catch-up; rows of an
    older layout or schema go through ``decode_record`` (and an upcast)."""
    split = state.find(_EVENT_KEY)
    if state.startswith(_HEAD_START) and split > 0:
        head = orjson.loads(state[:split] + b"}")
        event_type = head["type"]
        if head["schema"] == current_schema(event_type):
            tail = state[state.index(b'"negotiation":') : split]
            event = state[split + len(_EVENT_KEY) : -1]
            if opener is not None and SEALED_MARK in event:
                event = opener(event)
            return event_type, head["negotiation"], _answer(event, tail, position, version)
    record = decode_record(_NO_ID, version, state, position, opener)
    return record.type, record.negotiation, answer_json(record)


def _answer(event: bytes, head: bytes, position: int | None, version: int) -> bytes:
    return b"".join(
        (
            event[:-1],
            b",",
            head,
            b',"position":',
            str(position).encode(),
            b',"version":',
            str(version).encode(),
            b"}",
        )
    )


_NO_ID = UUID(int=0)  # a row read for an answer needs no aggregate id


def legacy_state(recorded: Recorded) -> bytes:
    """A row in the first layout, as Parley wrote it before schema versions (for tests
    and for the upcasting recipe: old logs must stay readable and verifiable)."""
    return orjson.dumps(
        {
            "timestamp": recorded.timestamp.isoformat(),
            "negotiation": recorded.negotiation,
            "event": orjson.loads(recorded.event_json),
            "previous_hash": recorded.previous_hash,
            "hash": recorded.hash,
        }
    )


__all__ = [
    "CHAIN_VERSION",
    "CorruptRowError",
    "answer_from_row",
    "answer_json",
    "decode_record",
    "encode_record",
]
