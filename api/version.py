"""Parley's version, written once: ``version`` in pyproject.toml.

An installed Parley reads it from its distribution's metadata; a source checkout reads
pyproject.toml itself, so that a changed version shows without reinstalling."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "parley"
_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


@cache
def version() -> str:
    """The version ``parley --version``, ``/health`` and the OpenAPI document show."""
    try:
        project = tomllib.loads(_PYPROJECT.read_text())["project"]
        if project.get("name") == DISTRIBUTION:
            return str(project["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        pass  # not a source checkout: the installed metadata says it
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"


ROOTS = ("api", "domain", "store", "projections", "parley")
"""Parley's import roots: installed side by side, as in the repository."""


def shadowed_roots() -> dict[str, str]:
    """Each of Parley's import roots that some other software's package of the same name
    answers, with where that one lives (empty when Parley is whole)."""
    import importlib.util

    home = Path(__file__).resolve().parent.parent
    found: dict[str, str] = {}
    for root in ROOTS:
        spec = importlib.util.find_spec(root)
        origin = spec.origin if spec is not None else None
        if origin is None or Path(origin).resolve().parent.parent != home:
            found[root] = origin or "(a namespace package, or nothing)"
    return found
