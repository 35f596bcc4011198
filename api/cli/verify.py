"""``parley verify`` and ``parley head``: check the hash chains, saved heads and their
signatures; print signed heads."""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson

from api.cli.common import Subcommands, console, errors, server_options
from api.settings import Settings
from domain.errors import NegotiationNotFoundError
from store.heads import Head, HeadsFileError, check_heads, read_heads
from store.log import ConflictLog
from store.verify import ChainReport


def cmd_verify(args: argparse.Namespace) -> int:
    if args.public_key is not None:
        return _verify_signatures(args)
    heads: list[Head] = []
    if args.heads:
        try:
            heads = read_heads(Path(args.heads))
        except (OSError, HeadsFileError) as error:
            errors.print(f"[red]{error}[/red]")
            return 1
    if args.server:
        from api.cli import remote

        return remote.run(args, lambda client, _: _report(*remote.verify(client, heads), heads))
    with ConflictLog(Settings().store_config()) as log:
        return _report(log.verify(), check_heads(log, heads), heads)


def add_verify(commands: Subcommands) -> None:
    verify = commands.add_parser(
        "verify", help="check every hash chain and position, and heads saved earlier"
    )
    verify.add_argument(
        "--heads",
        metavar="FILE",
        help="saved heads (a JSON list, or NDJSON as 'parley head' prints): does the log "
        "still hold each of them?",
    )
    verify.add_argument(
        "--public-key",
        metavar="KEY",
        help="check the signatures of --heads with this public key (a PEM file, or the "
        "base64 of GET /keys) and nothing else: no database is opened",
    )
    server_options(verify)
    verify.set_defaults(run=cmd_verify)


def _report(report: ChainReport, problems: list[str], heads: list[Head]) -> int:
    if report.ok:
        console.print(
            f"[green]ok[/green]: {report.events} events in {report.negotiations} negotiation(s); "
            "every hash chain holds"
        )
    else:
        errors.print(f"[red]broken[/red]: {report.first_break}", soft_wrap=True)
    for problem in problems:
        errors.print(f"[red]broken[/red]: {problem}", soft_wrap=True)
    if heads and not problems:
        console.print(f"[green]ok[/green]: the log holds each of the {len(heads)} saved heads")
    return 0 if report.ok and not problems else 2


def _verify_signatures(args: argparse.Namespace) -> int:
    """Check saved heads' signatures with a public key alone: no database is opened."""
    from api.signing import check_signature, key_id_of, load_public_key

    if not args.heads:
        errors.print("[red]--public-key checks the heads of --heads FILE; give that file[/red]")
        return 1
    given = Path(args.public_key)
    try:
        key = load_public_key(given.read_text() if given.is_file() else args.public_key)
        heads = read_heads(Path(args.heads))
    except (OSError, ValueError) as error:
        errors.print(f"[red]{error}[/red]")
        return 1
    bad = [problem for head in heads if (problem := check_signature(head, key))]
    for problem in bad:
        errors.print(f"[red]bad signature[/red]: {problem}", soft_wrap=True)
    if bad:
        return 2
    console.print(
        f"[green]ok[/green]: each of the {len(heads)} heads is signed by key {key_id_of(key)}"
    )
    return 0


def cmd_head(args: argparse.Namespace) -> int:
    from api.signing import signing_key

    if args.server:
        from api.cli import remote

        return remote.run(args, remote.head)
    settings = Settings()
    with ConflictLog(settings.store_config()) as log:
        try:
            slugs = [args.slug] if args.slug else [s.negotiation for s in log.summaries()]
            records = [log.head(slug) for slug in slugs]
        except NegotiationNotFoundError as error:
            errors.print(f"[red]{error}[/red]")
            return 1
    signer = signing_key(settings.signing_key_file, new_key=settings.new_signing_key)
    for record in records:
        print(orjson.dumps(signer.sign(Head.of(record)).to_json()).decode())
    return 0


def add_head(commands: Subcommands) -> None:
    head = commands.add_parser(
        "head", help="print signed heads as NDJSON: one negotiation's, or every one's"
    )
    head.add_argument("slug", nargs="?", help="the negotiation (default: all)")
    server_options(head)
    head.set_defaults(run=cmd_head)
