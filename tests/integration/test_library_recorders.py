"""The eventsourcing library's own recorder test cases, run against Parley's recorders.

``SQLiteEventRecorder`` and ``PostgresEventRecorder`` extend the library's application
recorders with the event index (and, on PostgreSQL, the append-only triggers). These
cases show that they still keep every promise of the recorders they extend.

The PostgreSQL cases take a fresh schema from the ``postgres_schema`` fixture of
``tests/conftest.py``, which skips them when no server answers, or fails them under
``PARLEY_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from eventsourcing.persistence import AggregateRecorder, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from store.config import StoreConfig, eventsourcing_env
from store.postgres import PostgresEventRecorder
from store.sqlite import SQLiteEventRecorder

_CRYPTO_MODULES = ("Crypto", "Crypto.Cipher", "Crypto.Cipher.AES", "Crypto.Cipher._mode_gcm")


def _library_test_cases() -> ModuleType:
    """``eventsourcing.tests.persistence``, even where pycryptodome is not installed.

    That module imports ``eventsourcing.cipher`` (pycryptodome's AES) at the top, for
    cipher tests of the infrastructure factory that this file does not run. Without
    pycryptodome (the library's ``crypto`` extra), inert stand-ins let the import
    succeed; they are removed from ``sys.modules`` straight after, with the cipher
    module, so that no other import can find them.
    """
    name = "eventsourcing.tests.persistence"
    if importlib.util.find_spec("Crypto") is not None:
        return importlib.import_module(name)
    crypto, cipher, aes, gcm = (ModuleType(m) for m in _CRYPTO_MODULES)
    aes.key_size = (16, 24, 32)  # type: ignore[attr-defined]
    gcm.GcmMode = object  # type: ignore[attr-defined]
    cipher.AES, cipher._mode_gcm = aes, gcm  # type: ignore[attr-defined]
    crypto.Cipher = cipher  # type: ignore[attr-defined]
    sys.modules.update(zip(_CRYPTO_MODULES, (crypto, cipher, aes, gcm), strict=True))
    try:
        return importlib.import_module(name)
    finally:
        for module in (*_CRYPTO_MODULES, "eventsourcing.cipher"):
            sys.modules.pop(module, None)


_persistence = _library_test_cases()
AggregateRecorderTestCase = _persistence.AggregateRecorderTestCase
ApplicationRecorderTestCase = _persistence.ApplicationRecorderTestCase


class _AsAggregateRecorder(AggregateRecorder):
    """One of our recorders, seen through the aggregate-recorder interface alone.

    An application recorder's ``insert_events`` returns the positions it assigned;
    AggregateRecorderTestCase asserts that an aggregate recorder returns None. This
    view drops the positions and passes everything else straight through, so that the
    case checks our recorders' ``select_events`` (gt, lte, desc, limit).
    """

    def __init__(self, recorder: AggregateRecorder) -> None:
        self.recorder = recorder

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        self.recorder.insert_events(stored_events, **kwargs)

    def select_events(self, *args: Any, **kwargs: Any) -> Sequence[StoredEvent]:
        return self.recorder.select_events(*args, **kwargs)


class _ClosesDatastores:
    """Closes the test's datastores, once the threads the test started have ended.

    test_concurrent_no_conflicts signals its two reader threads to stop but does not
    join them. Closing a SQLite connection that a reader is still using crashes the
    interpreter (a segmentation fault), so the readers are joined first.
    """

    datastores: list[SQLiteDatastore] | list[PostgresDatastore]

    @pytest.fixture(autouse=True)
    def _threads_before(self) -> None:
        self.threads_before = set(threading.enumerate())

    def tearDown(self) -> None:
        for thread in set(threading.enumerate()) - self.threads_before:
            if not thread.daemon:
                thread.join(timeout=30)
        for datastore in self.datastores:
            datastore.close()
        super().tearDown()  # type: ignore[misc]


class SQLiteRecorderSetup(_ClosesDatastores):
    """Each recorder in a fresh SQLite file (WAL mode, as Parley runs it)."""

    @pytest.fixture(autouse=True)
    def _sqlite_files(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.datastores: list[SQLiteDatastore] = []

    def new_recorder(self) -> SQLiteEventRecorder:
        path = self.tmp_path / f"recorder-{len(self.datastores)}.sqlite3"
        # Ten writers and two readers run at once in test_concurrent_no_conflicts.
        datastore = SQLiteDatastore(db_name=str(path), pool_size=12, lock_timeout=10)
        self.datastores.append(datastore)
        recorder = SQLiteEventRecorder(datastore)
        recorder.create_table()
        return recorder


class PostgresRecorderSetup(_ClosesDatastores):
    """Each recorder in a fresh schema of the test database, dropped afterwards."""

    @pytest.fixture(autouse=True)
    def _postgres_schema(self, postgres_url: str, postgres_schema: str) -> None:
        self.env = eventsourcing_env(
            StoreConfig(database_url=postgres_url, postgres_schema=postgres_schema)
        )
        self.datastores: list[PostgresDatastore] = []

    def new_recorder(self) -> PostgresEventRecorder:
        env = self.env
        datastore = PostgresDatastore(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"],
            schema=env["POSTGRES_SCHEMA"],
            # Ten writers and two readers run at once in test_concurrent_no_conflicts.
            pool_size=12,
            max_overflow=0,
            max_waiting=100,
            lock_timeout=10,
        )
        self.datastores.append(datastore)
        recorder = PostgresEventRecorder(datastore)
        recorder.create_table()
        return recorder


class TestSQLiteEventRecorderAsApplicationRecorder(
    SQLiteRecorderSetup, ApplicationRecorderTestCase[SQLiteEventRecorder]
):
    # Positions are the rowids of one writer at a time: no holes.
    EXPECT_CONTIGUOUS_NOTIFICATION_IDS = SQLiteEventRecorder.contiguous_positions

    def create_recorder(self) -> SQLiteEventRecorder:
        return self.new_recorder()

    def test_insert_subscribe(self) -> None:
        # SQLite cannot notify: our recorder wakes subscriptions on commit and polls.
        self.optional_test_insert_subscribe()


class TestSQLiteEventRecorderAsAggregateRecorder(SQLiteRecorderSetup, AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return _AsAggregateRecorder(self.new_recorder())


class TestPostgresEventRecorderAsApplicationRecorder(
    PostgresRecorderSetup, ApplicationRecorderTestCase[PostgresEventRecorder]
):
    # A rolled-back insert still consumes its sequence values: positions may have holes.
    EXPECT_CONTIGUOUS_NOTIFICATION_IDS = PostgresEventRecorder.contiguous_positions

    def create_recorder(self) -> PostgresEventRecorder:
        return self.new_recorder()

    def test_insert_subscribe(self) -> None:
        # As the library's own PostgreSQL tests do: LISTEN/NOTIFY through our recorder.
        self.optional_test_insert_subscribe()


class TestPostgresEventRecorderAsAggregateRecorder(
    PostgresRecorderSetup, AggregateRecorderTestCase
):
    def create_recorder(self) -> AggregateRecorder:
        return _AsAggregateRecorder(self.new_recorder())
