"""The codebook page is generated from the models and the coding rules: the committed
page must be what ``parley codebook`` prints today, and it must cover every type."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from api.codebook import codebook
from domain.events import EVENT_TYPES, RECORDED_TYPES, data_model
from domain.examples import EXAMPLE_DATA

PAGE = Path(__file__).resolve().parents[2] / "docs" / "codebook.md"


def test_every_client_type_has_an_example() -> None:
    assert set(EXAMPLE_DATA) == set(EVENT_TYPES)


def test_the_committed_page_is_what_the_models_say_today() -> None:
    assert PAGE.read_text(encoding="utf-8") == codebook(), (
        "docs/codebook.md is stale: run `.venv/bin/parley codebook > docs/codebook.md`"
    )


def test_the_page_has_a_section_and_a_field_table_for_every_type() -> None:
    page = codebook()
    for name, cls in RECORDED_TYPES.items():
        assert f"\n## {name}\n" in page
        for field, info in data_model(cls).model_fields.items():
            assert f"| `{info.alias or field}` |" in page, (name, field)


def test_a_variant_that_changes_the_code_is_listed_with_its_code() -> None:
    page = codebook()
    section = page.split("\n## ContactHeld\n")[1].split("\n## ")[0]
    assert "| `medium`: visit | 042 |" in section
    assert "| example | 041 |" in section


def test_parley_codebook_prints_the_page() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "api.cli", "codebook"],
        capture_output=True,
        text=True,
        check=True,
        cwd=PAGE.parents[1],
    )
    assert printed.stdout == codebook()
