"""``parley load``: load an NDJSON file of events, into the store or a server."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from api.cli import tokens as token_cli
from api.cli.common import Subcommands, console, errors, server_options
from api.settings import Settings
from domain.events import AnyEvent
from store.loader import LoadError, load, read_events, slug_for
from store.log import ConflictLog


def _checked(path: Path, name: str) -> list[AnyEvent] | None:
    """The file's events, each checked; None (each problem printed) if any is invalid."""
    try:
        return read_events(path, name)
    except LoadError as error:
        for line in error.problems:
            errors.print(f"[red]{line}[/red]")
        errors.print(f"nothing was stored: fix the {len(error.problems)} problem(s) above")
        return None


def load_file(log: ConflictLog, path: Path, slug: str | None) -> int:
    name = slug or slug_for(path)
    events = _checked(path, name)
    if events is None:
        return 1
    total = len(events)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=errors,
        transient=False,
    ) as bar:
        task = bar.add_task(f"loading {path.name} into {name}", total=total)

        def advance(count: int) -> None:
            bar.advance(task, count)

        report = load(log, path, name, progress=advance, recorded_by=token_cli.operator())
    console.print(
        f"{report.negotiation}: {report.created} new, {report.existing} already stored "
        f"({report.lines} events in {path})"
    )
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    if args.server:
        from api.cli import remote

        path = Path(args.file)
        if (events := _checked(path, args.slug or slug_for(path))) is None:
            return 1
        return remote.run(args, lambda client, _: remote.load(client, path, args.slug, events))
    settings = Settings()
    with ConflictLog(settings.store_config()) as log:
        return load_file(log, Path(args.file), args.slug)


def add_load(commands: Subcommands) -> None:
    loader = commands.add_parser("load", help="load an NDJSON file of events, idempotently")
    loader.add_argument("file")
    loader.add_argument("--slug", help="negotiation slug (default: the file name)")
    server_options(loader)
    loader.set_defaults(run=cmd_load)
