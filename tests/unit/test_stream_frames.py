"""The SSE frames of the live stream are FastAPI's own, byte for byte."""

from __future__ import annotations

import pytest
from fastapi.sse import format_sse_event

from api.http.routes.stream import sse_event
from projections.tail import LiveEvent


@pytest.mark.parametrize(
    "body",
    [
        b'{"type":"StatementIssued","summary":"Erdo\xc4\x9fan \\u2028 \\"spoke\\"\\n"}',
        b"{}",
        b'{"a":"line one\nline two\r\nline three\rfour"}',  # not one line: FastAPI splits it
    ],
)
def test_an_event_is_framed_as_fastapis_format_sse_event_frames_it(body: bytes) -> None:
    event = LiveEvent(position=42, type="StatementIssued", negotiation="talks", body=body)
    assert sse_event(event) == format_sse_event(
        data_str=body.decode(), event="StatementIssued", id="42"
    )
