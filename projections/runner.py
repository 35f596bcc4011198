"""Subscribing projections: run them, wait for them, report on them, rebuild them.

Each projection (``PROJECTIONS``) is run by the library's ``ProjectionRunner``: it
constructs a ``ConflictLog`` from the environment, subscribes to it after the view's
tracked position and calls the projection for each event, which writes the view's
update and the event's position in ONE transaction (projections.views). A crash loses
both or keeps both; a restart resumes after the tracked position; a position delivered
twice is applied once (the tracking guard). ``Projections`` runs the runners of one
store in this process, each under a supervisor thread that restarts it after a failure;
``parley project run`` is the same thing as a separate worker process.

Why no event is skipped. A runner asks for the positions after the last one it saw, so
it is only safe if, whenever a reader can see position p, every position below p that
will ever exist is visible already. Otherwise a lower position committed later (a gap
filled late) would be passed over for good.

- SQLite allows one writer at a time: the write lock is held from the first INSERT to
  the COMMIT, and a position is the table's rowid, MAX(rowid) + 1, taken inside that
  transaction. Commits therefore make positions visible in order, and a rolled-back
  append leaves no hole (its rowids go to the next writer).
- PostgreSQL takes positions from a sequence, which is not transactional: without care
  a transaction holding 11 could commit before the one holding 10, and a runner that
  saw 11 would never look at 10. Our recorder (store/postgres.py) takes the library's
  ``LOCK TABLE … IN EXCLUSIVE MODE`` at the start of every insert transaction and holds
  it until the end, so inserting transactions run one at a time: each takes its
  positions only after the previous one has committed or rolled back, and PostgreSQL
  makes a commit visible before it releases the locks. A reader that sees p thus sees
  every committed position below p; a hole below p is a rollback, which is never
  filled later. A gap a runner sees is permanent, and it may move past it at once.
  (Readers do not take the lock: EXCLUSIVE does not block SELECT.)

Nothing else inserts into the events table (triggers refuse UPDATE and DELETE), so the
argument holds for the whole log. Two runners of one view (say, two API workers with
``PARLEY_PROJECTIONS=inline``) stay correct, since the tracking guard serialises them,
but only do the work twice: run one ``parley project run`` and set the API to ``off``.

A rebuild empties the view and its tracking row, then runs from zero up to the log's
head. It must not overlap a runner of the same projection: ``Projections.rebuild``
stops this process's runner first and restarts it after; runners in other processes
(``parley project run``) must be stopped by whoever runs the rebuild.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.projection import ProjectionRunner
from eventsourcing.utils import Environment

from domain.negotiation import Recorded
from projections import metrics
from projections.negotiations_index import (
    NegotiationsIndex,
    NegotiationsIndexPostgres,
    NegotiationsIndexSQLite,
    NegotiationsIndexView,
)
from projections.views import APPLICATION_NAME, ParleyProjection, Progress, View
from store.codec import decode_record
from store.config import StoreConfig
from store.log import ConflictLog
from store.mapper import RECORDED_TOPIC

logger = logging.getLogger("parley.projections")

RUNNER_POOL_SIZE = 2  # PostgreSQL connections kept per runner's log and per view
RESTART_SECONDS = (0.5, 30.0)  # a failed runner is restarted after this, doubling to a cap
POLL_SECONDS = 0.05  # how often a waiter looks at the view for other processes' progress


@dataclass(frozen=True)
class ProjectionSpec:
    """One projection and its view classes on each backend."""

    name: str
    projection: type[ParleyProjection[Any]]
    sqlite_view: type[View]
    postgres_view: type[View]
    description: str

    def view_class(self, config: StoreConfig) -> type[View]:
        return self.postgres_view if config.backend == "postgres" else self.sqlite_view


PROJECTIONS: dict[str, ProjectionSpec] = {
    spec.name: spec
    for spec in (
        ProjectionSpec(
            NegotiationsIndex.name,
            NegotiationsIndex,
            NegotiationsIndexSQLite,
            NegotiationsIndexPostgres,
            "one row per negotiation, behind GET /negotiations",
        ),
    )
}


class UnknownProjectionError(ValueError):
    """A name that is not one of ``PROJECTIONS``."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"there is no projection named {name!r}; the projections are " + ", ".join(PROJECTIONS)
        )
        self.name = name


class ProjectionTimeoutError(TimeoutError):
    """A projection did not reach a position in time."""


def projection_names(requested: Iterable[str] = ()) -> list[str]:
    """The named projections, checked, in ``PROJECTIONS`` order; none named: all."""
    wanted = list(requested)
    for name in wanted:
        if name not in PROJECTIONS:
            raise UnknownProjectionError(name)
    return [name for name in PROJECTIONS if not wanted or name in wanted]


def runner_env(config: StoreConfig, name: str) -> dict[str, str]:
    """The library environment of one projection's runner and view (and of the view
    ``Projections`` reads through).

    Each needs few connections: RUNNER_POOL_SIZE, and as many again on demand. The
    runner's log does not create tables (the store that runs it already has them, and
    concurrent DDL on the log's triggers can collide); its view does, under the
    name-prefixed key the library reads first.
    """
    config = dataclasses.replace(config, postgres_pool_size=RUNNER_POOL_SIZE)
    return {
        **ConflictLog.env_for(config),
        "CREATE_TABLE": "n",
        f"{name.upper()}_CREATE_TABLE": "y",
    }


@dataclass(frozen=True)
class ProjectionStatus:
    """Where one projection stands: what ``GET /projections`` and ``status`` show."""

    name: str
    position: int
    head: int
    lag: int
    running: bool
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_construct_lock = threading.Lock()  # runners are built one at a time (DDL, pools)


CATCH_UP_PAGE = 1000  # events per transaction while a view catches up event by event
INDEX_PAGE = 10_000  # index rows per page (and transaction) while a view folds the index


def catch_up(
    spec: ProjectionSpec,
    config: StoreConfig,
    view: View | None = None,
    *,
    on_processed: Callable[[int], None] | None = None,
    stopping: threading.Event | None = None,
    deadline: float | None = None,
) -> int:
    """Bring a view up to the log's head in pages, one transaction per page.

    The library's runner commits once per event, which is right for following the log
    live but slow for a rebuild; so a runner first catches up here, then follows. The
    page's positions come from the log in order (see the module docstring on gaps),
    and each is tracked in the page's transaction. A view that folds the log's index
    (``View.fold_index``) reads pages of index rows and writes a few statements per
    page, tracking its last position; others get every event decoded, each tracked.
    Returns the view's position.
    """
    env = runner_env(config, spec.name)
    own_view = view is None
    if view is None:
        with _construct_lock:
            factory: InfrastructureFactory[Any] = InfrastructureFactory.construct(
                env=Environment(spec.projection.name, env)
            )
            view = factory.tracking_recorder(spec.view_class(config))
    log = ConflictLog(env)
    try:
        position = view.max_tracking_id(APPLICATION_NAME) or 0
        while stopping is None or not stopping.is_set():
            if deadline is not None and time.monotonic() > deadline:
                raise ProjectionTimeoutError(
                    f"{spec.name} reached position {position} before the time ran out"
                )
            if view.folds_index:
                rows = view.index_page(position, INDEX_PAGE)
                if not rows:
                    break
                statements = view.fold_index(rows, log.records_at)
                if view.record_page(rows[0][0], rows[-1][0], statements):
                    position = rows[-1][0]
                else:  # another runner of this view got there first: go on after it
                    position = max(position, view.position())
                if on_processed is not None:
                    on_processed(position)
                if len(rows) < INDEX_PAGE:
                    break
                continue
            page = log.notifications(position, CATCH_UP_PAGE)
            if not page:
                break
            items: list[tuple[Recorded | None, Tracking]] = []
            for notification in page:
                event = (
                    decode_record(
                        notification.originator_id,
                        notification.originator_version,
                        notification.state,
                        notification.id,
                    )
                    if notification.topic == RECORDED_TOPIC
                    else None
                )
                items.append((event, Tracking(APPLICATION_NAME, notification.id)))
            view.record_many(items)
            position = page[-1].id
            if on_processed is not None:
                on_processed(position)
            if len(page) < CATCH_UP_PAGE:
                break
        return position
    finally:
        log.close()
        if own_view:
            datastore = getattr(view, "datastore", None)
            if datastore is not None:
                datastore.close()


def _construct(spec: ProjectionSpec, config: StoreConfig) -> ProjectionRunner[Any, View]:
    with _construct_lock:
        return ProjectionRunner(
            application_class=ConflictLog,
            projection_class=spec.projection,
            view_class=spec.view_class(config),
            env=runner_env(config, spec.name),
        )


def _dispose(runner: ProjectionRunner[Any, View]) -> None:
    """Close what ``ProjectionRunner.__exit__`` leaves open: the view's connections."""
    datastore = getattr(runner.view, "datastore", None)
    if datastore is not None:
        datastore.close()


class _Worker:
    """Runs one projection's ``ProjectionRunner`` on a thread, restarting it on failure."""

    def __init__(
        self,
        spec: ProjectionSpec,
        config: StoreConfig,
        on_processed: Callable[[int], None] | None = None,
    ) -> None:
        self.spec = spec
        self.config = config
        self.error: str | None = None
        self._on_processed = on_processed
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._runner: ProjectionRunner[Any, View] | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"parley-projection-{spec.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Ask the runner to stop; ``join`` waits for it."""
        with self._lock:
            self._stopping.set()
            runner = self._runner
        if runner is not None:
            runner.stop()

    def join(self, timeout: float = 30) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = RESTART_SECONDS[0]
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self._run_once()
            except Exception as error:
                self.error = f"{type(error).__name__}: {error}"
                metrics.PROJECTION_RESTARTS.labels(projection=self.spec.name).inc()
                logger.exception(
                    "projection %s failed; restarting it in %.1f s", self.spec.name, delay
                )
                if time.monotonic() - started > RESTART_SECONDS[1]:
                    delay = RESTART_SECONDS[0]  # it ran a good while: not a crash loop
                self._stopping.wait(delay)
                delay = min(delay * 2, RESTART_SECONDS[1])

    def _processed(self, position: int) -> None:
        self.error = None  # the last failure is reported until the runner moves again
        if self._on_processed is not None:
            self._on_processed(position)

    def _run_once(self) -> None:
        catch_up(self.spec, self.config, on_processed=self._processed, stopping=self._stopping)
        if self._stopping.is_set():
            return
        runner = _construct(self.spec, self.config)
        try:
            projection = runner.projection
            assert isinstance(projection, ParleyProjection)
            projection.listeners.append(self._processed)
            with self._lock:
                self._runner = runner
                if self._stopping.is_set():
                    runner.stop()
            try:
                with runner:
                    runner.run_forever()  # returns when stopped; raises the runner's error
            finally:
                projection.close()  # what was handed over is written before the view closes
        finally:
            with self._lock:
                self._runner = None
            _dispose(runner)


class Projections:
    """The projections of one store: their views, runners in this process, waits, status.

    ``start`` runs the named projections here (the API does, unless
    ``PARLEY_PROJECTIONS=off``); the views can be read, waited for and reported on
    whether their runners run here or in a ``parley project run`` worker.
    """

    def __init__(self, config: StoreConfig, *, log: ConflictLog | None = None) -> None:
        self.config = config
        if log is None:
            ConflictLog(config).close()  # the log's tables exist before a view reads them
        self._views: dict[str, tuple[InfrastructureFactory[Any], View]] = {}
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.Lock()
        self._progressed = threading.Condition()
        self._generation = 0

    # Views.
    def view(self, name: str) -> View:
        """The named projection's view, for reading (constructed once, then shared)."""
        spec = PROJECTIONS.get(name)
        if spec is None:
            raise UnknownProjectionError(name)
        with self._lock:
            found = self._views.get(name)
            if found is None:
                env = Environment(name, runner_env(self.config, name))
                with _construct_lock:
                    factory: InfrastructureFactory[Any] = InfrastructureFactory.construct(env=env)
                    found = (factory, factory.tracking_recorder(spec.view_class(self.config)))
                self._views[name] = found
            return found[1]

    @property
    def negotiations_index(self) -> NegotiationsIndexView:
        view = self.view(NegotiationsIndex.name)
        assert isinstance(view, NegotiationsIndexView)
        return view

    # Runners in this process.
    def start(self, names: Iterable[str] = ()) -> list[str]:
        """Run the named projections (default: all) in this process; returns their names."""
        chosen = projection_names(names)
        with self._lock:
            for name in chosen:
                if name not in self._workers:
                    worker = _Worker(PROJECTIONS[name], self.config, self._notify)
                    self._workers[name] = worker
                    worker.start()
        return chosen

    def stop(self, names: Iterable[str] = ()) -> None:
        """Stop this process's runners of the named projections (default: all)."""
        chosen = projection_names(names)
        with self._lock:
            workers = [self._workers.pop(n) for n in chosen if n in self._workers]
        for worker in workers:  # all at once: each takes a moment to notice
            worker.stop()
        for worker in workers:
            worker.join()

    def running(self, name: str) -> bool:
        """Whether a runner of ``name`` runs in this process."""
        worker = self._workers.get(name)
        return worker is not None and worker.alive

    def close(self) -> None:
        """Stop the runners and close the views' connections."""
        self.stop()
        with self._lock:
            views, self._views = list(self._views.values()), {}
        for factory, _ in views:
            factory.close()

    def __enter__(self) -> Projections:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # Progress.
    def _notify(self, _position: int) -> None:
        with self._progressed:
            self._generation += 1
            self._progressed.notify_all()

    def status(self, names: Iterable[str] = ()) -> list[ProjectionStatus]:
        """Each projection's position, the log's head, the lag, and whether it runs here."""
        statuses = []
        for name in projection_names(names):
            progress = self.view(name).progress()
            worker = self._workers.get(name)
            statuses.append(
                ProjectionStatus(
                    name=name,
                    position=progress.position,
                    head=progress.head,
                    lag=progress.lag,
                    running=self.running(name),
                    error=worker.error if worker is not None else None,
                )
            )
        return statuses

    def wait(self, name: str, position: int, timeout: float) -> bool:
        """Block until ``name`` has processed ``position``; False after ``timeout`` s.

        Runners in this process wake the waiter at once; progress made by other
        processes is seen by looking at the view every ``POLL_SECONDS``.
        """
        view = self.view(name)
        deadline = time.monotonic() + timeout
        while True:
            with self._progressed:
                generation = self._generation
            if view.position() >= position:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._progressed:
                if self._generation == generation:
                    self._progressed.wait(min(remaining, POLL_SECONDS))

    async def wait_async(self, name: str, position: int, timeout: float) -> bool:
        """``wait`` for the event loop: it sleeps between looks and holds no thread."""
        view = self.view(name)
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            if await anyio.to_thread.run_sync(view.position) >= position:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, POLL_SECONDS)

    def catch_up(self, timeout: float, names: Sequence[str] = ()) -> bool:
        """Wait until the named projections (default: all) reach the log's current head."""
        deadline = time.monotonic() + timeout
        for name in projection_names(names):
            head = self.view(name).progress().head
            if not self.wait(name, head, max(0.0, deadline - time.monotonic())):
                return False
        return True

    # Rebuild.
    def rebuild(self, name: str, timeout: float | None = None) -> Progress:
        """Empty the view and run its projection from zero up to the log's head.

        This process's runner of ``name`` is stopped for the rebuild and started again
        after; stop runners of ``name`` in other processes first. Raises the runner's
        error, or ProjectionTimeoutError after ``timeout`` seconds.
        """
        spec = PROJECTIONS.get(name)
        if spec is None:
            raise UnknownProjectionError(name)
        was_running = name in self._workers
        self.stop([name])
        try:
            view = self.view(name)
            view.reset()
            deadline = None if timeout is None else time.monotonic() + timeout
            catch_up(spec, self.config, view, deadline=deadline)
            return view.progress()
        finally:
            if was_running:
                self.start([name])
