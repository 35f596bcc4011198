"""What is wrong with a request or a command line, as parsing finds it: neutral errors
that the HTTP layer maps to problems (``api.http.errors``) and the CLI prints, so neither
imports the other's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.values import NO_NUL, ONE_LINE, refusal


class MalformedRequestError(Exception):
    """A body that is empty, or no JSON (or not of the shape any request takes): 400."""


class InvalidRequestError(Exception):
    """A request whose fields fail validation; carries problem ``errors``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["message"])
        self.errors = errors


def field_errors(errors: Sequence[Any], *, drop: int = 0, prefix: str = "") -> list[dict[str, Any]]:
    """pydantic errors as [{field, message, value}], with dotted field paths."""
    out = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())][drop:]
        entry: dict[str, Any] = {
            "field": prefix + ".".join(loc),
            "message": refusal(error).removeprefix("Value error, "),
        }
        if (error.get("ctx") or {}).get("pattern") == NO_NUL:
            entry["message"] = "text must not contain NUL (U+0000)"
        if (error.get("ctx") or {}).get("pattern") == ONE_LINE:
            entry["message"] = "text must be one line, without control characters"
        if isinstance(error.get("input"), str | int | float | bool):
            entry["value"] = error["input"]
        out.append(entry)
    return out
