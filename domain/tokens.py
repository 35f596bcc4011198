"""Who may do what: token names, scopes, and the identity a request acts as.

Scopes nest: ``admin`` implies ``append``, which implies ``read``. A token's name is
what the log records as an event's ``recorded_by``, so names are slugs, never reused
(a revoked name stays taken), and the two names the environment's tokens act under,
``admin`` (PARLEY_ADMIN_TOKEN, the bootstrap) and ``reader`` (PARLEY_READ_TOKEN), are
reserved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from domain.errors import ParleyError

Scope = Literal["read", "append", "admin"]
SCOPES: tuple[Scope, ...] = get_args(Scope)  # weakest first: each implies those before it

BOOTSTRAP_NAME = "admin"  # the environment's admin token
READER_NAME = "reader"  # PARLEY_READ_TOKEN
RESERVED_NAMES = frozenset({BOOTSTRAP_NAME, READER_NAME})

TOKEN_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")


class TokenError(ParleyError):
    """A token request that cannot be carried out; ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str = "name", value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class InvalidTokenError(TokenError):
    """A token name or scope that breaks the rules above."""


class TokenExistsError(TokenError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"a token named {name!r} exists (or existed: names are never reused); "
            "choose another name",
            value=name,
        )


class TokenNotFoundError(TokenError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no token named {name!r}", value=name)


def check_token_name(name: str) -> str:
    """``name`` if it is a valid, unreserved token name; else ``InvalidTokenError``."""
    if not TOKEN_NAME.match(name):
        raise InvalidTokenError(
            "a token name is 1-40 lower-case letters, digits and inner hyphens, e.g. alice",
            value=name,
        )
    if name in RESERVED_NAMES:
        raise InvalidTokenError(
            f"{name!r} is reserved for the environment's "
            + ("admin token" if name == BOOTSTRAP_NAME else "read token"),
            value=name,
        )
    return name


def check_scope(scope: str) -> Scope:
    """``scope`` as a Scope; else ``InvalidTokenError`` naming the three."""
    for known in SCOPES:
        if scope == known:
            return known
    raise InvalidTokenError(f"a scope is one of {', '.join(SCOPES)}", field="scope", value=scope)


def implied(scope: Scope) -> tuple[Scope, ...]:
    """The scopes a token granted ``scope`` holds: it and every weaker one."""
    return SCOPES[: SCOPES.index(scope) + 1]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request acts as: the token's name and the scope it was granted."""

    name: str
    scope: Scope

    @property
    def scopes(self) -> tuple[Scope, ...]:
        return implied(self.scope)

    def allows(self, scope: Scope) -> bool:
        return SCOPES.index(self.scope) >= SCOPES.index(scope)


BOOTSTRAP = Identity(BOOTSTRAP_NAME, "admin")
READER = Identity(READER_NAME, "read")
