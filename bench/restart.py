"""The write side's cold start: the first append after a restart, over HTTP.

On a store of one negotiation of ``--events`` events (100,000 by default; bench/events.py's
realistic mix, filled over HTTP, or the shared store of bench/report.py), for
``PARLEY_PROJECTIONS=inline`` and ``off``: start the server as ``make run`` does, wait for
its projections to be current, then time the first ``POST /negotiations/{slug}/events``
of one realistic statement (the writer opens the negotiation's write side for it), and
then ``--warm`` more appends one after another (their p50: the same request once the
write side is open).

The baseline, in the same run: the first append after a restart of the same server to
a negotiation of two events (``restart-control``, opened here): what any first request
costs, whatever the negotiation (FastAPI builds its routes on their first match, the
writer thread starts, its connection opens). Each is repeated ``--repeats`` times (3),
a restart each; the row shows the medians. Target: 50 ms.

Usage: ``python -m bench.restart [--quick] [--events 100000] [--store DIR]
[--repeats 3] [--projections inline,off]``.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import httpx
import orjson

from bench import support
from bench.events import statement
from bench.support import JSON_HEADERS, Row

TARGET_MS = 50.0
CONTROL = "restart-control"


def append_ms(client: httpx.Client, slug: str, n: int, seed: int) -> float:
    """One single-statement append; its wall time in ms (201 required)."""
    body = orjson.dumps([statement(n, seed=seed)])
    started = time.perf_counter()
    response = client.post(f"/negotiations/{slug}/events", content=body)
    took = (time.perf_counter() - started) * 1000
    if response.status_code != 201:
        raise RuntimeError(f"{response.status_code}: {response.text[:500]}")
    return took


def first_append(data: Path, mode: str, slug: str, seed: int, warm: int) -> tuple[float, float]:
    """Restart the server; time its first append (to ``slug``) and the p50 of ``warm``
    appends after it, in ms."""
    with support.Server(data, mode) as server:
        server.caught_up()
        with httpx.Client(base_url=server.url, headers=JSON_HEADERS, timeout=600) as client:
            first = append_ms(client, slug, 0, seed)
            after = [append_ms(client, slug, i, seed) for i in range(1, warm + 1)]
    return first, statistics.median(after) if after else 0.0


def main() -> None:
    parser = support.parser(__doc__, events=100_000)
    parser.add_argument("--repeats", type=int, default=3, help="restarts per mode (3)")
    parser.add_argument("--warm", type=int, default=20, help="appends after the first (20)")
    args = parser.parse_args()
    data, marker = support.store(args, "restart", support.events(args, 100_000, 20_000))
    slug = marker["slugs"][0]
    rows: list[Row] = []
    seed = 900_000 + int(time.time()) % 100_000  # statements of their own: ids no bench sends
    with support.Server(data, "off") as server:
        events = server.position()
        if not httpx.get(f"{server.url}/negotiations/{CONTROL}/events").is_success:
            server.open(CONTROL)
            with httpx.Client(base_url=server.url, headers=JSON_HEADERS, timeout=60) as client:
                append_ms(client, CONTROL, 0, seed - 1)
    for mode in support.modes(args):
        firsts: list[float] = []
        controls: list[float] = []
        warms: list[float] = []
        for repeat in range(args.repeats):
            seed += 1
            first, warm = first_append(data, mode, slug, seed, args.warm)
            control, _ = first_append(data, mode, CONTROL, seed + 500_000, 0)
            firsts.append(first)
            warms.append(warm)
            controls.append(control)
            print(
                f"[{mode}] restart {repeat + 1}: first append {first:,.1f} ms (then p50 "
                f"{warm:.1f} ms); first append to a 2-event negotiation {control:,.1f} ms",
                flush=True,
            )
        first = statistics.median(firsts)
        control = statistics.median(controls)
        rows.append(
            Row(
                f"first append after a restart, {events // 1000}k events [{mode}]",
                f"{first:,.1f} ms (median of {len(firsts)} restarts: "
                + ", ".join(f"{f:,.1f}" for f in firsts)
                + ")",
                f"a 2-event negotiation's first append {control:,.1f} ms; a warm append "
                f"p50 {statistics.median(warms):.1f} ms",
                first / TARGET_MS,
                f"<= {TARGET_MS:.0f} ms",
                first <= TARGET_MS,
            )
        )
    support.finish(rows, args)


if __name__ == "__main__":
    main()
