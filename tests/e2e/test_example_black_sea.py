"""The second example, the 2022 Black Sea Grain Initiative, loads with ``parley load`` (a
real child process) on both backends, and loading it again adds nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from support import REPO

from store.config import StoreConfig
from store.log import ConflictLog

BLACK_SEA = REPO / "examples" / "black-sea-grain-2022.ndjson"
SLUG = "black-sea-grain-2022"  # the file's name: parley load's default slug


def parley_load(config: StoreConfig, path: Path) -> subprocess.CompletedProcess[str]:
    """``parley load PATH`` in a child process, on ``config``'s store."""
    env = {
        **os.environ,
        "PARLEY_DATA_DIR": str(config.data_dir),
        "PARLEY_EXAMPLE": "",
        "PARLEY_DATABASE_URL": config.database_url or "",
        "PARLEY_DATABASE_SCHEMA": config.postgres_schema,
        "COLUMNS": "300",  # rich wraps the report at the terminal's width
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "load", str(path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def lines_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_the_black_sea_example_loads_and_loading_it_again_adds_nothing(
    store_config: StoreConfig,
) -> None:
    lines = lines_of(BLACK_SEA)

    first = parley_load(store_config, BLACK_SEA)
    assert first.returncode == 0, first.stderr[-2000:]
    assert f"{SLUG}: {len(lines)} new, 0 already stored" in first.stdout, first.stdout
    with ConflictLog(store_config) as log:
        stored = log.negotiation_events(SLUG)
        head = log.head(SLUG)
    assert [(str(r.event.id), r.event.type) for r in stored] == [
        (line["id"], line["type"]) for line in lines
    ]

    again = parley_load(store_config, BLACK_SEA)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{SLUG}: 0 new, {len(lines)} already stored" in again.stdout, again.stdout
    with ConflictLog(store_config) as log:
        assert len(log.negotiation_events(SLUG)) == len(lines)
        assert log.head(SLUG).hash == head.hash  # the same chain: nothing was appended


def test_the_example_tells_its_story_with_the_new_types() -> None:
    types = [line["type"] for line in lines_of(BLACK_SEA)]
    for needed in (
        "NegotiationOpened",
        "AgreementReached",
        "AgreementSigned",
        "ProvisionImplemented",
        "ViolationAlleged",
        "ClaimDisputed",
        "AgreementSuspended",
        "AgreementRatified",
        "AgreementTerminated",
        "HostilitiesReported",
    ):
        assert needed in types, needed
    # Shapes that change on issue 16's upcast branch are kept out, so the file loads
    # the same before and after it.
    assert not {"ProposalMade", "RoundHeld", "ContactHeld"} & set(types)


def test_a_file_whose_event_changed_since_it_was_loaded_is_refused_in_one_line(
    store_config: StoreConfig, tmp_path: Path
) -> None:
    """A store holding an older copy of a file (say the founding example before it gained
    sources) refuses the edited copy: one line naming the event, exit 1, no traceback,
    and the stored events untouched."""
    lines = lines_of(BLACK_SEA)
    assert parley_load(store_config, BLACK_SEA).returncode == 0
    with ConflictLog(store_config) as log:
        head = log.head(SLUG)
    edited: list[dict[str, Any]] = [dict(line) for line in lines]
    changed = edited[5]
    changed["sources"] = [*changed["sources"], {"outlet": "A later edition"}]
    copy = tmp_path / f"{SLUG}.ndjson"
    copy.write_text("".join(json.dumps(line) + "\n" for line in edited), encoding="utf-8")

    refused = parley_load(store_config, copy)

    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert f"event id {changed['id']} is already stored with different content" in refused.stderr
    with ConflictLog(store_config) as log:
        assert log.head(SLUG).hash == head.hash


def test_parley_state_prints_the_agreements_allegations_and_hostilities(
    store_config: StoreConfig,
) -> None:
    """On 1 November 2022 Russia had suspended the Initiative, which Ukraine accused it of
    violating at Odesa; ``parley state`` shows each in its own table."""
    assert parley_load(store_config, BLACK_SEA).returncode == 0
    env = {
        **os.environ,
        "PARLEY_DATA_DIR": str(store_config.data_dir),
        "PARLEY_DATABASE_URL": store_config.database_url or "",
        "PARLEY_DATABASE_SCHEMA": store_config.postgres_schema,
        "COLUMNS": "300",
    }
    shown = subprocess.run(
        [sys.executable, "-m", "api.cli", "state", SLUG, "--as-of", "2022-11-01"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout

    initiative = next(line for line in shown.splitlines() if "Initiative on the Safe" in line)
    assert "suspended" in initiative.split("│")[3]
    assert "no" in initiative.split("│")[4]
    assert "Alleged violations" in shown and "Oleh Nikolenko (UKR)" in shown
    assert "Hostilities reported" in shown and "drone strike" in shown
