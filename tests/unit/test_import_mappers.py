"""The import mappers of Parley's own formats: what each line of a file becomes."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TextIO

import orjson

from api.formats import CSV_COLUMNS
from api.imports import FORMATS, Mapped
from api.imports.ndjson import EXPORT_FIELDS, plover_lines

STATEMENT = {
    "type": "StatementIssued",
    "occurred_at": "2025-05-28",
    "data": {"speaker": "RUS", "summary": "Russia expects support."},
    "sources": [{"outlet": "TASS"}],
}


def _row(
    position: int, event_id: str, corrections: tuple[dict[str, object], ...] = ()
) -> dict[str, object]:
    return {
        **STATEMENT,
        "id": event_id,
        "negotiation": "talks",
        "recorded_at": "2026-01-01T00:00:00Z",
        "previous_hash": None,
        "hash": "ab" * 32,
        "recorded_by": "analyst",
        "position": position,
        "version": position,
        "coding": {"cameo": "010"},
        "disputes": [],
        "corrections": list(corrections),
        "retractions": [],
    }


def _correction(position: int, event_id: str, target: str) -> dict[str, object]:
    return {
        "id": event_id,
        "type": "EventCorrected",
        "occurred_at": "2025-05-29",
        "data": {"event_id": target, "data": {"summary": "corrected"}, "reason": "typo"},
        "sources": [{"outlet": "TASS"}],
        "negotiation": "talks",
        "position": position,
        "hash": "cd" * 32,
    }


def _lines(*items: object) -> TextIO:
    return io.StringIO("".join(orjson.dumps(i).decode() + "\n" for i in items))


A, B, C = (f"00000000-0000-0000-0000-00000000000{n}" for n in (1, 2, 3))


def test_an_input_line_passes_as_it_is_with_no_negotiation() -> None:
    [mapped] = FORMATS["ndjson"](_lines(STATEMENT))
    assert mapped == Mapped(1, STATEMENT, None, None)


def test_an_export_line_loses_its_header_and_what_the_store_added() -> None:
    found = list(FORMATS["ndjson"](_lines({"export": {"format": "ndjson"}}, _row(1, A))))
    assert [m.line for m in found] == [2]
    assert found[0].negotiation == "talks"
    assert found[0].event == {**STATEMENT, "id": A}
    assert not EXPORT_FIELDS & found[0].event.keys()


def test_a_correction_follows_the_rows_recorded_before_it() -> None:
    # A (position 1) was corrected at position 3, after B (position 2) was recorded.
    rows = _lines(_row(1, A, (_correction(3, C, A),)), _row(2, B))
    found = list(FORMATS["ndjson"](rows))
    assert [m.event["id"] for m in found if m.event] == [A, B, C]
    assert [m.line for m in found] == [1, 2, 1]  # the correction's line is its row's


def test_a_line_that_is_not_json_is_a_problem_on_its_line() -> None:
    found = list(FORMATS["ndjson"](io.StringIO('\n{"type": \n[1]\n')))
    assert [(m.line, m.event) for m in found] == [(2, None), (3, None)]
    assert "not JSON" in (found[0].problem or "")
    assert "not a JSON object" in (found[1].problem or "")


def test_a_csv_export_is_read_from_its_last_column_with_file_line_numbers() -> None:
    assert CSV_COLUMNS[-1] == "parley_event"
    cell = orjson.dumps(_row(1, A)).decode().replace('"', '""')
    text = f'# parley export\n# known_at: x\n"event_id","parley_event"\n"{A}","{cell}"\n'
    [mapped] = FORMATS["csv"](io.StringIO(text))
    assert mapped.line == 4
    assert mapped.event == {**STATEMENT, "id": A}


def test_a_csv_without_parley_event_lists_every_row_as_a_problem() -> None:
    found = list(FORMATS["csv"](io.StringIO('"event_id"\n"a"\n"b"\n')))
    assert [m.line for m in found] == [2, 3]
    assert all("parley_event" in (m.problem or "") for m in found)


def test_a_plover_record_with_parley_event_is_read_from_it() -> None:
    record = {"id": A, "event": ["CONSULT"], "parley_event": _row(1, A)}
    [mapped] = FORMATS["plover"](_lines({"export": {}}, record))
    assert (mapped.line, mapped.event) == (2, {**STATEMENT, "id": A})


def test_other_plover_files_go_whole_to_the_foreign_mapper() -> None:
    seen: list[str] = []

    def foreign(stream: TextIO) -> Iterator[Mapped]:
        for number, line in enumerate(stream, start=1):
            seen.append(line)
            yield Mapped(number, None, None, "not mapped")

    text = '{"id": "x1", "event": "AGREE"}\n{"id": "x2", "event": "CONSULT"}\n'
    found = list(plover_lines(io.StringIO(text), foreign))
    assert "".join(seen) == text  # the lines read to tell the kind are given again
    assert [m.line for m in found] == [1, 2]
