"""The layering rule of DESIGN.md §1: imports only point downwards.

``domain/`` imports only the standard library, pydantic, pycountry's code tables, orjson,
``eventsourcing.domain`` and itself; ``store/`` nothing from ``projections/`` or
``api/``; ``projections/`` nothing from ``api/``. Each source file is read with
``ast``, so nothing is imported to check it. The checker is tested on synthetic
sources first, so that a broken checker cannot pass the real check by accident.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Standard-library modules that are database drivers: DESIGN.md §1 keeps them out of
# the domain even though they ship with Python.
STDLIB_DRIVERS = frozenset({"sqlite3", "dbm", "shelve"})


def imported_modules(source: str, module: str) -> Iterator[str]:
    """Every module name that ``source`` (the module named ``module``) imports.

    ``from a import b`` yields ``a.b``, because ``b`` may be a submodule
    (``from eventsourcing import application``); relative imports are made absolute.
    """
    package = module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                prefix = ".".join([*base, *([node.module] if node.module else [])])
            else:
                prefix = node.module or ""
            for alias in node.names:
                yield prefix if alias.name == "*" else f"{prefix}.{alias.name}".strip(".")


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def allowed_in_domain(name: str) -> bool:
    top = name.split(".")[0]
    if top in sys.stdlib_module_names:
        return top not in STDLIB_DRIVERS
    return any(
        within(name, allowed)
        # pydantic_core: the core schemas pydantic's documentation builds custom types with.
        for allowed in (
            "pydantic", "pydantic_core", "pycountry", "orjson", "eventsourcing.domain", "domain"
        )
    )


def forbidding(*packages: str) -> Callable[[str], bool]:
    return lambda name: not any(within(name, package) for package in packages)


def violations(source: str, module: str, allowed: Callable[[str], bool]) -> list[str]:
    return sorted({name for name in imported_modules(source, module) if not allowed(name)})


def modules_of(package: str) -> list[tuple[str, Path]]:
    """(dotted module name, path) of every .py file under the top-level ``package``."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1] + ("__init__",)
        found.append((".".join(parts), path))
    return found


def check_package(package: str, allowed: Callable[[str], bool]) -> dict[str, list[str]]:
    modules = modules_of(package)
    if not modules:
        pytest.skip(f"{package}/ has no .py files yet")
    report = {}
    for module, path in modules:
        bad = violations(path.read_text(encoding="utf-8"), module, allowed)
        if bad:
            report[str(path.relative_to(ROOT))] = bad
    return report


# The checker itself


@pytest.mark.parametrize(
    "source",
    [
        "import fastapi",
        "from fastapi import FastAPI",
        "import sqlalchemy.orm",
        "import psycopg",
        "import sqlite3",
        "from eventsourcing.application import Application",
        "from eventsourcing import application",
        "import eventsourcing",
        "from store.log import ConflictLog",
        "from projections import state",
        "from ..api import main",
        "import pydantic_settings",
        "def f():\n    import fastapi\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from api.main import app\n",
    ],
)
def test_checker_flags_a_forbidden_import_in_domain(source: str) -> None:
    assert violations(source, "domain.events", allowed_in_domain)


@pytest.mark.parametrize(
    "source",
    [
        "from __future__ import annotations",
        "import hashlib, json, re",
        "from collections.abc import Sequence",
        "from datetime import UTC, datetime",
        "from pydantic import BaseModel, Field",
        "from pydantic.functional_validators import AfterValidator",
        "import pycountry",
        "from eventsourcing.domain import Aggregate",
        "from eventsourcing import domain",
        "from domain.values import Actor",
        "from . import values",
        "from .errors import InvalidEventError",
    ],
)
def test_checker_allows_stdlib_pydantic_pycountry_eventsourcing_domain_and_domain(
    source: str,
) -> None:
    assert violations(source, "domain.events", allowed_in_domain) == []


def test_checker_resolves_relative_imports_against_the_module_package() -> None:
    assert list(imported_modules("from .values import Actor", "domain.events")) == [
        "domain.values.Actor"
    ]
    assert list(imported_modules("from . import log", "store.__init__")) == ["store.log"]
    assert list(imported_modules("from ..api import deps", "store.sub.mod")) == ["store.api.deps"]
    assert list(imported_modules("from ...api import deps", "store.sub.mod")) == ["api.deps"]


def test_checker_flags_store_importing_projections_or_api() -> None:
    no_upward = forbidding("projections", "api")

    assert violations("from projections.state import evolve", "store.log", no_upward)
    assert violations("import api.main", "store.log", no_upward)
    assert violations("from domain.events import AnyEvent", "store.log", no_upward) == []
    assert violations("from eventsourcing.application import App", "store.log", no_upward) == []


# The real code


def test_domain_imports_only_stdlib_pydantic_pycountry_and_eventsourcing_domain() -> None:
    assert check_package("domain", allowed_in_domain) == {}


def test_store_imports_nothing_from_projections_or_api() -> None:
    assert check_package("store", forbidding("projections", "api")) == {}


def test_projections_import_nothing_from_api() -> None:
    assert check_package("projections", forbidding("api")) == {}


def test_the_client_imports_nothing_of_the_server() -> None:
    server = forbidding(
        "domain", "store", "projections", "api", "fastapi", "starlette", "uvicorn", "eventsourcing"
    )
    assert check_package("parley", server) == {}


# Inside api/: three jobs (api/http, api/esdb, api/cli) on the shared modules of api/.


def test_the_cli_imports_nothing_of_the_http_app() -> None:
    # ``parley serve`` names the app by its import string; nothing else needs it.
    assert check_package("api/cli", forbidding("api.http", "api.esdb")) == {}


def test_the_http_app_and_esdb_import_nothing_of_the_cli() -> None:
    assert check_package("api/http", forbidding("api.cli")) == {}
    assert check_package("api/esdb", forbidding("api.cli")) == {}


def test_the_shared_api_modules_import_none_of_the_three_jobs() -> None:
    above = forbidding("api.http", "api.esdb", "api.cli")
    shared = sorted((ROOT / "api").glob("*.py"))
    assert len(shared) > 5
    report = {
        path.name: bad
        for path in shared
        if (bad := violations(path.read_text(encoding="utf-8"), f"api.{path.stem}", above))
    }
    assert report == {}
