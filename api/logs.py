"""Parley's logs: one JSON object a line, or plain text when stderr is a terminal.

Every record of the ``parley`` loggers carries the time, level, logger and message;
what a record adds as ``extra={"fields": {...}}`` (the access log's request id, route,
status, ...) becomes keys of its own in JSON, ``key=value`` pairs in text."""

from __future__ import annotations

import logging
import sys
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


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Send the ``parley`` loggers to ``stream`` (stderr) at ``level``: JSON lines,
    or text when the stream is a terminal. Calling it again replaces the handler."""
    stream = stream if stream is not None else sys.stderr
    root = logging.getLogger("parley")
    for handler in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(TextFormatter() if _is_terminal(stream) else JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
