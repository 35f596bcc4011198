"""Reading a file or a request body as text while counting the bytes read, for the
import's progress bar; the bytes are read in buffered chunks, never whole."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import BinaryIO, TextIO


class _Counting(io.RawIOBase):
    """A binary stream that reports each chunk's size as it is read."""

    def __init__(self, raw: BinaryIO, seen: Callable[[int], None]) -> None:
        self._raw = raw
        self._seen = seen

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self._seen(size)
        return size


def text_of(raw: BinaryIO, seen: Callable[[int], None] | None = None) -> TextIO:
    """``raw`` as UTF-8 text (a byte-order mark skipped), lines kept as written (the CSV
    reader needs its line ends), calling ``seen`` with each chunk's size in bytes."""
    source: BinaryIO = raw
    if seen is not None:
        source = io.BufferedReader(_Counting(raw, seen), buffer_size=256 * 1024)
    return io.TextIOWrapper(source, encoding="utf-8-sig", errors="replace", newline="")
