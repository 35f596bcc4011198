"""``parley project run|rebuild|status``: the subscribing projections."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
import time

from api.cli.common import Subcommands, console, errors
from api.settings import Settings


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


def add_project(commands: Subcommands) -> None:
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
