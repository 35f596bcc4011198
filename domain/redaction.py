"""Which fields of an event are sealed under a person's key, and how a sealed field looks.

Crypto-shredding: a protected field is stored as ``sealed:v1:<key id>:<base64>``, the
text encrypted under a key of its own per person (the store keeps the keys,
``store.keyring``). Destroying a person's key redacts every field sealed under it, while
the stored bytes, and so the hash chain over them, stay as they were.

What is protected, and under whose key (the README's "Redaction" says why):

- a source attributed to a named actor (``sources[].attributed_to`` with a ``name``):
  its ``quote`` and ``url``, and the actor's ``name``, ``role`` and ``wikidata``, under
  that actor's key. A source the outlet speaks for itself, or a state (a bare country),
  seals nothing;
- ``asserted_by``, when it is a named actor: its ``name``, ``role`` and ``wikidata``,
  under its own key.

The country of an actor stays in the clear: it names a state, not a person. Actors in
an event's ``data`` (negotiators, speakers, hosts) stay in the clear too: what people do
in public office is what the log is about; who said it to a reporter is what needs
protecting. A person is known by their name, normalised (``person_id``).

This module only walks JSON; the cipher is given (``Seal``, and the ``open_`` of
``open_json``), so it stays pure.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any

SEALED_PREFIX = "sealed:v1:"
SEALED_MARK = b'"sealed:v1:'
"""How a sealed string begins inside JSON: a cheap test of whether bytes hold one."""

REDACTED = "[redacted]"
"""What a field sealed under a destroyed key reads as."""

PERSON_FIELDS = ("name", "role", "wikidata")
"""What of an actor identifies the person (``country`` names a state, and stays)."""

SOURCE_FIELDS = ("quote", "url")
"""What of a source attributed to a person is theirs to protect."""

Seal = Callable[[str, str], str]
"""(person id, plain text) -> the sealed string."""

_KEY_ID = re.compile(rb'"sealed:v1:([0-9a-f]{1,64}):')
SEALED_JSON = re.compile(rb'"sealed:v1:([0-9a-f]{1,64}):([A-Za-z0-9_-]*)"')
"""A sealed string as it lies in JSON: its key id, then its base64url (no escapes)."""
REDACTED_JSON = b'"[redacted]"'

_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@lru_cache(maxsize=4096)
def person_id(name: str) -> str:
    """The person a name stands for: Unicode NFKC, case-folded, spaces collapsed, control
    characters (NUL, which no database text holds) dropped; cached: the same names recur
    in event after event."""
    text = _SPACE.sub(" ", unicodedata.normalize("NFKC", name)).strip().casefold()
    return _CONTROL.sub("", text)


def person_of(actor: Any) -> str | None:
    """The person id of an actor's JSON, or None for a state (no name) or no actor."""
    if isinstance(actor, dict):
        name = actor.get("name")
        if isinstance(name, str) and name.strip():
            return person_id(name)
    return None


def sealed_text(key_id: str, blob: bytes) -> str:
    """A sealed field: the key's id, then the nonce and ciphertext in base64url."""
    return f"{SEALED_PREFIX}{key_id}:{base64.urlsafe_b64encode(blob).rstrip(b'=').decode()}"


def key_ids(event_json: bytes) -> set[str]:
    """The ids of the keys that ``event_json``'s sealed fields were sealed under."""
    return {match.decode() for match in _KEY_ID.findall(event_json)}


def protects(fields: dict[str, Any]) -> bool:
    """Whether an event's JSON has a field to seal (a source or claim by a person)."""
    if person_of(fields.get("asserted_by")) is not None:
        return True
    return any(
        isinstance(source, dict) and person_of(source.get("attributed_to")) is not None
        for source in fields.get("sources") or ()
    )


def seal_fields(fields: dict[str, Any], seal: Seal) -> dict[str, Any]:
    """An event's JSON with its protected fields sealed (``fields`` is left as it was)."""
    sealed = dict(fields)
    sources = fields.get("sources")
    if isinstance(sources, list):
        sealed["sources"] = [_seal_source(source, seal) for source in sources]
    asserted = fields.get("asserted_by")
    person = person_of(asserted)
    if person is not None and isinstance(asserted, dict):
        sealed["asserted_by"] = _seal_keys(asserted, PERSON_FIELDS, person, seal)
    return sealed


def _seal_source(source: Any, seal: Seal) -> Any:
    if not isinstance(source, dict):
        return source
    person = person_of(source.get("attributed_to"))
    if person is None:
        return source
    sealed = _seal_keys(source, SOURCE_FIELDS, person, seal)
    sealed["attributed_to"] = _seal_keys(source["attributed_to"], PERSON_FIELDS, person, seal)
    return sealed


def _seal_keys(
    value: dict[str, Any], keys: tuple[str, ...], person: str, seal: Seal
) -> dict[str, Any]:
    sealed = dict(value)
    for key in keys:
        text = value.get(key)
        if isinstance(text, str):
            sealed[key] = seal(person, text)
    return sealed


def open_json(event_json: bytes, open_: Callable[[re.Match[bytes]], bytes]) -> bytes:
    """``event_json`` with each sealed string replaced by what ``open_`` makes of its match
    (the JSON of its text, or ``REDACTED_JSON``): spliced into the bytes, so the rest of
    the event is neither parsed nor written again, and keeps its canonical form."""
    return SEALED_JSON.sub(open_, event_json)


def sealed_path(value: Any, path: str = "") -> str | None:
    """Where in a client's JSON a string already looks sealed (``sources.0.quote``), or
    None: such text would read as ``[redacted]``, so the edge refuses it."""
    if isinstance(value, str):
        return path if value.startswith(SEALED_PREFIX) else None
    items: Any = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        found = sealed_path(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def same_but_redacted(stored: dict[str, Any], sent: dict[str, Any]) -> bool:
    """Whether a stored event, as read (some fields ``[redacted]``), is ``sent`` but for
    its protected fields: a re-sent event after its person was redacted is the stored one
    (``parley load`` of the same file stays idempotent)."""
    return seal_fields(stored, _mask) == seal_fields(sent, _mask)


def _mask(person: str, text: str) -> str:
    return REDACTED
