"""Issue 15, part 3 at full size: can one anonymous client sink the server?

Fills a store with a 100,000-event negotiation (through the store, in this process) and
a 6,500-event one, starts ``parley serve`` on it (projections off, so that only the
attack loads the server), and runs each attack of the issue while /health, an append a
half-second and the server's RSS are watched:

- 300 export downloads that never read their answer;
- 200 streams from position 0 that never read;
- 30 full timelines of the 6,500-event negotiation at once;
- a 64 MiB request header;
- a 2 MB body over the 1 MiB limit, sent by urllib, four times.

RSS "after" is measured once the attackers have closed and RSS has settled.

    .venv/bin/python -m bench.exhaust [--events 100000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from exhaustion import (  # noqa: E402
    MIB,
    SLUG,
    crowd,
    fill,
    huge_header,
    peer,
    rss,
    settle,
    silent_clients,
    statement_body,
    status_line,
    urllib_big_body,
    watching,
)
from support import start_server, stop_server  # noqa: E402

from store.config import StoreConfig  # noqa: E402

TOKEN = "siege-admin"
TALKS = "talks"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--exports", type=int, default=300)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--timelines", type=int, default=30)
    parser.add_argument("--timeline-events", type=int, default=6_500)
    parser.add_argument("--hold", type=float, default=15.0, help="seconds each attack lasts")
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL at URL")
    parser.add_argument(
        "--one-client",
        action="store_true",
        help="every attacker from 127.0.0.1 (default: "
        "each from a loopback address of its own, so the class limits, not the per-client "
        "one, must hold)",
    )
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="parley-exhaust-"))
    env = {"PARLEY_EXAMPLE": "", "PARLEY_ADMIN_TOKEN": TOKEN, "PARLEY_PROJECTIONS": "off"}
    if args.postgres:
        schema = f"exhaust_{int(time.time())}"
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        config = StoreConfig(data_dir=data, database_url=args.postgres, postgres_schema=schema)
        env |= {"PARLEY_DATABASE_URL": args.postgres, "PARLEY_DATABASE_SCHEMA": schema}
    else:
        config = StoreConfig(data_dir=data)
    took = fill(config, args.events)
    print(f"# filled {args.events:,} events in {took:.1f} s", flush=True)
    took = fill(config, args.timeline_events, TALKS)
    print(f"# filled {args.timeline_events:,} events in {took:.1f} s", flush=True)

    server = start_server(env, data)
    port = int(server.url.rsplit(":", 1)[1])
    pid = server.process.pid
    try:
        # Warm up what a first request loads, so the baseline is the server's at work.
        httpx.get(f"{server.url}/negotiations/{TALKS}/export", timeout=300).raise_for_status()
        httpx.get(f"{server.url}/negotiations/{TALKS}/timeline", timeout=300).raise_for_status()
        # The first append loads the negotiation's write side: a cold start, not the attack.
        httpx.post(
            f"{server.url}/negotiations/{SLUG}/events",
            content=statement_body(0),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            timeout=300,
        ).raise_for_status()
        base = settle(pid)
        print(f"baseline RSS {base / MIB:,.0f} MiB", flush=True)

        attacks = {
            f"{args.exports} silent exports": [f"/negotiations/{SLUG}/export"] * args.exports,
            f"{args.streams} silent streams from 0": ["/events/stream?after=0"] * args.streams,
        }
        for name, paths in attacks.items():
            print(f"- {name}: a further one gets {status_line(port, paths[0])}", flush=True)
            before = rss(pid)
            with watching(server.url, pid, TOKEN) as watch:
                with silent_clients(port, paths, many=not args.one_client):
                    time.sleep(args.hold)
                    late = status_line(port, paths[0], source="127.0.9.9")
                    mine = status_line(port, paths[0], source=peer(0))
            after = settle(pid)
            print(
                f"  {watch.summary()}; RSS before {before / MIB:,.0f} MiB, after the "
                f"clients left {after / MIB:,.0f} MiB; one more while full got {late}, "
                f"one more from the first attacker {mine}; /health over 100 ms at "
                f"{watch.slow_health()} s",
                flush=True,
            )
        with watching(server.url, pid, TOKEN) as watch:
            statuses = crowd(server.url, f"/negotiations/{TALKS}/timeline", args.timelines)
        print(
            f"- {args.timelines} full timelines at once: {dict(Counter(statuses))}; "
            f"{watch.summary()}",
            flush=True,
        )
        print(f"- a 64 MiB header: {huge_header(port, 64 * MIB)}", flush=True)
        outcomes = [urllib_big_body(server.url, TOKEN, 2 * 1000 * 1000) for _ in range(4)]
        print(f"- a 2 MB body by urllib, 4 times: {outcomes}", flush=True)
        print(f"final RSS {rss(pid) / MIB:,.0f} MiB", flush=True)
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
