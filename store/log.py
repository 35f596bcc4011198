"""ConflictLog: Parley's eventsourcing Application, the one door to the store.

It opens the log on SQLite or PostgreSQL (``store.config``), appends through the
writer (``store.writer``: group commit, optimistic concurrency, idempotency, the hash
chain), reads events back through the event index (``store.index``), whose rows are
decoded by ``store.codec`` without validation, and verifies the chains
(``store.verify``). The recorder refuses a batch whose ``recorded_at`` would precede
one already committed, so that ``recorded_at`` never decreases along the log's
positions and answers ``known_at`` a past moment never change.

This module assembles the parts; none of them imports it back. Each gets only what it
uses: ``verify(index)``, ``TokenStore(database, …)`` (``store.dialect.Database``).

The read API for the layers above (``projections/``, ``api/``) is this class's
methods, and only they: ``records``, ``negotiation_events``, ``global_log``,
``engine_rows`` and the rest below. The recorder and the index behind them
(``recorder``, ``index``) belong to the store's own parts; the layers above do not
reach for them, so that what a read may do is decided here, in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar, Unpack, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import (
    ApplicationRecorder,
    Mapper,
    Notification,
    Subscription,
    Transcoder,
)

from domain.errors import EventNotFoundError, NegotiationNotFoundError
from domain.events import AnyEvent, NegotiationOpened
from domain.negotiation import Recorded, check_slug
from store.checkpoints import CheckpointStore
from store.config import KEY_DIR_KEY, StoreConfig, eventsourcing_env
from store.damage import StoreFailure, probe
from store.index import (
    NegotiationSummary,
    RecordFilters,
    RecordSelection,
    RestoreBatch,
    Slice,
    UpTo,
)
from store.kek import KeyFolder
from store.keyring import Keyring, PersonKey
from store.mapper import RecordMapper
from store.recorder import IndexedRecorder
from store.redact import Redaction, redact
from store.tokens import TokenStore
from store.verify import ChainReport, verify
from store.writer import Appended, Writer

R = TypeVar("R")

_NO = ("n", "no", "f", "false", "off", "0")
POLL_SECONDS_KEY = "PARLEY_POLL_SECONDS"  # in a library env: SQLite subscriptions' poll interval

__all__ = ["Appended", "ChainReport", "ConflictLog"]


class _NoTranscoder(Transcoder):
    """The record mapper lays out its own bytes; the library's JSON transcoder is unused."""

    def encode(self, obj: Any) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError


class ConflictLog(Application[UUID]):
    """The append-only log of every negotiation, on SQLite or PostgreSQL."""

    name = "Parley"

    def __init__(self, config: StoreConfig | Mapping[str, str] | None = None) -> None:
        """Open the log described by ``config``.

        ``config`` may also be the library's environment as ``env_for`` makes it: that
        is how ``eventsourcing.projection.ProjectionRunner`` constructs an application
        (``application_class(env)``). Then only ``config.poll_seconds`` is meaningful.
        """
        if isinstance(config, Mapping):
            env = dict(config)
            poll = float(env.get(POLL_SECONDS_KEY, StoreConfig.poll_seconds))
            key_dir = env.get(KEY_DIR_KEY)
            self.config = StoreConfig(
                poll_seconds=poll, key_dir=Path(key_dir) if key_dir else None
            )
        else:
            self.config = config or StoreConfig()
            env = eventsourcing_env(self.config)
        # The tables are created once the key folder is set: a store's first start
        # after an upgrade may index its events, opening sealed fields (store.kek).
        create = env.get("CREATE_TABLE", "yes").lower() not in _NO
        super().__init__(env={**env, "CREATE_TABLE": "no"})
        self.index.key_folder = KeyFolder(self.config.kek_dir)
        if create:  # both of the library's recorders have it; its base class does not
            cast(Any, self.recorder).create_table()
        # The person keys are wrapped under a KEK kept outside the database (store.kek).
        self.index.open_keys(KeyFolder(self.config.kek_dir))
        if hasattr(self.recorder, "poll_seconds"):  # SQLite: it cannot notify, so it polls
            self.recorder.poll_seconds = self.config.poll_seconds
        # Its thread starts on the first append.
        self._writer = Writer(
            self.events, self.index, self.keys, cache_size=self.config.writer_cache
        )

    @staticmethod
    def env_for(config: StoreConfig) -> dict[str, str]:
        """The library environment that makes ``ConflictLog(env)`` open ``config``'s log."""
        return {**eventsourcing_env(config), POLL_SECONDS_KEY: str(config.poll_seconds)}

    # Library hooks.
    def construct_mapper(self) -> Mapper[UUID]:
        return RecordMapper(transcoder=_NoTranscoder())

    @property
    def index(self) -> IndexedRecorder:
        """The recorder as the store's parts use it (the event index, the person keys);
        the layers above use this class's methods instead."""
        return cast(IndexedRecorder, self.recorder)

    @property
    def backend(self) -> str:
        return str(getattr(self.recorder, "backend", "unknown"))

    # Writes.
    def open(
        self, slug: str, opened: NegotiationOpened, *, recorded_by: str | None = None
    ) -> Appended:
        """Open a negotiation. Re-sending the same opening event is idempotent."""
        check_slug(slug)
        return self.append(slug, [opened], opening=True, recorded_by=recorded_by)

    def append(
        self,
        slug: str,
        events: Sequence[AnyEvent],
        expected_version: int | None = None,
        *,
        opening: bool = False,
        recorded_by: str | None = None,
    ) -> Appended:
        """Append ``events`` to a negotiation atomically, and wait for the commit.

        Events whose id is already stored with the same content are returned as they
        were stored (idempotency); the same id with other content is an error.
        """
        return self.submit(
            slug, events, expected_version, opening=opening, recorded_by=recorded_by
        ).result()

    def submit(
        self,
        slug: str,
        events: Sequence[AnyEvent],
        expected_version: int | None = None,
        *,
        opening: bool = False,
        sources: Sequence[str | None] | None = None,
        recorded_by: str | None = None,
    ) -> Future[Appended]:
        """Queue an append for the writer (``store.writer``); the future holds its outcome."""
        return self._writer.submit(
            slug,
            events,
            expected_version,
            opening=opening,
            sources=sources,
            recorded_by=recorded_by,
        )

    def check(
        self,
        slug: str,
        events: Sequence[AnyEvent],
        expected_version: int | None = None,
        *,
        recorded_by: str | None = None,
    ) -> Future[Appended]:
        """A dry run of ``submit``: the same checks, nothing stored (``Writer.check``)."""
        return self._writer.check(slug, events, expected_version, recorded_by=recorded_by)

    @property
    def writer(self) -> Writer:
        return self._writer

    def redact(
        self,
        person: str,
        reason: str,
        requested_by: str | None = None,
        *,
        recorded_by: str | None = None,
    ) -> Redaction:
        """Destroy a person's key and record ``PersonRedacted`` (``store.redact``)."""
        return redact(
            self.keys, self._writer, person, reason, requested_by, recorded_by=recorded_by
        )

    def token_store(self) -> TokenStore:
        """The named tokens kept beside this log (``store.tokens``)."""
        path = self.config.sqlite_path if self.backend == "sqlite" else None
        return TokenStore(self.index.database, schema=self.config.postgres_schema, sqlite_path=path)

    @cached_property
    def checkpoints(self) -> CheckpointStore:
        """The as-of engine's checkpoints kept beside this log (``store.checkpoints``)."""
        return CheckpointStore(
            self.index.database,
            index_table=self.index.index_table,
            schema=self.config.postgres_schema,
            gate=getattr(self.recorder, "gate", None),
        )

    @property
    def keys(self) -> Keyring:
        """The person keys that seal and open protected fields (``store.keyring``)."""
        return self.index.keyring

    # Reads.
    def version_of(self, slug: str) -> int:
        """The stored version of a negotiation (0 when it does not exist)."""
        found = self.index.summaries(slug)
        return found[0].version if found else 0

    def exists(self, slug: str) -> bool:
        return self.version_of(slug) > 0

    def summary(self, slug: str) -> NegotiationSummary:
        found = self.index.summaries(slug)
        if not found:
            raise NegotiationNotFoundError(slug)
        return found[0]

    def summaries(self) -> list[NegotiationSummary]:
        return self.index.summaries()

    def opening(self, slug: str) -> Recorded:
        """The NegotiationOpened event of a negotiation."""
        first = self.index.select_records(negotiation=slug, limit=1)
        if not first:
            raise NegotiationNotFoundError(slug)
        return first[0]

    def negotiation_events(
        self,
        slug: str,
        *,
        after_version: int | None = None,
        limit: int | None = None,
        **slice_: Unpack[Slice],
    ) -> list[Recorded]:
        """A negotiation's events in version order, paged, time-sliced and searched."""
        if not self.exists(slug):
            raise NegotiationNotFoundError(slug)
        return self.index.select_records(
            negotiation=slug, after_version=after_version, limit=limit, **slice_
        )

    def global_log(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        negotiation: str | None = None,
        **slice_: Unpack[Slice],
    ) -> list[Recorded]:
        """The global log after a position, in position order: of one negotiation or
        all, time-sliced and searched."""
        if negotiation is not None and not self.exists(negotiation):
            raise NegotiationNotFoundError(negotiation)
        return self.index.select_records(
            after_position=after, limit=limit, negotiation=negotiation, by_version=False, **slice_
        )

    def record_at(self, slug: str, version: int) -> Recorded | None:
        """A negotiation's event at ``version``, or None when the log does not hold it."""
        found = self.index.select_records(negotiation=slug, after_version=version - 1, limit=1)
        return found[0] if found and found[0].originator_version == version else None

    def head(self, slug: str) -> Recorded:
        """A negotiation's last event: where its hash chain ends (``store.heads``)."""
        last = self.record_at(slug, self.version_of(slug))
        if last is None:
            raise NegotiationNotFoundError(slug)
        return last

    def event(self, event_id: UUID) -> Recorded:
        found = self.index.records_by_ids([event_id])
        if not found:
            raise EventNotFoundError(event_id)
        return found[0]

    def about(self, event_id: UUID) -> list[Recorded]:
        """The disputes, corrections and retractions that name an event."""
        return self.index.records_about(event_id)

    def last_position(self) -> int:
        return self.index.last_position()

    def records(self, **selection: Unpack[RecordSelection]) -> list[Recorded]:
        """Events in position order (per negotiation: version order, unless ``by_version``
        is False; or the latest in valid time first), filtered and paged. Unlike
        ``negotiation_events`` and ``global_log``, a negotiation that does not exist
        gives no events rather than an error."""
        return self.index.select_records(**selection)

    def count_records(self, **filters: Unpack[RecordFilters]) -> int:
        """How many events ``records`` would give with these filters."""
        return self.index.count_records(**filters)

    def records_at(self, positions: Sequence[int]) -> list[Recorded]:
        """The stored events at these log positions, in position order."""
        return self.index.records_at(positions)

    def records_by_ids(self, ids: Sequence[UUID]) -> list[Recorded]:
        """The stored events with these ids, in position order (missing ids are skipped)."""
        return self.index.records_by_ids(ids)

    def records_about_any(self, ids: Sequence[UUID], **upto: Unpack[UpTo]) -> list[Recorded]:
        """Disputes, corrections and retractions that name any of ``ids``, recorded by
        ``recorded_lte`` and at or before ``upto_position``, in position order."""
        return self.index.records_about_any(ids, **upto)

    def last_known_position(self, slug: str, recorded_lte: datetime) -> int | None:
        """The position of a negotiation's last event recorded by ``recorded_lte``."""
        return self.index.last_known_position(slug, recorded_lte)

    def engine_rows(
        self, slug: str, make: Callable[..., R], *, after_version: int = 0
    ) -> list[R]:
        """A negotiation's events after a version as the as-of engine reads them, each
        made by ``make`` (``projections.rows.EngineRow``; see ``EventIndex.engine_rows``)."""
        return self.index.engine_rows(slug, make, after_version=after_version)

    def chart_rows(self, slug: str, make: Callable[..., R]) -> list[R]:
        """A negotiation's events as the charts read them, each made by ``make``
        (``projections.rows.ChartRow``; see ``EventIndex.chart_rows``)."""
        return self.index.chart_rows(slug, make)

    def subscribe(self, gt: int | None = None) -> Subscription[ApplicationRecorder]:
        """The log's notifications after position ``gt``, blocking for new ones."""
        return self.recorder.subscribe(gt=gt)

    def notifications(self, after: int, limit: int) -> Sequence[Notification]:
        """The library's notifications after a position, in position order."""
        return self.recorder.select_notifications(
            start=after, limit=limit, inclusive_of_start=False
        )

    def stored_states(self, *, after: int = 0, limit: int = 500) -> list[tuple[int, int, bytes]]:
        """(position, version, stored JSON) after a position: the global log undecoded,
        for readers that only re-serialise it (the live streams' catch-up)."""
        return self.index.select_states(after, limit)

    def stored_rows(
        self, *, after: int, upto: int, limit: int = 1000
    ) -> list[tuple[int, UUID, int, bytes]]:
        """(position, originator_id, version, stored bytes) in (after, upto], in position
        order: the stored events table as it is (``store.dump``)."""
        return self.index.stored_rows(after, upto, limit)

    def restore_rows(
        self, batches: Iterable[RestoreBatch], keys: Sequence[PersonKey] = ()
    ) -> int:
        """Insert a dump's rows, with their index rows and its person keys, into this
        empty store, in one transaction (``store.dump.restore``); raises
        ``StoreNotEmptyError`` otherwise."""
        return self.index.restore_rows(batches, keys)

    # Integrity.
    def verify(self) -> ChainReport:
        """Walk every hash chain and check positions; report the first break."""
        return verify(self.index, self.config.describe(), self.recorder.max_notification_id)

    def probe(self) -> StoreFailure | None:
        """What keeps the store from serving now, or None (``store.damage.probe``)."""
        return probe(self.index, self.config.describe(), self.recorder.max_notification_id)

    def stored_count(self) -> tuple[int, int]:
        """(row count, highest position) of the stored events table."""
        return self.index.stored_count()

    @property
    def contiguous_positions(self) -> bool:
        """Whether the backend promises positions without holes (SQLite does)."""
        return self.index.contiguous_positions

    def iter_all(self, page: int = 5000) -> Iterator[Recorded]:
        """Every event in position order, page by page."""
        after = 0
        while True:
            batch = self.index.select_records(after_position=after, limit=page)
            if not batch:
                return
            yield from batch
            after = batch[-1].position or after

    def close(self) -> None:
        self._writer.stop()
        super().close()
