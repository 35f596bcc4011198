"""``parley redact``: destroy a person's key."""

from __future__ import annotations

import argparse

from api.cli.common import Subcommands, console, errors
from api.settings import Settings
from store.log import ConflictLog


def cmd_redact(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from domain.errors import PersonNotFoundError

    with ConflictLog(Settings().store_config()) as log:
        try:
            done = log.redact(args.person, args.reason, args.requested_by)
        except PersonNotFoundError as error:
            errors.print(f"[red]{error}[/red]", soft_wrap=True)
            return 1
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            errors.print(f"[red]{where}: {first['msg']}[/red]", soft_wrap=True)
            return 1
    where = ", ".join(done.negotiations) or "no negotiation (no stored event used it)"
    console.print(
        f"destroyed key {done.key_id}; PersonRedacted recorded in {where}. Dumps taken "
        "before now still hold the key: delete them, or they can restore the name."
    )
    return 0


def add_redact(commands: Subcommands) -> None:
    redactor = commands.add_parser(
        "redact", help="destroy a person's key: their sealed fields read [redacted]"
    )
    redactor.add_argument("--person", required=True, help="the name, as the events give it")
    redactor.add_argument("--reason", required=True, help="why (recorded in PersonRedacted)")
    redactor.add_argument("--requested-by", help="who asked (recorded; never the person)")
    redactor.set_defaults(run=cmd_redact)
