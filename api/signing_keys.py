"""The data dir's signing keys: the one that signs heads now, the ones it replaced, and
when a new one may be made.

``signing-key.pem`` holds the private key. ``signing-keys.json`` beside it lists the
public half of every key the data dir has signed with: when it was made, and when and
why it was retired. A key listed there existed, and may have signed heads that readers
saved, so a missing or unreadable ``signing-key.pem`` then stops the server with one
line saying so: a key made in silence would leave every saved head unverifiable. The
operator may ask for a new key (``PARLEY_NEW_SIGNING_KEY=1`` or ``parley serve
--new-signing-key``); the old key is then retired in the list, a damaged file is kept
aside as ``signing-key.pem.damaged-<time>``, the change is logged, and ``GET /keys``
goes on publishing the retired keys so that old heads, which name their ``key_id``,
still check. A data dir with neither file (a new one) gets its first key in silence.

The flag only permits a replacement; it never rotates a key that loads, so leaving it
set does not change the key at every start.
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from store.files import create_once, private_dir, written_beside

log = logging.getLogger("parley")

ASK_FOR_A_NEW_KEY = "PARLEY_NEW_SIGNING_KEY=1 (or parley serve --new-signing-key)"


class SigningKeyError(Exception):
    """The signing key cannot be used, and no new one may be made: a one-line reason."""


@dataclass(frozen=True)
class KeyRecord:
    """One key the data dir has signed with, as ``signing-keys.json`` lists it."""

    key_id: str
    public_key: str  # the raw 32 bytes, base64
    made_at: str
    retired_at: str | None = None
    retired_because: str | None = None

    @classmethod
    def from_json(cls, value: Any) -> KeyRecord:
        return cls(**{name: value.get(name) for name in cls.__dataclass_fields__})


def registry_path(key_path: Path) -> Path:
    return key_path.with_name("signing-keys.json")


def read_registry(key_path: Path) -> list[KeyRecord]:
    """Every key listed beside ``key_path`` (none when there is no list yet)."""
    path = registry_path(key_path)
    try:
        entries = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return []
    except OSError as error:
        raise SigningKeyError(f"{path} cannot be read: {error.strerror}") from None
    except orjson.JSONDecodeError as error:
        raise SigningKeyError(f"{path} is not JSON ({error}); restore it from its backup") from None
    return [KeyRecord.from_json(entry) for entry in entries["keys"]]


def _write_registry(key_path: Path, records: list[KeyRecord]) -> None:
    body = {"keys": [asdict(record) for record in records]}
    with written_beside(registry_path(key_path), sync=True) as out:
        out.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _load(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as error:
        raise SigningKeyError(f"{path} holds no usable private key: {error}") from None
    except OSError as error:
        raise SigningKeyError(f"{path} cannot be read: {error.strerror}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def _make(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    private_dir(path.parent)
    create_once(path, pem)  # another process may have made one first: then theirs is used


def current_key(
    path: Path, key_id_of: Callable[[bytes], str], *, new_key: bool = False
) -> tuple[Ed25519PrivateKey, list[KeyRecord]]:
    """The private key in ``path`` and the listed keys it replaced, newest first.

    Made when there is none and none was listed; when one was listed but the file is
    missing or damaged, ``SigningKeyError`` unless ``new_key``. ``key_id_of`` maps a raw
    public key to its id (``api.signing``).
    """
    private_dir(path.parent)
    records = read_registry(path)
    problem: str | None = None
    if path.exists() or path.is_symlink():
        try:
            key = _load(path)
        except SigningKeyError as error:
            problem = str(error)
            if not new_key:
                raise SigningKeyError(
                    f"{problem}; restore it from its backup, or start with "
                    f"{ASK_FOR_A_NEW_KEY} to make a new key"
                ) from None
            aside = path.with_name(f"{path.name}.damaged-{_now().replace(':', '')}")
            os.replace(path, aside)
            problem = f"{problem} (kept as {aside.name})"
    elif records:
        listed = ", ".join(r.key_id for r in records if r.retired_at is None) or "none"
        problem = f"{path} is missing (this data dir signed heads with key {listed})"
        if not new_key:
            raise SigningKeyError(
                f"{problem}; restore it from its backup, or start with {ASK_FOR_A_NEW_KEY} "
                "to make a new key"
            )
    if problem is not None or not path.exists():
        _make(path)
    key = _load(path)
    raw = _raw_public(key)
    key_id = key_id_of(raw)
    if not any(r.key_id == key_id for r in records):
        now = _now()
        gone = [r.key_id for r in records if r.retired_at is None]
        # A key that loads but is not the listed one was put there by hand (copied from
        # another host, say): the listed one is retired all the same, and said so.
        because = problem or f"{path} was replaced by hand with key {key_id}"
        retired = [
            r if r.retired_at else replace(r, retired_at=now, retired_because=because)
            for r in records
        ]
        made = KeyRecord(key_id=key_id, public_key=base64.b64encode(raw).decode(), made_at=now)
        _write_registry(path, [made, *retired])
        if gone or problem is not None:
            log.warning(
                "signing key replaced: %s; retired key %s, new key %s (GET /keys keeps "
                "listing retired keys, so that heads they signed still check)",
                because,
                ", ".join(gone) or "none listed",
                key_id,
            )
        records = [made, *retired]
    return key, [r for r in records if r.key_id != key_id]


__all__ = ["KeyRecord", "SigningKeyError", "current_key", "read_registry", "registry_path"]
