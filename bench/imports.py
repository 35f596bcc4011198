"""``parley import`` memory and speed: a 200,000-line NDJSON file of realistic events
(actors with roles, sources with ``published_at``, ``attributed_to`` and ``via``),
imported on SQLite by ``parley import`` in a child process; its peak RSS (the child's
own ``ru_maxrss``, from ``os.wait4``) and events/s. The same at 20,000 lines shows that
memory does not grow with the file: the import streams and appends batches of 500.

Usage: ``python -m bench.imports [--lines 200000] [--small 20000]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from uuid import UUID, uuid5

import orjson

REPO = Path(__file__).resolve().parent.parent
IDS = UUID("4f6a2b1c-8d3e-4f5a-9b6c-7d8e9f0a1b2c")
SLUG = "bench-import"

MEDINSKY = {"name": "Vladimir Medinsky", "country": "RUS", "role": "chief negotiator"}
UMEROV = {"name": "Rustem Umerov", "country": "UKR", "role": "defence minister"}
FIDAN = {"name": "Hakan Fidan", "country": "TUR", "role": "foreign minister"}
OUTLETS = ("teleSUR", "Reuters", "AP", "Anadolu", "Ukrinform")


def _sources(n: int) -> list[dict[str, object]]:
    day = f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}"
    return [
        {
            "outlet": OUTLETS[n % len(OUTLETS)],
            "url": f"https://example.org/news/{n}",
            "published_at": f"{day}T{n % 24:02d}:15:00Z",
            "attributed_to": (MEDINSKY, UMEROV, FIDAN)[n % 3],
            "via": ["EFE", "TASS"] if n % 2 else ["Reuters"],
            "quote": f"We are ready to talk ({n}).",
        }
    ]


def event_line(n: int) -> bytes:
    """The n-th event of the file (0 opens the negotiation), with its own id."""
    day = f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}"
    base: dict[str, object] = {
        "id": str(uuid5(IDS, str(n))),
        "occurred_at": day,
        "sources": _sources(n),
    }
    if n == 0:
        event = {
            "type": "NegotiationOpened",
            "occurred_at": "2025-01-01",
            "data": {"title": "Benchmark talks", "parties": ["RUS", "UKR"], "mediators": ["TUR"]},
        }
    elif n % 3 == 0:
        event = {
            "type": "ContactHeld",
            "data": {
                "participants": [MEDINSKY, UMEROV],
                "medium": "phone",
                "summary": f"Call number {n} on the prisoner exchange",
            },
        }
    elif n % 3 == 1:
        event = {
            "type": "StatementIssued",
            "data": {"speaker": FIDAN, "summary": f"Statement {n} on the talks", "topic": "talks"},
        }
    else:
        event = {
            "type": "ProposalMade",
            "data": {
                "proposal_id": f"p{n}",
                "proposer": MEDINSKY,
                "addressees": [UMEROV],
                "subject": "prisoner_exchange",
                "summary": f"Proposal {n}: exchange 1,000 for 1,000",
            },
        }
    return orjson.dumps({**base, **event}) + b"\n"


def build(path: Path, lines: int) -> None:
    with path.open("wb") as out:
        for n in range(lines):
            out.write(event_line(n))


def measure(path: Path, data_dir: Path) -> tuple[float, int, int]:
    """Seconds, peak RSS (bytes) of the child, and its exit code."""
    env = {**os.environ, "PARLEY_DATA_DIR": str(data_dir), "PARLEY_EXAMPLE": "",
           "PARLEY_DATABASE_URL": ""}
    command = [sys.executable, "-m", "api.cli", "import", str(path), "--format", "ndjson",
               "--negotiation", SLUG]
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    took = time.perf_counter() - started
    return took, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--small", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for lines in (args.small, args.lines):
            path = root / f"events-{lines}.ndjson"
            build(path, lines)
            took, peak, code = measure(path, root / f"store-{lines}")
            print(
                f"{lines:>9,} lines  {path.stat().st_size / 2**20:7.1f} MiB  "
                f"{took:7.1f} s  {lines / took:8,.0f} events/s  peak RSS {peak / 2**20:6.1f} MiB"
                f"  exit {code}",
                flush=True,
            )


if __name__ == "__main__":
    main()
