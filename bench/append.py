"""Appends over HTTP against baselines measured in the same run.

- single-event appends, wrk -c32 (each request a new realistic event, bench/events.py),
  against the no-op POST (bench/noop_app.py: FastAPI parsing the same pydantic body
  under the same uvicorn settings); target 0.50x with 0 errors;
- the server's CPU while those appends are offered past capacity (utime + stime of
  /proc/PID/stat over the wrk run), in cores, and per append; target 1.7 of 2 cores or
  the bound named. The no-op's CPU per POST, measured the same way, is the baseline: a
  process runs Python on one core at a time (the GIL), so one process's Python CPU per
  append bounds its appends/s at 1 / (CPU per append) whatever the other core does;
- the append path's stages (``parley_append_stage_seconds`` and the group sizes, read
  from /metrics before and after the wrk run): mean ms each;
- 1,000-event batches over HTTP, one client posting them in turn, against the no-op
  app's parsing and validation of the same batches; target 0.50x;
- context: the library's own ``Application.save()`` of one event per transaction.
- both against the do-it-yourself stack (bench/diy.py, measured the same way right
  before Parley on each backend): targets single >= 2x, batches >= 5x.

Each with ``PARLEY_PROJECTIONS=inline`` (the default) and ``off``, on a new store, on
each ``--backend``: SQLite (a file) and PostgreSQL (a new schema of
``$PARLEY_BENCH_DATABASE_URL``, by default postgresql://postgres@127.0.0.1:5432/test).

Usage: ``python -m bench.append [--quick] [--seconds 10] [--batches 20]
[--projections inline,off] [--backend sqlite,postgres] [--profile DIR]``.
"""

from __future__ import annotations

import argparse
import itertools
import time
from typing import Any

import orjson
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from bench import diy, support
from bench.events import Mix, statement
from bench.support import Row

CONNECTIONS = 32
TARGET_SINGLE = 0.50
TARGET_CORES = 1.7
TARGET_BATCH = 0.50


class Ledger(Aggregate):
    @event("Noted")
    def note(self, summary: str) -> None:
        self.last = summary


def library_save(count: int) -> float:
    """The library's own path on SQLite: one event saved per transaction; events/s."""
    data = support.temp_dir("library")
    app: Application[Any] = Application(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(data / "lib.db")}
    )
    ledger = Ledger()
    app.save(ledger)
    started = time.perf_counter()
    for i in range(count):
        ledger.note(summary=f"statement {i}")
        app.save(ledger)
    elapsed = time.perf_counter() - started
    app.close()
    return count / elapsed


def batch_bodies(slug: str, count: int) -> list[tuple[str, bytes, int]]:
    """``count`` 1,000-event batches of one negotiation, encoded before any is sent."""
    mix = Mix(count * 1000 + 1)
    return [(slug, orjson.dumps(mix.take(1000)), 1000) for _ in range(count)]


def main() -> None:
    args = parse()
    seconds = args.seconds or (4 if args.quick else 10)
    count = args.batches or (5 if args.quick else 20)
    single_body = statement(0)
    path = f"/negotiations/{support.SLUG}/events"
    print(f"# bench/append.py: wrk -c{CONNECTIONS} for {seconds} s; {count} batches of 1,000")
    logs = support.temp_dir("append")

    library = library_save(500 if args.quick else 2000)
    print(f"library save(): {library:,.0f} events/s", flush=True)
    rows = [
        Row(
            "library save(), 1 event/transaction (context)",
            f"{library:,.0f} events/s",
            "",
            None,
            "",
            None,
        ),
    ]
    diys: dict[str, diy.Measured] = {}  # each backend's, measured before Parley's first
    for backend, mode in itertools.product(support.backends(args), support.modes(args)):
        if backend not in diys:
            diys[backend] = diy.measure(
                backend,
                seconds=seconds,
                single_body=single_body,
                bodies=batch_bodies(support.SLUG, count),
            )
        tag = f"{backend}, {mode}"
        # The baseline right before each measurement: other load on the machine varies.
        with support.Noop(logs) as noop:
            script = support.post_script(path, single_body, {})
            with support.loaded(noop.pid) as noop_used:
                base = support.wrk(
                    noop.url + path, script, seconds=seconds, connections=CONNECTIONS
                )
            noop_batch = support.post_batches(
                noop.url, batch_bodies("x", count), path="/negotiations/{slug}/batch"
            )
        noop_cpu = noop_used["cores"] / base.rate * 1000  # ms of CPU per POST
        print(
            f"[{tag}] no-op POST: {base.describe()}; {noop_used['cores']:.2f} cores, "
            f"{noop_cpu:.2f} ms CPU per POST; 1,000-event batches {noop_batch.rate:,.0f} "
            "events/s",
            flush=True,
        )
        data = support.temp_dir(f"append-{mode}")
        with support.Server(data, mode, **support.backend_env(backend, f"append_{mode}")) as server:
            server.open(support.SLUG)
            before = support.Stages.read(server.url)
            with (
                support.profiled(server.pid, f"append-single-{mode}", args.profile),
                support.loaded(server.pid) as used,
            ):
                single = support.wrk(
                    server.url + path,
                    support.post_script(path, single_body, support.AUTH),
                    seconds=seconds,
                    connections=CONNECTIONS,
                )
            stages = support.Stages.read(server.url).since(before)
            cores = used.pop("cores")
            busiest = max(used.values(), default=0.0)
            cpu = cores / single.rate * 1000  # ms of CPU per append
            print(f"[{tag}] single-event append: {single.describe('events/s')}", flush=True)
            print(f"[{tag}] stages: {stages.describe()}", flush=True)
            print(f"[{tag}] CPU per append by thread: {by_thread(server.pid, used, single.rate)}")
            print(
                f"[{tag}] server CPU: {cores:.2f} cores (busiest thread {busiest:.2f}), "
                f"{cpu:.2f} ms per append",
                flush=True,
            )
            waited = server.caught_up()
            bodies = batch_bodies(support.SLUG, count)
            with support.profiled(server.pid, f"append-batch-{mode}", args.profile):
                batches = support.post_batches(server.url, bodies)
            print(
                f"[{tag}] 1,000-event batches: {batches.rate:,.0f} events/s, p50 "
                f"{support.pct(batches.latencies, 0.5):.0f} ms per batch (projections caught "
                f"up {waited:.1f} s after the single appends)",
                flush=True,
            )
        ratio = single.rate / base.rate
        rows.append(
            Row(
                f"single-event append, wrk -c32 [{tag}]",
                single.describe("events/s"),
                f"no-op POST {base.rate:,.0f} req/s, {base.errors} errors",
                ratio,
                f">= {TARGET_SINGLE:.2f}x, 0 errors",
                ratio >= TARGET_SINGLE and single.errors == 0,
            )
        )
        rows.append(
            Row(
                f"server CPU under single appends [{tag}]",
                f"{cores:.2f} cores, {cpu:.2f} ms CPU/append (bound: 1 core of Python, "
                f"<= {1000 / cpu:,.0f}/s)",
                f"no-op {noop_used['cores']:.2f} cores, {noop_cpu:.2f} ms CPU/POST",
                cpu / noop_cpu,
                f">= {TARGET_CORES} cores, or the bound named",
                cores >= TARGET_CORES,
            )
        )
        rows.append(
            Row(
                f"append stages, mean ms [{tag}]",
                stages.describe().removeprefix("mean ms: "),
                "",
                None,
                "",
                None,
            )
        )
        batch_ratio = batches.rate / noop_batch.rate
        rows.append(
            Row(
                f"1,000-event batches over HTTP [{tag}]",
                f"{batches.rate:,.0f} events/s",
                f"no-op batch {noop_batch.rate:,.0f} events/s",
                batch_ratio,
                f">= {TARGET_BATCH:.2f}x",
                batch_ratio >= TARGET_BATCH,
            )
        )
        rows += diy.rows(diys[backend], mode, single, batches)
    support.finish(rows, args)


def by_thread(pid: int, used: dict[str, float], rate: float) -> str:
    """Each thread's CPU per append (ms), the busiest first: the event loop's (the
    process's main thread) named, the others by native id (py-spy names them by it)."""
    per = {
        ("event loop" if tid == str(pid) else f"thread {tid}"): cores / rate * 1000
        for tid, cores in used.items()
    }
    return ", ".join(
        f"{name} {ms:.3f}" for name, ms in sorted(per.items(), key=lambda kv: -kv[1]) if ms >= 0.005
    )


def parse() -> argparse.Namespace:
    return support.parser(__doc__, appends=True).parse_args()


if __name__ == "__main__":
    main()
