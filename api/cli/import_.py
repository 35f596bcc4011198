"""``parley import FILE --format …``: bring a file of events into the store, streamed.

The file is read a chunk at a time and appended in batches (``api.imports.core``), so
memory does not grow with its size; a progress bar follows the bytes read. With
``--dry-run`` nothing is stored, and the report says what would be, per type. Every
problem is printed with its line number; any problem exits 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from api.cli import tokens as token_cli
from api.cli.common import Subcommands, console, errors
from api.imports import FORMATS
from api.imports.core import Importer, ImportReport
from api.imports.stream import text_of
from api.settings import Settings
from store.log import ConflictLog


def import_file(
    log: ConflictLog, path: Path, fmt: str, slug: str | None, *, dry_run: bool
) -> ImportReport:
    """Import ``path`` into ``log`` with a progress bar of the bytes read; the report."""
    importer = Importer(
        log, fmt, negotiation=slug, dry_run=dry_run, recorded_by=token_cli.operator()
    )
    with (
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=errors,
        ) as bar,
        path.open("rb") as raw,
    ):
        verb = "checking" if dry_run else "importing"
        task = bar.add_task(f"{verb} {path.name}", total=path.stat().st_size)
        stream = text_of(raw, lambda size: bar.advance(task, size))
        importer.feed(FORMATS[fmt](stream))
    return importer.report


def print_report(report: ImportReport) -> None:
    """The per-type table (for a dry run), every problem with its line, and the summary."""
    if report.dry_run:
        for kind, counts in sorted(report.by_type.items()):
            console.print(f"  {kind}: {counts.new} new, {counts.stored} already stored")
    for problem in report.problems:
        errors.print(f"[red]{escape(str(problem))}[/red]", soft_wrap=True, highlight=False)
    if report.problem_count > len(report.problems):
        errors.print(f"… and {report.problem_count - len(report.problems)} more problem(s)")
    console.print(escape(report.summary()), soft_wrap=True, highlight=False)


def cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        errors.print(f"[red]{escape(str(path))}: no such file[/red]")
        return 1
    with ConflictLog(Settings().store_config()) as log:
        report = import_file(log, path, args.format, args.negotiation, dry_run=args.dry_run)
    print_report(report)
    return 1 if report.problem_count else 0


def add_import(commands: Subcommands) -> None:
    importer = commands.add_parser(
        "import",
        help="import a file (Parley's NDJSON, CSV or PLOVER export; PLOVER, POLECAT, ACLED)",
        description=__doc__,
    )
    importer.add_argument("file")
    importer.add_argument("--format", required=True, choices=sorted(FORMATS))
    importer.add_argument(
        "--negotiation", help="the negotiation's slug (required when the records name none)"
    )
    importer.add_argument(
        "--dry-run", action="store_true", help="store nothing; report what would be stored"
    )
    importer.set_defaults(run=cmd_import)
