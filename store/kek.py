"""Key-encryption keys: what keeps a destroyed person key gone from every file.

A database does not erase a deleted row: PostgreSQL leaves it as a dead tuple in the
table's file until a vacuum reuses the space, SQLite in its WAL and free pages, and any
backup or disk snapshot keeps it. So person keys (``store.keyring``) are never stored
bare: each row holds its key wrapped (AES-256-GCM, the key id as associated data)
under a key-encryption key (KEK) that lives OUTSIDE the database, one file
``kek-<id>.key`` (32 random bytes, 0600) in the key folder (``StoreConfig.kek_dir``:
``<data dir>/keys``, or ``PARLEY_KEY_DIR``). Each row names the KEK it is wrapped under.

A redaction makes a new KEK, durable before its transaction commits, re-wraps the
remaining keys under it in the transaction that deletes the person's key, and after
the commit destroys the old KEK's file (overwritten, fsynced, unlinked, the folder
fsynced). Whatever copy of the old rows a file still holds is then wrapped under a key
nobody has. A crash between the steps leaves either an extra KEK file no row names
(destroyed at the next start, ``KeyFolder.sweep``) or the old one still referenced.

Processes sharing the store find the KEK a row names by its id, and cache it by id.
On several hosts (PostgreSQL scale-out) the key folder must be shared by every host,
or each reads the same ``PARLEY_KEY_DIR``: a host that cannot read the current KEK
cannot open sealed fields (``MissingKekError`` names the file).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from store.files import create_once, private_dir, refuse_symlink

log = logging.getLogger("parley")

KEK_BYTES = 32
_NONCE = 12
_NAME = re.compile(r"^kek-([0-9a-f]{16})\.key$")


class MissingKekError(RuntimeError):
    """The store's keys are wrapped under a KEK whose file is missing or damaged."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(
            f"{path}: {why}; the person keys in the store are wrapped under it, so no "
            "sealed field can be opened without it (restore the file from where KEK files "
            "are backed up, or point PARLEY_KEY_DIR at the folder that holds it)"
        )
        self.path = path


class KeyFolder:
    """The folder of KEK files: make, read (cached by id), destroy, wrap and unwrap."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._keks: dict[str, AESGCM] = {}

    def file(self, kek_id: str) -> Path:
        return self.path / f"kek-{kek_id}.key"

    def ids(self) -> set[str]:
        """The ids of the KEK files in the folder."""
        if not self.path.is_dir():
            return set()
        return {m.group(1) for name in os.listdir(self.path) if (m := _NAME.match(name))}

    def make(self) -> str:
        """A new KEK, its file written and fsynced with the folder before this returns."""
        private_dir(self.path)
        kek_id = secrets.token_hex(8)
        key = AESGCM.generate_key(bit_length=256)
        if not create_once(self.file(kek_id), key):
            raise RuntimeError(f"{self.file(kek_id)}: exists already")
        _sync_folder(self.path)
        with self._lock:
            self._keks[kek_id] = AESGCM(key)
        return kek_id

    def _kek(self, kek_id: str) -> AESGCM:
        with self._lock:
            found = self._keks.get(kek_id)
        if found is not None:
            return found
        path = self.file(kek_id)
        try:
            refuse_symlink(path)
            key = path.read_bytes()
        except FileNotFoundError:
            raise MissingKekError(path, "the key-encryption key is missing") from None
        except OSError as error:
            raise MissingKekError(path, f"cannot be read ({error.strerror})") from None
        if len(key) != KEK_BYTES:
            raise MissingKekError(path, f"holds {len(key)} bytes, not a {KEK_BYTES}-byte key")
        cipher = AESGCM(key)
        with self._lock:
            # Rows name one KEK at a time: a new one means the others were retired.
            self._keks = {kek_id: cipher}
        return cipher

    def load(self, kek_id: str) -> None:
        """Read the KEK ``kek_id`` into the cache (``MissingKekError`` if it cannot)."""
        self._kek(kek_id)

    def wrap(self, kek_id: str, key_id: str, key: bytes) -> bytes:
        """``key`` (a person's) wrapped under the KEK ``kek_id``, bound to its key id."""
        nonce = os.urandom(_NONCE)
        return nonce + self._kek(kek_id).encrypt(nonce, key, key_id.encode())

    def unwrap(self, kek_id: str, key_id: str, wrapped: bytes) -> bytes:
        try:
            return self._kek(kek_id).decrypt(wrapped[:_NONCE], wrapped[_NONCE:], key_id.encode())
        except InvalidTag:
            raise MissingKekError(
                self.file(kek_id), f"does not open person key {key_id} (damaged or replaced)"
            ) from None

    def destroy(self, kek_id: str) -> None:
        """Overwrite the KEK's file with random bytes, fsync, unlink, fsync the folder."""
        with self._lock:
            self._keks.pop(kek_id, None)
        path = self.file(kek_id)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return
        try:
            size = os.fstat(fd).st_size
            os.pwrite(fd, os.urandom(max(size, KEK_BYTES)), 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        path.unlink(missing_ok=True)
        _sync_folder(self.path)

    def sweep(self, referenced: set[str]) -> list[str]:
        """Destroy every KEK file whose id no row names (a crash after a redaction's
        commit, or before a transaction that made one committed); returns their ids.
        Call it holding the store's write lock, so no transaction is about to name one."""
        missing = sorted(referenced - self.ids())
        if missing:
            raise MissingKekError(self.file(missing[0]), "the key-encryption key is missing")
        stale = sorted(self.ids() - referenced)
        for kek_id in stale:
            self.destroy(kek_id)
        if stale:
            log.info("keys: destroyed %d key-encryption key file(s) no key uses", len(stale))
        return stale


def _sync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["KEK_BYTES", "KeyFolder", "MissingKekError"]
