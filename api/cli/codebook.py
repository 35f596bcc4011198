"""``parley codebook``: every event type, its fields and its codes, as Markdown."""

from __future__ import annotations

import argparse
import sys

from api.cli.common import Subcommands


def cmd_codebook(args: argparse.Namespace) -> int:
    from api.codebook import codebook

    sys.stdout.write(codebook())
    return 0


def add_codebook(commands: Subcommands) -> None:
    page = commands.add_parser(
        "codebook", help="print every event type, its fields and its CAMEO/PLOVER codes"
    )
    page.set_defaults(run=cmd_codebook)
