"""The import runner on a real store (both backends): Parley's exports load back, a bad
line is a problem on its line and nothing of it is stored, a dry run stores nothing,
and importing again stores nothing new."""

from __future__ import annotations

import csv
import gc
import io
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from support import EXAMPLE, fresh_schema

from api.formats import Format, write
from api.imports import FORMATS, Mapped
from api.imports.core import Importer, ImportReport, run
from domain.events import StatementIssued, parse_event
from projections.export import ExportQuery, start
from store.config import StoreConfig
from store.loader import LoadError, load, read_events
from store.log import ConflictLog

SLUG = "istanbul-2025"


@pytest.fixture
def copy(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ConflictLog]:
    """A second, empty store on the same backend: where an export is imported."""
    if backend == "postgres":
        url = request.getfixturevalue("postgres_url")
        with fresh_schema(url) as schema, ConflictLog(
            StoreConfig(data_dir=tmp_path / "copy", database_url=url, postgres_schema=schema)
        ) as log:
            yield log
        return
    with ConflictLog(StoreConfig(data_dir=tmp_path / "copy")) as log:
        yield log


def _export(log: ConflictLog, fmt: Format) -> str:
    head, rows = start(log, ExportQuery(SLUG))
    return b"".join(write(fmt, head, rows)).decode()


def _import(log: ConflictLog, text: str, fmt: str = "ndjson", **options: object) -> ImportReport:
    return run(log, FORMATS[fmt](io.StringIO(text)), fmt, **options)  # type: ignore[arg-type]


def _ids(log: ConflictLog, slug: str = SLUG) -> list[str]:
    return [str(r.event.id) for r in log.negotiation_events(slug)]


def test_the_ndjson_export_that_parley_load_refuses_imports_whole(
    log: ConflictLog, copy: ConflictLog, tmp_path: Path
) -> None:
    load(log, EXAMPLE)
    text = _export(log, "ndjson")
    exported = tmp_path / "export.ndjson"
    exported.write_text(text)
    with pytest.raises(LoadError) as refused:
        read_events(exported, SLUG)
    assert len(refused.value.problems) > 100  # issue 17: "177 problems"

    report = _import(copy, text)
    assert report.problems == []
    assert report.new == len(_ids(log))
    assert _ids(copy) == _ids(log)
    assert _import(copy, text).new == 0


def test_the_same_ids_cannot_go_to_another_negotiation_of_the_same_store(
    log: ConflictLog,
) -> None:
    load(log, EXAMPLE)
    report = _import(log, _export(log, "ndjson"), negotiation="copy")
    assert report.new == 0
    assert report.problem_count == len(_ids(log))
    assert not log.exists("copy")


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "plover"])
def test_a_dry_run_stores_nothing_and_counts_per_type(
    log: ConflictLog, copy: ConflictLog, fmt: Format
) -> None:
    load(log, EXAMPLE)
    text = _export(log, fmt)
    report = _import(copy, text, fmt, dry_run=True)
    assert not copy.exists(SLUG)
    assert report.problems == []
    assert report.by_type["NegotiationOpened"].new == 1
    assert report.new == len(_ids(log))
    again = _import(log, text, fmt, dry_run=True)  # into the negotiation it came from
    assert (again.new, again.stored) == (0, len(_ids(log)))


def test_a_bad_line_is_a_problem_on_its_line_and_the_rest_is_stored(log: ConflictLog) -> None:
    lines = EXAMPLE.read_text().splitlines()
    bad = orjson.loads(lines[3])
    bad["occurred_at"] = "28 May"
    bad["id"] = "00000000-0000-4000-8000-000000000009"
    lines[3] = orjson.dumps(bad).decode()
    report = _import(log, "\n".join(lines) + "\n", negotiation=SLUG)
    assert [(p.line, p.field) for p in report.problems] == [(4, "occurred_at")]
    assert bad["id"] not in _ids(log)
    assert report.new == len(lines) - 1 == len(_ids(log))


def test_an_event_the_log_refuses_is_named_by_its_line_and_its_batch_is_stored(
    log: ConflictLog,
) -> None:
    lines = EXAMPLE.read_text().splitlines()
    answer = {
        "type": "ProposalAnswered",
        "occurred_at": "2025-05-29",
        "data": {"proposal_id": "no-such-proposal", "responder": "UKR", "response": "noted"},
        "sources": [{"outlet": "TASS"}],
    }
    lines.insert(2, orjson.dumps(answer).decode())
    report = _import(log, "\n".join(lines) + "\n", negotiation=SLUG, batch=4)
    assert [p.line for p in report.problems] == [3]
    assert report.new == len(lines) - 1 == len(_ids(log))


def test_records_without_a_negotiation_need_one(log: ConflictLog) -> None:
    report = _import(log, EXAMPLE.read_text())
    assert report.new == 0
    assert {p.field for p in report.problems} == {"negotiation"}


def test_a_negotiation_whose_opening_is_retracted_is_refused_whole(
    log: ConflictLog, copy: ConflictLog
) -> None:
    load(log, EXAMPLE)
    opening = log.opening(SLUG).event
    retraction = {
        "type": "EventRetracted",
        "occurred_at": "2025-06-01",
        "data": {"event_id": str(opening.id), "reason": "withdrawn"},
        "sources": [{"outlet": "TASS"}],
    }
    log.append(SLUG, [parse_event(retraction)])
    report = _import(copy, _export(log, "ndjson"))
    assert report.new == 0
    assert report.problem_count == report.records > 0  # every line, none stored in part
    assert not copy.exists(SLUG)


def test_a_dispute_of_a_retraction_is_a_problem_on_its_line(
    log: ConflictLog, copy: ConflictLog
) -> None:
    load(log, EXAMPLE)
    statement = next(r for r in log.negotiation_events(SLUG) if r.type == "StatementIssued")
    retraction = parse_event({
        "type": "EventRetracted", "occurred_at": "2025-06-01",
        "data": {"event_id": str(statement.event.id), "reason": "withdrawn"},
        "sources": [{"outlet": "TASS"}],
    })
    dispute = parse_event({
        "type": "ClaimDisputed", "occurred_at": "2025-06-02",
        "data": {"event_id": str(retraction.id), "disputed_by": "RUS",
                 "counter_claim": "The statement stands"},
        "sources": [{"outlet": "TASS"}],
    })
    log.append(SLUG, [retraction])
    log.append(SLUG, [dispute])
    text = _export(log, "ndjson")
    report = _import(copy, text)
    [problem] = report.problems
    assert problem.field == "data.event_id"
    assert orjson.loads(text.splitlines()[problem.line - 1])["id"] == str(dispute.id)
    assert str(dispute.id) not in _ids(copy)


def test_the_csv_parley_event_cell_never_starts_a_formula(log: ConflictLog) -> None:
    load(log, EXAMPLE)
    text = _export(log, "csv")
    rows = list(csv.reader(line for line in io.StringIO(text) if not line.startswith("#")))
    header, body = rows[0], rows[1:]
    assert header[-1] == "parley_event"
    assert body and all(row[-1].startswith('{"') for row in body)


def test_the_importer_holds_one_batch_of_events(log: ConflictLog) -> None:
    """Memory does not grow with the file: once imported, a batch's events are let go."""
    opened = orjson.loads(EXAMPLE.read_text().splitlines()[0])
    statements = (
        Mapped(n, {
            "type": "StatementIssued", "occurred_at": "2025-05-28",
            "data": {"speaker": "RUS", "summary": f"Statement {n}"},
            "sources": [{"outlet": "TASS"}],
        }, SLUG, None)
        for n in range(2, 1202)
    )
    alive: list[int] = []
    importer = Importer(log, "ndjson", batch=100)
    importer.add(Mapped(1, opened, SLUG, None))
    for n, record in enumerate(statements):
        importer.add(record)
        if n % 250 == 249:
            gc.collect()
            alive.append(sum(isinstance(o, StatementIssued) for o in gc.get_objects()))
    assert importer.finish().new == 1201
    assert max(alive) <= 2 * 100 + 10, alive


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "plover"])
def test_an_event_naming_a_round_whose_scheduling_was_retracted_is_a_problem_on_its_line(
    log: ConflictLog, copy: ConflictLog, fmt: Format
) -> None:
    """The host of round 2 was announced before round 2's scheduling was retracted: it
    stays in the log, and the state and the export show it; the export does not carry
    the retracted RoundScheduled, so the import refuses the host on its line, as the
    original now refuses a new host of round 2."""
    load(log, EXAMPLE)
    events = [r.event for r in log.negotiation_events(SLUG)]
    schedule = next(e for e in events if e.type == "RoundScheduled" and e.data.round == 2)
    hosting = next(e for e in events if e.type == "HostAnnounced" and e.data.round == 2)
    retraction = parse_event({
        "type": "EventRetracted", "occurred_at": "2025-06-01",
        "data": {"event_id": str(schedule.id), "reason": "The date was never agreed."},
        "sources": [{"outlet": "TASS"}],
    })
    log.append(SLUG, [retraction])

    text = _export(log, fmt)
    report = _import(copy, text, fmt)

    [problem] = report.problems
    assert problem.field == "data.round"
    assert "round 2 is neither scheduled nor held" in problem.message
    if fmt == "ndjson":
        assert orjson.loads(text.splitlines()[problem.line - 1])["id"] == str(hosting.id)
    assert set(_ids(copy)) == set(_ids(log)) - {str(e.id) for e in (schedule, hosting, retraction)}
