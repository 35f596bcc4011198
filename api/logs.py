"""Parley's logs: one JSON object a line, or plain text when stderr is a terminal.

Every record of the ``parley`` loggers carries the time, level, logger and message;
what a record adds as ``extra={"fields": {...}}`` (the access log's request id, route,
status, ...) becomes keys of its own in JSON, ``key=value`` pairs in text."""

from __future__ import annotations

import atexit
import logging
import queue
import sys
import threading
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

LEVELS = ("debug", "info", "warning", "error", "critical")
_HANDLER_NAME = "parley"


class JsonFormatter(logging.Formatter):
    """A record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """A record as a line for a person at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if fields:
            first, _, rest = text.partition("\n")
            pairs = " ".join(f"{key}={value}" for key, value in fields.items())
            text = f"{first} {pairs}" + (f"\n{rest}" if rest else "")
        return text


QUEUED_LINES = 10_000
"""Log records waiting for the writer thread; beyond them, records are dropped."""


class OffLoopHandler(logging.Handler):
    """Hands each record to a thread of its own that writes it, and never waits.

    A request's log line is written on the event loop; were it written there, a reader
    of stderr that stops reading (a full pipe, a stuck log collector) would stop every
    request with it. Here the loop only queues the record; when ``QUEUED_LINES`` wait
    already, the record is dropped and counted, and the writer says how many were lost
    once it can write again."""

    def __init__(self, target: logging.Handler) -> None:
        super().__init__()
        self.target = target
        self.dropped = 0
        self._queue: queue.Queue[logging.LogRecord | None] = queue.Queue(QUEUED_LINES)
        self._thread = threading.Thread(target=self._write, name="parley-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def _write(self) -> None:
        while (record := self._queue.get()) is not None:
            try:
                self._handle(record)
            except Exception:  # noqa: BLE001 - the stream failed, and so did logging's report
                # of it (to a stderr that is closed too): the line is lost and counted; the
                # writer lives on, or every later line would wait in the queue for nothing.
                self.dropped += 1

    def _handle(self, record: logging.LogRecord) -> None:
        """Write ``record``, after a line that says how many were dropped before it."""
        if self.dropped:
            lost = self.dropped
            self.target.handle(
                logging.LogRecord(
                    "parley.logs",
                    logging.WARNING,
                    __file__,
                    0,
                    "%d log lines were dropped: stderr was not being read, or failed",
                    (lost,),
                    None,
                )
            )
            self.dropped -= lost  # only once told: emit() may count more meanwhile
        self.target.handle(record)

    def close(self) -> None:
        """Write what waits (for at most a second: stderr may never be read), then stop."""
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout=1)
        super().close()


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Send the ``parley`` loggers to ``stream`` (stderr) at ``level``: JSON lines,
    or text when the stream is a terminal, written off the event loop
    (``OffLoopHandler``). Calling it again replaces the handler."""
    stream = stream if stream is not None else sys.stderr
    root = logging.getLogger("parley")
    for handler in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(handler)
        handler.close()
    writer = logging.StreamHandler(stream)
    writer.setFormatter(TextFormatter() if _is_terminal(stream) else JsonFormatter())
    handler = OffLoopHandler(writer)
    handler.set_name(_HANDLER_NAME)
    root.addHandler(handler)
    root.setLevel(level.upper())


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
