"""Live streams: a new subscriber's catch-up, and append-to-delivery latency.

- a new subscriber's catch-up: ``GET /events/stream`` from position 0 over the whole
  store (100,000 events of bench/events.py's mix, filled over HTTP), counted to the
  last event, against a no-op endpoint that SELECTs the same rows from the same SQLite
  file and frames each stored state as SSE (bench/noop_app.py); best of 3; target 0.5x.
  Beside it, as context, the server's CPU time per event over the same catch-ups
  (``/proc/<pid>/stat``), which a machine shared with other work disturbs far less
  than the wall-clock rate;
- latency from an HTTP append returning to its SSE event reaching a subscriber, at
  100 and 1,000 events/s of offered load (open loop: each POST leaves on schedule,
  whatever the previous ones are doing); p50 and p99, targets 20 ms and 100 ms. An
  event that arrives before its POST returned counts as 0 ms.

Both for ``PARLEY_PROJECTIONS=inline`` and ``off``; the server, the writer and the
subscriber share this machine's cores.

Usage: ``python -m bench.subscribe [--quick] [--events 100000] [--store DIR]
[--seconds 5] [--no-latency] [--projections inline,off] [--profile DIR]``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import sqlite3
import time
from collections.abc import Callable
from multiprocessing.connection import Connection as Pipe
from pathlib import Path

import httpx
import orjson
from httpx_sse import connect_sse

from api.formats import chunked
from api.http.routes.stream import sse_message
from bench import support
from bench.events import statement
from bench.noop_app import PAGE, _frame, _page
from bench.support import TOKEN, Row, pct
from projections.tail import StreamFilter, event_from_state, read_page
from store.config import StoreConfig
from store.log import ConflictLog

SLUG = support.SLUG
SENDERS = 32
TARGET_CATCH_UP = 0.5


def catch_up(url: str, events: int) -> float:
    """Seconds for a new subscriber of ``url`` to receive ``events`` SSE events.

    The client only counts frame ends, so that the measure is the server's delivery.
    """
    seen = 0
    previous_last = b""
    started = time.perf_counter()
    with httpx.stream("GET", url, timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_raw():
            seen += chunk.count(b"\n\n") + (previous_last == b"\n" and chunk[:1] == b"\n")
            previous_last = chunk[-1:]
            if seen >= events:
                break
    if seen < events:
        raise RuntimeError(f"{url} ended after {seen} of {events} events")
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
    seed = random.randrange(1 << 30)  # new ids: the store may hold earlier runs' events
    bodies = [orjson.dumps(statement(i, seed=seed)) for i in range(count)]
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


def latency(base: str, port: int, rate: int, seconds: float, mode: str) -> Row:
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
    print(
        f"[{mode}] append-to-SSE latency at {rate:,}/s offered ({count / elapsed:,.0f}/s "
        f"achieved): p50 {p50:.2f} ms, p99 {p99:.2f} ms ({early} of {count} arrived before "
        "their POST returned)",
        flush=True,
    )
    return Row(
        f"append-to-SSE latency at {rate:,}/s offered [{mode}] (context)",
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms ({count / elapsed:,.0f}/s achieved)",
        "targets 20 / 100 ms",
        p99 / 100,
        "p50 <= 20 ms, p99 <= 100 ms",
        p50 <= 20 and p99 <= 100,
    )


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def opening_share(data: Path, tries: int = 3) -> Row:
    """In this process, the CPU per event of reading and framing the whole log as the
    stream's catch-up does (``read_page``, then the SSE frames in chunks), with the
    sealed fields opened and without (``event_from_state`` with no opener leaves them
    as stored, as the no-op does), against the no-op's own read and frame; best of
    ``tries``. What opening costs is what the stream does that the no-op does not."""
    log = ConflictLog(StoreConfig(data_dir=data))
    path = str(data / "parley.sqlite3")

    def parley(opening: bool) -> int:
        after = count = 0
        while True:
            if opening:
                events = read_page(log, StreamFilter(), after, PAGE)
            else:
                events = [event_from_state(*r) for r in log.stored_states(after=after, limit=PAGE)]
            if not events:
                return count
            for _ in chunked(sse_message(m) for m in events):
                pass
            after, count = events[-1].position, count + len(events)

    def noop() -> int:
        after = count = 0
        while rows := _page(path, after):
            b"".join(_frame(position, state) for position, state in rows)
            after, count = rows[-1][0], count + len(rows)
        return count

    def best(run: Callable[[], int]) -> float:
        times = []
        for _ in range(tries):
            started = time.process_time()
            count = run()
            times.append((time.process_time() - started) / count * 1e6)
        return min(times)

    try:
        base, opened, closed = best(noop), best(lambda: parley(True)), best(lambda: parley(False))
    finally:
        log.close()
    print(
        f"in process, per event: the no-op's read and frame {base:.1f} µs; the stream's "
        f"{opened:.1f} µs, {closed:.1f} µs of it without opening sealed fields",
        flush=True,
    )
    return Row(
        "SSE catch-up's read and frame in process, sealed fields opened (context)",
        f"{opened:.1f} µs/event ({closed:.1f} µs without opening)",
        f"no-op read and frame {base:.1f} µs/event",
        base / opened,
        "what opening costs",
        base >= TARGET_CATCH_UP * opened,
    )


def catch_ups(url: str, pid: int, events: int, tries: int = 3) -> tuple[float, float]:
    """The best of ``tries`` catch-ups of ``events`` events from ``url``, in events/s,
    and the server's (``pid``) CPU time per event over all of them, in µs."""
    used = cpu_seconds(pid)
    best = min(catch_up(url, events) for _ in range(tries))
    return events / best, (cpu_seconds(pid) - used) / (tries * events) * 1e6


def main() -> None:
    parser = support.parser(__doc__, events=100_000)
    parser.add_argument("--seconds", type=float, help="per latency run (default 5; --quick 2)")
    parser.add_argument(
        "--no-latency", dest="latency", action="store_false", help="only the catch-up"
    )
    args = parser.parse_args()
    data, _ = support.store(args, "subscribe", support.events(args, 100_000, 20_000))
    rows: list[Row] = []
    modes = support.modes(args)
    for mode in modes:
        with support.Noop(data, sqlite=str(data / "parley.sqlite3")) as noop:
            events = _rows(data)
            base, base_cpu = catch_ups(noop.url + "/noop/stream", noop.pid, events)
        print(
            f"[{mode}] no-op SSE of the stored rows: {base:,.0f} events/s "
            f"({base_cpu:.1f} µs of server CPU per event)",
            flush=True,
        )
        with support.Server(data, mode) as server:
            server.caught_up()
            with support.profiled(server.pid, f"catch-up-{mode}", args.profile):
                rate, cpu = catch_ups(server.url + "/events/stream?after=0", server.pid, events)
        print(
            f"[{mode}] catch-up of a new subscriber: {rate:,.0f} events/s "
            f"({cpu:.1f} µs of server CPU per event)",
            flush=True,
        )
        rows.append(
            Row(
                f"SSE catch-up from 0, {events // 1000}k events [{mode}]",
                f"{rate:,.0f} events/s",
                f"no-op SSE of the rows {base:,.0f} events/s",
                rate / base,
                f">= {TARGET_CATCH_UP:.1f}x",
                rate >= TARGET_CATCH_UP * base,
            )
        )
        rows.append(
            Row(
                f"SSE catch-up, server CPU per event [{mode}] (context)",
                f"{cpu:.1f} µs/event",
                f"no-op SSE {base_cpu:.1f} µs/event",
                base_cpu / cpu,
                f">= {TARGET_CATCH_UP:.1f}x",
                base_cpu >= TARGET_CATCH_UP * cpu,
            )
        )
    rows.append(opening_share(data))
    if args.latency:  # after every catch-up: these appends add to the store
        seconds = args.seconds or (2 if args.quick else 5)
        for mode in modes:
            with support.Server(data, mode, heartbeat_seconds="0.5") as server:
                server.caught_up()
                for offered in (100, 1000):
                    rows.append(latency(server.url, server.port, offered, seconds, mode))
    support.finish(rows, args)


def _rows(data: Path) -> int:
    with sqlite3.connect(data / "parley.sqlite3") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0])


if __name__ == "__main__":
    main()
