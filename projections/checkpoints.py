"""Checkpoints of the as-of engine: its head fold as bytes, and back.

A negotiation's ``HeadFold`` (``projections.as_of``) is written to the store's
checkpoints table (``store.checkpoints``) off the request path, and read back by the
first answer after a restart, which then folds only the events after it. The bytes are
a pickle of plain data (the accumulator's dicts and lists of the state's frozen items,
each with its JSON already made, so that the first answer joins bytes): measured on the
100,000-event bench negotiation, about 2.5 MB, written in ~60 ms and read back in
~30 ms, where JSON of the same objects would need the items rebuilt through pydantic.

Pickle runs code named by the bytes it reads, so the bytes are read only when their
SHA-256 matches the one stored beside them (damage is caught before decoding), and only
through ``_Reader``, which finds no global but the state's item classes, the domain's
value models, ``datetime``'s types and this module's three constructors. A checkpoint
is checked against the log and the code before use (``problem``): the hash of the
event it names must be the log's, and ``FOLD_VERSION``, a digest of the source of every
module that decides what a fold holds (the events and their upcasters, the values, the
decoding, the index rows and the fold itself), must be this code's.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import pickle
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import import_module
from typing import Any
from uuid import UUID, SafeUUID

import pydantic
from pydantic import BaseModel

from projections import state as state_module
from projections.as_of import HeadFold
from projections.state import Accumulator, Item
from store.checkpoints import Checkpoint, CheckpointStore, digest_of

FOLD_MODULES = (
    "domain.events",
    "domain.values",
    "domain.stored",
    "domain.negotiation",
    "domain.reported",
    "domain.instants",
    "domain.redaction",
    "store.codec",
    "store.mapper",
    "store.index",
    "projections.rows",
    "projections.state",
    "projections.as_of",
    "projections.checkpoints",
)
"""The modules whose code decides what a head fold holds: any change to one (an event's
schema, an upcaster, the fold) makes every stored checkpoint stale."""

_FORMAT = 2  # the layout of the pickled dict below
_LAZY = "disputes"  # the accumulator's field kept as a pickle of its own
_FAR = datetime(9999, 12, 31, tzinfo=UTC)


@functools.cache
def fold_version() -> str:
    """A digest of the fold's code (``FOLD_MODULES``' source), Python's and pydantic's
    versions and this format: a checkpoint written under another is stale."""
    digest = hashlib.sha256(
        f"{_FORMAT} {sys.version_info[:2]} {pydantic.VERSION}".encode()
    )
    for name in FOLD_MODULES:
        path = import_module(name).__file__
        assert path is not None
        with open(path, "rb") as source:
            digest.update(source.read())
    return digest.hexdigest()[:32]


# Constructors the pickle names: plain functions, so that the reader allows nothing else.
_SLOTS: dict[type[Any], tuple[str, ...]] = {}


def _slots(kind: type[Any]) -> tuple[str, ...]:
    names = _SLOTS.get(kind)
    if names is None:
        names = _SLOTS[kind] = tuple(f.name for f in dataclasses.fields(kind))
    return names


_MAKERS: dict[type[Any], Callable[[tuple[Any, ...]], Any]] = {}


def _maker(kind: type[Item]) -> Callable[[tuple[Any, ...]], Any]:
    """A function that makes a ``kind`` from its fields' values, in ``_slots`` order,
    by the slots' own descriptors (a frozen item refuses ``setattr``): straight-line
    code, a third faster than a loop over the names, for thousands of items a state."""
    names = _slots(kind)
    setters = {f"set_{i}": getattr(kind, name).__set__ for i, name in enumerate(names)}
    # Unpacking refuses a tuple of another length (ValueError).
    unpack = "".join(f"v{i}, " for i in range(len(names)))
    lines = [f"    set_{i}(item, v{i})" for i in range(len(names))]
    source = (
        f"def make(values):\n    {unpack}= values\n    item = new(kind)\n"
        + "\n".join(lines)
        + "\n    return item\n"
    )
    scope: dict[str, Any] = {"new": object.__new__, "kind": kind, **setters}
    exec(source, scope)  # noqa: S102 - code made here from a dataclass's own field names
    made: Callable[[tuple[Any, ...]], Any] = scope["make"]
    return made


def _item(kind: type[Item], values: tuple[Any, ...]) -> Item:
    make = _MAKERS.get(kind)
    if make is None:
        make = _MAKERS[kind] = _maker(kind)
    item: Item = make(values)
    return item


def _model(kind: type[BaseModel], fields: dict[str, Any], fields_set: set[str]) -> BaseModel:
    model = kind.__new__(kind)
    object.__setattr__(model, "__dict__", fields)
    object.__setattr__(model, "__pydantic_fields_set__", fields_set)
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


_SET_INT = getattr(UUID, "int").__set__  # noqa: B009 - the slot's descriptor, not a value
_SET_SAFE = getattr(UUID, "is_safe").__set__  # noqa: B009
_UNKNOWN = SafeUUID.unknown


def _uuid(value: int) -> UUID:
    # What UUID(int=value) makes, without its argument checks: the value was one.
    made = object.__new__(UUID)
    _SET_INT(made, value)
    _SET_SAFE(made, _UNKNOWN)
    return made


class _Writer(pickle.Pickler):
    """Items and models by their fields, equal values as one object: a state holds
    thousands of equal actors (4,425 actors, 11 distinct, at 100,000 bench events), and
    the pickle's memo makes each distinct one once."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=5)
        self._canonical: dict[Any, Any] = {}

    def _one(self, value: Any) -> Any:
        if isinstance(value, BaseModel):
            try:
                return self._canonical.setdefault(value, value)
            except TypeError:  # not hashable
                return value
        if type(value) is tuple and value and isinstance(value[0], BaseModel):
            return tuple(self._one(item) for item in value)
        return value

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is UUID:
            return _uuid, (obj.int,)
        if isinstance(obj, Item):
            return _item, (kind, tuple(self._one(getattr(obj, name)) for name in _slots(kind)))
        if isinstance(obj, BaseModel):
            if obj.__pydantic_extra__ or obj.__pydantic_private__:
                raise ValueError(f"{kind.__name__}: extra or private fields are not kept")
            fields = {name: self._one(value) for name, value in obj.__dict__.items()}
            return _model, (kind, fields, obj.__pydantic_fields_set__)
        return NotImplemented


_CONSTRUCTORS = {"_item": _item, "_model": _model, "_uuid": _uuid}
_DATETIME = {"date", "datetime", "time", "timedelta", "timezone"}


class _Reader(pickle.Unpickler):
    """An unpickler that finds only what a head fold is made of."""

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name in _CONSTRUCTORS:
            return _CONSTRUCTORS[name]
        if module == "datetime" and name in _DATETIME:
            return super().find_class(module, name)
        if module == state_module.__name__:
            found = getattr(state_module, name, None)
            if isinstance(found, type) and issubclass(found, Item):
                return found
        if module in ("domain.values", "domain.events"):
            found = getattr(import_module(module), name, None)
            if isinstance(found, type) and issubclass(found, BaseModel):
                return found
        raise pickle.UnpicklingError(f"a checkpoint may not name {module}.{name}")


def encode(head: HeadFold) -> bytes:
    """The head fold as bytes (each item's JSON made first, and kept with it)."""
    acc = head.acc
    if head.pending is not None:
        raise ValueError("a head read from a checkpoint is not written again")
    head.state(_FAR, _FAR).to_json_bytes()  # makes and keeps the items' JSON
    fields = {name: getattr(acc, name) for name in Accumulator.__slots__}
    # Only folding reads the disputes by claim (the answer shows ``contested``): they
    # are a pickle of their own, read when the first event is folded on.
    disputes = io.BytesIO()
    _Writer(disputes).dump(fields.pop(_LAZY))
    fields[_LAZY] = disputes.getvalue()
    data = {
        "format": _FORMAT,
        "acc": fields,
        "version": head.version,
        "position": head.position,
        "last_entry": head.last_entry,
        "recorded": head.recorded,
        "reported": head.reported,
        "retracted": head.retracted,
        "dispute_target": head.dispute_target,
    }
    buffer = io.BytesIO()
    _Writer(buffer).dump(data)
    return buffer.getvalue()


def decode(body: bytes) -> HeadFold:
    """A head fold from ``encode``'s bytes (checked by the caller: ``problem``)."""
    data = _Reader(io.BytesIO(body)).load()
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ValueError("not a head fold of this format")
    acc = Accumulator.__new__(Accumulator)
    fields = data["acc"]
    if set(fields) != set(Accumulator.__slots__):
        raise ValueError("the accumulator's fields differ")
    for name, value in fields.items():
        setattr(acc, name, value)
    body = fields[_LAZY]
    if not isinstance(body, bytes):
        raise ValueError("the disputes are not bytes")
    acc.disputes = {}

    def thaw(into: Accumulator) -> None:
        disputes = _Reader(io.BytesIO(body)).load()
        if not isinstance(disputes, dict):
            raise ValueError("the disputes are not a mapping")
        into.disputes = disputes

    return HeadFold(
        acc,
        version=int(data["version"]),
        position=int(data["position"]),
        last_entry=data["last_entry"],
        recorded=data["recorded"],
        reported=data["reported"],
        retracted=data["retracted"],
        dispute_target=data["dispute_target"],
        pending=thaw,
    )


def checkpoint_of(head: HeadFold, event_hash: str) -> Checkpoint:
    """The row that keeps ``head`` (``event_hash``: the hash of its last event)."""
    body = encode(head)
    return Checkpoint(
        negotiation=head.slug,
        version=head.version,
        position=head.position,
        hash=event_hash,
        fold=fold_version(),
        digest=digest_of(body),
        body=body,
    )


def problem(stored: Checkpoint, store: CheckpointStore) -> str | None:
    """Why a stored checkpoint may not be used (None: it may)."""
    if stored.fold != fold_version():
        return "written by another version of the fold"
    if not stored.intact:
        return "its bytes do not match their digest"
    if store.event_hash(stored.negotiation, stored.version) != stored.hash:
        return "the log's event at its version is not the one it names"
    return None
