"""``api.logs``: JSON lines for machines, text for a person at a terminal."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
import time
from typing import Any

from api.logs import QUEUED_LINES, configure_logging


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def log_one(stream: io.StringIO, level: str = "info") -> str:
    configure_logging(level, stream=stream)
    try:
        logger = logging.getLogger("parley.test")
        logger.debug("hidden at info")
        logger.info("started", extra={"fields": {"pid": 7, "backend": "sqlite"}})
    finally:
        configure_logging("info")
    return stream.getvalue()


def test_a_pipe_gets_one_json_object_a_line_with_the_record_s_fields() -> None:
    (line,) = log_one(io.StringIO()).splitlines()
    record = json.loads(line)
    assert record["message"] == "started"
    assert record["level"] == "info"
    assert record["logger"] == "parley.test"
    assert record["pid"] == 7 and record["backend"] == "sqlite"
    assert record["time"].endswith("+00:00")


def test_a_terminal_gets_text() -> None:
    (line,) = log_one(Terminal()).splitlines()
    assert not line.startswith("{")
    assert "INFO" in line and "started" in line and "pid=7 backend=sqlite" in line


def test_the_level_comes_from_configuration() -> None:
    assert log_one(io.StringIO(), level="warning") == ""
    assert "hidden at info" in log_one(io.StringIO(), level="debug")


class StuckPipe(io.StringIO):
    """A stderr nobody reads: every write waits until ``reading`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = threading.Event()

    def write(self, text: str) -> int:
        self.reading.wait()
        return super().write(text)


def test_a_stderr_nobody_reads_never_stops_the_caller_and_the_lost_lines_are_told() -> None:
    """The access log is written on the event loop: a full pipe must not stop it. Lines
    beyond the queue are dropped, and counted once the pipe is read again."""
    pipe = StuckPipe()
    configure_logging("info", stream=pipe)
    logger = logging.getLogger("parley.test")
    try:
        started = time.monotonic()
        for n in range(QUEUED_LINES + 500):
            logger.info("request %d", n)
        assert time.monotonic() - started < 5  # it never waited on the pipe
        pipe.reading.set()
    finally:
        configure_logging("info")
    lines = pipe.getvalue().splitlines()
    assert 0 < len(lines) <= QUEUED_LINES + 2
    dropped = [json.loads(line) for line in lines if "were dropped" in line]
    assert dropped and dropped[0]["level"] == "warning"


class FailingOnce(io.StringIO):
    """A stream whose first write fails, as a closed or broken stderr does."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def write(self, text: str) -> int:
        if not self.failed:
            self.failed = True
            raise ValueError("I/O operation on closed file.")
        return super().write(text)


def test_a_stream_that_fails_loses_that_line_not_the_writer(monkeypatch: Any) -> None:
    """logging reports a failed write on stderr; when stderr is closed too (as pytest's
    capture leaves it), the report raises in the writer thread. The line is lost and
    counted, and the lines after it are written (the thread used to die with it)."""
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stderr", closed)
    stream = FailingOnce()
    configure_logging("info", stream=stream)
    logger = logging.getLogger("parley.test")
    try:
        logger.info("lost")
        logger.info("kept")
    finally:
        configure_logging("info", stream=io.StringIO())
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == [
        "1 log lines were dropped: stderr was not being read, or failed",
        "kept",
    ]
