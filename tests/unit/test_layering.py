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
        yield from import_names(node, package)


def import_names(node: ast.AST, package: list[str]) -> list[str]:
    """The names an import statement imports (``a.b`` for ``from a import b``), relative
    ones made absolute against ``package``; [] for any other node."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = package[: len(package) - (node.level - 1)]
        prefix = ".".join([*base, *([node.module] if node.module else [])])
    else:
        prefix = node.module or ""
    return [
        prefix if alias.name == "*" else f"{prefix}.{alias.name}".strip(".")
        for alias in node.names
    ]


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


# Import circles and private names


PACKAGES = ("domain", "store", "projections", "api", "parley")


def project_modules() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name (``pkg.__init__`` as ``pkg``)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for module, path in modules_of(package):
            found[module.removesuffix(".__init__")] = path
    return found


def import_edges(source: str, module: str, known: set[str]) -> Iterator[tuple[str, int]]:
    """(imported project module, line) for every import in ``source``, those under
    ``TYPE_CHECKING`` and inside functions included: ``from a import b`` names the module
    ``a.b`` when it is one, else ``a``."""
    package = module.split(".") if is_package(module, known) else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        for name in import_names(node, package):
            target = nearest_module(name, known)
            if target:
                yield target, getattr(node, "lineno", 0)


def is_package(module: str, known: set[str]) -> bool:
    return any(other.startswith(module + ".") for other in known)


def nearest_module(name: str, known: set[str]) -> str | None:
    """The longest prefix of the dotted ``name`` that is a project module, if any."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def module_graph(sources: dict[str, str]) -> dict[str, dict[str, int]]:
    """module -> {imported module: first line importing it}; package ``__init__``
    modules are nodes like any other."""
    known = set(sources)
    graph: dict[str, dict[str, int]] = {}
    for module, source in sources.items():
        edges: dict[str, int] = {}
        for target, line in import_edges(source, module, known):
            if target != module:
                edges.setdefault(target, line)
        graph[module] = edges
    return graph


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each
    sorted: every import circle lies inside one of them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def cycle_edges(graph: dict[str, dict[str, int]], paths: dict[str, Path]) -> dict[str, str]:
    """Each import inside a circle: ``file imports module`` -> ``file:line imports module``."""
    report = {}
    for component in import_cycles(graph):
        members = set(component)
        for module in component:
            for target, line in sorted(graph[module].items()):
                if target in members:
                    where = paths[module].relative_to(ROOT) if module in paths else module
                    report[f"{where} imports {target}"] = f"{where}:{line} imports {target}"
    return report


def private_reads(source: str) -> Iterator[tuple[int, str]]:
    """(line, what) for each read of another module's private name: ``x._name`` where
    ``x`` is not ``self``, ``cls`` or ``super()`` and the module defines no ``_name`` of
    its own (a class may read its own private field on another instance), and
    ``from m import _name``. Dunders are public."""
    tree = ast.parse(source)
    own = own_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Call) and ast.unparse(owner.func) == "super":
                continue
            if node.attr in own:
                continue
            yield node.lineno, f"{ast.unparse(owner)}.{node.attr}"
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if is_private(alias.name):
                    yield node.lineno, f"from {node.module} import {alias.name}"


def own_names(tree: ast.Module) -> set[str]:
    """The names a module defines: functions, classes, class attributes, and attributes
    it assigns on ``self`` or ``cls``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    names.add(target.id)
                elif (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id in ("self", "cls")
                ):
                    names.add(target.attr)
    return names


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def read_sources() -> tuple[dict[str, str], dict[str, Path]]:
    paths = project_modules()
    return {m: p.read_text(encoding="utf-8") for m, p in paths.items()}, paths


# Each entry names a violation left in a file another helper owns, and who removes it.
# The lead empties this list after merging; an entry that no longer occurs fails, so
# the list can only shrink.
ALLOWED_CYCLE_EDGES: dict[str, str] = {}
ALLOWED_PRIVATE_READS: dict[str, str] = {
    # The eventsourcing library's SQLite pool has no hook for a new connection's set-up.
    "store/sqlite.py pool._create_connection": "store: stays until the library has a hook",
}


def test_checker_finds_an_import_circle_under_type_checking() -> None:
    sources = {
        "store.log": "from store.writer import Writer\n",
        "store.writer": "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from store.log import ConflictLog\n",
        "store.codec": "import json\n",
        "projections.state": "from store import log\n",
        "store": "",
    }
    graph = module_graph(sources)
    assert import_cycles(graph) == [["store.log", "store.writer"]]
    assert graph["projections.state"] == {"store.log": 1}


def test_checker_finds_a_circle_through_three_modules_and_none_in_a_chain() -> None:
    circle = {"a.x": "import a.y\n", "a.y": "from a.z import f\n", "a.z": "from a import x\n"}
    assert import_cycles(module_graph(circle)) == [["a.x", "a.y", "a.z"]]
    chain = {"a.x": "import a.y\n", "a.y": "from a.z import f\n", "a.z": "import os\n"}
    assert import_cycles(module_graph(chain)) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("log.index._sql('x')", [(1, "log.index._sql")]),
        ("from store.index import _gc_lock", [(1, "from store.index import _gc_lock")]),
        ("self._cache.get(1)\ncls._made = 1", []),
        ("obj.__class__\nx.public", []),
        ("def f(other):\n    return other._fetch", [(2, "other._fetch")]),
        ("super()._create_table(c)", []),
        ("class A:\n    def f(self, o):\n        self._x = o._x", []),
    ],
)
def test_checker_finds_reads_of_private_names(source: str, expected: list[tuple[int, str]]) -> None:
    assert list(private_reads(source)) == expected


def unexplained(found: dict[str, str], allowed: dict[str, str]) -> list[str]:
    """The violations not on the allow-list (by file:line), and the allow-list's entries
    that no longer occur (stale: the lead deletes them)."""
    return [where for key, where in sorted(found.items()) if key not in allowed] + [
        f"stale allow-list entry: {key}" for key in sorted(allowed) if key not in found
    ]


def test_no_import_circles_between_modules_even_under_type_checking() -> None:
    sources, paths = read_sources()
    assert unexplained(cycle_edges(module_graph(sources), paths), ALLOWED_CYCLE_EDGES) == []


def test_no_module_reads_another_modules_private_names() -> None:
    sources, paths = read_sources()
    found = {
        f"{where} {what}": f"{where}:{line} {what}"
        for module, source in sorted(sources.items())
        for where in [paths[module].relative_to(ROOT)]
        for line, what in private_reads(source)
    }
    assert unexplained(found, ALLOWED_PRIVATE_READS) == []


# One front door: the store's parts never import the facade, and the floors above read
# the store through ConflictLog's methods only (store/log.py's docstring).

ALLOWED_FACADE_IMPORTS: dict[str, str] = {}


def store_parts_importing_the_facade(
    sources: dict[str, str], paths: dict[str, Path]
) -> dict[str, str]:
    """Store modules that import ``store.log``: file -> ``file:line imports store.log``."""
    return {
        str(where): f"{where}:{line} imports store.log"
        for module, edges in sorted(module_graph(sources).items())
        if within(module, "store") and module != "store.log"
        for where in [paths[module].relative_to(ROOT)]
        for target, line in edges.items()
        if target == "store.log"
    }


def reads_behind_the_facade(source: str) -> Iterator[tuple[int, str]]:
    """(line, what) for each ``<…log>.index`` or ``.recorder``: the store's own parts."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ("index", "recorder"):
            owner = ast.unparse(node.value)
            if node.attr == "recorder" or owner.split(".")[-1].endswith("log"):
                yield node.lineno, f"{owner}.{node.attr}"


def test_checker_finds_reads_behind_the_facade() -> None:
    source = "log.index.engine_rows(s)\nself.log.recorder.subscribe()\nSCOPES.index(s)\n"
    assert list(reads_behind_the_facade(source)) == [(1, "log.index"), (2, "self.log.recorder")]
    sources = {"store.log": "", "store.dump": "if X:\n    from store.log import ConflictLog\n"}
    paths = {m: ROOT / (m.replace(".", "/") + ".py") for m in sources}
    assert store_parts_importing_the_facade(sources, paths) == {
        "store/dump.py": "store/dump.py:2 imports store.log"
    }


def test_no_store_part_imports_the_facade_even_under_type_checking() -> None:
    sources, paths = read_sources()
    found = store_parts_importing_the_facade(sources, paths)
    assert unexplained(found, ALLOWED_FACADE_IMPORTS) == []


def test_projections_and_api_read_the_store_through_conflict_log_methods() -> None:
    sources, paths = read_sources()
    found = [
        f"{paths[module].relative_to(ROOT)}:{line} {what}"
        for module, source in sorted(sources.items())
        if within(module, "projections") or within(module, "api")
        for line, what in reads_behind_the_facade(source)
    ]
    assert found == []


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
