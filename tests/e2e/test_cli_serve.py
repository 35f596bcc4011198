"""``parley serve`` and ``parley --version`` as a user meets them: real child processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from support import REPO, Server, free_port

from api.cli.serve import SECRETS
from api.settings import Settings


def parley(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_help_lists_every_setting_with_its_default_and_variable() -> None:
    done = parley("serve", "--help", env={"COLUMNS": "400"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for name, field in Settings.model_fields.items():
        flag, variable = "--" + name.replace("_", "-"), f"PARLEY_{name.upper()}"
        if name in SECRETS:
            assert flag not in done.stdout  # never on a command line
            assert variable in done.stdout  # but named as where it comes from
            continue
        (start,) = [i for i, line in enumerate(lines) if line.strip().startswith(flag + " ")]
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].strip().startswith("-")),
            len(lines),
        )
        line = " ".join(part.strip() for part in lines[start:end])  # its help may wrap
        assert variable in line
        default = "unset" if field.default is None else str(field.default)
        if isinstance(field.default, bool):
            default = "on" if field.default else "off"
        assert f"(default: {default};" in line


# The version is the package's whatever the store: a server on PostgreSQL too started one
# more process (~4 s of CPU) for the same answer.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_version_is_the_package_metadata_and_health_says_it(server: Server) -> None:
    done = parley("--version")
    assert done.returncode == 0, done.stderr
    installed = metadata.version("parley")
    assert done.stdout.strip() == f"parley {installed}"
    assert httpx.get(f"{server.url}/health").json()["version"] == installed
    assert httpx.get(f"{server.url}/openapi.json").json()["info"]["version"] == installed


def test_a_flag_overrides_its_variable_and_a_bad_one_is_named() -> None:
    done = parley("serve", "--port", "70000", env={"PARLEY_PORT": "8000"})
    assert done.returncode == 2
    assert done.stderr.strip() == "--port: Input should be less than or equal to 65535"


def test_a_taken_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = parley("serve", "--port", str(port), "--data-dir", str(tmp_path), "--example", "")
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"port {port} on 127.0.0.1 is in use: "), line
    assert not (tmp_path / "parley.sqlite3").exists()  # refused before opening the store


@pytest.mark.slow
def test_the_banner_prints_only_once_the_port_answers(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "PARLEY_DATA_DIR": str(tmp_path)},  # the example loads: slower
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        for line in process.stdout:
            if "is serving" in line:
                # Asked at once, with no retry: the banner promised an answering server.
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                assert health.status_code == 200
                assert health.json()["backend"] == "sqlite"
                break
            assert time.monotonic() < deadline
        else:
            pytest.fail(f"parley serve exited with {process.wait()} and no banner")
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_another_package_named_like_a_parley_root_is_refused(tmp_path: Path) -> None:
    # Another's ``store`` first on the path, as in a shared site-packages; the checkout's
    # ``api`` comes from the parley script's own environment.
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "__init__.py").write_text("")
    script = Path(sys.executable).parent / "parley"
    done = subprocess.run(
        [script, "--version"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (
        f"Parley's 'store' is shadowed by {tmp_path / 'store' / '__init__.py'}"
    )
    assert "Traceback" not in done.stderr
