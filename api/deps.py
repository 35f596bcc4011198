"""FastAPI dependencies as ``Annotated`` aliases: the log, the projections, the settings,
the signing key, the scopes.

Every dependency is ``async def``: none does I/O, and FastAPI runs a plain ``def`` one
in its thread pool, a thread handoff on every request (measured: a quarter of the
single-append path)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.settings import Settings
from api.signing import Signer, signing_key
from api.tokens import same
from projections.runner import Projections
from projections.service import AsOf
from store.log import ConflictLog

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
    """The key that signs heads, read (or made) on first use and kept by the app."""
    signer: Signer | None = request.app.state.signer
    if signer is None:
        settings: Settings = request.app.state.settings
        signer = signing_key(settings.signing_key_file)
        request.app.state.signer = signer
    return signer


LogDep = Annotated[ConflictLog, Depends(get_log)]
AsOfDep = Annotated[AsOf, Depends(get_as_of)]
ProjectionsDep = Annotated[Projections, Depends(get_projections)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SignerDep = Annotated[Signer, Depends(get_signer)]


async def require_append(request: Request, credentials: Credentials) -> None:
    """Writes need the admin token, which carries the ``append`` scope."""
    if credentials is None:
        raise HTTPException(401, "writes need 'Authorization: Bearer <token>'", _CHALLENGE)
    token = credentials.credentials
    if same(token, request.app.state.admin_token):
        return
    read_token = request.app.state.settings.read_token
    if read_token and same(token, read_token):
        raise HTTPException(403, "this token can read but lacks the 'append' scope")
    raise HTTPException(401, "the bearer token is not recognised", _CHALLENGE)


def check_read(request: Request, credentials: Credentials) -> None:
    """Reads are open unless PARLEY_READ_TOKEN is set."""
    read_token = request.app.state.settings.read_token
    if not read_token:
        return
    if credentials is None:
        raise HTTPException(401, "reads need 'Authorization: Bearer <token>'", _CHALLENGE)
    token = credentials.credentials
    if not (same(token, read_token) or same(token, request.app.state.admin_token)):
        raise HTTPException(401, "the bearer token is not recognised", _CHALLENGE)


async def require_read(request: Request, credentials: ReadCredentials) -> None:
    """Reads are open unless PARLEY_READ_TOKEN is set (``check_read``)."""
    check_read(request, credentials)


CanAppend = Depends(require_append)
CanRead = Depends(require_read)
