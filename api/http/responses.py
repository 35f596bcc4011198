"""Answers serialized straight to bytes: the one way a route sends JSON it built itself."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

JSON = "application/json"


def json_bytes(
    content: bytes, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON answer whose bytes are already made (orjson, or spliced stored JSON)."""
    return Response(content=content, status_code=status_code, headers=headers, media_type=JSON)


def next_page(request: Request, **cursor: int) -> str:
    """The URL (path and query) of the next page: this request's query, every repeated
    parameter kept, with the cursor replaced."""
    url = request.url.include_query_params(**cursor)
    return f"{url.path}?{url.query}"
