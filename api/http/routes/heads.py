"""Signed heads: a negotiation's head for anyone to save, and the key that signs it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.http.deps import CanRead, LogDep, SignerDep
from api.schemas import HeadOut, KeysOut
from domain.negotiation import Slug
from store.heads import Head

router = APIRouter(tags=["integrity"])


@router.get("/negotiations/{slug}/head", response_model=HeadOut, dependencies=[CanRead])
def head(slug: Slug, log: LogDep, signer: SignerDep) -> dict[str, Any]:
    """The negotiation's version, position, head hash and last recorded_at, signed with
    the server's Ed25519 key (see `GET /keys`). Save it: `parley verify --heads FILE`
    later shows a lost tail or a rewritten history, and anyone can check the signature
    offline with `parley verify --public-key KEY --heads FILE`."""
    return signer.sign(Head.of(log.head(slug))).to_json()


@router.get("/keys", response_model=KeysOut, response_model_exclude_unset=True)
def keys(signer: SignerDep) -> dict[str, Any]:
    """The public keys that sign heads: raw (base64) and PEM, each with its key id. The
    first signs now; any after it were replaced (`retired_at`, `retired_because`) and are
    kept so that the heads they signed, which name their `key_id`, still check."""
    return {"keys": signer.keys_json()}
