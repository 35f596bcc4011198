"""The wheel, installed into a new virtual environment outside the checkout, serves."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from support import EXAMPLE, REPO, free_port

from api.version import ROOTS

pytestmark = pytest.mark.slow


def run(*command: str | Path, cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_wheel_installs_outside_the_checkout_and_serves(tmp_path: Path) -> None:
    # From the files a clone has (a build/ folder of the checkout's could add stale ones):
    # the sdist, then the wheel built from the sdist, as pip builds one it downloaded.
    source = tmp_path / "source"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "build", "--sdist", "--outdir", wheels, source, cwd=tmp_path)
    (sdist,) = wheels.glob("parley-*.tar.gz")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, sdist, cwd=tmp_path)
    (wheel,) = wheels.glob("parley-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    modules = [name for name in listed if name.endswith(".py") and name.split("/")[0] in ROOTS]
    assert modules and set(modules) <= shipped  # every subpackage, every module
    for folder in ("api/http/static", "domain/reference"):
        for file in (REPO / folder).iterdir():
            assert f"{folder}/{file.name}" in shipped
    data = f"parley-{wheel.name.split('-')[1]}.data/data/share/parley/examples"
    assert f"{data}/{EXAMPLE.name}" in shipped
    # The dependencies come from the index pip is configured with (`pip config list`:
    # this machine's is local). Not --system-site-packages: this environment holds Parley
    # installed editable, which would import the checkout.
    # The environment gets no pip of its own: this one's installs into it (--python), and
    # without compiling every dependency's bytecode, which was half the test's CPU (~11 s
    # of its ~21: ensurepip, and pip compiling all it installed); the server compiles what
    # it imports.
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    pip = [sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q"]
    run(*pip, "--no-compile", "--find-links", wheels, wheel, cwd=tmp_path)
    port, data = free_port(), tmp_path / "data"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PARLEY_") and key not in {"PYTHONPATH", "VIRTUAL_ENV"}
    }
    # Run from an empty folder, so that nothing is imported from the checkout.
    server = subprocess.Popen(
        [
            venv / "bin" / "parley",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            data,
        ],
        cwd=tmp_path,
        env={**env, "PARLEY_ADMIN_TOKEN": "wheel-test-token"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[0].decode()
            assert time.monotonic() < deadline, "the installed parley serve did not answer"
            try:
                health = httpx.get(f"{url}/health", timeout=2)
                if health.status_code == 200 and health.json()["backend"] != "starting":
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert health.json()["version"] == wheel.name.split("-")[1]
        page = httpx.get(f"{url}/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        static = next(p.name for p in (REPO / "api/http/static").iterdir() if p.suffix == ".js")
        served = httpx.get(f"{url}/static/{static}")
        assert served.status_code == 200
        assert served.content == (REPO / "api/http/static" / static).read_bytes()
        state = httpx.get(f"{url}/negotiations/istanbul-2025/state", params={"as_of": "2025-05-28"})
        assert state.status_code == 200, state.text
        assert state.json()["as_of"].startswith("2025-05-28")
        where = subprocess.run(
            [venv / "bin" / "python", "-c", "import api; print(api.__file__)"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        assert str(venv) in where.stdout  # the installed copy answered, not the checkout
    finally:
        server.terminate()
        server.wait(timeout=15)
