"""Where a command writes a file: standard output for ``-``, else a file written beside
its name and renamed into place."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def output(target: str, *, sync: bool = False) -> Iterator[BinaryIO]:
    """Standard output for ``-``; else ``target.partial``, renamed to ``target`` once
    whole (fsynced first when ``sync``), so a reader never sees half a file and an older
    file of that name stays whole until then. A failure removes the partial file (it may
    hold what must not stay, such as a destroyed key)."""
    if target == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    path = Path(target)
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as out:
            yield out
            if sync:
                out.flush()
                os.fsync(out.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
