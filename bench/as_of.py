"""As-of queries over HTTP, and the as-of engine in memory.

Over HTTP (the server as ``make run`` starts it, on a store filled over HTTP with
bench/events.py's realistic mix, 100,000 events in one negotiation by default), for
``PARLEY_PROJECTIONS=inline`` and ``off``:

- the first ``GET /negotiations/{slug}/state?as_of=<its last valid date>`` after a
  server restart, against the warm p50; target 10x. The server that filled the store
  wrote checkpoints of the as-of fold (``PARLEY_ASOF_CHECKPOINT_EVERY``, and at its
  shutdown), so this reads one and the events after it;
- the same first query with no checkpoint (their rows set aside for one restart with
  ``PARLEY_ASOF_CHECKPOINT_EVERY=0``, then put back): the whole negotiation read, decoded
  and folded, as before checkpoints; shown against the same warm p50;
- the same two in process, in CPU time (``time.process_time``), against the CPU p50 of
  a warm engine's state and JSON at the same random dates, three restarts each: on a
  shared machine one cold request's wall time is mostly other processes' turns, while
  its CPU time is its own;
- warm ``state?as_of=<random date>``, wrk -c1 (p50), against a no-op GET answering
  pre-encoded bytes of the same length (bench/noop_app.py); target 2x.

With ``--engine``, also the engine in memory (the former bench): ``generate`` records
a negotiation through the real Negotiation aggregate (ids, clocks and hashes are
genuine), and ``measure`` times ``AsOfEngine.state(random V, now)`` against the naive
reference fold, a past knowledge horizon and a full rebuild, at 1k, 10k and 100k events.

Usage: ``python -m bench.as_of [--quick] [--events 100000] [--store DIR] [--seconds 5]
[--projections inline,off] [--profile DIR] [--engine [--sizes 1000,10000,100000]]``.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from bench import support
from bench.events import VALID_START, Mix
from bench.support import Row
from domain.events import AnyEvent, parse_event
from domain.negotiation import Negotiation, Recorded
from projections.as_of import AsOfEngine, naive_state
from store.gc_pause import paused_gc

SLUG = "bench"
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
TARGET_COLD = 10.0
TARGET_WARM = 2.0


def generate(n: int, *, seed: int = 1) -> list[Recorded]:
    """A negotiation of ``n`` events of bench/events.py's mix, recorded through the
    aggregate in batches of 1 to 200, as other negotiations interleave in the log."""
    rng = random.Random(seed)
    mix = Mix(n, seed=seed)
    log = Negotiation(SLUG)
    clock = datetime(2025, 1, 1, tzinfo=UTC)
    records: list[Recorded] = []
    position = 0
    with paused_gc():
        pending: list[AnyEvent] = [parse_event(mix.first())]
        for _ in range(1, n):
            if len(pending) >= rng.randint(1, 200):
                clock += timedelta(minutes=rng.randint(1, 90))
                for item in log.record(pending, clock):
                    position += rng.randint(1, 3)
                    records.append(item.placed(position))
                pending = []
            pending.append(parse_event(mix.next()))
        clock += timedelta(minutes=1)
        for item in log.record(pending, clock):
            position += rng.randint(1, 3)
            records.append(item.placed(position))
    return records


@dataclass
class Measurement:
    n: int
    fast: list[float]  # seconds per state(random V, now)
    to_json: list[float]
    naive: list[float]
    past_first: list[float]  # a past known_at, first query at that horizon
    past_again: list[float]  # the same horizon, again
    load: float  # AsOfEngine.add of every record
    rebuild: float  # engine load plus the fold to the last valid time

    @staticmethod
    def ms(samples: Sequence[float], q: float = 0.5) -> float:
        ordered = sorted(samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def measure(
    records: list[Recorded], *, queries: int = 1000, naive_samples: int = 5, seed: int = 2
) -> Measurement:
    """Time the engine and the naive fold on one negotiation's records (position order)."""
    rng = random.Random(seed)
    slug = records[0].negotiation
    valid = [r.event.valid_from for r in records]
    low, high = min(valid), max(valid)

    def moment() -> datetime:
        return low + (high - low) * rng.random()

    start = time.perf_counter()
    engine = AsOfEngine(slug)
    engine.add(records)
    load = time.perf_counter() - start
    engine.state(high, FAR_FUTURE)  # every checkpoint built: a steady, warm engine
    rebuild = time.perf_counter() - start

    fast = [_timed(lambda: engine.state(moment(), FAR_FUTURE)) for _ in range(queries)]
    sample = engine.state(moment(), FAR_FUTURE)
    to_json = [_timed(sample.to_json) for _ in range(min(queries, 200))]
    naive = [
        _timed(lambda: naive_state(records, slug, moment(), FAR_FUTURE))
        for _ in range(naive_samples)
    ]
    past_first: list[float] = []
    past_again: list[float] = []
    for _ in range(naive_samples):
        known_at = records[rng.randrange(len(records))].recorded_at
        past_first.append(_timed(lambda: engine.state(moment(), known_at)))  # noqa: B023
        past_again.append(_timed(lambda: engine.state(moment(), known_at)))  # noqa: B023
    return Measurement(len(records), fast, to_json, naive, past_first, past_again, load, rebuild)


def report(m: Measurement, baseline: Measurement | None) -> list[str]:
    fast, naive = m.ms(m.fast), m.ms(m.naive)
    ratio = fast / m.ms(baseline.fast) if baseline else 1.0
    return [
        f"as_of n={m.n} fast p50={fast:.2f}ms p99={m.ms(m.fast, 0.99):.2f}ms "
        f"naive p50={naive:.1f}ms speedup={naive / fast:.0f}x ratio_to_1k={ratio:.1f}x "
        f"(to_json p50={m.ms(m.to_json):.2f}ms)",
        f"as_of n={m.n} past known_at: first query p50={m.ms(m.past_first):.1f}ms, "
        f"same horizon again p50={m.ms(m.past_again):.2f}ms",
        f"rebuild n={m.n} load={m.load * 1000:.0f}ms ({m.n / m.load:,.0f} events/s), "
        f"load+full fold={m.rebuild * 1000:.0f}ms ({m.n / m.rebuild:,.0f} events/s)",
    ]


def targets(m: Measurement, baseline: Measurement) -> str:
    """The issue's targets at this size: p50 <= 5 ms, <= 2x the 1k p50, >= 100x naive."""
    fast = m.ms(m.fast)
    checks = {
        "p50<=5ms": fast <= 5,
        "ratio_to_1k<=2x": fast <= 2 * baseline.ms(baseline.fast),
        "speedup>=100x": m.ms(m.naive) >= 100 * fast,
    }
    return f"targets n={m.n} " + " ".join(
        f"{name}:{'ok' if ok else 'MISSED'}" for name, ok in checks.items()
    )


def first_state(server: support.Server, slug: str, end: str) -> float:
    """Milliseconds of the first ``state?as_of=end`` (raises on an error answer)."""
    started = time.perf_counter()
    response = httpx.get(f"{server.url}/negotiations/{slug}/state?as_of={end}", timeout=900)
    took = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return took


def checkpoints_aside(data: Path) -> list[tuple[object, ...]]:
    """Take the checkpoint rows out of the SQLite store (``restore_checkpoints`` puts
    them back)."""
    with sqlite3.connect(data / "parley.sqlite3") as conn:
        rows = conn.execute("SELECT * FROM parley_checkpoints").fetchall()
        conn.execute("DELETE FROM parley_checkpoints")
    return rows


def restore_checkpoints(data: Path, rows: list[tuple[object, ...]]) -> None:
    with sqlite3.connect(data / "parley.sqlite3") as conn:
        conn.execute("DELETE FROM parley_checkpoints")
        conn.executemany("INSERT INTO parley_checkpoints VALUES (?,?,?,?,?,?,?)", rows)


def without_checkpoints(data: Path, mode: str, slug: str, end: str) -> float:
    """The first ``state?as_of=end`` after a restart with no checkpoint, in ms."""
    rows = checkpoints_aside(data)
    try:
        with support.Server(data, mode, asof_checkpoint_every="0") as server:
            server.caught_up()
            return first_state(server, slug, end)
    finally:
        restore_checkpoints(data, rows)


def in_process(data: Path, slug: str, end: str, dates: Sequence[date]) -> list[Row]:
    """The first state after a restart (a new ``AsOf`` on a newly opened log), with and
    without the checkpoint, against a warm engine, in CPU milliseconds (median of 3)."""
    from projections.service import AsOf
    from store.config import StoreConfig
    from store.log import ConflictLog

    def moment(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)

    last = moment(date.fromisoformat(end))
    first: list[float] = []
    bare: list[float] = []
    for _ in range(3):
        for kept, into in ((True, first), (False, bare)):
            log = ConflictLog(StoreConfig(data_dir=data))
            try:
                service = AsOf(log)
                started = time.process_time()
                if not kept:
                    service.engine(slug)  # as before checkpoints: the whole negotiation
                service.state(slug, last).to_json_bytes()
                into.append((time.process_time() - started) * 1000)
            finally:
                log.close()
    log = ConflictLog(StoreConfig(data_dir=data))
    try:
        service = AsOf(log)
        service.engine(slug)
        warm = []
        for day in [*dates, *dates]:
            started = time.process_time()
            service.state(slug, moment(day)).to_json_bytes()
            warm.append((time.process_time() - started) * 1000)
    finally:
        log.close()
    p50 = sorted(warm)[len(warm) // 2]
    cold, none = sorted(first)[1], sorted(bare)[1]
    print(f"[in process] first state CPU: {first} ms; no checkpoint: {bare} ms; warm p50 {p50:.2f}")
    return [
        Row(
            "first state after restart, in process, CPU time (median of 3)",
            f"{cold:,.1f} ms CPU",
            f"warm engine state+JSON CPU p50 {p50:.2f} ms",
            cold / p50,
            f"<= {TARGET_COLD:.0f}x",
            cold <= TARGET_COLD * p50,
        ),
        Row(
            "  the same, no checkpoint (as before), CPU time",
            f"{none:,.1f} ms CPU",
            f"warm engine state+JSON CPU p50 {p50:.2f} ms",
            none / p50,
            f"<= {TARGET_COLD:.0f}x",
            none <= TARGET_COLD * p50,
        ),
    ]


def over_http(args: argparse.Namespace) -> list[Row]:
    data, marker = support.store(args, "as-of", support.events(args, 100_000, 20_000))
    slug = marker["slugs"][0]
    seconds = args.seconds or (3 if args.quick else 5)
    end = support.last_valid_date(data, slug)
    rng = random.Random(7)
    span = (date.fromisoformat(end) - VALID_START.date()).days
    dates = [VALID_START.date() + timedelta(days=rng.randrange(span + 1)) for _ in range(200)]
    paths = [f"/negotiations/{slug}/state?as_of={d.isoformat()}" for d in dates]
    rows: list[Row] = []
    for mode in support.modes(args):
        with support.Server(data, mode) as server:
            waited = server.caught_up()  # inline: the views are current; nothing else runs
            print(
                f"[{mode}] server ready in {server.ready_seconds:.1f} s, its projections "
                f"current {waited:.1f} s later",
                flush=True,
            )
            with support.profiled(server.pid, f"as-of-cold-{mode}", args.profile):
                cold = first_state(server, slug, end)
            # The first of these reads the whole engine (the cold answer came from a
            # checkpoint): a long timeout on a loaded machine.
            bodies = sorted(
                (httpx.get(server.url + p, timeout=900).content for p in paths[:25]), key=len
            )
            body = data / "state-body.json"
            body.write_bytes(bodies[len(bodies) // 2])
            with support.profiled(server.pid, f"as-of-warm-{mode}", args.profile):
                warm = support.wrk(
                    server.url, support.get_script(paths), seconds=seconds, connections=1
                )
            events = server.position()
        print(f"[{mode}] cold first state?as_of=: {cold:,.0f} ms ({events:,} events in the log)")
        bare = without_checkpoints(data, mode, slug, end)
        print(f"[{mode}] the same with no checkpoint: {bare:,.0f} ms", flush=True)
        print(f"[{mode}] warm state?as_of= wrk -c1: {warm.describe()}", flush=True)
        with support.Noop(data, body=str(body)) as noop:
            base = support.wrk(
                noop.url, support.get_script(["/noop/body"]), seconds=seconds, connections=1
            )
        size = body.stat().st_size
        print(f"[{mode}] no-op GET of {size:,} bytes wrk -c1: {base.describe()}", flush=True)
        rows.append(
            Row(
                f"first state?as_of= after restart, {events // 1000}k events [{mode}]",
                f"{cold:,.0f} ms",
                f"warm as_of p50 {warm.p50:.2f} ms",
                cold / warm.p50,
                f"<= {TARGET_COLD:.0f}x",
                cold <= TARGET_COLD * warm.p50,
            )
        )
        rows.append(
            Row(
                f"  the same, no checkpoint (as before), {events // 1000}k events [{mode}]",
                f"{bare:,.0f} ms",
                f"warm as_of p50 {warm.p50:.2f} ms",
                bare / warm.p50,
                f"<= {TARGET_COLD:.0f}x",
                bare <= TARGET_COLD * warm.p50,
            )
        )
        rows.append(
            Row(
                f"warm state?as_of= p50, wrk -c1, {events // 1000}k events [{mode}]",
                f"p50 {warm.p50:.2f} ms, p99 {warm.p99:.2f} ms, {warm.errors} errors",
                f"no-op GET of {size:,} bytes p50 {base.p50:.2f} ms",
                warm.p50 / base.p50,
                f"<= {TARGET_WARM:.0f}x",
                warm.p50 <= TARGET_WARM * base.p50 and warm.errors == 0,
            )
        )
    rows += in_process(data, slug, end, dates)
    return rows


def in_memory(args: argparse.Namespace) -> None:
    """The engine against the naive fold, in memory, at each of ``--sizes``."""
    baseline: Measurement | None = None
    for n in (int(size) for size in args.sizes.split(",")):
        start = time.perf_counter()
        records = generate(n)
        print(f"generated n={n} in {time.perf_counter() - start:.1f}s", flush=True)
        m = measure(records, queries=args.queries, naive_samples=30 if n <= 10_000 else 5)
        baseline = baseline or m
        for line in report(m, baseline):
            print(line, flush=True)
        if n >= 100_000:
            print(targets(m, baseline), flush=True)


def main() -> None:
    parser = support.parser(__doc__, events=100_000)
    parser.add_argument("--seconds", type=float, help="per wrk run (default 5; --quick 3)")
    parser.add_argument("--engine", action="store_true", help="also the in-memory engine bench")
    parser.add_argument("--sizes", default="1000,10000,100000", help="--engine: sizes")
    parser.add_argument("--queries", type=int, default=1000, help="--engine: queries per size")
    args = parser.parse_args()
    if args.engine:
        in_memory(args)
    rows = over_http(args)
    support.finish(rows, args)


if __name__ == "__main__":
    main()
