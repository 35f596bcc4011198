"""Signed heads: the server's Ed25519 key, the exact bytes it signs, and the offline check.

A head (``store.heads.Head``) is signed over its canonical JSON: the fields
``parley_head`` (1), ``negotiation``, ``version``, ``position``, ``hash``, ``recorded_at``
and ``key_id``, keys sorted, no spaces, UTF-8 (every value is ASCII), for example::

    {"hash":"9f…","key_id":"3a7bd3e2360a3d29","negotiation":"istanbul-2025",
     "parley_head":1,"position":16,"recorded_at":"2025-05-28T17:00:00.000000Z","version":16}

(on one line). Python's ``json.dumps(fields, sort_keys=True, separators=(",", ":"))``
makes the same bytes. The signature is Ed25519 over those bytes, in standard base64.
The key id is the first 16 hex digits of the SHA-256 of the raw 32-byte public key.

The private key is ``signing-key.pem`` (PKCS#8 PEM, mode 0600) in the data dir, made on
first use; ``api.signing_keys`` keeps the keys it replaced, and refuses to replace a
missing or damaged one unless asked. Anyone with the public key (``GET /keys``) checks a
head offline with ``check_signature``: no database, no server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from api.signing_keys import KeyRecord, SigningKeyError, current_key
from store.heads import Head

ALGORITHM = "Ed25519"


def signed_bytes(head: Head) -> bytes:
    """The exact bytes a head's signature covers (see the module docstring)."""
    return orjson.dumps(head.fields(), option=orjson.OPT_SORT_KEYS)


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw public key."""
    return hashlib.sha256(raw_public_key(key)).hexdigest()[:16]


class Signer:
    """The server's signing key: signs heads, and publishes its public half."""

    def __init__(
        self, private_key: Ed25519PrivateKey, retired: Sequence[KeyRecord] = ()
    ) -> None:
        self._private_key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id_of(self.public_key)
        self.retired = list(retired)  # keys this one replaced: old heads name them

    def sign(self, head: Head) -> Head:
        """The head with this key's id and its signature."""
        named = replace(head, key_id=self.key_id, signature=None)
        signature = self._private_key.sign(signed_bytes(named))
        return replace(named, signature=base64.b64encode(signature).decode())

    def public_json(self) -> dict[str, Any]:
        """The public key as ``GET /keys`` shows it."""
        return _public_json(self.public_key, self.key_id)

    def keys_json(self) -> list[dict[str, Any]]:
        """Every key ``GET /keys`` lists: this one, then those it replaced, newest first,
        each retired one with when and why."""
        retired = [
            {
                **_public_json(
                    Ed25519PublicKey.from_public_bytes(base64.b64decode(r.public_key)), r.key_id
                ),
                "retired_at": r.retired_at,
                "retired_because": r.retired_because,
            }
            for r in self.retired
        ]
        return [self.public_json(), *retired]


def _public_json(key: Ed25519PublicKey, key_id: str) -> dict[str, Any]:
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "key_id": key_id,
        "algorithm": ALGORITHM,
        "public_key": base64.b64encode(raw_public_key(key)).decode(),
        "pem": pem.decode(),
    }


def signing_key(path: Path, *, new_key: bool = False) -> Signer:
    """The key in ``path``, with the keys it replaced (``api.signing_keys``): made on
    first use; a missing or damaged one that had signed raises ``SigningKeyError``
    unless ``new_key``. A new key is written whole to a private file of its own, then
    linked into place, so workers starting together agree and never read half a file."""
    key, retired = current_key(
        path, lambda raw: key_id_of(Ed25519PublicKey.from_public_bytes(raw)), new_key=new_key
    )
    return Signer(key, retired)


def load_public_key(text: str) -> Ed25519PublicKey:
    """A public key given as PEM, or as the base64 of the raw 32 bytes (``GET /keys``)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"the PEM holds a {type(key).__name__}, not an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("a public key is PEM, or base64 of 32 raw bytes") from None
    if len(raw) != 32:
        raise ValueError(f"a raw Ed25519 public key has 32 bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def check_signature(head: Head, key: Ed25519PublicKey) -> str | None:
    """What is wrong with a head's signature under ``key``, or None when it holds."""
    where = f"{head.negotiation} v{head.version}"
    expected = key_id_of(key)
    if head.signature is None:
        return f"{where}: the head is not signed"
    if head.key_id != expected:
        return f"{where}: signed by key {head.key_id}, not by key {expected}"
    try:
        signature = base64.b64decode(head.signature, validate=True)
    except binascii.Error:
        return f"{where}: the signature is not base64"
    try:
        key.verify(signature, signed_bytes(head))
    except InvalidSignature:
        return f"{where}: bad signature: the head was edited or not signed by key {expected}"
    return None


__all__ = [
    "Signer",
    "SigningKeyError",
    "check_signature",
    "load_public_key",
    "signed_bytes",
    "signing_key",
]
