"""The ``parley`` command: serve the API, load NDJSON, verify the log and saved heads,
print signed heads, dump and restore the log, redact a person, show a state, export a
negotiation (NDJSON, CSV, PLOVER), run, rebuild or report on the subscribing projections
(``parley project …``), and manage named tokens (``parley token …``, in api/token_cli.py)."""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from api import token_cli
from api.errors import InvalidRequestError
from api.output import output
from api.settings import Settings
from api.tokens import admin_token
from domain.errors import NegotiationNotFoundError
from domain.events import AnyEvent
from store.dump import DumpError, check_empty, dump, read_header, restore
from store.heads import Head, HeadsFileError, check_heads, read_heads
from store.loader import LoadError, load, read_events, slug_for
from store.log import ConflictLog
from store.verify import ChainReport

console = Console()
errors = Console(stderr=True)


def _checked(path: Path, name: str) -> list[AnyEvent] | None:
    """The file's events, each checked; None (each problem printed) if any is invalid."""
    try:
        return read_events(path, name)
    except LoadError as error:
        for line in error.problems:
            errors.print(f"[red]{line}[/red]")
        errors.print(f"nothing was stored: fix the {len(error.problems)} problem(s) above")
        return None


def _load_file(log: ConflictLog, path: Path, slug: str | None) -> int:
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
        from api import remote

        path = Path(args.file)
        if (events := _checked(path, args.slug or slug_for(path))) is None:
            return 1
        return remote.run(args, lambda client, _: remote.load(client, path, args.slug, events))
    settings = Settings()
    with ConflictLog(settings.store_config()) as log:
        return _load_file(log, Path(args.file), args.slug)


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
        from api import remote

        return remote.run(args, lambda client, _: _report(*remote.verify(client, heads), heads))
    with ConflictLog(Settings().store_config()) as log:
        return _report(log.verify(), check_heads(log, heads), heads)


def _report(report: ChainReport, problems: list[str], heads: list[Head]) -> int:
    if report.ok:
        console.print(
            f"[green]ok[/green]: {report.events} events in {report.negotiations} negotiation(s); "
            "every hash chain holds"
        )
    else:
        errors.print(f"[red]broken[/red]: {report.first_break}")
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
        from api import remote

        return remote.run(args, remote.head)
    settings = Settings()
    with ConflictLog(settings.store_config()) as log:
        try:
            slugs = [args.slug] if args.slug else [s.negotiation for s in log.summaries()]
            records = [log.head(slug) for slug in slugs]
        except NegotiationNotFoundError as error:
            errors.print(f"[red]{error}[/red]")
            return 1
    signer = signing_key(settings.signing_key_file)
    for record in records:
        print(orjson.dumps(signer.sign(Head.of(record)).to_json()).decode())
    return 0


def cmd_dump(args: argparse.Namespace) -> int:
    config = Settings().store_config()
    with ConflictLog(config) as log:
        try:
            with output(args.file, sync=True) as out:
                header = dump(log, out)
        except DumpError as error:
            errors.print(f"[red]{error}[/red]", soft_wrap=True)
            return 2
    errors.print(
        f"dumped {header.events} events up to position {header.positions} of "
        f"{config.describe()} into {args.file}"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    config = Settings().store_config()
    source = sys.stdin.buffer if args.file == "-" else None
    try:
        lines = source or Path(args.file).open("rb")
    except OSError as error:
        errors.print(f"[red]{error}[/red]")
        return 1
    with ConflictLog(config) as log:
        try:
            with lines:
                first = next(lines, b"")
                header = read_header(first)
                check_empty(log)
                with Progress(
                    TextColumn("[bold]{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    console=errors,
                ) as bar:
                    task = bar.add_task(f"restoring into {config.describe()}", total=header.events)
                    report = restore(
                        log,
                        itertools.chain([first], lines),
                        renumber=args.renumber,
                        progress=lambda n: bar.advance(task, n),
                    )
            checked = log.verify()
        except DumpError as error:
            errors.print(f"[red]{error}[/red]", soft_wrap=True)
            errors.print("nothing was restored")
            return 1
    positions = "renumbered 1 to" if report.renumbered else "kept, up to"
    console.print(
        f"restored {report.events} events of {report.negotiations} negotiation(s) into "
        f"{config.describe()}; positions {positions} {report.last_position}"
    )
    if not checked.ok:
        errors.print(f"[red]broken[/red]: {checked.first_break}", soft_wrap=True)
        return 2
    console.print("[green]ok[/green]: every hash chain holds")
    return 0


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
    if args.server:
        from api import remote

        return remote.run(args, remote.state)
    with ConflictLog(Settings().store_config()) as log:
        try:
            state = AsOf(log).state(args.slug, as_of, known_at)
        except NegotiationNotFoundError as error:
            errors.print(f"[red]{error}[/red]")
            return 1
    if args.json:
        print(json.dumps(state.to_json(), indent=2, ensure_ascii=False))
    else:
        print_state(console, state)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.server:
        from api import remote

        return remote.run(args, remote.export)
    from api.export import parse_query, write
    from projections.export import start
    from store.codec import utc_text

    try:
        query = parse_query(
            args.slug,
            as_of=args.as_of,
            known_at=args.known_at,
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
        f"{utc_text(head.known_at)}, up to position {head.position} (--as-of and --known-at "
        "with these repeat it exactly)",
        soft_wrap=True,
    )
    return 0


def cmd_project_run(args: argparse.Namespace) -> int:
    from projections.runner import Projections, UnknownProjectionError, projection_names

    try:
        names = projection_names(args.names)
    except UnknownProjectionError as error:
        errors.print(f"[red]{error}[/red]")
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    config = Settings().store_config()
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    with Projections(config) as projections:
        projections.start(names)
        console.print(
            f"running {', '.join(names)} on {config.describe()}; stop with Ctrl-C or SIGTERM"
        )
        while not stopping.wait(0.5):
            pass
    console.print("stopped: each projection resumes from its position when run again")
    return 0


def cmd_project_rebuild(args: argparse.Namespace) -> int:
    from projections.runner import Projections, UnknownProjectionError, projection_names

    try:
        projection_names([args.name])
    except UnknownProjectionError as error:
        errors.print(f"[red]{error}[/red]")
        return 2
    config = Settings().store_config()
    errors.print(
        f"rebuilding {args.name} from zero: no 'parley project run' of it may run meanwhile"
    )
    started = time.monotonic()
    with Projections(config) as projections:
        progress = projections.rebuild(args.name)
    console.print(
        f"{args.name}: rebuilt up to position {progress.position} of {progress.head} "
        f"in {time.monotonic() - started:.1f} s"
    )
    return 0


def cmd_project_status(args: argparse.Namespace) -> int:
    from rich.table import Table

    from projections.runner import PROJECTIONS, Projections

    with Projections(Settings().store_config()) as projections:
        statuses = projections.status()
    if args.json:
        print(json.dumps([s.to_json() for s in statuses], indent=2))
        return 0
    table = Table("projection", "position", "log head", "lag (events)", "what it holds")
    for status in statuses:
        colour = "green" if status.lag == 0 else "yellow"
        table.add_row(
            status.name,
            str(status.position),
            str(status.head),
            f"[{colour}]{status.lag}[/{colour}]",
            PROJECTIONS[status.name].description,
        )
    console.print(table)
    return 0


def _example_missing(log: ConflictLog, example: Path) -> bool:
    """Load the example into an empty store, or finish loading it: a load that a crash
    cut short left fewer events than the file has (loading is idempotent)."""
    if log.last_position() == 0:
        return True
    if not example.exists():
        return False
    with example.open("rb") as lines:
        expected = sum(1 for line in lines if line.strip())
    return 0 < log.version_of(slug_for(example)) < expected


def cmd_serve(_: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings()
    config = settings.store_config()
    with ConflictLog(config) as log:
        if settings.example and _example_missing(log, settings.example):
            if settings.example.exists():
                _load_file(log, settings.example, None)
            else:
                errors.print(f"example {settings.example} not found; starting empty")
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
        # No "server: uvicorn": the EventSourcingDB-compatible routes (/api/v1) name
        # their own server, and EventSourcingDB's SDKs read the first such header.
        server_header=False,
        # Live streams never end by themselves: give them 5 s, then close them.
        timeout_graceful_shutdown=5,
        # A bounded request head (issue 15): httptools has no limit of its own.
        http="api.protocol:BoundedHttpToolsProtocol",
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )
    return 0


def _server_options(command: argparse.ArgumentParser) -> None:
    """``--server`` and ``--token``: run the command against a server (``api.remote``)."""
    command.add_argument(
        "--server", metavar="URL", help="run against this Parley server over HTTP, not the store"
    )
    command.add_argument(
        "--token",
        default=os.environ.get("PARLEY_TOKEN"),
        help="bearer token for --server (default: $PARLEY_TOKEN)",
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="parley", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the HTTP API (settings from PARLEY_*)")
    serve.set_defaults(run=cmd_serve)
    loader = commands.add_parser("load", help="load an NDJSON file of events, idempotently")
    loader.add_argument("file")
    loader.add_argument("--slug", help="negotiation slug (default: the file name)")
    _server_options(loader)
    loader.set_defaults(run=cmd_load)
    state = commands.add_parser("state", help="a negotiation's state as of a moment")
    state.add_argument("slug")
    state.add_argument("--as-of", help="valid time: a date (end of day, UTC) or datetime")
    state.add_argument("--known-at", help="recorded time: what the log knew then")
    state.add_argument("--json", action="store_true", help="print the API's JSON")
    _server_options(state)
    state.set_defaults(run=cmd_state)
    exporter = commands.add_parser(
        "export", help="export a negotiation at (as_of, known_at): ndjson, csv or plover"
    )
    exporter.add_argument("slug")
    exporter.add_argument("--format", choices=["ndjson", "csv", "plover"], default="ndjson")
    exporter.add_argument("--as-of", help="valid time: a date (end of day, UTC) or datetime")
    exporter.add_argument("--known-at", help="recorded time: what the log knew then")
    exporter.add_argument("--from", dest="from_", help="valid time: events overlapping from…")
    exporter.add_argument("--to", help="…to (inclusive)")
    exporter.add_argument("--type", action="append", help="event types; repeat or comma-separate")
    exporter.add_argument("-o", "--output", default="-", help="file to write; - for stdout")
    _server_options(exporter)
    exporter.set_defaults(run=cmd_export)
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
    _server_options(verify)
    verify.set_defaults(run=cmd_verify)
    dumper = commands.add_parser(
        "dump", help="write the whole log as stored, as NDJSON (safe while the server runs)"
    )
    dumper.add_argument("file", help="where to write it; - for standard output")
    dumper.set_defaults(run=cmd_dump)
    restorer = commands.add_parser(
        "restore", help="load a dump into an empty store; a broken chain stores nothing"
    )
    restorer.add_argument("file", help="a file 'parley dump' wrote; - for standard input")
    restorer.add_argument(
        "--renumber",
        action="store_true",
        help="close holes in the dump's positions (needed for SQLite when the dump has "
        "holes; positions then differ from the source's)",
    )
    restorer.set_defaults(run=cmd_restore)
    redactor = commands.add_parser(
        "redact", help="destroy a person's key: their sealed fields read [redacted]"
    )
    redactor.add_argument("--person", required=True, help="the name, as the events give it")
    redactor.add_argument("--reason", required=True, help="why (recorded in PersonRedacted)")
    redactor.add_argument("--requested-by", help="who asked (recorded; never the person)")
    redactor.set_defaults(run=cmd_redact)
    head = commands.add_parser(
        "head", help="print signed heads as NDJSON: one negotiation's, or every one's"
    )
    head.add_argument("slug", nargs="?", help="the negotiation (default: all)")
    _server_options(head)
    head.set_defaults(run=cmd_head)
    project = commands.add_parser(
        "project", help="the subscribing projections: run them, rebuild one, show status"
    )
    projects = project.add_subparsers(dest="project_command", required=True)
    run = projects.add_parser(
        "run", help="run projections until stopped (set PARLEY_PROJECTIONS=off on the API)"
    )
    run.add_argument("names", nargs="*", metavar="NAME", help="projections to run (default: all)")
    run.set_defaults(run=cmd_project_run)
    rebuild = projects.add_parser(
        "rebuild", help="empty one projection's view and rebuild it from the whole log"
    )
    rebuild.add_argument("name", metavar="NAME")
    rebuild.set_defaults(run=cmd_project_rebuild)
    status = projects.add_parser("status", help="each projection's position and lag")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(run=cmd_project_status)
    token_cli.add_commands(commands)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
