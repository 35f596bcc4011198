"""The ``parley`` command: serve the API, load NDJSON, verify the log."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from api.errors import InvalidRequestError
from api.settings import Settings
from api.tokens import admin_token
from domain.errors import NegotiationNotFoundError
from store.loader import LoadError, load, read_events, slug_for
from store.log import ConflictLog

console = Console()
errors = Console(stderr=True)


def _load_file(log: ConflictLog, path: Path, slug: str | None) -> int:
    name = slug or slug_for(path)
    try:
        total = len(read_events(path, name))
    except LoadError as error:
        for line in error.problems:
            errors.print(f"[red]{line}[/red]")
        errors.print(f"nothing was stored: fix the {len(error.problems)} problem(s) above")
        return 1
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=errors,
        transient=False,
    ) as bar:
        task = bar.add_task(f"loading {path.name} into {name}", total=total)
        report = load(log, path, name, progress=lambda n: bar.advance(task, n))
    console.print(
        f"{report.negotiation}: {report.created} new, {report.existing} already stored "
        f"({report.lines} events in {path})"
    )
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    settings = Settings()
    log = ConflictLog(settings.store_config())
    try:
        return _load_file(log, Path(args.file), args.slug)
    finally:
        log.close()


def cmd_verify(_: argparse.Namespace) -> int:
    log = ConflictLog(Settings().store_config())
    try:
        report = log.verify()
    finally:
        log.close()
    if report.ok:
        console.print(
            f"[green]ok[/green]: {report.events} events in {report.negotiations} negotiation(s); "
            "every hash chain holds"
        )
        return 0
    errors.print(f"[red]broken[/red]: {report.first_break}")
    return 2


def cmd_state(args: argparse.Namespace) -> int:
    from api.parsing import instant
    from api.render import print_state
    from projections.service import AsOf

    try:
        as_of = instant(args.as_of, "--as-of") if args.as_of else None
        known_at = instant(args.known_at, "--known-at") if args.known_at else None
    except InvalidRequestError as error:
        errors.print(f"[red]{error.errors[0]['field']}[/red]: {error.errors[0]['message']}")
        return 2
    log = ConflictLog(Settings().store_config())
    try:
        state = AsOf(log).state(args.slug, as_of, known_at)
    except NegotiationNotFoundError as error:
        errors.print(f"[red]{error}[/red]")
        return 1
    finally:
        log.close()
    if args.json:
        print(json.dumps(state.to_json(), indent=2, ensure_ascii=False))
    else:
        print_state(console, state)
    return 0


def cmd_serve(_: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings()
    config = settings.store_config()
    log = ConflictLog(config)
    try:
        if settings.example and log.last_position() == 0:
            if settings.example.exists():
                _load_file(log, settings.example, None)
            else:
                errors.print(f"example {settings.example} not found; starting empty")
    finally:
        log.close()
    token = admin_token(settings)
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"\n[bold]Parley[/bold] is serving {config.describe()}")
    console.print(f"  URL:    {base}")
    console.print(f"  docs:   {base}/docs")
    console.print(f"  token:  {token}")
    console.print(f"  try:    curl {base}/negotiations\n")
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
        access_log=False,
    )
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="parley", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the HTTP API (settings from PARLEY_*)")
    serve.set_defaults(run=cmd_serve)
    loader = commands.add_parser("load", help="load an NDJSON file of events, idempotently")
    loader.add_argument("file")
    loader.add_argument("--slug", help="negotiation slug (default: the file name)")
    loader.set_defaults(run=cmd_load)
    state = commands.add_parser("state", help="a negotiation's state as of a moment")
    state.add_argument("slug")
    state.add_argument("--as-of", help="valid time: a date (end of day, UTC) or datetime")
    state.add_argument("--known-at", help="recorded time: what the log knew then")
    state.add_argument("--json", action="store_true", help="print the API's JSON")
    state.set_defaults(run=cmd_state)
    verify = commands.add_parser("verify", help="check every hash chain and position")
    verify.set_defaults(run=cmd_verify)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
