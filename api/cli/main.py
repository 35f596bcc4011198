"""The ``parley`` command: serve the API, load NDJSON, import files (``parley import``),
verify the log and saved heads, print signed heads, dump and restore the log, redact a
person, show a state, export a negotiation (NDJSON, CSV, PLOVER), run, rebuild or report
on the subscribing projections (``parley project …``), and manage named tokens
(``parley token …``, in api/cli/tokens.py)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from api.cli import backup, codebook, export, import_, load, project, redact, serve, state, verify
from api.cli import tokens as token_cli
from api.cli.common import Subcommands, errors
from api.settings import Settings
from api.version import version

COMMANDS: tuple[Callable[[Subcommands], None], ...] = (
    serve.add_serve,
    load.add_load,
    import_.add_import,
    state.add_state,
    export.add_export,
    verify.add_verify,
    backup.add_dump,
    backup.add_restore,
    redact.add_redact,
    verify.add_head,
    project.add_project,
    token_cli.add_commands,
    codebook.add_codebook,
)
"""Each command adds its subcommand and handler, in the order ``parley --help`` lists them."""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="parley", description=__doc__)
    top.add_argument("--version", action="version", version=f"parley {version()}")
    commands = top.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(commands)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except Exception as error:
        # A damaged or unusable store, folder or key is one line that names it, not a
        # traceback: exit 2 for damage (as a broken chain), 1 for the rest.
        from rich.markup import escape

        from api.signing_keys import SigningKeyError
        from domain.errors import ParleyError
        from store.damage import failure_of
        from store.files import PrivatePathError

        failure = failure_of(error, Settings().store_config().describe())
        if isinstance(error, SigningKeyError | PrivatePathError | ParleyError):
            # A refusal of the log's rules (an event id reused with other content, a
            # stale version) is the user's to fix, said in one line like the API's 409.
            line, code = str(error), 1
        elif failure is not None:
            line, code = str(failure), 2 if failure.kind == "damaged" else 1
        else:
            raise
        errors.print(f"[red]{escape(line)}[/red]", soft_wrap=True, highlight=False)
    return code


if __name__ == "__main__":
    sys.exit(main())
