"""Redaction over HTTP: destroy a person's key (the same as ``parley redact``)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Response

from api.http.deps import LogDep, Redactor
from api.http.responses import json_bytes
from api.schemas import RedactionIn, RedactionOut, events_json

router = APIRouter(prefix="/redactions", tags=["integrity"])


@router.post("", status_code=201, response_model=RedactionOut)
def redact(body: RedactionIn, log: LogDep, admin: Redactor) -> Response:
    """Destroy a person's key and record `PersonRedacted` in every negotiation that named
    them as a source (or as `asserted_by`). From then on every read, export, timeline,
    state and the page show `[redacted]` in those fields; the stored ciphertext and the
    hash chain stay, so `GET /verify` still passes. 404 when no key is stored for the
    person (never named where fields are sealed, or redacted already). Needs the
    `admin` scope; the events record the token's name as their `recorded_by`."""
    done = log.redact(body.person, body.reason, body.requested_by, recorded_by=admin.name)
    head = orjson.dumps({"key_id": done.key_id, "negotiations": done.negotiations})
    return json_bytes(head[:-1] + b',"events":' + events_json(done.records) + b"}", 201)
