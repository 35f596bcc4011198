"""The README's promises, run as a new user would: the curl tour against a real server."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support import EXAMPLE, REPO, start_server, stop_server

README = (REPO / "README.md").read_text()


def tour_script() -> str:
    match = re.search(r"<!-- tour -->\s*```sh\n(.*?)```\s*<!-- /tour -->", README, re.S)
    assert match, "README has no <!-- tour --> block"
    return match.group(1)


def test_readme_opens_with_the_two_commands() -> None:
    first_lines = README.splitlines()[:4]
    assert any(line.startswith("make run") for line in first_lines)
    assert any(line.startswith("make test") for line in first_lines)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.slow  # starts a server of its own
def test_the_curl_tour_works_as_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server({"PARLEY_EXAMPLE": str(EXAMPLE)}, data)
    try:
        # Run it where the README expects it: data/admin-token under the working dir.
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", tour_script()],
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "PARLEY": server.url},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        stop_server(server)
    assert result.returncode == 0, result.stderr
    replies = [json.loads(line) for line in result.stdout.replace("}{", "}\n{").splitlines()]
    statuses = [r.get("status") for r in replies if "status" in r and "title" in r]
    # The tour shows exactly two problems: the stale If-Match and the GeoNames region.
    assert statuses == [409, 422], statuses
    opened = next(r for r in replies if r.get("negotiation") == "black-sea-2025")
    assert opened["title"] == "Black Sea shipping talks"
    appends = [
        r
        for r in replies
        if "events" in r and r.get("negotiation") == "black-sea-2025" and "version" in r
    ]
    assert [e["stored"] for e in appends[0]["events"]] == ["created"]
    assert [e["stored"] for e in appends[1]["events"]] == ["existing"]
    assert appends[1]["events"][0]["position"] == appends[0]["events"][0]["position"]
    assert [e["version"] for e in appends[2]["events"]] == [3, 4]
    disputed = next(r for r in replies if r.get("id") == "3221c451-fe72-4f21-b409-4d50f4b07cdd")
    assert disputed["disputes"], "the example's dispute over who phoned whom is missing"
    states = [r for r in replies if r.get("negotiation") == "istanbul-2025" and "rounds" in r]
    may_17, may_28, unknown = states
    assert [r["round"] for r in may_17["rounds"]] == [1]
    second = {r["round"]: r for r in may_28["rounds"]}[2]
    assert (second["starts_at"], second["host"]["country"]) == ("2025-06-02", "TUR")
    assert unknown["event_count"] == 0
    assert replies[-1]["ok"] is True
