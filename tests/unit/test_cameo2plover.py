"""The shipped CAMEO-to-PLOVER table: that it is the upstream file, and how it is read."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from domain.cameo2plover import TABLE, PloverRow, parse_table, plover_row, plover_table

SHIPPED = Path(__file__).resolve().parents[2] / "domain" / "reference" / TABLE
UPSTREAM_BLOB = "e285aa9c9075e9b4d5cdc1aff1eae2b4b9836a76"  # openeventdata/PLOVER @ e834df5


def git_blob_id(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def test_shipped_table_is_byte_for_byte_the_upstream_file() -> None:
    assert git_blob_id(SHIPPED.read_bytes()) == UPSTREAM_BLOB


def test_every_three_and_four_digit_code_of_the_file_is_read() -> None:
    codes = set(re.findall(r"^(\d{3,4}):", SHIPPED.read_text(encoding="ascii"), re.MULTILINE))

    assert set(plover_table()) == codes
    assert len(codes) == 256


def test_a_row_gives_event_mode_and_context() -> None:
    assert plover_row("0871") == PloverRow("0871", "RETREAT", "ceasefire", ("military",))
    assert plover_row("041") == PloverRow("041", "CONSULT", "phone", ())
    assert plover_row("036") == PloverRow("036", "AGREE", None, ("diplomatic",))
    assert plover_row("091") == PloverRow("091", "ACCUSE", "investigate", ("crime", "corruption"))


def test_the_2021_09_17_revision_is_the_one_shipped() -> None:
    # The August 2021 file had 043 as mode "host" and 192 as "confiscate".
    assert plover_row("043") == PloverRow("043", "CONSULT", "visit", ())
    assert plover_row("192") == PloverRow("192", "COERCE", "seize", ("military",))


def test_statements_and_appeals_have_no_plover_row() -> None:
    assert plover_row("010") is None
    assert plover_row("014") is None
    assert plover_row("026") is None


def test_two_digit_lines_are_headings_not_rows() -> None:
    rows = parse_table("08: CONCEDE\n080: CONCEDE,   ,  # Yield\n08: RETREAT\n")

    assert rows == {"080": PloverRow("080", "CONCEDE", None, ())}


def test_a_code_listed_twice_alike_is_one_row() -> None:
    rows = parse_table("175: ASSAULT, x , military # one\n175: ASSAULT, x, military # two\n")

    assert rows == {"175": PloverRow("175", "ASSAULT", "x", ("military",))}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("040 CONSULT, ,  # no colon", "line 1"),
        ("040: CONSULT, phone # two fields", "EVENT, MODE, CONTEXT"),
        ("040: consult, ,  # lower case", "EVENT, MODE, CONTEXT"),
        ("\n12345: REJECT, , # five digits", "line 2"),
        ("041: CONSULT, phone, \n041: CONSULT, visit, ", "listed twice"),
    ],
)
def test_a_row_of_another_shape_is_refused_with_its_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_table(text)
