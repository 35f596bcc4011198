"""Dump and restore: the whole log as NDJSON, as it is stored, and back, losing nothing.

A dump is a header line, then one line per person key (``store.keyring``: without them
the sealed fields of a restored log could not be opened), then one line per stored
event in position order::

    {"parley_dump":1,"positions":16,"events":16,"taken_at":"2025-…Z","backend":"sqlite",
     "keys":1,"dump_key":"…id…"}
    {"person_key":{"key_id":"…","person":"vladimir medinsky","wrapped":"…","created_at":"…"}}
    {"position":1,"negotiation":"istanbul-2025","version":1,"originator_id":"…","state":{…}}

The keys are those the store holds when the dump begins; a key destroyed before the
dump ends makes it fail (``DumpError``), so a dump never carries a redacted person's key.
They are never written bare: each is wrapped (AES-256-GCM, its key id as associated
data) under a dump key made for this dump, which ``parley dump`` writes beside it as
``<dump>.key`` (0600); the header names the dump key by id (the first 16 hex digits of
its SHA-256), and ``restore`` needs it (``key``). Keep the two files apart when they
leave the machine: the dump alone opens no sealed field. Dumps written before this
carried the keys bare (``"key":"…hex…"``); they still restore, the keys wrapped then
under the store's KEK like any other.

``state`` is the stored row's bytes exactly: they are a JSON object, spliced into the
line unchanged (a row that is not a one-line JSON object goes in ``state_base64``).
``positions`` is the log's last position when the dump began, and ``events`` how many
lines follow, so a truncated file is refused. A dump taken while the server appends is
consistent: it reads pages in position order up to that position, and positions become
visible in order on both backends (see projections/runner.py), so it holds exactly the
events committed when it began.

``restore`` loads a dump into an empty store, in ONE transaction of the recorder's
(events and their index rows together, sent in batches), so it is all or nothing. It
verifies every chain as it reads, with ``verify``'s own ``check_row``: a line that fails
is named, and nothing is stored. Rows keep their bytes, versions, recorded_at and
positions (SQLite sets the rowid; PostgreSQL sets ``notification_id`` and moves its
sequence past the last). SQLite promises positions without holes, so a dump with holes
(PostgreSQL leaves one for each rolled-back transaction) is refused there, unless
``renumber`` closes them, keeping the order.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import PersistenceError

from domain.instants import utc_text
from domain.negotiation import negotiation_id
from store.codec import CorruptRowError, decode_record
from store.files import refuse_symlink, written_beside
from store.index import ChainRow, RestoreBatch, StoreNotEmptyError
from store.keyring import Keyring, Opener, PersonKey
from store.mapper import RECORDED_TOPIC, IndexedStoredEvent, index_row
from store.verify import check_row

DUMP_FORMAT = 1
PAGE = 1000  # rows read per query by a dump, and inserted per batch by a restore
_STATE = b',"state":'
_NONCE = 12
_KEY_FILE_PREFIX = b"parley-dump-key:1:"


class DumpError(Exception):
    """A dump that is not whole or not sound, or a store it cannot go into. A restore
    that raises it has stored nothing."""


@dataclass(frozen=True)
class DumpHeader:
    """The first line of a dump: what follows, and when it was taken."""

    positions: int
    events: int
    taken_at: str
    backend: str = ""
    keys: int = 0  # person key lines after the header (none in dumps before redaction)
    dump_key_id: str = ""  # the key the person keys are wrapped under ("": bare, or none)
    dump_key: bytes = field(default=b"", repr=False, compare=False)  # never written in it

    def to_json(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "parley_dump": DUMP_FORMAT,
            "positions": self.positions,
            "events": self.events,
            "taken_at": self.taken_at,
            "backend": self.backend,
            "keys": self.keys,
        }
        if self.dump_key_id:
            fields["dump_key"] = self.dump_key_id
        return fields


def new_dump_key() -> bytes:
    """A random 256-bit key to wrap one dump's person keys under."""
    return AESGCM.generate_key(bit_length=256)


def dump_key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def dump_key_file(dump_file: Path) -> Path:
    """Where ``parley dump`` writes a dump's key: ``<dump>.key``."""
    return dump_file.with_name(dump_file.name + ".key")


def write_dump_key(path: Path, key: bytes) -> None:
    """Write a dump key to ``path``, 0600, fsynced (a symbolic link there is refused)."""
    with written_beside(path, sync=True) as out:
        out.write(_KEY_FILE_PREFIX + key.hex().encode() + b"\n")


def read_dump_key(path: Path) -> bytes:
    """A dump key file's key; ``DumpError`` naming the file if it holds none."""
    try:
        refuse_symlink(path)
        text = path.read_bytes().strip()
    except OSError as error:
        raise DumpError(f"{path}: the dump key cannot be read ({error})") from None
    try:
        if not text.startswith(_KEY_FILE_PREFIX):
            raise ValueError(text[:20])
        key = bytes.fromhex(text[len(_KEY_FILE_PREFIX) :].decode())
        if len(key) != 32:
            raise ValueError("not 32 bytes")
    except (ValueError, UnicodeDecodeError):
        raise DumpError(f"{path}: not a Parley dump key") from None
    return key


@dataclass(frozen=True)
class RestoreReport:
    """What a restore stored: ``last_position`` is the last restored event's position."""

    events: int
    negotiations: int
    last_position: int
    renumbered: bool


class DumpedLog(Protocol):
    """What a dump and a restore need of a log (``store.log.ConflictLog`` is one)."""

    @property
    def backend(self) -> str: ...

    @property
    def keys(self) -> Keyring: ...

    @property
    def contiguous_positions(self) -> bool: ...

    def stored_count(self) -> tuple[int, int]: ...

    def stored_rows(
        self, *, after: int, upto: int, limit: int = 1000
    ) -> list[tuple[int, UUID, int, bytes]]: ...

    def restore_rows(
        self, batches: Iterable[RestoreBatch], keys: Sequence[PersonKey] = ()
    ) -> int: ...


def dump(
    log: DumpedLog, out: IO[bytes], *, key: bytes | None = None, page: int = PAGE
) -> DumpHeader:
    """Write every stored event up to the log's last position now, as stored, and the
    person keys wrapped under ``key`` (a new dump key when None): the header returned
    holds it (``dump_key``), for the caller to keep apart from the dump."""
    keys = log.keys.store.person_keys()  # before the rows: every key they need exists
    events, head = log.stored_count()  # one statement: the events at or below ``head``
    wrapping = (key or new_dump_key()) if keys else b""
    header = DumpHeader(
        head,
        events,
        utc_text(datetime.now(UTC)),
        log.backend,
        len(keys),
        dump_key_id(wrapping) if wrapping else "",
        wrapping,
    )
    out.write(orjson.dumps(header.to_json()) + b"\n")
    if keys:
        cipher = AESGCM(wrapping)
        out.write(
            b"".join(
                orjson.dumps({"person_key": _wrapped_json(k, cipher)}) + b"\n" for k in keys
            )
        )
    after = written = 0
    while after < head:
        rows = log.stored_rows(after=after, upto=head, limit=page)
        if not rows:
            break
        out.write(b"".join(dump_line(*row) for row in rows))
        written += len(rows)
        after = rows[-1][0]
    if written != events:
        raise DumpError(
            f"the log changed under the dump: {events} events up to position {head} when "
            f"it began, {written} read (were rows deleted?)"
        )
    alive = {key.key_id for key in log.keys.store.person_keys()}
    if any(key.key_id not in alive for key in keys):
        raise DumpError(
            "a person was redacted while the dump ran, and it holds their key: delete it, "
            "and dump again"
        )
    return header


def _wrapped_json(key: PersonKey, cipher: AESGCM) -> dict[str, Any]:
    nonce = os.urandom(_NONCE)
    wrapped = nonce + cipher.encrypt(nonce, key.key, key.key_id.encode())
    return {
        "key_id": key.key_id,
        "person": key.person,
        "wrapped": base64.urlsafe_b64encode(wrapped).decode(),
        "created_at": key.created_at,
    }


def dump_line(position: int, originator_id: UUID, version: int, state: bytes) -> bytes:
    """One stored event as a dump line: its state spliced in whole, or in base64."""
    try:
        negotiation: str | None = decode_record(originator_id, version, state).negotiation
    except CorruptRowError:
        negotiation = None  # written all the same: a restore names it
    fields = {
        "position": position,
        "negotiation": negotiation,
        "version": version,
        "originator_id": str(originator_id),
    }
    if _one_line_object(state):
        return orjson.dumps(fields)[:-1] + _STATE + state + b"}\n"
    return orjson.dumps({**fields, "state_base64": base64.b64encode(state).decode()}) + b"\n"


def _one_line_object(state: bytes) -> bool:
    if not (state.startswith(b"{") and state.endswith(b"}")) or b"\n" in state or b"\r" in state:
        return False
    try:
        return isinstance(orjson.loads(state), dict)
    except orjson.JSONDecodeError:
        return False


def restore(
    log: DumpedLog,
    lines: Iterable[bytes],
    *,
    renumber: bool = False,
    key: bytes | None = None,
    batch: int = PAGE,
    progress: Callable[[int], None] | None = None,
) -> RestoreReport:
    """Load a dump (its lines, e.g. a file opened ``rb``) into ``log``, which must be
    empty; raise ``DumpError`` naming the first bad line, having stored nothing.
    ``key`` is the dump key its person keys are wrapped under (dumps before wrapping
    carried them bare, and need none)."""
    stream = iter(lines)
    header = read_header(next(stream, b""))
    check_empty(log)
    cipher = _dump_cipher(header, key)
    keys = [read_key(next(stream, b""), number, cipher) for number in range(2, header.keys + 2)]
    reader = _Reader(header, keep_positions=not renumber, no_holes=log.contiguous_positions)
    reader.opener = Opener.of(keys)  # search indexes what the events say, as they are read
    try:
        log.restore_rows(reader.batches(stream, batch, progress, header.keys + 2), keys)
    except StoreNotEmptyError:
        raise DumpError("another writer stored events meanwhile: nothing restored") from None
    except PersistenceError as error:  # say, one event id in two negotiations
        reason = " ".join(str(error).split())
        raise DumpError(f"the store refused the dump ({reason}): nothing restored") from None
    return RestoreReport(
        events=reader.count,
        negotiations=len(reader.chains),
        last_position=reader.last_position if not renumber else reader.count,
        renumbered=renumber,
    )


def _dump_cipher(header: DumpHeader, key: bytes | None) -> AESGCM | None:
    if not header.dump_key_id:
        return None
    if key is None:
        raise DumpError(
            f"the dump's person keys are wrapped under dump key {header.dump_key_id}: give "
            "its key file (written beside the dump as <dump>.key; --key-file)"
        )
    if dump_key_id(key) != header.dump_key_id:
        raise DumpError(
            f"the dump key given is {dump_key_id(key)}, not this dump's {header.dump_key_id}"
        )
    return AESGCM(key)


def check_empty(log: DumpedLog) -> None:
    """Raise ``DumpError`` unless ``log`` holds no event: a restore goes only there."""
    stored, _ = log.stored_count()
    if stored:
        raise DumpError(
            f"the store already holds {stored} events: restore only into an empty store "
            "(a new PARLEY_DATA_DIR, or an empty PARLEY_DATABASE_SCHEMA)"
        )


def read_header(line: bytes) -> DumpHeader:
    """A dump's first line; ``DumpError`` if it is not one this reads."""
    try:
        fields: Any = orjson.loads(line)
    except orjson.JSONDecodeError:
        fields = None
    if not isinstance(fields, dict) or "parley_dump" not in fields:
        raise DumpError("line 1: not a Parley dump (its first line has no parley_dump)")
    if fields["parley_dump"] != DUMP_FORMAT:
        raise DumpError(f"line 1: parley_dump {fields['parley_dump']!r} is not a format this reads")
    try:
        return DumpHeader(
            positions=_int(fields["positions"]),
            events=_int(fields["events"]),
            taken_at=str(fields["taken_at"]),
            backend=str(fields.get("backend", "")),
            keys=_int(fields.get("keys", 0)),
            dump_key_id=str(fields.get("dump_key", "")),
        )
    except (KeyError, ValueError) as error:
        raise DumpError(f"line 1: the header lacks or garbles {error}") from None


def read_key(line: bytes, number: int, cipher: AESGCM | None = None) -> PersonKey:
    """A person key line of a dump, unwrapped with ``cipher`` (the dump key's; a dump
    before wrapping holds it bare); ``DumpError`` naming the line if it is not one."""
    try:
        fields: Any = orjson.loads(line)
        found = fields["person_key"]
        if cipher is None or "wrapped" not in found:
            if "key" not in found:
                raise ValueError("the key is wrapped, and the header names no dump key")
            return PersonKey.from_json(found)
        blob = base64.urlsafe_b64decode(str(found["wrapped"]))
        key_id = str(found["key_id"])
        try:
            bare = cipher.decrypt(blob[:_NONCE], blob[_NONCE:], key_id.encode())
        except InvalidTag:
            raise DumpError(
                f"line {number}: person key {key_id} does not open with the dump key"
            ) from None
        return PersonKey.from_json({**found, "key": bare.hex()})
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error) as error:
        raise DumpError(
            f"line {number}: not a person key line, though the header announces one "
            f"({error!r}): the dump is truncated or damaged"
        ) from None


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(repr(value))
    return value


@dataclass
class _Reader:
    """Reads a dump's event lines, checking each as ``verify`` would, into batches."""

    header: DumpHeader
    keep_positions: bool
    no_holes: bool  # the target promises positions without holes (SQLite)
    opener: Opener | None = None  # the dump's keys, to index sealed fields opened
    count: int = 0
    last_position: int = 0
    chains: dict[str, ChainRow] = field(default_factory=dict)  # each negotiation's last row

    def batches(
        self,
        stream: Iterator[bytes],
        size: int,
        progress: Callable[[int], None] | None,
        first_line: int = 2,
    ) -> Iterator[RestoreBatch]:
        positions: list[int] = []
        stored: list[IndexedStoredEvent] = []
        number = first_line - 1
        for number, raw in enumerate(stream, start=first_line):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            try:
                position, event = self._event(line)
            except DumpError as error:
                raise DumpError(f"line {number}: {error}") from None
            positions.append(position)
            stored.append(event)
            if len(stored) >= size:
                yield positions, stored
                if progress:
                    progress(len(stored))
                positions, stored = [], []
        if self.count != self.header.events:
            raise DumpError(
                f"line {number}: the dump ends after {self.count} of its "
                f"{self.header.events} events: it is truncated"
            )
        if stored:
            yield positions, stored
            if progress:
                progress(len(stored))

    def _event(self, line: bytes) -> tuple[int, IndexedStoredEvent]:
        """One line as the row to insert, and where; ``DumpError`` says what is wrong."""
        position, negotiation, version, originator_id, state = _parse(line)
        if position <= self.last_position:
            raise DumpError(f"position {position} does not follow {self.last_position}")
        if position > self.header.positions:
            raise DumpError(f"position {position} is beyond the header's {self.header.positions}")
        if self.keep_positions and self.no_holes and position != self.last_position + 1:
            raise DumpError(
                f"position {position} follows {self.last_position}: the dump has a hole "
                "there (PostgreSQL leaves one for each rolled-back transaction), and this "
                "SQLite store keeps positions without holes; restore with --renumber to "
                "close them, keeping the order (positions then differ from the source's)"
            )
        try:
            record = decode_record(originator_id, version, state, position, self.opener)
            indexed = index_row(record)  # the typed event: its id, valid time and subject
        except (CorruptRowError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise DumpError(f"position {position}: the row is unreadable ({error})") from None
        if negotiation is not None and negotiation != record.negotiation:
            raise DumpError(f"says negotiation {negotiation}, its row {record.negotiation}")
        if originator_id != negotiation_id(record.negotiation):
            raise DumpError(f"originator_id {originator_id} is not {record.negotiation}'s")
        row = ChainRow(
            record.negotiation, version, position, str(indexed.event_id), record.hash, state
        )
        previous = self.chains.get(record.negotiation)
        problem = check_row(row, previous, previous.hash if previous else None)
        if problem is not None:
            raise DumpError(problem)
        self.chains[record.negotiation] = row
        self.count += 1
        self.last_position = position
        placed = position if self.keep_positions else self.count
        return placed, IndexedStoredEvent(
            originator_id=originator_id,
            originator_version=version,
            topic=RECORDED_TOPIC,
            state=state,
            index=indexed,
        )


def _parse(line: bytes) -> tuple[int, str | None, int, UUID, bytes]:
    """(position, negotiation, version, originator_id, state) of one event line; the
    state's bytes are sliced out of the line exactly as the dump wrote them."""
    try:
        fields = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise DumpError(f"not JSON ({error})") from None
    if not isinstance(fields, dict):
        raise DumpError("not a JSON object")
    try:
        position, version = _int(fields["position"]), _int(fields["version"])
        originator_id = UUID(fields["originator_id"])
        negotiation = fields["negotiation"]
        if negotiation is not None and not isinstance(negotiation, str):
            raise ValueError(f"negotiation {negotiation!r}")
    except (KeyError, ValueError, TypeError, AttributeError) as error:
        raise DumpError(f"lacks or garbles {error}") from None
    if "state_base64" in fields:
        try:
            return position, negotiation, version, originator_id, base64.b64decode(
                str(fields["state_base64"]), validate=True
            )
        except binascii.Error:
            raise DumpError("state_base64 is not base64") from None
    head = {
        "position": position,
        "negotiation": negotiation,
        "version": version,
        "originator_id": fields["originator_id"],
    }
    prefix = orjson.dumps(head)[:-1] + _STATE + b"{"
    if "state" not in fields or not line.startswith(prefix) or not line.endswith(b"}}"):
        raise DumpError(
            "its state is not laid out as 'parley dump' writes it, so its stored bytes "
            "cannot be recovered exactly"
        )
    return position, negotiation, version, originator_id, line[len(prefix) - 1 : -1]


__all__ = [
    "DumpError",
    "DumpHeader",
    "RestoreReport",
    "check_empty",
    "dump",
    "dump_key_file",
    "dump_line",
    "new_dump_key",
    "read_dump_key",
    "read_header",
    "restore",
    "write_dump_key",
]
