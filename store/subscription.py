"""Subscriptions to a SQLite log, which the library's SQLite recorder does not offer.

SQLite has no LISTEN/NOTIFY, so a ``SQLiteSubscription`` wakes in two ways. Within a
process, every recorder on a database file calls ``committed(key)`` right after its
write transaction commits, and each subscription registered here under that file pulls
at once: this crosses recorder instances, so a projection runner's own application sees
the API's appends within milliseconds. Commits made by other processes are found by
polling: ``SELECT MAX(rowid)`` every ``poll_seconds``, pulling only when it changed.
The class plugs into the library's ``ListenNotifySubscription``, as its
``PostgresSubscription`` does, so ``ApplicationSubscription`` and ``ProjectionRunner``
use it unchanged.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ListenNotifySubscription
from eventsourcing.sqlite import SQLiteApplicationRecorder

_lock = threading.Lock()
_subscriptions: dict[str, set[SQLiteSubscription]] = {}


def database_key(db_name: str) -> str:
    """One name per database file, however it was spelled (relative path, symlink)."""
    if db_name.startswith("file:") or ":memory:" in db_name or "mode=memory" in db_name:
        return db_name
    return os.path.realpath(db_name)


def committed(key: str) -> None:
    """Wake every subscription in this process to the database ``key``: a commit landed."""
    with _lock:
        woken = list(_subscriptions.get(key, ()))
    for subscription in woken:
        subscription.wake()


class SQLiteSubscription(ListenNotifySubscription[SQLiteApplicationRecorder]):
    """The log's notifications after ``gt``, blocking for new ones (the library protocol).

    Pulling "rowid > last seen" never skips a notification: SQLite serialises writers,
    and a rowid is taken as MAX(rowid) + 1 inside the write transaction, so positions
    become visible in order and a rolled-back append leaves no hole to be filled later.
    """

    def __init__(
        self,
        recorder: SQLiteApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
        *,
        key: str,
        poll_seconds: float,
    ) -> None:
        self._key = key
        self._poll_seconds = poll_seconds
        self._polling_stopped = threading.Event()
        # Read before the first pull: whatever commits after it changes MAX(rowid).
        self._seen_max = recorder.max_notification_id() or 0
        super().__init__(recorder=recorder, gt=gt, topics=topics)  # starts the pull thread
        with _lock:
            _subscriptions.setdefault(key, set()).add(self)
        # A commit between the first pull and the registration above woke nobody.
        self.wake()
        self._poll_thread = threading.Thread(
            target=self._poll, name="parley-sqlite-poll", daemon=True
        )
        self._poll_thread.start()

    def wake(self) -> None:
        """Make the pull thread look for new notifications now."""
        self._has_been_notified.set()

    def stop(self) -> None:
        with _lock:
            registered = _subscriptions.get(self._key)
            if registered is not None:
                registered.discard(self)
                if not registered:
                    del _subscriptions[self._key]
        self._polling_stopped.set()
        super().stop()

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            self._poll_thread.join()

    def _poll(self) -> None:
        """Notice commits from other processes: one indexed MAX(rowid) per interval."""
        try:
            while not self._polling_stopped.wait(self._poll_seconds):
                latest = self._recorder.max_notification_id() or 0
                if latest != self._seen_max:
                    self._seen_max = latest
                    self.wake()
        except BaseException as error:
            if self._thread_error is None:
                self._thread_error = error
            self.stop()
