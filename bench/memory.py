"""Server memory: VmRSS of ``parley serve`` after ``state?as_of=`` on each of 10
negotiations holding ``--events`` events in all (1,000,000 by default); target 1 GiB.

The store is filled as a desk would: 1,000-event batches over HTTP, to the 10
negotiations in turn, to the server as ``make run`` starts it (projections inline);
the fill rate is reported. Then, in that same server, one ``state?as_of=<its last valid
date>`` per negotiation, and its VmRSS (and VmHWM, the peak) from
/proc/<pid>/status. Then for each of ``--projections`` (inline, off) a restarted
server does the same. The first as_of of each negotiation is cold; their times are shown.

A 1,000,000-event fill takes long at today's batch rate: ``--events 200000`` scales down.
RSS grows about linearly with the events the engines hold: the rows show MiB per 100k
events, and below 1M the ratio and met? are those of the linear extrapolation to 1M
(``--full``: 1M, measured). The filled server's RSS is also shown before its as_of
queries (what the fill left: the writer and the inline projections), as context.
``--asof-max-events N`` adds a restart with ``PARLEY_ASOF_MAX_EVENTS=N`` (the as-of
engines' bound), to show that the bound holds.

Usage: ``python -m bench.memory [--quick] [--full] [--events 1000000]
[--projections inline,off] [--asof-max-events N]``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx

from bench import support
from bench.events import Mix
from bench.support import GIB, Row, Server, mib

NEGOTIATIONS = 10
TARGET_EVENTS = 1_000_000


def as_of_each(server: Server, slugs: list[str], ends: dict[str, str]) -> list[float]:
    """Seconds of the first ``state?as_of=`` of each negotiation, in turn."""
    took = []
    for slug in slugs:
        started = time.perf_counter()
        response = httpx.get(
            f"{server.url}/negotiations/{slug}/state", params={"as_of": ends[slug]}, timeout=900
        )
        took.append(time.perf_counter() - started)
        response.raise_for_status()
    return took


def rss_row(what: str, server: Server, events: int, took: list[float], idle: int) -> Row:
    """VmRSS against 1 GiB. Below TARGET_EVENTS, the ratio and met? are those of the
    linear extrapolation to TARGET_EVENTS (idle + the growth per event measured here)."""
    found = server.memory()
    rss, peak = found["VmRSS"], found["VmHWM"]
    per_event = (rss - idle) / events
    judged = rss if events >= TARGET_EVENTS else idle + per_event * TARGET_EVENTS
    print(
        f"{what}: VmRSS {mib(rss)} (peak {mib(peak)}; {mib(per_event * 100_000)} per 100k "
        f"events above the idle {mib(idle)}; heap {mib(found.get('RssAnon', 0))}, files "
        f"{mib(found.get('RssFile', 0))}); first as_of per negotiation p50 "
        f"{support.pct(took, 0.5):,.0f} ms",
        flush=True,
    )
    scaled = "" if judged == rss else f"; ~{judged / GIB:.1f} GiB at 1M, extrapolated"
    return Row(
        f"{what}, {NEGOTIATIONS} negotiations, {events // 1000}k events",
        f"{mib(rss)} (peak {mib(peak)}; {mib(per_event * 100_000)}/100k events{scaled})",
        "1 GiB" + ("" if judged == rss else " (ratio: the 1M extrapolation)"),
        judged / GIB,
        "<= 1 GiB at 1M events",
        judged <= GIB,
    )


def fill_in_process(data: Path, slugs: list[str], total: int) -> tuple[float, dict[str, int]]:
    """Fill the store through ``ConflictLog.append`` in this process, as ``parley import``
    and ``parley load`` do (the same batches as over HTTP, without HTTP or projections);
    events/s, and this process's memory at the end (its writer's, mostly)."""
    from domain.events import parse_event
    from store.config import StoreConfig
    from store.log import ConflictLog

    per = total // len(slugs)
    mixes = {slug: Mix(per, seed=k + 1) for k, slug in enumerate(slugs)}
    log = ConflictLog(StoreConfig(data_dir=data))
    started = time.perf_counter()
    try:
        for slug, mix in mixes.items():
            log.append(slug, [parse_event(mix.first())])
        left = dict.fromkeys(slugs, per - 1)
        while any(left.values()):
            for slug in slugs:
                count = min(1000, left[slug])
                if count:
                    left[slug] -= count
                    log.append(slug, [parse_event(e) for e in mixes[slug].take(count)])
        rate = total / (time.perf_counter() - started)
        return rate, support.memory(os.getpid())
    finally:
        log.close()


def main() -> None:
    parser = support.parser(__doc__, events=1_000_000)
    parser.add_argument("--full", action="store_true", help="1,000,000 events, measured")
    parser.add_argument("--asof-max-events", type=int, help="a restart with this bound too")
    parser.add_argument(
        "--fill-in-process",
        action="store_true",
        help="fill through ConflictLog.append here, not over HTTP (no filled-server rows)",
    )
    args = parser.parse_args()
    total = TARGET_EVENTS if args.full else support.events(args, TARGET_EVENTS, 50_000)
    slugs = [f"talks-{k:02d}" for k in range(NEGOTIATIONS)]
    data = support.temp_dir("memory")
    rows: list[Row] = []
    print(f"# bench/memory.py: {total:,} events in {NEGOTIATIONS} negotiations, {data}")
    if args.fill_in_process:
        rate, found = fill_in_process(data, slugs, total)
        events = total
        print(
            f"[in process] fill: {rate:,.0f} events/s; the filling process's VmRSS "
            f"{mib(found['VmRSS'])} (peak {mib(found['VmHWM'])})",
            flush=True,
        )
        rows.append(
            Row(
                f"RSS of a process that appended {events // 1000}k events (ConflictLog.append, "
                "as parley import)",
                f"{mib(found['VmRSS'])} (peak {mib(found['VmHWM'])}; {rate:,.0f} events/s)",
                "1 GiB",
                found["VmRSS"] / GIB,
                "<= 1 GiB",
                found["VmRSS"] <= GIB,
            )
        )
        ends = {slug: support.last_valid_date(data, slug) for slug in slugs}
    else:
        events, ends = fill_over_http(data, slugs, total, rows)
    for mode in support.modes(args):
        with Server(data, mode) as server:
            server.caught_up()
            idle = server.memory()["VmRSS"]
            took = as_of_each(server, slugs, ends)
            rows.append(rss_row(f"RSS after a restart [{mode}]", server, events, took, idle))
    if args.asof_max_events:
        bound = args.asof_max_events
        with Server(data, "inline", asof_max_events=str(bound)) as server:
            server.caught_up()
            idle = server.memory()["VmRSS"]
            took = as_of_each(server, slugs, ends)
            rows.append(
                rss_row(
                    f"RSS after a restart [inline, PARLEY_ASOF_MAX_EVENTS={bound:,}]",
                    server,
                    events,
                    took,
                    idle,
                )
            )
    support.finish(rows, args)


def fill_over_http(
    data: Path, slugs: list[str], total: int, rows: list[Row]
) -> tuple[int, dict[str, str]]:
    """Fill the store over HTTP (1,000-event batches, the server as ``make run`` starts
    it), then the as_of of each negotiation in that server; its rows. The events stored,
    and each negotiation's last valid date."""
    with Server(data, "inline") as server:
        idle = server.memory()["VmRSS"]
        for slug in slugs:
            server.open(slug)
        fill = support.post_batches(server.url, support.batches(slugs, total))
        behind = support.lag(server)
        events = server.position()
        ends = {slug: support.last_valid_date(data, slug) for slug in slugs}
        filled = server.memory()
        print(
            f"[inline] fill: {fill.rate:,.0f} events/s over {fill.seconds:.0f} s; "
            f"projections {behind:,} events behind at the end; "
            f"VmRSS {mib(filled['VmRSS'])} (peak {mib(filled['VmHWM'])}; idle {mib(idle)}; "
            f"heap {mib(filled.get('RssAnon', 0))}, files {mib(filled.get('RssFile', 0))})",
            flush=True,
        )
        rows.append(
            Row(
                f"RSS, the server that filled, before as_of [inline], {events // 1000}k events",
                f"{mib(filled['VmRSS'])} (peak {mib(filled['VmHWM'])}; idle {mib(idle)})",
                "context",
                None,
                "",
                None,
            )
        )
        rows.append(
            Row(
                f"fill: 1,000-event batches into {NEGOTIATIONS} negotiations [inline]",
                f"{fill.rate:,.0f} events/s ({events:,} events, {fill.seconds:.0f} s)",
                "target 20,000 events/s",
                fill.rate / 20_000,
                ">= 20,000 events/s",
                fill.rate >= 20_000,
            )
        )
        took = as_of_each(server, slugs, ends)
        rows.append(rss_row("RSS, the server that filled [inline]", server, events, took, idle))
    return events, ends


if __name__ == "__main__":
    main()
