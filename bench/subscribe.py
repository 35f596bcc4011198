"""Live streams: append-to-delivery latency, and a new subscriber's catch-up speed.

- latency from an HTTP append returning to its SSE event reaching a subscriber, at
  100 and 1,000 events/s of offered load (open loop: each POST leaves on schedule,
  whatever the previous ones are doing); p50 and p99, targets 20 ms and 100 ms. An
  event that arrives before its POST returned counts as 0 ms;
- a new subscriber's catch-up from position 0 on a 100,000-event log, in events/s,
  against the raw read rate of the same rows measured in the same run
  (``SELECT state FROM stored_events``); target 50%.

The log is built through ``ConflictLog.append`` in batches of 1,000, not over HTTP.
The server, the writer and the subscriber share this machine's cores; the server runs
without inline projections unless asked (they would be rebuilding from the 100,000
events while we measure).

Usage: ``python bench/subscribe.py [--events 100000] [--seconds 5] [--database-url postgresql://…]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from multiprocessing.connection import Connection as Pipe
from pathlib import Path

import httpx
import orjson
from httpx_sse import connect_sse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.append import free_port, pct, serve, statement  # noqa: E402
from domain.events import parse_event  # noqa: E402
from store.config import StoreConfig  # noqa: E402
from store.log import ConflictLog  # noqa: E402

TOKEN = "bench"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
SLUG = "bench"
SENDERS = 32


def build_log(config: StoreConfig, events: int) -> tuple[float, str]:
    """Open the negotiation and append ``events`` statements in batches of 1,000;
    (seconds, the stored events' table)."""
    log = ConflictLog(config)
    started = time.perf_counter()
    log.open(
        SLUG,
        parse_event(  # type: ignore[arg-type]
            {
                "type": "NegotiationOpened",
                "occurred_at": "2025-05-16",
                "sources": [{"outlet": "bench"}],
                "data": {"title": "Bench", "parties": ["RUS", "UKR"]},
            }
        ),
    )
    for start in range(0, events - 1, 1000):
        count = min(1000, events - 1 - start)
        log.append(SLUG, [parse_event(statement(start + i)) for i in range(count)])
    elapsed = time.perf_counter() - started
    table = str(log.recorder.events_table_name)  # type: ignore[attr-defined]
    log.close()
    return elapsed, table


def raw_read(config: StoreConfig, table: str) -> tuple[int, float]:
    """(rows, seconds) of one ``SELECT state FROM <stored events>``, fetched whole."""
    started = time.perf_counter()
    if config.database_url:
        import psycopg

        with psycopg.connect(config.database_url) as conn:
            rows = conn.execute(f'SELECT state FROM "{config.postgres_schema}".{table}').fetchall()
    else:
        with sqlite3.connect(config.sqlite_path) as conn:
            rows = conn.execute(f"SELECT state FROM {table}").fetchall()
    return len(rows), time.perf_counter() - started


def library_read(config: StoreConfig) -> tuple[int, float]:
    """(rows, seconds) of reading the log through the library's select_notifications, for
    context: it builds a Notification per row, which the streams' catch-up skips."""
    log = ConflictLog(config)
    rows, after = 0, 0
    started = time.perf_counter()
    while page := log.recorder.select_notifications(
        start=after, limit=500, inclusive_of_start=False
    ):
        rows += len(page)
        after = page[-1].id
    elapsed = time.perf_counter() - started
    log.close()
    return rows, elapsed


def catch_up(base: str, events: int) -> float:
    """Seconds for a new subscriber to receive ``events`` SSE events from position 0.

    The client only counts frame ends, so that the measure is the server's delivery.
    """
    seen = 0
    previous_last = b""
    started = time.perf_counter()
    with httpx.stream("GET", f"{base}/events/stream", params={"after": 0}, timeout=600) as r:
        for chunk in r.iter_raw():
            seen += chunk.count(b"\n\n") + (previous_last == b"\n" and chunk[:1] == b"\n")
            previous_last = chunk[-1:]
            if seen >= events:
                break
    return time.perf_counter() - started


def subscriber(base: str, after: int, until: int, results: Pipe) -> None:
    """In its own process: (position, arrival time) of each event up to ``until``."""
    arrivals: list[tuple[int, float]] = []
    with httpx.Client(timeout=120) as client:
        with connect_sse(
            client, "GET", f"{base}/events/stream", headers={"Last-Event-ID": str(after)}
        ) as source:
            for sse in source.iter_sse():
                now = time.time()
                if sse.event == "heartbeat":
                    if not arrivals:
                        results.send("live")
                        arrivals.append((0, now))
                    continue
                arrivals.append((int(sse.id), now))
                if int(sse.id) >= until:
                    break
    results.send(arrivals[1:])


class Connection:
    """A bare keep-alive HTTP/1.1 connection: httpx spends about 2 ms of CPU per POST,
    too much to offer 1,000 POSTs/s from the same two cores as the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def offer(port: int, rate: int, count: int) -> tuple[dict[int, float], float]:
    """POST ``count`` single events at ``rate``/s on schedule; (position -> return time).

    Each of SENDERS connections takes the next event when it is due, so the load does
    not wait for earlier replies unless all of them are busy.
    """
    acked: dict[int, float] = {}
    bodies = [orjson.dumps(statement(i)) for i in range(count)]
    path = f"/negotiations/{SLUG}/events"
    connections = [await Connection.open(port) for _ in range(SENDERS)]
    due = iter(range(count))
    started = time.perf_counter()

    async def sender(connection: Connection) -> None:
        for i in due:
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            status, body = await connection.post(path, bodies[i])
            now = time.time()
            if status != 201:
                raise RuntimeError(f"{status}: {body[:200]!r}")
            acked[orjson.loads(body)["events"][0]["position"]] = now

    await asyncio.gather(*(sender(c) for c in connections))
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return acked, elapsed


def latency(base: str, port: int, rate: int, seconds: float) -> None:
    count = int(rate * seconds)
    after = int(httpx.get(f"{base}/negotiations/{SLUG}").json()["last_position"])
    receive, send = multiprocessing.Pipe(duplex=False)
    reader = multiprocessing.get_context("spawn").Process(
        target=subscriber, args=(base, after, after + count, send)
    )
    reader.start()
    if not receive.poll(60) or receive.recv() != "live":
        raise RuntimeError("the subscriber did not go live")
    acked, elapsed = asyncio.run(offer(port, rate, count))
    if not receive.poll(120):
        raise RuntimeError("the subscriber did not receive every event")
    arrivals: list[tuple[int, float]] = receive.recv()
    reader.join()
    delays = [max(0.0, arrived - acked[position]) for position, arrived in arrivals]
    early = sum(1 for position, arrived in arrivals if arrived < acked[position])
    missing = sorted(set(acked) - {position for position, _ in arrivals})
    assert not missing and len(delays) == count, f"{len(delays)} of {count}; missing {missing}"
    p50, p99 = pct(delays, 0.5), pct(delays, 0.99)
    name = f"latency at {rate:,} events/s offered"
    print(
        f"{name:<38} {count / elapsed:>9.0f} events/s  p50={p50:6.2f}ms p99={p99:7.2f}ms  "
        f"ratio={p50 / 20:.2f}x/{p99 / 100:.2f}x of targets 20/100 ms "
        f"({early} of {count} arrived before their POST returned)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="per latency run")
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--projections",
        default="off",
        choices=["off", "inline"],
        help="PARLEY_PROJECTIONS for the server; inline ones first rebuild from the whole log",
    )
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="parley-bench-"))
    env = {
        "PARLEY_DATA_DIR": str(data),
        "PARLEY_ADMIN_TOKEN": TOKEN,
        "PARLEY_EXAMPLE": "",
        "PARLEY_HEARTBEAT_SECONDS": "0.5",
        "PARLEY_PROJECTIONS": args.projections,
    }
    config = StoreConfig(data_dir=data)
    if args.database_url:
        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        env |= {"PARLEY_DATABASE_URL": args.database_url, "PARLEY_DATABASE_SCHEMA": schema}
        config = StoreConfig(data_dir=data, database_url=args.database_url, postgres_schema=schema)
    print(
        f"# bench/subscribe.py on {config.backend}, {os.cpu_count()} cores, "
        f"projections {args.projections}"
    )

    built, table = build_log(config, args.events)
    print(f"# built a {args.events:,}-event log in {built:.1f} s ({args.events / built:,.0f}/s)")
    raw = min((raw_read(config, table) for _ in range(3)), key=lambda r: r[1])
    raw_rate = raw[0] / raw[1]
    print(f"{'raw read SELECT state':<38} {raw_rate:>9.0f} rows/s   ({raw[0]:,} rows, best of 3)")
    rows, seconds = min((library_read(config) for _ in range(3)), key=lambda r: r[1])
    print(
        f"{'library select_notifications':<38} {rows / seconds:>9.0f} rows/s   "
        f"ratio={rows / seconds / raw_rate:.2f}x of raw read (context, best of 3)"
    )

    port = free_port()
    server = serve(
        [sys.executable, "-m", "api.cli", "serve"], env | {"PARLEY_PORT": str(port)}, port
    )
    base = f"http://127.0.0.1:{port}"
    try:
        seconds = min(catch_up(base, args.events) for _ in range(3))
        rate = args.events / seconds
        print(
            f"{'catch-up of a new subscriber':<38} {rate:>9.0f} events/s  "
            f"ratio={rate / raw_rate:.2f}x of raw read (best of 3); target 0.50x",
            flush=True,
        )
        for offered in (100, 1000):
            latency(base, port, offered, args.seconds)
    finally:
        server.terminate()
        server.wait(30)
        if config.database_url:
            import psycopg

            with psycopg.connect(config.database_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{config.postgres_schema}" CASCADE')
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
