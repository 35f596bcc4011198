"""PLOVER's reading of each CAMEO code, from the Open Event Data Alliance's own table.

The table ships verbatim as ``domain/reference/CAMEO2PLOVER-2021.txt``. It is the file
``CAMEO2PLOVER-2021.txt`` of the repository ``openeventdata/PLOVER``, as last changed
in commit ``e834df5b3a302f99af1f23cda08fa34b383ca598`` (17 September 2021, "Updated
to correspond with 17-Sep-2021 version of manual", PLOVER manual draft 0.8; git blob
``e285aa9c9075e9b4d5cdc1aff1eae2b4b9836a76``, unchanged at the newest commit we read,
``5e0c24fba623f2d8df5ae3c7de7a94dba90d5b6f`` of February 2024). The PLOVER repository
is licensed CC BY-SA 4.0; ``domain/reference/README.md`` carries the notice.

A row reads ``CODE: EVENT, MODE, CONTEXT # CAMEO text``: PLOVER keeps only CAMEO's
two-digit cue category as its ``event`` and moves the finer distinctions of the 3- and
4-digit codes into ``mode`` (how) and ``context`` (about what; several, separated by
``;``). Either may be empty. Two-digit lines such as ``08: CONCEDE`` are section
headings, not mappings (``08`` heads both CONCEDE and RETREAT), and CAMEO's 01 (make
statement) and 02 (appeal) have no rows at all: PLOVER dropped them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

TABLE = "CAMEO2PLOVER-2021.txt"
TABLE_SOURCE = (
    "openeventdata/PLOVER CAMEO2PLOVER-2021.txt"
    " @ e834df5b3a302f99af1f23cda08fa34b383ca598 (manual draft 0.8, 2021-09-17)"
)


@dataclass(frozen=True)
class PloverRow:
    """One row of the table: the PLOVER event, mode and context for a CAMEO code."""

    cameo: str
    event: str
    mode: str | None
    context: tuple[str, ...]


def parse_table(text: str) -> dict[str, PloverRow]:
    """The rows of a CAMEO-to-PLOVER table, by CAMEO code.

    Raises ``ValueError`` naming the line for a row that does not have the shape
    above, and for a code listed twice with different readings (the table lists
    ``175`` twice, alike but for its comment, which is harmless).
    """
    rows: dict[str, PloverRow] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.split("#", 1)[0].strip()
        if not body or set(body) == {"~"}:
            continue
        code, colon, rest = body.partition(":")
        code = code.strip()
        if not colon or not code.isdigit() or not 2 <= len(code) <= 4:
            raise ValueError(f"line {number}: expected 'CODE: EVENT, MODE, CONTEXT': {line!r}")
        if len(code) == 2:
            continue  # a section heading
        fields = [field.strip() for field in rest.split(",")]
        if len(fields) != 3 or not fields[0].isalpha() or not fields[0].isupper():
            raise ValueError(f"line {number}: expected 'EVENT, MODE, CONTEXT': {line!r}")
        event, mode, context = fields
        row = PloverRow(
            cameo=code,
            event=event,
            mode=mode or None,
            context=tuple(part.strip() for part in context.split(";") if part.strip()),
        )
        if rows.setdefault(code, row) != row:
            raise ValueError(f"line {number}: {code} is listed twice with different readings")
    return rows


@cache
def plover_table() -> Mapping[str, PloverRow]:
    """The shipped table, read once."""
    text = resources.files("domain").joinpath("reference", TABLE).read_text(encoding="ascii")
    return MappingProxyType(parse_table(text))


def plover_row(cameo: str) -> PloverRow | None:
    """PLOVER's reading of a CAMEO code, or None where the table has no row for it."""
    return plover_table().get(cameo)
