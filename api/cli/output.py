"""Where a command writes a file: standard output for ``-``, else a private file written
beside its name and renamed into place (``store.files.written_beside``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from store.files import written_beside


@contextmanager
def output(target: str, *, sync: bool = False) -> Iterator[BinaryIO]:
    """Standard output for ``-``; else a new file (mode 0600, opened ``O_EXCL`` and
    ``O_NOFOLLOW`` under a random name beside ``target``), renamed to ``target`` once
    whole (fsynced first when ``sync``), so a reader never sees half a file and an older
    file of that name stays whole until then. A failure removes the draft (it may hold
    what must not stay, such as a destroyed key); a symbolic link at ``target`` is
    refused (``store.files.PrivatePathError``)."""
    if target == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with written_beside(Path(target), sync=sync) as out:
        yield out
