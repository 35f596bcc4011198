"""Per-person keys: sealing protected fields as they are written, opening them as they
are read, and destroying a person's key to redact them (``domain.redaction``).

Each person named where a field is protected gets a random 256-bit AES-GCM key on first
mention, a row of ``parley_person_keys`` (key id, the person's normalised name, the
key wrapped under a key-encryption key kept outside the database, that KEK's id:
``store.kek``) beside the log's other tables. A sealed field is ``sealed:v1:<key id>:`` and the
base64url of a random 96-bit nonce and the ciphertext. Redaction deletes the row (in the
transaction that appends ``PersonRedacted``, see the recorders) and re-wraps the other
keys under a new KEK, and the old KEK's file is destroyed after the commit: a copy of
the row a database file keeps is wrapped under a key nobody has, so nobody, Parley
included, can open those fields again; the stored bytes and their hashes do not change.

Reading asks the table, not a memory, which keys exist: ``Keyring.opener`` looks up the
keys of one batch of rows in one query, so a key destroyed by another process is gone
for every reader at once. What is cached (the cipher built from a key, the texts opened
with it) is used only for keys that query found.
Writing happens on the writer thread. A person without a key gets one made there, held
by the keyring until the transaction that stores the first event sealed under it: the
recorder inserts the key in that same transaction (``Keyring.made_for``), so a key is
never stored without an event that uses it, nor an event without its key. After the
commit the key is the person's for sealing (``Keyring.settle``); if the commit fails,
the key is dropped with what was sealed under it, and the retry seals again (under the
key another process stored meanwhile, if one did: the person is unique in the table).
Writing caches each person's key after first use; a process that learns of a redaction
(the live tail, or a read that found the key gone) forgets it, and until then an event
that names the person is sealed under the destroyed key: it reads ``[redacted]`` too,
which errs on the side of the person.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import StoredEvent

from domain.errors import InvalidEventError
from domain.events import encode_json
from domain.redaction import (
    REDACTED_JSON,
    SEALED_MARK,
    key_ids,
    open_json,
    protects,
    seal_fields,
    sealed_path,
    sealed_text,
)
from store.codec import decode_record
from store.dialect import SQLITE, Dialect
from store.kek import KeyFolder
from store.mapper import IndexRow, index_row
from store.search import SearchRows, rows_params, search_params

KEYS_TABLE = "parley_person_keys"
KEY_COLUMNS = "key_id, person, key, created_at, kek_id"

NONCE_BYTES = 12
_ATTRIBUTED = b'"attributed_to":{'  # in canonical JSON, an actor is an object
_ASSERTED = b'"asserted_by":{'
SEALED_CACHE = 50_000  # sealed texts kept by the writer side (names, roles, quotes)
OPENED_CACHE = 50_000  # opened texts kept by readers


def key_statements(blob_type: str, prefix: str = "") -> list[str]:
    """DDL for the keys table in either dialect (``prefix`` qualifies the schema)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {prefix}{KEYS_TABLE} ("
        "key_id TEXT PRIMARY KEY, "
        "person TEXT NOT NULL UNIQUE, "
        f"key {blob_type} NOT NULL, "
        "created_at TEXT NOT NULL, "
        "kek_id TEXT)"  # NULL: a bare key, as releases before KEKs stored it
    ]


@dataclass(frozen=True)
class PersonKey:
    """One person's key: its id (in sealed fields), the person, the 32 key bytes."""

    key_id: str
    person: str
    key: bytes
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "person": self.person,
            "key": self.key.hex(),
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, fields: dict[str, Any]) -> PersonKey:
        key = bytes.fromhex(str(fields["key"]))
        if len(key) != 32:
            raise ValueError("a person key is 32 bytes")
        return cls(str(fields["key_id"]), str(fields["person"]), key, str(fields["created_at"]))


def new_key(person: str) -> PersonKey:
    return PersonKey(
        key_id=secrets.token_hex(8),
        person=person,
        key=AESGCM.generate_key(bit_length=256),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


class PersonKeys:
    """The keys table's queries, mixed into each recorder beside ``EventIndex``."""

    dialect: Dialect = SQLITE  # the recorder's (``store.dialect``)
    keys_table = KEYS_TABLE
    index_table: str  # from EventIndex
    events_join: str

    @abstractmethod
    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run a read query and return its rows as tuples."""

    @abstractmethod
    def _write(self, sql: str, params: Sequence[Any]) -> int:
        """Run one statement in a transaction of its own; return the rows it changed."""

    @cached_property
    def keyring(self) -> Keyring:
        """This store's keyring (one per recorder, so one per open log)."""
        return Keyring(self)

    def _k(self, sql: str) -> str:
        return self.dialect.sql(sql)

    key_folder: KeyFolder | None = None  # set by the log as it opens (``store.kek``)

    @property
    def folder(self) -> KeyFolder:
        if self.key_folder is None:
            raise RuntimeError("the store's key folder was not opened (ConflictLog opens it)")
        return self.key_folder

    def bare_key(self, key_id: str, stored: Any, kek_id: str | None) -> bytes:
        """A stored key's 32 bytes: unwrapped under its KEK (bare before migration)."""
        if kek_id is None:
            return bytes(stored)
        return self.folder.unwrap(kek_id, key_id, bytes(stored))

    def _person_key(self, row: Sequence[Any]) -> PersonKey:
        return PersonKey(row[0], row[1], self.bare_key(row[0], row[2], row[4]), row[3])

    def person_key(self, person: str) -> PersonKey | None:
        rows = self._fetch(
            self._k(f"SELECT {KEY_COLUMNS} FROM {self.keys_table} WHERE person = ?"), [person]
        )
        return self._person_key(rows[0]) if rows else None

    def wrapped_params(
        self, keys: Iterable[PersonKey], kek_id: str
    ) -> list[tuple[str, str, bytes, str, str]]:
        """Rows of ``insert_key_sql`` for these keys, wrapped under ``kek_id``."""
        wrap = self.folder.wrap
        return [
            (k.key_id, k.person, wrap(kek_id, k.key_id, k.key), k.created_at, kek_id) for k in keys
        ]

    def keys_by_ids(self, ids: Sequence[str]) -> dict[str, bytes]:
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        rows = self._fetch(
            self._k(f"SELECT key_id, key, kek_id FROM {self.keys_table} WHERE key_id IN ({marks})"),
            list(ids),
        )
        return {row[0]: self.bare_key(row[0], row[1], row[2]) for row in rows}

    def person_keys(self) -> list[PersonKey]:
        rows = self._fetch(f"SELECT {KEY_COLUMNS} FROM {self.keys_table} ORDER BY key_id", [])
        return [self._person_key(r) for r in rows]

    def delete_person_key(self, key_id: str) -> bool:
        return self._write(self.delete_key_sql, [key_id]) > 0

    @property
    def delete_key_sql(self) -> str:
        """Destroys one key; the recorders also run it in the transaction that appends
        ``PersonRedacted`` (``IndexedStoredEvent.destroys``)."""
        return self._k(f"DELETE FROM {self.keys_table} WHERE key_id = ?")

    @property
    def insert_key_sql(self) -> str:
        return self._k(f"INSERT INTO {self.keys_table} ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?)")

    def negotiations_sealed_with(self, key_id: str) -> list[str]:
        """The negotiations holding a field sealed under ``key_id`` (a scan of the stored
        rows: redaction is rare, and no index could name what is encrypted)."""
        marker = f'"sealed:v1:{key_id}:'.encode()
        sql = self._k(
            f"SELECT DISTINCT i.negotiation FROM {self.index_table} i {self.events_join} "
            f"WHERE {self._contains('e.state')} ORDER BY i.negotiation"
        )
        return [row[0] for row in self._fetch(sql, [marker])]

    def _contains(self, column: str) -> str:
        """SQL: whether a stored row's bytes contain the parameter's bytes."""
        return f"instr({column}, ?) > 0"

    def opener_through(
        self, fetch: Callable[[str, list[Any]], Sequence[tuple[Any, ...]]], states: list[bytes]
    ) -> Opener | None:
        """An opener for these stored rows with the keys ``fetch`` reads: inside a
        transaction of the caller's, which may have made or changed the keys table."""
        query = self.opener_query(states)
        if query is None:
            return None
        return Opener({row[0]: AESGCM(self.bare_key(*row)) for row in fetch(*query)})

    def opener_query(self, states: Sequence[bytes]) -> tuple[str, list[Any]] | None:
        """The read of the keys that sealed fields of these stored rows (``opener_through``
        runs it), or None when none is sealed."""
        wanted = sorted(key_ids(b"\n".join(s for s in states if SEALED_MARK in s)))
        if not wanted:
            return None
        marks = ", ".join("?" * len(wanted))
        sql = self._k(
            f"SELECT key_id, key, kek_id FROM {self.keys_table} WHERE key_id IN ({marks})"
        )
        return sql, list(wanted)

    def _all_stored(
        self, fetch: Callable[[str, list[Any]], Sequence[tuple[Any, ...]]], states: list[bytes]
    ) -> bool:
        """Whether every key that sealed fields of ``states`` is stored, read through
        ``fetch``, no key unwrapped. It is ``opener_query``'s read, so that a recorder
        that sent that read ahead (PostgreSQL's pipeline) answers it without another
        round trip."""
        query = self.opener_query(states)
        return query is None or len(fetch(*query)) == len(query[1])

    def stored_search(
        self,
        fetch: Callable[[str, list[Any]], Sequence[tuple[Any, ...]]],
        stored_events: Sequence[StoredEvent],
        positions: Sequence[int],
    ) -> SearchRows:
        """The search rows of events being stored, as they read in the transaction that
        stores them (``fetch`` reads through it, after the events' rows were written, so
        it is ordered with any redaction): an event sealed under a key a redaction
        destroyed first gets its rows as it reads, ``[redacted]`` there, never from the
        text that was sent."""
        states = [s.state for s in stored_events if SEALED_MARK in s.state]
        if not states or self._all_stored(fetch, states):
            # Every key is there (the usual case): the rows read as they were sent.
            return search_params(stored_events, positions)
        opener = self.opener_through(fetch, states)
        assert opener is not None
        rows: list[tuple[int, IndexRow]] = []
        for position, stored in zip(positions, stored_events, strict=True):
            row = getattr(stored, "index", None)
            if row is None:
                continue
            if SEALED_MARK in stored.state and not opener.holds(key_ids(stored.state)):
                state = bytes(stored.state)
                recorded = decode_record(
                    stored.originator_id, stored.originator_version, state, position, opener
                )
                row = index_row(recorded)
            rows.append((position, row))
        return rows_params(rows)

    def redacted_search(
        self, fetch: Callable[[str, list[Any]], Sequence[tuple[Any, ...]]], destroyed: list[str]
    ) -> tuple[list[int], SearchRows]:
        """The positions holding a field sealed under these destroyed keys, and their
        search rows as the events now read (``[redacted]`` there): the recorder replaces
        their rows in the transaction that destroys the keys, so that search no longer
        finds a redacted person by name or by what they said. ``fetch`` reads through
        that transaction, after the keys' rows were deleted."""
        found: dict[int, tuple[Any, int, bytes]] = {}
        sql = self._k(
            "SELECT i.position, e.originator_id, e.originator_version, e.state "
            f"FROM {self.index_table} i {self.events_join} WHERE {self._contains('e.state')}"
        )
        for key_id in destroyed:
            marker = f'"sealed:v1:{key_id}:'.encode()
            for position, originator_id, version, state in fetch(sql, [marker]):
                found[position] = (originator_id, version, bytes(state))
        if not found:
            return [], ([], [])
        # The other people those events name: their fields still open.
        opener = self.opener_through(fetch, [state for _, _, state in found.values()])
        placed = sorted(found.items())
        rows = rows_params(
            (position, index_row(decode_record(o, v, state, position, opener)))
            for position, (o, v, state) in placed
        )
        return [position for position, _ in placed], rows


class Opener:
    """Opens the sealed fields of a batch of rows with the keys that exist now."""

    def __init__(self, keys: dict[str, AESGCM], opened: dict[bytes, bytes] | None = None) -> None:
        self._keys = keys
        self._opened = {} if opened is None else opened

    @classmethod
    def of(cls, keys: Iterable[PersonKey]) -> Opener:
        """An opener with these keys (a dump's, as a restore indexes its events)."""
        return cls({key.key_id: AESGCM(key.key) for key in keys})

    def holds(self, key_ids: Iterable[str]) -> bool:
        """Whether every one of these keys exists (so their fields open)."""
        return all(key_id in self._keys for key_id in key_ids)

    def _open(self, match: re.Match[bytes]) -> bytes:
        """The JSON of one sealed string's text, or ``"[redacted]"`` when its key is
        gone. Texts opened before are kept (a name recurs in many rows), but only ever
        served while their key exists: ``_keys`` holds only keys found in the store."""
        token = match.group(0)
        opened = self._opened.get(token)
        cipher = self._keys.get(match.group(1).decode())
        if cipher is None:
            return REDACTED_JSON
        if opened is None:
            body = match.group(2)
            blob = base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4))
            try:
                text = cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], None).decode()
            except (InvalidTag, ValueError, UnicodeDecodeError):
                return REDACTED_JSON
            # A copy: orjson's answer to a short text keeps a 4 KiB buffer, and this
            # cache holds thousands of them (measured: 10 MiB for 20k events' names).
            opened = bytes(memoryview(orjson.dumps(text)))
            if len(self._opened) >= OPENED_CACHE:
                self._opened.clear()
            self._opened[token] = opened
        return opened

    def __call__(self, event_json: bytes) -> bytes:
        """An event's JSON with its sealed fields opened (``[redacted]`` where the key is
        gone); the same bytes when it has none."""
        if SEALED_MARK not in event_json:
            return event_json
        return open_json(event_json, self._open)


_Sealing = tuple[str, AESGCM, PersonKey | None]


class Keyring:
    """The store's person keys: seal on write, open on read, destroy to redact."""

    def __init__(self, store: PersonKeys) -> None:
        self.store = store
        self._lock = threading.Lock()
        # person -> (key id, cipher, None): keys found stored, for sealing.
        self._sealing: dict[str, _Sealing] = {}
        # person -> (key id, cipher, the key): keys made for events not yet committed.
        self._made: dict[str, _Sealing] = {}
        self._ciphers: dict[str, AESGCM] = {}  # key id -> cipher, for keys seen to exist
        # (person, text) -> its sealed form: a person's name and role recur in every
        # event that cites them, and sealing each anew cost more than encoding the event.
        self._sealed: dict[tuple[str, str], str] = {}
        # A sealed string's bytes -> its text's JSON, for readers (``Opener``).
        self._opened: dict[bytes, bytes] = {}

    # Writing.
    @staticmethod
    def refuse_sealed(plain: bytes) -> None:
        """Refuse an event whose canonical JSON ``plain`` holds text that already looks
        sealed (it would read as ``[redacted]``); checked as the request arrives."""
        if SEALED_MARK in plain:
            where = sealed_path(orjson.loads(plain)) or "event"
            raise InvalidEventError(
                "text may not begin with 'sealed:v1:' (how Parley stores sealed fields)",
                field=where,
            )

    def seal_event(self, plain: bytes) -> bytes:
        """The stored form of an event whose canonical JSON is ``plain`` (passed by
        ``refuse_sealed``): its protected fields sealed, or ``plain`` itself when it has
        none. On the writer thread: a key it makes is stored with the event."""
        # Two scans of the bytes spare the many events that name no actor a parse.
        if _ATTRIBUTED not in plain and _ASSERTED not in plain:
            return plain
        fields = orjson.loads(plain)
        if not protects(fields):
            return plain
        return encode_json(seal_fields(fields, self.seal))

    def seal(self, person: str, text: str) -> str:
        """``text`` sealed under ``person``'s key (made on first mention, and stored
        with the first event sealed under it: ``made_for``).

        A text sealed before for the same person gets the same sealed form (the nonce
        is drawn once per distinct text, so never reused for another): equal texts of
        one person may be seen to be equal, as their key id shows them to be theirs."""
        sealed = self._sealed.get((person, text))
        if sealed is not None:
            return sealed
        found = self._sealing.get(person) or self._made.get(person)
        if found is None:
            stored = self.store.person_key(person)
            if stored is None:
                made = new_key(person)
                found = self._made[person] = (made.key_id, AESGCM(made.key), made)
            else:
                found = (stored.key_id, AESGCM(stored.key), None)
                with self._lock:
                    self._sealing[person] = found
        key_id, cipher, _ = found
        nonce = os.urandom(NONCE_BYTES)
        sealed = sealed_text(key_id, nonce + cipher.encrypt(nonce, text.encode(), None))
        if len(self._sealed) >= SEALED_CACHE:
            self._sealed.clear()
        self._sealed[(person, text)] = sealed
        return sealed

    def made_for(self, stored: Iterable[bytes]) -> list[PersonKey]:
        """The keys made but not yet stored that these stored events are sealed under:
        the recorder inserts them in the transaction that stores the events."""
        if not self._made:
            return []
        used = key_ids(b"\n".join(stored))
        return [made for key_id, _, made in self._made.values() if made and key_id in used]

    def settle(self, stored: Sequence[PersonKey]) -> None:
        """After a transaction: the keys it ``stored`` (committed) are their persons'
        keys from now on; every other key made is dropped, with the texts sealed under
        it (the events that used it were not stored, and are sealed again if retried)."""
        if not self._made:
            return
        kept = {key.key_id for key in stored}
        with self._lock:
            for person, (key_id, cipher, _) in self._made.items():
                if key_id in kept:
                    self._sealing[person] = (key_id, cipher, None)
                else:
                    for cached in [c for c in self._sealed if c[0] == person]:
                        self._sealed.pop(cached, None)
            self._made.clear()

    # Reading.
    def opener(
        self, event_jsons: Iterable[bytes], known: dict[str, AESGCM] | None = None
    ) -> Opener | None:
        """An opener for a batch of stored events (None when none holds a sealed field),
        with the keys that exist in the store now: one query for the whole batch.

        ``known`` is a cache of keys owned by a reader that follows the log in order and
        drops a key when it meets its ``PersonRedacted`` (the live tail): keys in it are
        not asked for again, and keys found are added to it."""
        rows = b"\n".join(event_jsons)  # one scan of a page beats a scan per row
        if SEALED_MARK not in rows:
            return None
        wanted = key_ids(rows)
        if not wanted:
            return None
        if known is not None and wanted <= known.keys():
            return Opener(known, self._opened)
        found = self.store.keys_by_ids(sorted(wanted))
        ciphers: dict[str, AESGCM] = {}
        with self._lock:
            for key_id in wanted:
                key = found.get(key_id)
                if key is None:
                    self._forget(key_id)
                    continue
                cipher = self._ciphers.get(key_id)
                if cipher is None:
                    cipher = self._ciphers[key_id] = AESGCM(key)
                ciphers[key_id] = cipher
        if known is not None:
            known.update(ciphers)
            return Opener(known, self._opened)
        return Opener(ciphers, self._opened)

    # Redacting.
    def key_of(self, person: str) -> PersonKey | None:
        return self.store.person_key(person)

    def forget(self, key_id: str) -> None:
        """Drop what this process holds of a destroyed key."""
        with self._lock:
            self._forget(key_id)

    def _forget(self, key_id: str) -> None:
        persons = [person for person, (held, _, _) in self._sealing.items() if held == key_id]
        if self._ciphers.pop(key_id, None) is None and not persons:
            return  # nothing held (reads of redacted rows come here every time)
        prefix = f'"sealed:v1:{key_id}:'.encode()
        for token in [t for t in self._opened if t.startswith(prefix)]:
            self._opened.pop(token, None)
        for person in persons:
            del self._sealing[person]
            for cached in [c for c in self._sealed if c[0] == person]:
                self._sealed.pop(cached, None)


__all__ = [
    "KEYS_TABLE",
    "Keyring",
    "Opener",
    "PersonKey",
    "PersonKeys",
    "key_statements",
]
