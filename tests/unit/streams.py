"""A text stream that fails a test when a mapper reads further than it needs: what the
streaming tests of the importers read through."""

from __future__ import annotations

from collections.abc import Iterator


class Guarded:
    """A text stream of ``lines`` that fails the test when read past ``allowed`` lines."""

    def __init__(self, lines: Iterator[str], allowed: int) -> None:
        self.lines, self.allowed, self.count = lines, allowed, 0

    def __iter__(self) -> Guarded:
        return self

    def __next__(self) -> str:
        self.count += 1
        assert self.count <= self.allowed, f"read line {self.count}, past {self.allowed}"
        return next(self.lines)

    def readline(self) -> str:
        return next(self, "")

    def read(self) -> str:  # pragma: no cover - a mapper that reads whole fails here
        raise AssertionError("read the whole stream")
