"""FastAPI dependencies as ``Annotated`` aliases: the log, the projections, the settings,
the signing key, and who a request acts as (``Appender``, ``Admin``; ``CanRead``).

Every dependency is ``async def``: FastAPI runs a plain ``def`` one in its thread pool,
a thread handoff on every request (measured: a quarter of the single-append path). The
only one that does I/O is the named-token lookup, which ``api.tokens`` runs inline on
SQLite (about 10 us) and in the thread pool on PostgreSQL (a round trip)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.http.observe import TOKEN_KEY
from api.settings import Settings
from api.signing import Signer
from api.tokens import Authenticator
from domain.tokens import Identity, Scope
from projections.runner import Projections
from projections.service import AsOf
from store.log import ConflictLog
from store.tokens import TokenRevokedError, TokenStore

READ_SCHEME = "HTTPBearerRead"
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <token>")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
# The same header on reads, under its own scheme name: api/openapi.py makes it optional
# in the document unless PARLEY_READ_TOKEN is set.
_read_bearer = HTTPBearer(
    auto_error=False, scheme_name=READ_SCHEME, description="Authorization: Bearer <token>"
)
ReadCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_read_bearer)]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def get_log(request: Request) -> ConflictLog:
    log: ConflictLog = request.app.state.log
    return log


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_as_of(request: Request) -> AsOf:
    as_of: AsOf = request.app.state.as_of
    return as_of


async def get_projections(request: Request) -> Projections:
    projections: Projections = request.app.state.projections
    return projections


async def get_signer(request: Request) -> Signer:
    """The key that signs heads, loaded when the app was made (``api.signing_keys``)."""
    signer: Signer = request.app.state.signer
    return signer


async def get_tokens(request: Request) -> TokenStore:
    auth: Authenticator = request.app.state.auth
    return auth.tokens


LogDep = Annotated[ConflictLog, Depends(get_log)]
AsOfDep = Annotated[AsOf, Depends(get_as_of)]
ProjectionsDep = Annotated[Projections, Depends(get_projections)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SignerDep = Annotated[Signer, Depends(get_signer)]
TokensDep = Annotated[TokenStore, Depends(get_tokens)]


async def authenticate(request: Request, credentials: Credentials) -> Identity | None:
    """The identity the bearer token names, None without a token. A token that is sent
    must be known and not revoked (401), and within its rate limit (429)."""
    if credentials is None:
        return None
    auth: Authenticator = request.app.state.auth
    try:
        identity = await auth.identify(credentials.credentials)
    except TokenRevokedError as error:
        request.scope[TOKEN_KEY] = str(error.value)  # the name, for metrics and logs
        raise HTTPException(401, f"{error}; ask an admin for a new one", _CHALLENGE) from None
    if identity is None:
        request.scope[TOKEN_KEY] = "unknown"  # never the token itself
        raise HTTPException(401, "the bearer token is not recognised", _CHALLENGE)
    request.scope[TOKEN_KEY] = identity.name
    auth.spend(identity)
    return identity


Authenticated = Annotated[Identity | None, Depends(authenticate)]


async def authenticate_read(request: Request, credentials: ReadCredentials) -> Identity | None:
    """``authenticate`` for reads: the same header under the read scheme's name, which
    api/openapi.py shows as optional unless PARLEY_READ_TOKEN is set."""
    return await authenticate(request, credentials)


ReadAuthenticated = Annotated[Identity | None, Depends(authenticate_read)]


def _require(scope: Scope, identity: Identity | None, what: str) -> Identity:
    if identity is None:
        raise HTTPException(401, f"{what} need 'Authorization: Bearer <token>'", _CHALLENGE)
    if not identity.allows(scope):
        can = " and ".join(identity.scopes)
        raise HTTPException(
            403,
            f"this token can only {can}: {identity.name!r} has scope {identity.scope!r}, "
            f"and {what} need {scope!r}",
        )
    return identity


async def require_append(identity: Authenticated) -> Identity:
    """Writes need a token with the ``append`` scope; the identity is who records them."""
    return _require("append", identity, "writes")


async def require_admin(identity: Authenticated) -> Identity:
    """Managing tokens needs the ``admin`` scope."""
    return _require("admin", identity, "token management")


async def require_redactor(identity: Authenticated) -> Identity:
    """Redacting a person destroys a key for good: it needs the ``admin`` scope."""
    return _require("admin", identity, "redactions")


async def require_read(request: Request, identity: ReadAuthenticated) -> Identity | None:
    """Reads are open unless PARLEY_READ_TOKEN is set; then any known token reads."""
    if identity is None and request.app.state.settings.read_token:
        raise HTTPException(401, "reads need 'Authorization: Bearer <token>'", _CHALLENGE)
    return identity


Appender = Annotated[Identity, Depends(require_append)]
Admin = Annotated[Identity, Depends(require_admin)]
Redactor = Annotated[Identity, Depends(require_redactor)]
CanAppend = Depends(require_append)
CanRead = Depends(require_read)
