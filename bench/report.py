"""Every benchmark in turn, then one summary table: what, measured, baseline, ratio,
target, met?. Each ratio is against a baseline measured in the same run.

0. bench/validation.py: the append route's parsing in process, against the same
   parsing before its checks moved into pydantic-core;
1. bench/append.py on stores of its own, on each ``--backend`` (SQLite and PostgreSQL),
   with the do-it-yourself stack (bench/diy.py) measured before Parley on each;
2. one store filled over HTTP (``--events``, 100,000 by default), shared by
3. bench/as_of.py, 4. bench/subscribe.py, 5. bench/rebuild.py and, last as it
   appends, bench/restart.py (the first append after a restart);
6. bench/memory.py on a store of its own (``--memory-events``: 200,000 by default, its
   RSS extrapolated to the target's 1,000,000; ``--full`` measures the real size).

Usage: ``make bench`` or ``python -m bench.report [--quick] [--full] [--events N]
[--memory-events N] [--projections inline,off] [--backend sqlite,postgres]
[--only append,as_of,...]
[--profile DIR]``. ``--quick`` is a short run (20k and 50k events, shorter wrk runs:
under 10 minutes); the full one took 30 minutes on 2 busy cores before the rewrite,
most of it filling stores and first as_of queries at today's rates. Temporary stores
are removed at the end unless PARLEY_BENCH_KEEP=1. ``--profile DIR`` samples the
server with py-spy (``$PY_SPY`` or on PATH) and prints where it spends its time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import support
from bench.support import Row

STEPS = ("validation", "append", "as_of", "subscribe", "rebuild", "restart", "memory")


def main() -> None:
    parser = support.parser(__doc__)
    parser.add_argument("--events", type=int, help="the shared store (100,000; --quick 20,000)")
    parser.add_argument(
        "--memory-events",
        type=int,
        help="bench/memory.py (200,000, extrapolated to 1M; --quick 50,000); 1000000 for "
        "the target's own size (a fill of about 15 minutes today)",
    )
    parser.add_argument(
        "--full", action="store_true", help="bench/memory.py at 1,000,000 events, measured"
    )
    parser.add_argument("--only", default=",".join(STEPS), help=f"steps, of {','.join(STEPS)}")
    args = parser.parse_args()
    steps = [s for s in args.only.split(",") if s]
    if set(steps) - set(STEPS):
        raise SystemExit(f"--only: choose from {STEPS}")
    events = support.events(args, 100_000, 20_000)
    memory_events = args.memory_events or (
        1_000_000 if args.full else 50_000 if args.quick else 200_000
    )
    results = Path(tempfile.mkstemp(prefix="parley-bench-", suffix=".jsonl")[1])
    common = ["--results", str(results), "--projections", args.projections]
    common += ["--backend", args.backend]
    common += ["--quick"] if args.quick else []
    common += ["--profile", str(args.profile)] if args.profile else []
    print(f"# bench/report.py: {support.machine()}; steps {', '.join(steps)}", flush=True)
    started = time.monotonic()
    timings: list[str] = []

    def run(step: str, *extra: str) -> None:
        print(f"\n## {step}", flush=True)
        began = time.monotonic()
        subprocess.run([sys.executable, "-m", f"bench.{step}", *common, *extra], check=True)
        timings.append(f"{step} {time.monotonic() - began:.0f} s")

    if "validation" in steps:
        run("validation")
    if "append" in steps:
        run("append")
    if {"as_of", "subscribe", "rebuild", "restart"} & set(steps):
        print(f"\n## the shared store: {events:,} events over HTTP", flush=True)
        began = time.monotonic()
        store = support.temp_dir("store")
        marker = support.fill_store(store, events)
        timings.append(f"fill {time.monotonic() - began:.0f} s")
        print(
            f"filled {store} at {marker['fill_rate']:,.0f} events/s; the inline projections "
            f"were {marker['projections_lag']:,} events behind at the end",
            flush=True,
        )
        fill_row = (
            Row(
                f"fill of the shared store, 1,000-event batches, {events // 1000}k [inline]",
                f"{marker['fill_rate']:,.0f} events/s (projections "
                f"{marker['projections_lag']:,} behind at the end)",
                "target 20,000 events/s",
                marker["fill_rate"] / 20_000,
                ">= 20,000 events/s",
                marker["fill_rate"] >= 20_000,
            ),
        )
        support.save(fill_row, results)
        for step in ("as_of", "subscribe", "rebuild", "restart"):
            if step in steps:
                run(step, "--store", str(store))
    if "memory" in steps:
        run("memory", "--events", str(memory_events))
    rows = [Row(**json.loads(line)) for line in results.read_text().splitlines()]
    results.unlink()
    print(f"\n## summary ({', '.join(timings)}; {(time.monotonic() - started) / 60:.1f} min)")
    support.finish(rows, args)


if __name__ == "__main__":
    main()
