"""``parley export``: a negotiation at (as_of, known_at) as NDJSON, CSV or PLOVER."""

from __future__ import annotations

import argparse

from api.cli.common import Subcommands, errors, server_options
from api.cli.output import output
from api.invalid import InvalidRequestError
from api.settings import Settings
from domain.errors import NegotiationNotFoundError
from store.log import ConflictLog


def cmd_export(args: argparse.Namespace) -> int:
    if args.server:
        from api.cli import remote

        return remote.run(args, remote.export)
    from api.formats import write
    from api.parsing import export_query
    from domain.instants import utc_text
    from projections.export import start

    try:
        query = export_query(
            args.slug,
            as_of=args.as_of,
            known_at=args.known_at,
            reported_at=args.reported_at,
            from_=args.from_,
            to=args.to,
            types=[t for v in args.type or [] for t in v.split(",") if t],
        )
    except InvalidRequestError as error:
        errors.print(f"[red]{error.errors[0]['field']}[/red]: {error.errors[0]['message']}")
        return 2
    with ConflictLog(Settings().store_config()) as log:
        try:
            head, rows = start(log, query)
        except NegotiationNotFoundError as error:
            errors.print(f"[red]{error}[/red]")
            return 1
        with output(args.output) as out:
            for chunk in write(args.format, head, rows):
                out.write(chunk)
    errors.print(
        f"exported {head.negotiation} as of {utc_text(head.as_of)}, known at "
        f"{utc_text(head.known_at)}, reported by "
        f"{utc_text(head.reported_at or head.known_at)}, up to position {head.position} "
        "(--as-of, --known-at and --reported-at with these repeat it exactly)",
        soft_wrap=True,
    )
    return 0


def add_export(commands: Subcommands) -> None:
    exporter = commands.add_parser(
        "export", help="export a negotiation at (as_of, known_at): ndjson, csv or plover"
    )
    exporter.add_argument("slug")
    exporter.add_argument("--format", choices=["ndjson", "csv", "plover"], default="ndjson")
    exporter.add_argument("--as-of", help="valid time: a date (end of day, UTC) or datetime")
    exporter.add_argument("--known-at", help="recorded time: what the log knew then")
    exporter.add_argument(
        "--reported-at", help="reported time: count only what was reported by then"
    )
    exporter.add_argument("--from", dest="from_", help="valid time: events overlapping from…")
    exporter.add_argument("--to", help="…to (inclusive)")
    exporter.add_argument("--type", action="append", help="event types; repeat or comma-separate")
    exporter.add_argument("-o", "--output", default="-", help="file to write; - for stdout")
    server_options(exporter)
    exporter.set_defaults(run=cmd_export)
