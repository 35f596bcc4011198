"""A restarted server's first requests: the first append and the first ``as_of``, with
the start-up warm-up (``PARLEY_WARM_UP``) and without it, in the same run.

On a store of one negotiation of ``--events`` events (100,000 by default; bench/events.py's
realistic mix, filled over HTTP, or the shared store of bench/report.py via ``--store``),
for ``PARLEY_PROJECTIONS=inline`` and ``off``, and for ``PARLEY_WARM_UP=false`` then
``true``: start the server as ``make run`` does and wait until ``/health/ready`` answers
200 (with ``PARLEY_READY_MAX_LAG=0``: the inline projections are current), as an
orchestrator would before it sends traffic. Then, each on a new start, the new server's
first request of any kind:

- ``POST /negotiations/{slug}/events`` of one realistic statement (the writer opens the
  negotiation's write side for it), then ``--warm`` more (their p50);
- ``GET /negotiations/{slug}/state?as_of=<its last valid date>`` (from the as-of
  checkpoint the server wrote, else the whole negotiation read);
- the same two to ``restart-control``, a negotiation of two events (opened here): what
  a first request costs whatever the negotiation.

The start-up: seconds from the process's start to ``/health/ready``'s 200 (asked every
5 ms), and the warm-up's own time, which the server logs (``warm_up_ms``). Each figure
is the median of ``--repeats`` starts (3). Target: a first append in 50 ms.

On ``--backend sqlite,postgres``: PostgreSQL's store is a new schema, filled here.

Usage: ``python -m bench.restart [--quick] [--events 100000] [--store DIR]
[--repeats 3] [--projections inline,off] [--backend sqlite,postgres]``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson

from bench import support
from bench.events import statement
from bench.support import JSON_HEADERS, Row

TARGET_MS = 50.0
CONTROL = "restart-control"
WARM_UP = ("false", "true")  # the baseline first, then the start-up warm-up

Request = Callable[[httpx.Client, bool], float]
"""A measure: its first request's ms (True), or the p50 of the same after it (False)."""


def append_ms(client: httpx.Client, slug: str, n: int, seed: int) -> float:
    """One single-statement append; its wall time in ms (201 required)."""
    body = orjson.dumps([statement(n, seed=seed)])
    started = time.perf_counter()
    response = client.post(f"/negotiations/{slug}/events", content=body)
    took = (time.perf_counter() - started) * 1000
    if response.status_code != 201:
        raise RuntimeError(f"{response.status_code}: {response.text[:500]}")
    return took


def state_ms(client: httpx.Client, slug: str, as_of: str) -> float:
    """One ``state?as_of=``; its wall time in ms (200 required)."""
    started = time.perf_counter()
    response = client.get(f"/negotiations/{slug}/state", params={"as_of": as_of})
    took = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code}: {response.text[:500]}")
    return took


def cpu_ms(pid: int) -> float:
    """CPU time every thread of ``pid`` has run so far, in ms (the scheduler's count, in
    ns: /proc's clock ticks are 10 ms). On a loaded machine a request's wall time is
    mostly waiting for a core; its CPU is what the warm-up moves."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended meanwhile
    return total / 1e6


class Start:
    """One start of the server: its first request (``first``; the server's CPU meanwhile,
    ``first_cpu``), ``then`` the same request's p50 after it, and how long the start took."""

    def __init__(
        self, data: Path, mode: str, warm_up: str, request: Request, env: dict[str, str]
    ) -> None:
        server = support.Server(data, mode, warm_up=warm_up, ready_max_lag="0", **env)
        server.ready_path = "/health/ready"
        server.poll_seconds = 0.005
        with server:
            with httpx.Client(base_url=server.url, headers=JSON_HEADERS, timeout=600) as client:
                before = cpu_ms(server.pid)
                self.first = request(client, True)
                self.first_cpu = cpu_ms(server.pid) - before
                self.then = request(client, False)
        self.ready_seconds = server.ready_seconds
        self.warm_up_ms = warm_up_logged(server.log)


def warm_up_logged(log: Path) -> float:
    """The ``warm_up_ms`` of the last start in a server's log (0 without a warm-up)."""
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if line.startswith("{") and '"message":"started"' in line:
            return float(json.loads(line).get("warm_up_ms") or 0.0)
    raise RuntimeError(f"{log}: no start logged")


def last_valid_date(url: str, slug: str) -> str:
    """A negotiation's latest valid date, from its latest event in valid time."""
    response = httpx.get(f"{url}/negotiations/{slug}/timeline", params={"latest": 1}, timeout=60)
    response.raise_for_status()
    dates: list[bytes] = re.findall(rb'"occurred_at":"(\d{4}-\d{2}-\d{2})', response.content)
    return max(dates).decode()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def main() -> None:
    parser = support.parser(__doc__, events=100_000)
    parser.add_argument("--repeats", type=int, default=3, help="starts per measure (3)")
    parser.add_argument("--warm", type=int, default=20, help="appends after the first (20)")
    parser.add_argument(
        "--store", type=Path, help="a store filled by bench/report.py (skips the fill)"
    )
    args = parser.parse_args()
    rows: list[Row] = []
    for backend in support.backends(args):
        rows += measure(args, backend)
    support.finish(rows, args)


def measure(args: argparse.Namespace, backend: str) -> list[Row]:
    """The rows of one backend: SQLite's store is ``--store`` or filled here, and
    PostgreSQL's a new schema filled here."""
    env = support.backend_env(backend, "restart")
    count = support.events(args, 100_000, 20_000)
    if backend == "sqlite":
        data, marker = support.store(args, "restart", count)
    else:
        data = support.temp_dir(f"restart-{backend}")
        print(f"# filling a {backend} store with {count:,} events over HTTP ...", flush=True)
        marker = support.fill_store(data, count, **env)
    slug = marker["slugs"][0]
    rows: list[Row] = []
    seed = 900_000 + int(time.time()) % 100_000  # statements of their own: ids no bench sends
    with support.Server(data, "off", **env) as server:
        events = server.position()
        if not httpx.get(f"{server.url}/negotiations/{CONTROL}/events").is_success:
            server.open(CONTROL)
            with httpx.Client(base_url=server.url, headers=JSON_HEADERS, timeout=60) as client:
                append_ms(client, CONTROL, 0, seed - 1)
        end = last_valid_date(server.url, slug)
        control_end = last_valid_date(server.url, CONTROL)

    def appends(target: str) -> Request:
        def request(client: httpx.Client, first: bool) -> float:
            nonlocal seed
            if first:
                seed += 1
                return append_ms(client, target, 0, seed)
            return median([append_ms(client, target, i, seed) for i in range(1, args.warm + 1)])

        return request

    def states(target: str, as_of: str) -> Request:
        def request(client: httpx.Client, first: bool) -> float:
            if first:
                return state_ms(client, target, as_of)
            return median([state_ms(client, target, as_of) for _ in range(5)])

        return request

    # The as_of starts run before any append of this mode's: an append leaves the as-of
    # checkpoint behind the log, and the next first as_of would read the difference.
    measures = {
        "first as_of": states(slug, end),
        "first as_of, 2-event": states(CONTROL, control_end),
        "first append": appends(slug),
        "first append, 2-event": appends(CONTROL),
    }
    size = f"{events // 1000}k events"
    for mode in support.modes(args):
        found: dict[tuple[str, str], list[Start]] = {}
        Start(data, mode, "true", states(slug, end), env)  # its checkpoints current, untimed
        Start(data, mode, "true", states(CONTROL, control_end), env)
        for name, request in measures.items():
            for repeat in range(args.repeats):
                # Either first in turn: what one start leaves to the next cancels out.
                for warm_up in WARM_UP if repeat % 2 == 0 else WARM_UP[::-1]:
                    start = Start(data, mode, warm_up, request, env)
                    found.setdefault((name, warm_up), []).append(start)
                    print(
                        f"[{mode}] start {repeat + 1}, warm-up {warm_up:5}: {name} "
                        f"{start.first:,.1f} ms, server CPU {start.first_cpu:.1f} ms (then "
                        f"p50 {start.then:.1f} ms); ready in "
                        f"{start.ready_seconds:.2f} s (warm-up {start.warm_up_ms:.1f} ms)",
                        flush=True,
                    )
        for name in measures:
            cold = [s.first for s in found[(name, "false")]]
            warm = [s.first for s in found[(name, "true")]]
            then = median([s.then for s in found[(name, "true")]])
            cpu = {w: median([s.first_cpu for s in found[(name, w)]]) for w in WARM_UP}
            appending = name.startswith("first append")
            rows.append(
                Row(
                    f"{name} after a restart, {size}, {backend} [{mode}]",
                    f"{median(warm):,.1f} ms with the warm-up (starts: "
                    + ", ".join(f"{f:,.1f}" for f in warm)
                    + f"); server CPU {cpu['true']:.1f} ms; then p50 {then:.1f} ms",
                    f"without it {median(cold):,.1f} ms ("
                    + ", ".join(f"{f:,.1f}" for f in cold)
                    + f"); server CPU {cpu['false']:.1f} ms",
                    median(warm) / median(cold),
                    f"<= {TARGET_MS:.0f} ms" if appending else "",
                    median(warm) <= TARGET_MS if appending else None,
                )
            )
        starts = {w: [s for (_, wu), ss in found.items() if wu == w for s in ss] for w in WARM_UP}
        ready = {w: median([s.ready_seconds for s in starts[w]]) for w in WARM_UP}
        rows.append(
            Row(
                f"start-up to /health/ready, {size}, {backend} [{mode}]",
                f"{ready['true']:.2f} s with the warm-up (its own time "
                f"{median([s.warm_up_ms for s in starts['true']]):.1f} ms, median of "
                f"{len(starts['true'])} starts)",
                f"without it {ready['false']:.2f} s",
                ready["true"] / ready["false"],
                "",
                None,
            )
        )
    return rows


if __name__ == "__main__":
    main()
