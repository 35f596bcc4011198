"""``parley token create|list|revoke``: named tokens, managed where the store is.

Whoever can run these can open the store, so they need no token themselves; a token
made here records ``created_by`` as ``cli:<the operating-system user>``."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from api.settings import Settings
from domain.tokens import SCOPES, TokenError
from store.log import ConflictLog
from store.tokens import TokenStore

console = Console()
errors = Console(stderr=True)


def operator() -> str:
    """Who acts from the command line: ``cli:<the operating-system user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this container
        return "cli"


def _run(args: argparse.Namespace) -> int:
    with ConflictLog(Settings().store_config()) as log:
        tokens = log.token_store()
        try:
            code: int = args.token_run(args, tokens)
        except TokenError as error:
            errors.print(f"[red]{error}[/red]", soft_wrap=True)
            return 1
        finally:
            tokens.close()
    return code


def cmd_create(args: argparse.Namespace, tokens: TokenStore) -> int:
    token, secret = tokens.create(args.name, args.scope, created_by=operator())
    errors.print(
        f"token [bold]{token.name}[/bold] made with scope {token.scope}; its secret, "
        "shown this once (Parley keeps only its hash):"
    )
    print(secret)
    return 0


def cmd_list(args: argparse.Namespace, tokens: TokenStore) -> int:
    found = [token.to_json() for token in tokens.tokens()]
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    table = Table("name", "scopes", "created", "created by", "revoked")
    for token in found:
        table.add_row(
            token["name"],
            ", ".join(token["scopes"]),
            token["created_at"],
            token["created_by"],
            _revoked(token),
        )
    console.print(table)
    return 0


def _revoked(token: dict[str, Any]) -> str:
    return f"[red]{token['revoked_at']}[/red]" if token["revoked_at"] else ""


def cmd_revoke(args: argparse.Namespace, tokens: TokenStore) -> int:
    token = tokens.revoke(args.name)
    console.print(f"token {token.name} revoked at {token.to_json()['revoked_at']}")
    return 0


def add_commands(commands: Any) -> None:
    """Add ``token …`` to the ``parley`` command's subparsers."""
    token = commands.add_parser("token", help="named tokens: create, list, revoke")
    token.set_defaults(run=_run)
    actions = token.add_subparsers(dest="token_command", required=True)
    create = actions.add_parser("create", help="make a token and print its secret, once")
    create.add_argument("--name", required=True, help="what events record as recorded_by")
    create.add_argument("--scope", required=True, choices=SCOPES, help="admin > append > read")
    create.set_defaults(token_run=cmd_create)
    listing = actions.add_parser("list", help="every token: name, scopes, created, revoked")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(token_run=cmd_list)
    revoke = actions.add_parser("revoke", help="refuse a token from now on, in every worker")
    revoke.add_argument("name")
    revoke.set_defaults(token_run=cmd_revoke)
