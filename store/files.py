"""Files only their owner reads: the one way Parley creates a folder or a file.

The data directory holds the SQLite log, the person keys inside it, the admin token
and the signing key; a dump holds every live person key. So each is made 0700 (a
folder) or 0600 (a file), whatever the umask, and a file is written under a random
name beside its target, opened ``O_CREAT | O_EXCL | O_NOFOLLOW`` (a name planted in
advance, such as a symbolic link, makes the open fail rather than be followed), then
renamed or linked into place. A symbolic link where the target should be is refused:
whoever planted it meant the write to land elsewhere.

SQLite creates its ``-wal`` and ``-shm`` files with the main file's mode (SQLite's unix
VFS copies it, past the umask; checked on this machine), so a main file made 0600 here
before SQLite opens it is enough (``private_database``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

FOLDER_MODE = 0o700
FILE_MODE = 0o600
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


class PrivatePathError(OSError):
    """A folder or file that cannot be made or written privately; the message is one
    line that names the path and why."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path}: {why}")
        self.path = path
        self.why = why

    def __str__(self) -> str:
        return f"{self.path}: {self.why}"


def _why(error: OSError) -> str:
    return error.strerror or str(error)


def private_dir(path: Path) -> Path:
    """``path`` as a folder, made (with any missing parents) 0700 whatever the umask.

    A folder that exists keeps its mode: it may be a place the operator chose, such as
    a shared mount, whose mode is theirs to set."""
    missing = []
    walk = path
    while not walk.exists() and walk != walk.parent:
        missing.append(walk)
        walk = walk.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, FOLDER_MODE)
        except FileExistsError:
            pass  # another process made it meanwhile
        except OSError as error:
            raise PrivatePathError(folder, f"the folder cannot be created: {_why(error)}") from None
        else:
            os.chmod(folder, FOLDER_MODE)  # the umask may have taken bits from mkdir's mode
    if not path.is_dir():
        raise PrivatePathError(path, "is not a folder")
    return path


def refuse_symlink(path: Path) -> None:
    """Raise ``PrivatePathError`` when ``path`` is a symbolic link."""
    if path.is_symlink():
        raise PrivatePathError(
            path, "is a symbolic link; Parley neither writes through one nor replaces it"
        )


def open_new(path: Path) -> int:
    """A descriptor of a new file at ``path``, mode 0600 whatever the umask; raises
    ``FileExistsError`` when anything (a symbolic link too) is already there."""
    try:
        return _open_new(path)
    except FileExistsError:
        raise
    except OSError as error:
        raise PrivatePathError(path, f"cannot be created: {_why(error)}") from None


def _open_new(path: Path) -> int:
    fd = os.open(path, _NEW, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return fd


def _draft(target: Path) -> tuple[Path, int]:
    """A new private file beside ``target`` under a random name, and its descriptor; a
    refusal names ``target``, the file the caller meant to write."""
    draft = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(6).hex()}.partial")
    try:
        return draft, _open_new(draft)
    except OSError as error:
        raise PrivatePathError(target, f"cannot be written: {_why(error)}") from None


@contextmanager
def written_beside(target: Path, *, sync: bool = False) -> Iterator[BinaryIO]:
    """A new private file beside ``target``, renamed onto it once the block ends
    (fsynced first when ``sync``), so a reader never sees half a file and an older file
    of that name stays whole until then. A failure removes the draft (it may hold what
    must not stay, such as a destroyed key). A symbolic link at ``target`` is refused."""
    refuse_symlink(target)
    draft, fd = _draft(target)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            if sync:
                out.flush()
                os.fsync(out.fileno())
        refuse_symlink(target)
        os.replace(draft, target)
    except BaseException:
        draft.unlink(missing_ok=True)
        raise


def create_once(target: Path, content: bytes) -> bool:
    """Write ``content`` to ``target`` unless a file is there already; True when this
    call made it. Written whole to a private draft, flushed to disk, then linked into
    place: the link fails if another process made the file first (workers starting
    together agree on theirs), and a crash never leaves half a file at ``target``."""
    refuse_symlink(target)
    draft, fd = _draft(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(draft, target)
    except FileExistsError:
        return False  # another process made it first: use theirs
    except OSError as error:
        raise PrivatePathError(target, f"cannot be written: {_why(error)}") from None
    finally:
        draft.unlink(missing_ok=True)
    return True


def private_database(path: Path) -> None:
    """Make sure the SQLite file ``path`` and its companions are 0600 before SQLite opens
    them: a missing main file is created empty and private (SQLite then creates its
    ``-wal`` and ``-shm`` with that mode); ones a release before this one left readable
    by others are narrowed, when this user owns them."""
    private_dir(path.parent)
    refuse_symlink(path)
    try:
        os.close(open_new(path))
    except FileExistsError:
        pass
    for file in (path, *(path.with_name(path.name + s) for s in SQLITE_COMPANIONS)):
        narrow(file)


def narrow(path: Path) -> None:
    """``path`` made 0600 if it is a file this user owns that others may read."""
    try:
        found = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return
    if (
        stat.S_ISREG(found.st_mode)
        and found.st_mode & 0o077
        and found.st_uid == os.geteuid()
    ):
        os.chmod(path, stat.S_IMODE(found.st_mode) & FILE_MODE)


__all__ = [
    "FILE_MODE",
    "FOLDER_MODE",
    "PrivatePathError",
    "create_once",
    "narrow",
    "open_new",
    "private_database",
    "private_dir",
    "refuse_symlink",
    "written_beside",
]
