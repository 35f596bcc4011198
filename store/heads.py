"""Heads: where each negotiation's hash chain ends, and what saved heads say of the log.

A head names a negotiation's last event: its version, position, hash and recorded_at.
Whoever saved a head earlier can ask the log whether it still holds that event with
that hash (``check_heads``). A log that lost its tail no longer reaches the saved
version, or no longer has the event there; a rewritten history has another hash there,
since each hash covers the one before it and so carries any rewrite forward to the end
of the chain. A saved head at an older version whose event is still in the chain is
fine: the log only grew. Signing heads is the API's business (``api.signing``); here a
head's ``key_id`` and ``signature`` are carried as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from domain.instants import utc_text
from domain.negotiation import Recorded

HEAD_FORMAT = 1  # the ``parley_head`` field: how a head is laid out and signed


class HeadsFileError(ValueError):
    """A file of saved heads that cannot be read; names the entry at fault."""


@dataclass(frozen=True)
class Head:
    """A negotiation's last event as a head: what a reader saves to check the log later."""

    negotiation: str
    version: int
    position: int
    hash: str
    recorded_at: str  # as every answer shows it: UTC, microseconds, ``Z``
    key_id: str | None = None
    signature: str | None = None

    @classmethod
    def of(cls, record: Recorded) -> Head:
        return cls(
            negotiation=record.negotiation,
            version=record.originator_version,
            position=record.position or 0,
            hash=record.hash,
            recorded_at=utc_text(record.timestamp),
        )

    def fields(self) -> dict[str, Any]:
        """What a signature covers: every field but the signature itself."""
        return {
            "parley_head": HEAD_FORMAT,
            "negotiation": self.negotiation,
            "version": self.version,
            "position": self.position,
            "hash": self.hash,
            "recorded_at": self.recorded_at,
            "key_id": self.key_id,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.fields(), "signature": self.signature}

    @classmethod
    def from_json(cls, value: Any) -> Head:
        """A saved head; raises ``ValueError`` saying which field is wrong."""
        if not isinstance(value, dict):
            raise ValueError("a head is a JSON object")
        if value.get("parley_head", HEAD_FORMAT) != HEAD_FORMAT:
            raise ValueError(f"parley_head {value['parley_head']!r} is not a format this reads")
        for name, kind in (("negotiation", str), ("hash", str), ("version", int)):
            if not isinstance(value.get(name), kind) or isinstance(value.get(name), bool):
                raise ValueError(f"{name} is missing or not a {kind.__name__}")
        if value["version"] < 1:
            raise ValueError("version must be 1 or more")
        position = value.get("position", 0)
        if not isinstance(position, int) or isinstance(position, bool):
            raise ValueError("position is not an int")
        optional = {k: value.get(k) for k in ("recorded_at", "key_id", "signature")}
        for name, item in optional.items():
            if item is not None and not isinstance(item, str):
                raise ValueError(f"{name} is not a string")
        return cls(
            negotiation=value["negotiation"],
            version=value["version"],
            position=position,
            hash=value["hash"],
            recorded_at=optional["recorded_at"] or "",
            key_id=optional["key_id"],
            signature=optional["signature"],
        )


def read_heads(path: Path) -> list[Head]:
    """The heads saved in ``path``: a JSON list of heads, one head, or NDJSON (one per
    line, as ``parley head`` prints them). Raises ``HeadsFileError`` naming the entry."""
    text = path.read_bytes()
    try:
        whole: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        entries = [
            (f"{path}:{number}", line)
            for number, line in enumerate(text.splitlines(), start=1)
            if line.strip()
        ]
        parsed: list[tuple[str, Any]] = []
        for where, line in entries:
            try:
                parsed.append((where, orjson.loads(line)))
            except orjson.JSONDecodeError as error:
                raise HeadsFileError(f"{where}: not JSON ({error})") from None
    else:
        items = whole if isinstance(whole, list) else [whole]
        parsed = [(f"{path} entry {n}", item) for n, item in enumerate(items, start=1)]
    heads = []
    for where, item in parsed:
        try:
            heads.append(Head.from_json(item))
        except ValueError as error:
            raise HeadsFileError(f"{where}: {error}") from None
    if not heads:
        raise HeadsFileError(f"{path}: no heads in it")
    return heads


class _Hashed(Protocol):
    @property
    def hash(self) -> str: ...


class Chains(Protocol):
    """Where ``check_heads`` looks: a ``ConflictLog``, or a server over HTTP
    (``api.cli.remote``)."""

    def version_of(self, slug: str) -> int: ...

    def record_at(self, slug: str, version: int) -> _Hashed | None: ...


def check_heads(log: Chains, heads: Sequence[Head]) -> list[str]:
    """What the log says of each saved head: a problem per head it no longer holds."""
    problems = []
    for head in heads:
        where = f"{head.negotiation} v{head.version}"
        current = log.version_of(head.negotiation)
        if current < head.version:
            problems.append(
                f"{where}: the log lost its tail: a saved head reached version "
                f"{head.version}, but the log now ends at version {current}"
            )
            continue
        found = log.record_at(head.negotiation, head.version)
        if found is None:
            problems.append(f"{where}: the log lost the event of the saved head: it is gone")
        elif found.hash != head.hash:
            problems.append(
                f"{where}: the history was rewritten: the event there now has hash "
                f"{found.hash}, the saved head has {head.hash}"
            )
    return problems


__all__ = ["HEAD_FORMAT", "Head", "HeadsFileError", "check_heads", "read_heads"]
