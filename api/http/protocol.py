"""uvicorn's httptools protocol with a bound on a request's head (issue 15).

httptools gathers a header's bytes until the header ends, with no limit of its own: a
64 MiB header was read whole and answered 200. This protocol counts the bytes of a
request's head as they arrive and answers 431 once they pass ``PARLEY_MAX_HEADER_BYTES``
(the h11 protocol has ``h11_max_incomplete_event_size`` for the same, which
``parley serve`` sets too). Memory stays the limit plus one read.
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.settings import Settings

_limit: int | None = None
LINGER_SECONDS = 2.0


def _max_head() -> int:
    global _limit
    if _limit is None:
        _limit = Settings().max_header_bytes
    return _limit


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that answers 431 to a request head over the limit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_head = _max_head()
        self._in_head = True
        self._head_bytes = 0
        self._refused = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the rest of a refused head: read and dropped until the close
        super().data_received(data)
        # Only reads that leave the head unfinished count: a read that also holds the
        # start of a body is not the head's.
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self._max_head:
                self._refuse()

    def _refuse(self) -> None:
        # Still in the request line (no header yet): the URI is what is too long.
        status, title = (
            (414, "URI too long") if not self.headers else (431, "Request header fields too large")
        )
        body = json.dumps(
            {
                "type": "/problems/header-too-large",
                "title": title,
                "status": status,
                "detail": f"the request line and headers pass {self._max_head} bytes "
                "(PARLEY_MAX_HEADER_BYTES)",
            }
        ).encode()
        self.transport.write(
            f"HTTP/1.1 {status} {title.title()}\r\n".encode()
            + b"content-type: application/problem+json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        # Close gracefully: a client still sending its head would meet a reset and
        # never read the answer, so what it sends is dropped for a while first.
        self._refused = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
