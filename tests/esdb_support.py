"""Helpers for the EventSourcingDB-compatible API's tests: the environment of their
shared ``parley serve`` (``shared_server`` in tests/conftest.py, with the founding
example): an admin and a read token and quick heartbeats.
"""

from __future__ import annotations

import uuid

from support import TOKEN

READ_TOKEN = "test-read-token"
READ = {"Authorization": f"Bearer {READ_TOKEN}"}


SERVER_ENV = {  # for shared_server, in the modules that import it
    "PARLEY_ADMIN_TOKEN": TOKEN,
    "PARLEY_READ_TOKEN": READ_TOKEN,
    "PARLEY_HEARTBEAT_SECONDS": "0.3",
}


def new_subject() -> tuple[str, str]:
    """A fresh negotiation slug and its subject."""
    slug = f"talks-{uuid.uuid4().hex[:8]}"
    return slug, f"/negotiations/{slug}"
