"""Dump and restore on a real SQLite file and the real PostgreSQL: nothing is lost.

A dump holds every stored row's bytes as they are; restored into an empty store of
either backend, the log verifies, keeps versions, recorded_at and positions, and answers
every as_of and known_at question exactly as the original did; its own dump is the same
file. A dump that does not verify, or a store that is not empty, is refused and nothing
is stored.
"""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from builders import opened_event, statement_event
from support import Cli, delete_after, rewrite_row, run_cli
from unit import histories as h

from domain.errors import InvalidEventError
from domain.events import AnyEvent
from projections.service import AsOf
from store.codec import legacy_state
from store.config import StoreConfig
from store.dump import DumpError, dump, dump_line, new_dump_key, restore, write_dump_key
from store.log import ConflictLog

SLUGS = ("istanbul-2025", "geneva-2025", "doha-2025")
DUMP_KEY = new_dump_key()  # the person keys in these dumps are wrapped under it


def dumped(log: ConflictLog, **options: Any) -> bytes:
    out = io.BytesIO()
    dump(log, out, **{"key": DUMP_KEY, **options})
    return out.getvalue()


def event_lines(dump_bytes: bytes) -> list[bytes]:
    """A dump without its header (which says when and from where it was taken)."""
    return dump_bytes.splitlines()[1:]


KINDS = (
    "statement", "scheduled", "host", "held", "proposal", "answer", "zone", "dispute",
    "correction", "retraction",
)  # fmt: skip


def random_event(rnd: random.Random, kind: str, at: str, target: uuid.UUID) -> AnyEvent:
    round_ = rnd.randint(1, 3)
    if kind == "scheduled":
        return h.scheduled(at, round=round_, status=rnd.choice(["proposed", "confirmed"]))
    if kind in ("host", "held"):
        return h.host(at, round=round_) if kind == "host" else h.held(at, round=round_)
    if kind in ("proposal", "answer"):
        builder = h.proposal if kind == "proposal" else h.answer
        return builder(at, proposal_id=f"p{round_}")
    if kind == "zone":
        return h.zone(at, status=rnd.choice(["declared", "implemented"]))
    if kind == "dispute":
        return h.dispute(at, target)
    if kind == "correction":
        return h.correction(at, target, summary="corrected")
    return h.retraction(at, target) if kind == "retraction" else h.statement(at)


def random_history(log: ConflictLog, rnd: random.Random, appends: int) -> None:
    """Appends through the real writer, each with the server's clock: back-dated events,
    disputes, corrections and retractions across three negotiations."""
    made: dict[str, list[AnyEvent]] = {}
    day = datetime(2025, 5, 10, tzinfo=UTC)
    for _ in range(appends):
        slug = rnd.choice(SLUGS)
        at = (day + timedelta(days=rnd.randrange(40), hours=rnd.randrange(24))).isoformat()
        if slug not in made:
            made[slug] = [h.opened(at)]
            log.append(slug, made[slug])
            continue
        world = [e for e in made[slug] if e.type not in ("EventCorrected", "EventRetracted")]
        batch = [
            random_event(rnd, rnd.choice(KINDS), at, rnd.choice(world).id)
            for _ in range(rnd.choice([1, 1, 2, 3]))
        ]
        try:
            log.append(slug, batch)
        except InvalidEventError:
            continue  # refused by the aggregate (say, a round held twice): not in the log
        made[slug].extend(batch)


def questions(log: ConflictLog, rnd: random.Random, count: int) -> list[tuple[Any, ...]]:
    """Random (slug, as_of, known_at, reported_at): valid times across the span, knowledge
    at, just before and just after recordings, and at the last of them."""
    recorded = [r.recorded_at for r in log.iter_all()]
    # Not "now", which moves between answers; nor later: known_at and reported_at after
    # now are clamped to now.
    after_all = recorded[-1]
    asked = []
    for _ in range(count):
        as_of = datetime(2025, 5, 8, tzinfo=UTC) + timedelta(hours=rnd.randrange(50 * 24))
        known_at = rnd.choice(recorded) + timedelta(microseconds=rnd.choice([-1, 0, 1]))
        known_at = rnd.choice([known_at, known_at, after_all])
        asked.append((rnd.choice(SLUGS), as_of, known_at, rnd.choice([known_at, after_all])))
    return asked


def answers(log: ConflictLog, asked: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    engine = AsOf(log)
    return [
        engine.state(slug, as_of, known_at, reported_at).to_json()
        for slug, as_of, known_at, reported_at in asked
    ]


@pytest.fixture
def logs() -> Iterator[list[ConflictLog]]:
    """Logs a test opens besides the fixture's, closed afterwards."""
    opened_logs: list[ConflictLog] = []
    yield opened_logs
    for extra in opened_logs:
        extra.close()


@pytest.fixture
def other_schema(postgres_url: str) -> Iterator[str]:
    schema = f"parley_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="module")
def small_dump(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A dump of a small SQLite log: two negotiations, interleaved."""
    source = ConflictLog(StoreConfig(data_dir=tmp_path_factory.mktemp("source")))
    try:
        source.append(SLUGS[0], [opened_event(), statement_event("one")])
        source.append(SLUGS[1], [opened_event()])
        source.append(SLUGS[0], [statement_event("two"), statement_event("three")])
        return dumped(source)
    finally:
        source.close()


def test_a_log_moved_from_sqlite_to_postgres_and_back_answers_every_question_alike(
    postgres_url: str,
    postgres_schema: str,
    tmp_path: Path,
    logs: list[ConflictLog],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rnd = random.Random(8)
    source = ConflictLog(StoreConfig(data_dir=tmp_path / "source"))
    logs.append(source)
    random_history(source, rnd, 120)
    kinds = {r.type for r in source.iter_all()}
    assert {"ClaimDisputed", "EventCorrected", "EventRetracted", "RoundHeld"} <= kinds
    # Some rows as a Parley before schema versions wrote them: bytes no writer makes now.
    for record in source.negotiation_events(SLUGS[0])[:3]:
        rewrite_row(source.config, record.position or 0, legacy_state(record))
    assert source.verify().ok
    first = dumped(source, page=7)
    to_pg = StoreConfig(
        data_dir=tmp_path / "pg", database_url=postgres_url, postgres_schema=postgres_schema
    )
    back = StoreConfig(data_dir=tmp_path / "back")

    postgres = ConflictLog(to_pg)
    logs.append(postgres)
    report = restore(postgres, io.BytesIO(first), batch=16, key=DUMP_KEY)
    (tmp_path / "pg.ndjson").write_bytes(dumped(postgres))
    write_dump_key(tmp_path / "pg.ndjson.key", DUMP_KEY)  # as 'parley dump' writes it
    assert run_cli(back, monkeypatch, "restore", str(tmp_path / "pg.ndjson")) == 0
    assert "every hash chain holds" in capsys.readouterr().out
    returned = ConflictLog(back)
    logs.append(returned)

    total = len(event_lines(first))
    assert (report.events, report.negotiations) == (total, len(SLUGS))
    for restored in (postgres, returned):
        assert restored.verify().ok
        assert event_lines(dumped(restored)) == event_lines(first)  # every byte, every position
        for slug in SLUGS:
            assert restored.negotiation_events(slug) == source.negotiation_events(slug)
    asked = questions(source, rnd, 36)
    expected = answers(source, asked)
    assert len({(a["event_count"], a["position"]) for a in expected}) > 12, "varied answers"
    assert answers(postgres, asked) == expected
    assert answers(returned, asked) == expected
    # Appends go on after the restored positions (PostgreSQL's sequence moved past them).
    for restored in (postgres, returned):
        [record] = restored.append(SLUGS[0], [statement_event("after the move")]).created
        assert record.position == source.last_position() + 1
        assert restored.verify().ok


def test_a_restore_into_a_store_that_is_not_empty_is_refused_and_changes_nothing(
    log: ConflictLog, small_dump: bytes
) -> None:
    log.append(SLUGS[2], [opened_event()])
    before = event_lines(dumped(log))

    with pytest.raises(DumpError, match="already holds 1 events: restore only into an empty"):
        restore(log, io.BytesIO(small_dump), key=DUMP_KEY)

    assert event_lines(dumped(log)) == before


def _edit_content(lines: list[bytes]) -> None:
    lines[2] = lines[2].replace(b'"summary":"one"', b'"summary":"won"')


def _drop_a_line(lines: list[bytes]) -> None:
    del lines[2]


def _truncate(lines: list[bytes]) -> None:
    del lines[-1]


def _reformat(lines: list[bytes]) -> None:
    lines[3] = lines[3].replace(b'"state":{', b'"state": {')


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_edit_content, r"line 3: istanbul-2025 v2 \(event .*\): content does not match its hash"),
        # SQLite refuses the hole first; PostgreSQL keeps holes, and the chain breaks.
        (_drop_a_line, "line 3: position 3 follows 1: |line 4: istanbul-2025 v3 .*3 follows 1"),
        (_truncate, "line 5: the dump ends after 4 of its 5 events: it is truncated"),
        (_reformat, "line 4: its state is not laid out as 'parley dump' writes it"),
    ],
    ids=["edited", "line-dropped", "truncated", "reformatted"],
)
def test_a_dump_that_does_not_verify_is_refused_naming_the_line_and_nothing_is_stored(
    log: ConflictLog, small_dump: bytes, edit: Any, message: str
) -> None:
    lines = small_dump.splitlines()
    edit(lines)

    with pytest.raises(DumpError, match=message):
        restore(log, io.BytesIO(b"\n".join(lines) + b"\n"), key=DUMP_KEY)

    assert log.stored_count() == (0, 0) and log.index.index_count() == 0
    restore(log, io.BytesIO(small_dump), key=DUMP_KEY)  # the store is as empty as it was
    assert log.verify().ok and log.last_position() == 5


def test_a_dump_the_database_refuses_is_reported_and_nothing_is_stored(
    log: ConflictLog, tmp_path: Path, logs: list[ConflictLog]
) -> None:
    same = opened_event()  # one event id, opening two negotiations in two logs
    rows = []
    for slug in SLUGS[:2]:
        source = ConflictLog(StoreConfig(data_dir=tmp_path / slug))
        logs.append(source)
        source.append(slug, [same])
        rows += source.stored_rows(after=0, upto=1)
    header = {"parley_dump": 1, "positions": 2, "events": 2, "taken_at": "2025-05-28T18:00Z"}
    lines = [orjson.dumps(header) + b"\n"]
    lines += [dump_line(position, *row[1:]) for position, row in enumerate(rows, start=1)]

    with pytest.raises(DumpError, match="the store refused the dump .*: nothing restored"):
        restore(log, lines, key=DUMP_KEY)

    assert log.stored_count() == (0, 0) and log.index.index_count() == 0


def test_a_dump_taken_while_appends_go_on_holds_exactly_what_was_committed_when_it_began(
    log: ConflictLog, tmp_path: Path, logs: list[ConflictLog]
) -> None:
    for slug in SLUGS:
        log.append(slug, [opened_event(), statement_event("before")])

    class AppendingBetweenPages(io.BytesIO):
        """Each page the dump writes lets another writer commit two events."""

        def write(self, data: Any) -> int:
            during = [statement_event("during"), statement_event("..")]
            log.append(SLUGS[len(self.getvalue()) % 3], during)
            return super().write(data)

    out = AppendingBetweenPages()
    header = dump(log, out, page=2, key=DUMP_KEY)

    lines = [orjson.loads(line) for line in event_lines(out.getvalue())]
    assert (header.events, header.positions) == (6, 6)
    assert log.last_position() == 6 + 2 * 4  # the header and three pages each let two in
    assert [line["position"] for line in lines] == list(range(1, 7))
    copy = ConflictLog(StoreConfig(data_dir=tmp_path / "copy"))
    logs.append(copy)
    restore(copy, io.BytesIO(out.getvalue()), key=DUMP_KEY)
    assert copy.verify().ok
    assert [r.hash for r in copy.iter_all()] == [r.hash for r in log.iter_all()][:6]


def test_holes_in_postgres_positions_are_kept_there_and_closed_on_sqlite_only_when_asked(
    postgres_url: str,
    postgres_schema: str,
    other_schema: str,
    tmp_path: Path,
    logs: list[ConflictLog],
) -> None:
    source = ConflictLog(
        StoreConfig(data_dir=tmp_path, database_url=postgres_url, postgres_schema=postgres_schema)
    )
    logs.append(source)
    source.append(SLUGS[0], [opened_event(), statement_event("one")])
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # as a rollback would
        conn.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'notification_id'))",
            (f'"{postgres_schema}".parley_events',),
        )
    source.append(SLUGS[0], [statement_event("two")])
    taken = dumped(source)
    assert [orjson.loads(line)["position"] for line in event_lines(taken)] == [1, 2, 4]

    same = ConflictLog(
        StoreConfig(data_dir=tmp_path, database_url=postgres_url, postgres_schema=other_schema)
    )
    logs.append(same)
    restore(same, io.BytesIO(taken), key=DUMP_KEY)
    sqlite = ConflictLog(StoreConfig(data_dir=tmp_path / "sqlite"))
    logs.append(sqlite)
    with pytest.raises(DumpError, match="line 4: position 4 follows 2: .*--renumber"):
        restore(sqlite, io.BytesIO(taken), key=DUMP_KEY)
    report = restore(sqlite, io.BytesIO(taken), renumber=True, key=DUMP_KEY)

    assert event_lines(dumped(same)) == event_lines(taken)
    assert report.renumbered and report.last_position == 3
    assert [r.position for r in sqlite.iter_all()] == [1, 2, 3]
    assert [r.hash for r in sqlite.iter_all()] == [r.hash for r in source.iter_all()]
    assert sqlite.verify().ok and same.verify().ok


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_row_that_is_not_json_is_dumped_in_base64_and_refused_by_restore(
    log: ConflictLog, store_config: StoreConfig, tmp_path: Path, logs: list[ConflictLog]
) -> None:
    log.append(SLUGS[0], [opened_event(), statement_event("one"), statement_event("two")])
    target = log.record_at(SLUGS[0], 2)
    assert target is not None and target.position is not None
    rewrite_row(store_config, target.position, b"\x00\xffnot json")

    taken = dumped(log)

    line = orjson.loads(event_lines(taken)[1])
    assert (line["negotiation"], line["state_base64"]) == (None, "AP9ub3QganNvbg==")
    copy = ConflictLog(StoreConfig(data_dir=tmp_path / "copy"))
    logs.append(copy)
    with pytest.raises(DumpError, match="line 3: position 2: the row is unreadable"):
        restore(copy, io.BytesIO(taken), key=DUMP_KEY)
    assert copy.stored_count() == (0, 0)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_parley_dump_and_restore_from_the_command_line(
    log: ConflictLog, tmp_path: Path, parley_cli: Cli
) -> None:
    log.append(SLUGS[0], [opened_event(), statement_event("one")])
    backup = tmp_path / "backup.ndjson"
    backup.write_text("an older backup\n")

    assert parley_cli("dump", str(backup)) == 0
    assert "dumped 2 events up to position 2" in parley_cli.printed()[1]
    assert parley_cli("restore", str(backup)) == 1
    assert "already holds 2 events" in parley_cli.printed()[1]
    delete_after(parley_cli.config, 0)  # the store lost everything: the backup brings it back
    assert parley_cli("restore", str(backup)) == 0

    assert "restored 2 events of 1 negotiation(s)" in parley_cli.printed()[0]
    assert event_lines(dumped(log)) == event_lines(backup.read_bytes())
    assert not list(tmp_path.glob("*.partial"))
