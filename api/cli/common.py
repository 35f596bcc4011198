"""What the ``parley`` commands share: the two consoles and the ``--server`` options."""

from __future__ import annotations

import argparse
import os
from typing import Any

from rich.console import Console

Subcommands = Any
"""What ``add_subparsers`` returns (its class is private to argparse): each command adds
its own parser to it."""

console = Console()
errors = Console(stderr=True)


def server_options(command: argparse.ArgumentParser) -> None:
    """``--server`` and ``--token``: run the command against a server (``api.cli.remote``)."""
    command.add_argument(
        "--server", metavar="URL", help="run against this Parley server over HTTP, not the store"
    )
    command.add_argument(
        "--token",
        default=os.environ.get("PARLEY_TOKEN"),
        help="bearer token for --server (default: $PARLEY_TOKEN)",
    )
