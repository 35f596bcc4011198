"""``parley dump`` and ``parley restore``: the whole log as stored, out and back in."""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from api.cli.common import Subcommands, console, errors
from api.cli.output import output
from api.settings import Settings
from store.dump import (
    DumpError,
    check_empty,
    dump,
    dump_key_file,
    new_dump_key,
    read_dump_key,
    read_header,
    restore,
    write_dump_key,
)
from store.log import ConflictLog


def _key_file(args: argparse.Namespace) -> Path | None:
    if args.key_file:
        return Path(args.key_file)
    return None if args.file == "-" else dump_key_file(Path(args.file))


def cmd_dump(args: argparse.Namespace) -> int:
    config = Settings().store_config()
    key_file = _key_file(args)
    if key_file is None:
        errors.print("[red]a dump to standard output needs --key-file[/red]")
        return 2
    key = new_dump_key()
    with ConflictLog(config) as log:
        try:
            with output(args.file, sync=True) as out:
                header = dump(log, out, key=key)
            if header.keys:
                write_dump_key(key_file, key)
        except DumpError as error:
            errors.print(f"[red]{error}[/red]", soft_wrap=True)
            return 2
    errors.print(
        f"dumped {header.events} events up to position {header.positions} of "
        f"{config.describe()} into {args.file}"
    )
    if header.keys:
        errors.print(
            f"its {header.keys} person keys are wrapped under the dump key in {key_file}: "
            "restoring needs it; keep it apart from the dump"
        )
    return 0


def add_dump(commands: Subcommands) -> None:
    dumper = commands.add_parser(
        "dump", help="write the whole log as stored, as NDJSON (safe while the server runs)"
    )
    dumper.add_argument("file", help="where to write it; - for standard output")
    dumper.add_argument(
        "--key-file",
        help="where to write the dump key its person keys are wrapped under (0600); "
        "default <file>.key",
    )
    dumper.set_defaults(run=cmd_dump)


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
                    key_file = _key_file(args)
                    key = None
                    if header.dump_key_id and key_file is not None:
                        key = read_dump_key(key_file)
                    report = restore(
                        log,
                        itertools.chain([first], lines),
                        renumber=args.renumber,
                        key=key,
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


def add_restore(commands: Subcommands) -> None:
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
    restorer.add_argument(
        "--key-file",
        help="the dump key 'parley dump' wrote beside the dump; default <file>.key",
    )
    restorer.set_defaults(run=cmd_restore)
