"""``api.logs``: JSON lines for machines, text for a person at a terminal."""

from __future__ import annotations

import io
import json
import logging

from api.logs import configure_logging


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
