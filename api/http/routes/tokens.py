"""Named tokens over HTTP, for admins: make one (its secret shown once), list, revoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response

from api.http.deps import Admin, Authenticated, TokensDep
from api.schemas import IdentityOut, TokenCreatedOut, TokenIn, TokenOut, TokensOut

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post("", status_code=201, response_model=TokenCreatedOut)
def create_token(body: TokenIn, admin: Admin, tokens: TokensDep, response: Response) -> Any:
    """Make a token. The answer's ``token`` is its secret: shown this once, and kept
    nowhere (the store holds its SHA-256). A name is never reused, even once revoked."""
    token, secret = tokens.create(body.name, body.scope, created_by=admin.name)
    response.headers["Location"] = f"/tokens/{token.name}"
    return {**token.to_json(), "token": secret}


@router.get("", response_model=TokensOut)
def list_tokens(_: Admin, tokens: TokensDep) -> Any:
    """Every named token, revoked ones included, oldest first; never a secret."""
    return {"tokens": [token.to_json() for token in tokens.tokens()]}


@router.get("/{name}", response_model=TokenOut)
def get_token(name: str, _: Admin, tokens: TokensDep) -> Any:
    """One named token."""
    return tokens.get(name).to_json()


@router.delete("/{name}", response_model=TokenOut)
def revoke_token(name: str, _: Admin, tokens: TokensDep) -> Any:
    """Revoke a token: every request with it is refused from now on, by every worker.
    Its events keep its name as ``recorded_by``; revoking it again changes nothing."""
    return tokens.revoke(name).to_json()


me = APIRouter(tags=["tokens"])
"""``GET /me``: beside ``/tokens``, whose ``/{name}`` routes would also claim ``/tokens/me``."""


@me.get("/me", response_model=IdentityOut)
def who_am_i(identity: Authenticated) -> Any:
    """Who the bearer token writes as: its name and scope (any token; the page's
    sign-in shows it). Without a token, 401."""
    if identity is None:
        challenge = {"WWW-Authenticate": "Bearer"}
        raise HTTPException(401, "send 'Authorization: Bearer <token>'", challenge)
    return {"name": identity.name, "scope": identity.scope, "scopes": list(identity.scopes)}
