"""Validation in process, in events/s: the append route's own parsing
(``api.parsing.parse_events`` on a body's bytes) of the realistic events, against the
same parsing as it was before country codes, URLs and valid times were checked in
pydantic-core (commit ``BEFORE``, taken from git into a temporary directory).

Two bodies, both made by bench/events.py: 1,000 single-event bodies (a statement each,
as the single-event append sends them: actors with roles, one or two sources with a
URL, ``published_at``, ``attributed_to`` and ``via``), and one 1,000-event batch of a
negotiation's mix. Each side runs in a process of its own on the same bodies, in turn,
``--rounds`` times (3); each figure is the best of its repeats in CPU time of the
process, since other work on a shared machine lengthens wall time at random. The
ratio is today's figure over the one before; the target is 2x. ``orjson.loads`` of the
same bodies is shown as context (parsing without validation).

Without git or the commit (an unpacked release), the rows say so and carry no ratio.

Usage: ``python -m bench.validation [--quick] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

from bench import support
from bench.events import Mix, statement
from bench.support import Row

BEFORE = "6628fca98ec5f6e2ce9385abfef8d75003494cad"
"""The last commit whose country codes, URLs and valid times were checked in Python
for every value."""

TARGET = 2.0
ROOT = Path(__file__).resolve().parents[1]

MEASURE = """
import sys, time
import orjson
from api.parsing import parse_events

singles = orjson.loads(open(sys.argv[1], "rb").read())
singles = [s.encode() for s in singles]
batch = open(sys.argv[2], "rb").read()
repeats = int(sys.argv[3])


def best(work, count):
    figures = []
    for _ in range(repeats):
        started = time.process_time()
        work()
        figures.append(count / (time.process_time() - started))
    return max(figures)


def each_single():
    for body in singles:
        parse_events(body)


parse_events(batch)  # imports and first-use caches out of the figure
print(orjson.dumps({
    "singles": best(each_single, len(singles)),
    "batch": best(lambda: parse_events(batch), 1000),
    "orjson_singles": best(lambda: [orjson.loads(b) for b in singles], len(singles)),
    "orjson_batch": best(lambda: orjson.loads(batch), 1000),
}).decode())
"""
"""Run with a tree first on ``sys.path``: its ``parse_events``' events/s, best of the
repeats in the process's CPU time, on the bodies in the files named."""


def before_tree() -> Path | None:
    """The tree at ``BEFORE``, unpacked into a temporary directory; None without git."""
    target = support.temp_dir("validation-before")
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", BEFORE],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return target


def measure(tree: Path, singles: Path, batch: Path, repeats: int) -> dict[str, float]:
    """One process's figures, with ``tree`` first on its path."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(singles), str(batch), str(repeats)],
        check=True,
        capture_output=True,
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
    )
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def main() -> None:
    parser = support.parser(__doc__)
    parser.add_argument("--rounds", type=int, help="turns of each side (default 3)")
    args: argparse.Namespace = parser.parse_args()
    rounds = args.rounds or 3
    repeats = 3 if args.quick else 7
    work = Path(tempfile.mkdtemp(prefix="parley-bench-validation-"))
    singles = work / "singles.json"
    singles.write_bytes(
        orjson.dumps([orjson.dumps(statement(i)).decode() for i in range(1000)])
    )
    mix = Mix(1001)
    mix.first()
    batch = work / "batch.json"
    batch.write_bytes(orjson.dumps(mix.take(1000)))
    before = before_tree()
    print(
        f"# bench/validation.py: parse_events in process, {rounds} rounds of {repeats} "
        f"repeats; before: {BEFORE[:7] if before else 'not available (no git)'}",
        flush=True,
    )
    now: dict[str, float] = {}
    then: dict[str, float] = {}
    for turn in range(rounds):
        sides = [("before", before), ("now", ROOT)] if before else [("now", ROOT)]
        for name, tree in sides:
            assert tree is not None
            figures = measure(tree, singles, batch, repeats)
            kept = then if name == "before" else now
            for key, value in figures.items():
                kept[key] = max(kept.get(key, 0.0), value)
            print(
                f"round {turn + 1} {name}: single bodies {figures['singles']:,.0f} events/s, "
                f"1,000-event batch {figures['batch']:,.0f} events/s",
                flush=True,
            )
    rows = []
    for key, what in (
        ("singles", "validation in process, single-event bodies (parse_events)"),
        ("batch", "validation in process, a 1,000-event batch body (parse_events)"),
    ):
        context = f"; orjson.loads {now[f'orjson_{key}']:,.0f} events/s"
        ratio = now[key] / then[key] if then else None
        rows.append(
            Row(
                what,
                f"{now[key]:,.0f} events/s (CPU)",
                (f"before ({BEFORE[:7]}) {then[key]:,.0f} events/s" if then else "before: n/a")
                + context,
                ratio,
                f">= {TARGET:.0f}x before",
                None if ratio is None else ratio >= TARGET,
            )
        )
    support.finish(rows, args)


if __name__ == "__main__":
    main()
