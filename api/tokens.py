"""The write token: from PARLEY_ADMIN_TOKEN, or made once and kept under the data dir."""

from __future__ import annotations

import hmac
import os
import secrets

from api.settings import Settings


def admin_token(settings: Settings) -> str:
    """The token that grants the ``append`` scope, creating it on first use."""
    if settings.admin_token:
        return settings.admin_token
    path = settings.token_file
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    # O_EXCL: two workers starting together agree on the first token written.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two tokens."""
    return hmac.compare_digest(a.encode(), b.encode())
