"""The ``parley`` command: ``entry`` guards the import roots, then runs ``api.cli.main``
(named apart from that module, which tests and tools import as ``api.cli.main``)."""

from __future__ import annotations

import sys


def entry(argv: list[str] | None = None) -> int:
    """The entry point: first that each of Parley's import roots is Parley's own (before
    importing any of the commands, which would fail on another's ``store``), then the
    command."""
    from api.version import shadowed_roots

    shadowed = shadowed_roots()
    if shadowed:
        # Parley installs top-level packages (api, store, domain, …): software with a
        # package of the same name in the same environment breaks one of the two.
        for root, where in shadowed.items():
            print(f"Parley's '{root}' is shadowed by {where}", file=sys.stderr)
        print(
            "install Parley into a virtual environment of its own (README: Installing)",
            file=sys.stderr,
        )
        return 1
    from api.cli.main import main as run

    return run(argv)
