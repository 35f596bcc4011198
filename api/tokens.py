"""Bearer tokens: the environment's two (the bootstrap admin token, from
PARLEY_ADMIN_TOKEN or made once and kept under the data dir, and PARLEY_READ_TOKEN),
and the named tokens in the store (``store.tokens``), each checked on every request."""

from __future__ import annotations

import hmac
import secrets

from fastapi.concurrency import run_in_threadpool

from api.ratelimit import RateLimit, RateLimiter
from api.settings import Settings
from domain.tokens import BOOTSTRAP, READER, Identity
from store.files import create_once, private_dir
from store.tokens import TokenStore


def admin_token(settings: Settings) -> str:
    """The bootstrap token (scope ``admin``), creating it on first use.

    A new token is written whole to a private file of its own and flushed to disk, then
    linked into place (``store.files.create_once``, as the signing key is): the link
    fails if another process made the token first, and then its token is the one used,
    so workers starting together agree, and a crash never leaves an empty token file
    behind. One that a crash of an earlier version did leave (no token could match it)
    is replaced.
    """
    if settings.admin_token:
        return settings.admin_token
    path = settings.token_file
    if path.exists():
        kept = path.read_text().strip()
        if kept:
            return kept
        path.unlink(missing_ok=True)
    private_dir(path.parent)
    create_once(path, (secrets.token_urlsafe(32) + "\n").encode())
    return path.read_text().strip()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two tokens."""
    return hmac.compare_digest(a.encode(), b.encode())


class Authenticator:
    """Who a bearer token is, and whether it is within its rate limit."""

    def __init__(self, settings: Settings, admin: str, tokens: TokenStore) -> None:
        self.admin = admin
        self.read = settings.read_token
        self.tokens = tokens
        self.limiter = (
            RateLimiter(RateLimit.parse(settings.rate_limit)) if settings.rate_limit else None
        )
        # A SQLite lookup takes about 10 us: cheaper inline than a thread handoff. A
        # PostgreSQL one is a round trip, which must not hold up the event loop.
        self._inline = tokens.backend == "sqlite"

    async def identify(self, token: str) -> Identity | None:
        """The token's identity; None if no token has it. ``TokenRevokedError`` if revoked.

        The environment's tokens are compared in memory; a named token is looked up in
        the store on every request, so a revocation holds at once in every process.
        """
        if same(token, self.admin):
            return BOOTSTRAP
        if self.read and same(token, self.read):
            return READER
        if self._inline:
            return self.tokens.identify(token)
        return await run_in_threadpool(self.tokens.identify, token)

    def spend(self, identity: Identity) -> None:
        """Count a request against the token's rate; ``RateLimitedError`` past it."""
        if self.limiter is not None:
            self.limiter.take(identity.name)
