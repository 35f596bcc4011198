"""Full rebuilds from the store against the raw SELECT of the same rows.

On a store filled over HTTP (100,000 events of bench/events.py's mix by default), each
against ``sqlite3``'s ``SELECT rowid, originator_id, originator_version, topic, state
FROM stored_events`` with ``fetchall()`` (what ``select_notifications`` reads), best of
3, measured right before it:

- each projection's rebuild, as ``parley project rebuild <name>`` runs it
  (``Projections.rebuild``: empty the view, catch up from zero folding pages of
  10,000 rows of the log's index, ``projections.runner.catch_up``);
- the cold fold that the first ``state?as_of=`` does in a new server: a new
  ``AsOf`` service answers ``state(slug, as_of=<its last valid date>)`` (read the
  negotiation's records, decode them, fold to the end).

Target: each at least 0.25x the raw SELECT's rows/s. No server runs meanwhile.

Usage: ``python -m bench.rebuild [--quick] [--events 100000] [--store DIR] [--profile DIR]``
(``--profile``: cProfile of each rebuild and of the cold fold, top functions printed and
saved).
"""

from __future__ import annotations

import cProfile
import pstats
import sqlite3
import time
from datetime import date
from pathlib import Path

from bench import support
from bench.support import Row
from domain.values import end_of_day
from projections.runner import PROJECTIONS, Projections
from projections.service import AsOf
from store.config import StoreConfig
from store.log import ConflictLog

TARGET = 0.25
RAW_SQL = "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events"


def raw_select(path: Path, tries: int = 3) -> tuple[int, float]:
    """(rows, rows/s) of the best of ``tries`` raw SELECTs, fetched whole."""
    best, rows = float("inf"), 0
    for _ in range(tries):
        with sqlite3.connect(path) as conn:
            started = time.perf_counter()
            rows = len(conn.execute(RAW_SQL).fetchall())
            best = min(best, time.perf_counter() - started)
    return rows, rows / best


def rebuild(config: StoreConfig, name: str, profile: Path | None) -> tuple[int, float]:
    """(position reached, seconds) of rebuilding one projection."""
    with Projections(config) as projections:
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        progress = projections.rebuild(name)
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
        if profiler and profile:
            _report(profiler, profile / f"rebuild-{name}.prof", f"the rebuild of {name}")
        return progress.position, seconds


def _report(profiler: cProfile.Profile, path: Path, what: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(path)
    print(f"# cProfile of {what}: {path}; top by own time:")
    pstats.Stats(str(path)).sort_stats("tottime").print_stats(15)


def cold_fold(config: StoreConfig, slug: str, end: str, profile: Path | None) -> tuple[int, float]:
    """(events, seconds) of a new AsOf service's first state at the last valid date."""
    log = ConflictLog(config)
    try:
        service = AsOf(log)
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        state = service.state(slug, end_of_day(date.fromisoformat(end)))
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
        if profiler and profile:
            _report(profiler, profile / "cold-fold.prof", "the cold fold")
        assert state.event_count > 0
        return len(service.engine(slug)), seconds
    finally:
        log.close()


def main() -> None:
    args = support.parser(__doc__, events=100_000).parse_args()
    data, marker = support.store(args, "rebuild", support.events(args, 100_000, 20_000))
    config = StoreConfig(data_dir=data)
    path = config.sqlite_path
    rows: list[Row] = []

    def row(what: str, events: int, seconds: float) -> None:
        count, raw = raw_select(path)
        rate = events / seconds
        print(
            f"{what}: {rate:,.0f} events/s ({events:,} in {seconds:.1f} s); "
            f"raw SELECT {raw:,.0f} rows/s ({count:,} rows)",
            flush=True,
        )
        rows.append(
            Row(
                f"{what}, {events // 1000}k events",
                f"{rate:,.0f} events/s ({seconds:.1f} s)",
                f"raw SELECT {raw:,.0f} rows/s",
                rate / raw,
                f">= {TARGET:.2f}x",
                rate >= TARGET * raw,
            )
        )

    for name in PROJECTIONS:
        position, seconds = rebuild(config, name, args.profile)
        row(f"rebuild of the {name} projection", position, seconds)
    slug = marker["slugs"][0]
    events, seconds = cold_fold(config, slug, support.last_valid_date(data, slug), args.profile)
    row("cold as-of fold (read, decode, fold)", events, seconds)
    support.finish(rows, args)


if __name__ == "__main__":
    main()
