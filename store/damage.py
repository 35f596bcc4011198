"""What went wrong with the store, in a line that names it: a damaged database, or one
that cannot be reached or written.

The database's own errors come wrapped by the eventsourcing library (its
``DatabaseError`` around sqlite3's or psycopg's), and a corrupt SQLite page surfaces as
whichever query first reads it. ``failure_of`` looks through the wrapping and sorts the
error: **damaged** (SQLite's ``database disk image is malformed`` or ``file is not a
database``; PostgreSQL's ``data_corrupted`` and ``index_corrupted``, or a table of the
log that is gone) or **unavailable** (a file or folder that cannot be opened or
written, a read-only database, a PostgreSQL server that does not answer). ``probe``
is the readiness check: cheap reads of the log's tables and, on SQLite, SQLite's own
``PRAGMA quick_check``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import psycopg
from psycopg import errors as pg

from store.files import PrivatePathError
from store.index import EventIndex

# SQLite's primary result codes (the low byte of an extended one).
_SQLITE_DAMAGED = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_SQLITE_UNAVAILABLE = {3, 8, 10, 13, 14, 23}  # PERM, READONLY, IOERR, FULL, CANTOPEN, AUTH
_PG_DAMAGED = (pg.DataCorrupted, pg.IndexCorrupted, pg.UndefinedTable, pg.UndefinedColumn)

Kind = Literal["damaged", "unavailable"]


@dataclass(frozen=True)
class StoreFailure:
    """A store that is damaged or cannot be used: ``where`` (the file, or the database
    without credentials) and the database's own message."""

    kind: Kind
    where: str
    reason: str

    def __str__(self) -> str:
        said = "is damaged" if self.kind == "damaged" else "cannot be used"
        return f"the store {self.where} {said}: {self.reason}"


def _causes(error: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    seen: BaseException | None = error
    while seen is not None and seen not in found:
        found.append(seen)
        seen = seen.__cause__ or seen.__context__
    return found


def _sort(error: BaseException) -> Kind | None:
    if isinstance(error, PrivatePathError):
        return "unavailable"
    if isinstance(error, sqlite3.DatabaseError):
        code = getattr(error, "sqlite_errorcode", 0) & 0xFF
        if code in _SQLITE_DAMAGED:
            return "damaged"
        if code in _SQLITE_UNAVAILABLE:
            return "unavailable"
        return None
    if isinstance(error, _PG_DAMAGED):
        return "damaged"
    if isinstance(error, psycopg.OperationalError | PermissionError):
        return "unavailable"
    return None


def failure_of(error: BaseException, where: str) -> StoreFailure | None:
    """The store failure ``error`` is (or wraps), or None when it is none of those above.
    ``where`` names the store (``StoreConfig.describe()``); a file error names its path."""
    for cause in _causes(error):
        kind = _sort(cause)
        if kind is None:
            continue
        if isinstance(cause, PrivatePathError):
            return StoreFailure(kind, str(cause.path), cause.why)
        if isinstance(cause, OSError) and cause.filename:
            return StoreFailure(kind, str(cause.filename), cause.strerror or str(cause))
        reason = " ".join(str(cause).split())  # psycopg's messages span lines
        return StoreFailure(kind, where, reason)
    return None


def probe(
    index: EventIndex, where: str, newest_event: Callable[[], object]
) -> StoreFailure | None:
    """What is wrong with the store now, or None: the readiness check. It reads the
    events table and the index (which a PostgreSQL schema that lost a table, or a
    server that went away, fails) and, on SQLite, runs ``PRAGMA quick_check``, which
    reads every page (about a second per GB)."""
    try:
        newest_event()  # the events table's last page
        index.last_position()
        database = index.database
        if database.dialect.name == "sqlite":
            found = [str(row[0]) for row in database.fetch("PRAGMA quick_check(5)", ())]
            if found != ["ok"]:
                lines = [line for f in found for line in f.splitlines() if "***" not in line]
                return StoreFailure("damaged", where, "quick_check: " + "; ".join(lines))
    except Exception as error:
        failure = failure_of(error, where)
        if failure is None:
            return StoreFailure("unavailable", where, f"{type(error).__name__}: {error}")
        return failure
    return None


class StoreHealth:
    """The readiness answer of one process's store: ``probe`` at most every ``every``
    seconds (``quick_check`` reads the whole file), plus any damage a request met on
    the way (``seen``), which holds until restart, since a damaged file does not mend."""

    def __init__(self, probe: Callable[[], StoreFailure | None], every: float = 30.0) -> None:
        self.probe = probe
        self.every = every
        self._lock = threading.Lock()
        self._damage: StoreFailure | None = None
        self._last: tuple[float, StoreFailure | None] | None = None

    def seen(self, failure: StoreFailure) -> None:
        """A request met ``failure``: damage makes the store not ready from now on."""
        if failure.kind == "damaged":
            self._damage = self._damage or failure

    def check(self) -> StoreFailure | None:
        """What keeps the store from being ready, or None. Blocks: run it in a thread."""
        with self._lock:  # one probe at a time; those waiting get its answer
            if self._damage is not None:
                return self._damage
            if self._last is None or time.monotonic() - self._last[0] >= self.every:
                self._last = (time.monotonic(), self.probe())
            found = self._last[1]
            if found is not None:
                self.seen(found)
            return found


__all__ = ["StoreFailure", "StoreHealth", "failure_of", "probe"]
