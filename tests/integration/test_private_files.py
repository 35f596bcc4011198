"""Files only their owner reads (issue 15, finding 5): the data dir is 0700 and every file
Parley makes there, or as a dump or export, is 0600, whatever the umask; a symbolic link
planted where a file is to be written is neither followed nor replaced.

The modes are checked in a fresh interpreter with its umask set first (022, the usual
one, and 000, the most permissive), running the real commands: ``load`` (the SQLite file
and its ``-wal`` and ``-shm``, the admin token), ``head`` (the signing key), ``dump`` and
``export``.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from support import EXAMPLE, REPO, run_cli

from store.config import StoreConfig
from store.log import ConflictLog

# Run in a child with the umask under test; prints {name: mode} of what it made.
_CHILD = """
import json, os, stat, sys
from pathlib import Path
os.umask(int(sys.argv[1], 8))
from api.cli import main as cli
from api.settings import Settings
from api.tokens import admin_token
from store.log import ConflictLog

data = Path(os.environ["PARLEY_DATA_DIR"])
out = Path(sys.argv[2])
assert cli.main(["load", sys.argv[3]]) == 0
assert cli.main(["head"]) == 0
assert cli.main(["dump", str(out / "backup.ndjson")]) == 0
assert cli.main(["export", "istanbul-2025", "--format", "csv", "-o", str(out / "t.csv")]) == 0
admin_token(Settings())
modes = {}
with ConflictLog(Settings().store_config()) as log:  # an open log: -wal and -shm exist
    log.last_position()
    for path in [data.parent, data, *data.iterdir(), *(data / "keys").iterdir(), *out.iterdir()]:
        modes[str(path)] = oct(stat.S_IMODE(os.stat(path).st_mode))
print(json.dumps(modes))
"""


def _made_under_umask(umask: str, data: Path, out: Path, config: StoreConfig) -> dict[str, str]:
    env = {
        **os.environ,
        "PARLEY_DATA_DIR": str(data),
        "PARLEY_EXAMPLE": "",
        "PARLEY_DATABASE_URL": config.database_url or "",
        "PARLEY_DATABASE_SCHEMA": config.postgres_schema,
    }
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, umask, str(out), str(EXAMPLE)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    modes: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return {str(Path(path).relative_to(out.parent)): mode for path, mode in modes.items()}


@pytest.mark.parametrize("umask", ["022", "000"])
def test_the_data_dir_the_database_dumps_and_exports_are_the_owners_alone(
    store_config: StoreConfig, backend: str, tmp_path: Path, umask: str
) -> None:
    data = tmp_path / "new" / "data"  # neither folder exists yet
    out = tmp_path / "out"
    out.mkdir()

    modes = _made_under_umask(umask, data, out, store_config)
    keks = [name for name in modes if name.startswith("new/data/keys/kek-")]
    assert keks and {modes.pop(name) for name in keks} == {"0o600"}  # store.kek

    expected = {
        "new": "0o700",
        "new/data": "0o700",
        "new/data/keys": "0o700",
        "out/backup.ndjson.key": "0o600",
        "new/data/admin-token": "0o600",
        "new/data/signing-key.pem": "0o600",
        "new/data/signing-keys.json": "0o600",
        "out/backup.ndjson": "0o600",
        "out/t.csv": "0o600",
    }
    if backend == "sqlite":
        expected |= {
            "new/data/parley.sqlite3": "0o600",
            "new/data/parley.sqlite3-wal": "0o600",
            "new/data/parley.sqlite3-shm": "0o600",
        }
    assert {name: modes.get(name) for name in expected} == expected
    assert set(modes) == set(expected)  # no draft left behind


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_database_an_older_release_left_readable_is_narrowed_when_opened(
    store_config: StoreConfig, tmp_path: Path
) -> None:
    ConflictLog(store_config).close()
    os.chmod(store_config.sqlite_path, 0o644)

    with ConflictLog(store_config) as log:
        log.last_position()
        modes = {
            p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.glob("parley.sqlite3*")
        }

    assert modes == dict.fromkeys(
        ["parley.sqlite3", "parley.sqlite3-wal", "parley.sqlite3-shm"], 0o600
    )


def _plant(link: Path, victim: Path) -> None:
    victim.write_text("the victim's own file\n")
    link.symlink_to(victim)


@pytest.mark.parametrize("command", ["dump", "export"])
def test_a_planted_partial_link_is_not_followed(
    log: ConflictLog,
    store_config: StoreConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    from store.loader import load

    load(log, EXAMPLE, "istanbul-2025")
    target = tmp_path / "out.ndjson"
    victim = tmp_path / "victim.txt"
    _plant(target.with_name("out.ndjson.partial"), victim)
    args = ["dump", str(target)] if command == "dump" else ["export", "istanbul-2025"]
    args += [] if command == "dump" else ["-o", str(target)]

    assert run_cli(store_config, monkeypatch, *args) == 0

    assert victim.read_text() == "the victim's own file\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_bytes().startswith(b"{")


@pytest.mark.parametrize("command", ["dump", "export"])
def test_a_link_planted_at_the_target_is_refused_by_name(
    log: ConflictLog,
    store_config: StoreConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    from store.loader import load

    load(log, EXAMPLE, "istanbul-2025")
    target = tmp_path / "out.ndjson"
    victim = tmp_path / "victim.txt"
    _plant(target, victim)
    args = ["dump", str(target)] if command == "dump" else ["export", "istanbul-2025"]
    args += [] if command == "dump" else ["-o", str(target)]

    assert run_cli(store_config, monkeypatch, *args) == 1

    said = capsys.readouterr().err
    assert f"{target}: is a symbolic link" in said and "Traceback" not in said
    assert victim.read_text() == "the victim's own file\n" and target.is_symlink()
    assert [p.name for p in tmp_path.iterdir() if ".partial" in p.name] == []
