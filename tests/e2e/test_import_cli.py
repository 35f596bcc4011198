"""``parley import`` in a child process, on both backends: a re-import stores nothing
new, a malformed line is reported with its number and nothing of it is stored, and
``--dry-run`` stores nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
from support import EXAMPLE, REPO

from store.config import StoreConfig
from store.log import ConflictLog

SLUG = "istanbul-2025"


def _parley(config: StoreConfig, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PARLEY_DATA_DIR": str(config.data_dir),
        "PARLEY_EXAMPLE": "",
        "PARLEY_DATABASE_URL": config.database_url or "",
        "PARLEY_DATABASE_SCHEMA": config.postgres_schema,
        "COLUMNS": "200",
    }
    command = [sys.executable, "-m", "api.cli", *args]
    return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=60)


def _stored(config: StoreConfig) -> list[str]:
    with ConflictLog(config) as log:
        return [str(r.event.id) for r in log.negotiation_events(SLUG)] if log.exists(SLUG) else []


def test_a_reimport_stores_nothing_new(store_config: StoreConfig) -> None:
    first = _parley(store_config, "import", str(EXAMPLE), "--format", "ndjson",
                    "--negotiation", SLUG)
    assert first.returncode == 0, first.stderr
    count = len(_stored(store_config))
    assert f"stored {count} new, 0 already stored, 0 problem(s)" in first.stdout
    again = _parley(store_config, "import", str(EXAMPLE), "--format", "ndjson",
                    "--negotiation", SLUG)
    assert again.returncode == 0
    assert f"stored 0 new, {count} already stored" in again.stdout
    assert len(_stored(store_config)) == count


def test_a_malformed_line_is_reported_with_its_number_and_not_stored(
    store_config: StoreConfig, tmp_path: Path
) -> None:
    lines = EXAMPLE.read_text().splitlines()
    broken = orjson.loads(lines[4])
    broken["id"] = "00000000-0000-4000-8000-0000000000aa"
    broken["sources"] = []
    lines[4] = orjson.dumps(broken).decode()
    lines.insert(2, '{"type": "StatementIssued", ')
    path = tmp_path / "broken.ndjson"
    path.write_text("\n".join(lines) + "\n")
    done = _parley(store_config, "import", str(path), "--format", "ndjson", "--negotiation", SLUG)
    assert done.returncode == 1
    assert "line 3: not JSON" in done.stderr
    assert "line 6: sources:" in done.stderr
    assert broken["id"] not in _stored(store_config)
    assert len(_stored(store_config)) == len(lines) - 2
    assert "2 problem(s)" in done.stdout


def test_a_dry_run_stores_nothing_and_reports_per_type(store_config: StoreConfig) -> None:
    done = _parley(store_config, "import", str(EXAMPLE), "--format", "ndjson",
                   "--negotiation", SLUG, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "NegotiationOpened: 1 new, 0 already stored" in done.stdout
    assert "would store" in done.stdout
    assert _stored(store_config) == []


def test_an_unknown_format_is_refused_by_name(store_config: StoreConfig) -> None:
    done = _parley(store_config, "import", str(EXAMPLE), "--format", "xlsx")
    assert done.returncode == 2
    assert "--format" in done.stderr


FIXTURES = REPO / "tests" / "fixtures" / "imports"


def _negotiation_events(config: StoreConfig, slug: str) -> list[str]:
    with ConflictLog(config) as log:
        return [str(r.event.id) for r in log.negotiation_events(slug)] if log.exists(slug) else []


def test_plover_and_acled_files_import_once_and_name_every_line_that_does_not_map(
    store_config: StoreConfig,
) -> None:
    """The files built to PLOVER's and ACLED's specifications (tests/fixtures/imports):
    what maps is stored, a second import stores nothing new, and each line that does
    not map (a malformed one among them) is named by its number, with nothing of it
    stored."""
    opened = _parley(store_config, "import", str(EXAMPLE), "--format", "ndjson",
                     "--negotiation", SLUG)
    assert opened.returncode == 0, opened.stderr
    before = len(_stored(store_config))
    for name, kind, malformed in (("plover.jsonl", "plover", 11), ("acled.csv", "acled", 9)):
        path = FIXTURES / name
        first = _parley(store_config, "import", str(path), "--format", kind,
                        "--negotiation", SLUG)
        assert first.returncode == 1, first.stdout  # some lines do not map, by design
        assert f"line {malformed}:" in first.stderr, first.stderr
        stored = len(_stored(store_config))
        assert stored > before, first.stdout
        assert f"stored {stored - before} new, 0 already stored" in first.stdout

        again = _parley(store_config, "import", str(path), "--format", kind,
                        "--negotiation", SLUG)
        assert f"stored 0 new, {stored - before} already stored" in again.stdout, again.stdout
        assert len(_stored(store_config)) == stored
        before = stored
