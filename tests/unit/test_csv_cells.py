"""The two rules that keep a CSV export safe in a spreadsheet (issue 15, finding 4), on
any text: a text cell never begins with a formula character and gives its text back,
and a value in a ``#`` line stays on its line, opens no cell with a formula or a quote,
and gives its text back through JSON."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from api.formats import header_text, spreadsheet_text

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NEUTRALISED = re.compile(r"'+[=+\-@\t\r]")

# Text biased towards what breaks CSV: formula characters, quotes, separators and line
# breaks, at the start and after a separator.
PIECES = st.sampled_from(
    ["=", "+", "-", "@", "\t", "\r", "\n", "'", '"', ",", ";", " ", "#", "\\", "\u2028", "\x85"]
)
HOSTILE = st.lists(st.one_of(PIECES, st.text(max_size=4)), max_size=12).map("".join)


def undone(cell: str) -> str:
    """A neutralised cell's text, as the README tells a reader to get it back."""
    return cell[1:] if NEUTRALISED.match(cell) else cell


@given(HOSTILE)
def test_a_text_cell_never_starts_a_formula_and_gives_its_text_back(text: str) -> None:
    cell = spreadsheet_text(text)

    assert not cell.startswith(FORMULA_START)
    assert undone(cell) == text
    assert cell == text or cell == "'" + text  # one quote added, nothing else touched


@given(HOSTILE)
def test_a_header_value_keeps_to_its_line_and_opens_no_cell(text: str) -> None:
    value = header_text(text)

    assert value.splitlines() in ([value], [])  # every line break str knows, escaped
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", value)
    assert json.loads(f'"{value}"') == text
    for separator in (",", ";"):
        for cell in value.split(separator)[1:]:
            assert not cell.lstrip(" ").startswith(("=", "+", "-", "@", '"')), value


def test_the_rules_by_example() -> None:
    assert spreadsheet_text('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert spreadsheet_text("-3") == "'-3"
    assert spreadsheet_text("'=x") == "''=x"  # so that dropping one quote is exact
    assert spreadsheet_text("'quoted'") == "'quoted'"
    assert spreadsheet_text("") == ""
    assert header_text('Talks\nnext\r\\ "x"') == 'Talks\\nnext\\r\\\\ \\"x\\"'
    assert header_text("talks, =SUM(1)") == "talks, \\u003dSUM(1)"
    assert header_text("Black Sea shipping talks, Riyadh 2025-06") == (
        "Black Sea shipping talks, Riyadh 2025-06"
    )
