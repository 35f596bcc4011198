"""``parley state``: a negotiation's state as of a moment, as tables or JSON."""

from __future__ import annotations

import argparse
import json

from api.cli.common import Subcommands, console, errors, server_options
from api.invalid import InvalidRequestError
from api.settings import Settings
from domain.errors import NegotiationNotFoundError
from store.log import ConflictLog


def cmd_state(args: argparse.Namespace) -> int:
    from api.cli.render import print_state
    from api.parsing import instant, known_instant
    from projections.service import AsOf

    try:
        as_of = instant(args.as_of, "--as-of") if args.as_of else None
        known_at = known_instant(args.known_at, "--known-at")
        reported_at = known_instant(args.reported_at, "--reported-at")
    except InvalidRequestError as error:
        errors.print(f"[red]{error.errors[0]['field']}[/red]: {error.errors[0]['message']}")
        return 2
    if args.server:
        from api.cli import remote

        return remote.run(args, remote.state)
    with ConflictLog(Settings().store_config()) as log:
        try:
            state = AsOf(log).state(args.slug, as_of, known_at, reported_at)
        except NegotiationNotFoundError as error:
            errors.print(f"[red]{error}[/red]")
            return 1
    if args.json:
        print(json.dumps(state.to_json(), indent=2, ensure_ascii=False))
    else:
        print_state(console, state)
    return 0


def add_state(commands: Subcommands) -> None:
    state = commands.add_parser("state", help="a negotiation's state as of a moment")
    state.add_argument("slug")
    state.add_argument("--as-of", help="valid time: a date (end of day, UTC) or datetime")
    state.add_argument("--known-at", help="recorded time: what the log knew then")
    state.add_argument(
        "--reported-at", help="reported time: count only what was reported by then"
    )
    state.add_argument("--json", action="store_true", help="print the API's JSON")
    server_options(state)
    state.set_defaults(run=cmd_state)
