"""Append throughput: Parley's HTTP appends against two baselines measured in the same run.

- single-event HTTP appends from 32 concurrent clients (p50, p99, events/s);
- 1,000-event batch appends over HTTP;
- baseline 1: a FastAPI no-op POST parsing the same pydantic body (bench/noop_app.py);
- baseline 2: the library's own ``Application.save()`` of one event, on the same backend.

Usage: ``python bench/append.py [--requests 3000] [--database-url postgresql://…]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

REPO = Path(__file__).resolve().parent.parent
CLIENTS = 32


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        args,
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{args} did not start")


def statement(i: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": "StatementIssued",
        "occurred_at": "2025-05-28",
        "data": {
            "speaker": {"name": "Vladimir Medinsky", "country": "RUS"},
            "summary": f"statement {i}",
        },
        "sources": [{"outlet": "teleSUR", "via": ["TASS"]}],
    }


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
%s
"""


def wrk(url: str, body: dict[str, Any], headers: dict[str, str], seconds: int) -> dict[str, float]:
    """Drive ``url`` with wrk (2 threads, 32 connections); requests/s, p50 and p99 in ms."""
    import json
    import re

    body = {k: v for k, v in body.items() if k != "id"}  # the server makes a fresh id
    header_lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (json.dumps(body), header_lines))
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CLIENTS}", f"-d{seconds}s", "--latency", "-s", script.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"errors under load:\n{out}")

    def ms(label: str) -> float:
        match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"rate": rate, "p50": ms("50%"), "p99": ms("99%")}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def hammer(url: str, bodies: list[Any], headers: dict[str, str]) -> tuple[float, list[float]]:
    """POST every body with CLIENTS concurrent connections; (elapsed, latencies)."""
    latencies: list[float] = []
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                response = await client.post(url, json=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                if response.status_code >= 300:
                    raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        return time.perf_counter() - started, latencies


class Ledger(Aggregate):
    @event("Noted")
    def note(self, summary: str) -> None:
        self.last = summary


def library_save(env: dict[str, str], count: int) -> tuple[float, list[float]]:
    """The library's raw path: trigger one event and ``save()`` it, one transaction each."""
    app: Application[Any] = Application(env=env)
    ledger = Ledger()
    app.save(ledger)
    latencies = []
    started = time.perf_counter()
    for i in range(count):
        t = time.perf_counter()
        ledger.note(summary=f"statement {i}")
        app.save(ledger)
        latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - started
    app.close()
    return elapsed, latencies


def line(
    name: str,
    events: int,
    elapsed: float,
    latencies: list[float],
    base: float | None,
    base_name: str = "",
) -> float:
    rate = events / elapsed
    ratio = f"  ratio={rate / base:.2f}x of {base_name}" if base else ""
    print(
        f"{name:<34} {rate:>9.0f} events/s  p50={pct(latencies, 0.5):6.2f}ms "
        f"p99={pct(latencies, 0.99):7.2f}ms{ratio}",
        flush=True,
    )
    return rate


def report(name: str, result: dict[str, float], base: float | None) -> float:
    ratio = f"  ratio={result['rate'] / base:.2f}x of no-op POST" if base else ""
    print(
        f"{name:<34} {result['rate']:>9.0f} events/s  p50={result['p50']:6.2f}ms "
        f"p99={result['p99']:7.2f}ms{ratio}",
        flush=True,
    )
    return result["rate"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seconds", type=int, default=10, help="per wrk run")
    parser.add_argument("--projections", choices=["inline", "off"], default="inline",
                        help="run the read-model projections in the API process, or not")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="parley-bench-"))
    env = {"PARLEY_DATA_DIR": str(data), "PARLEY_ADMIN_TOKEN": "bench", "PARLEY_EXAMPLE": "",
           "PARLEY_PROJECTIONS": args.projections}
    if args.database_url:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        import psycopg

        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        env |= {"PARLEY_DATABASE_URL": args.database_url, "PARLEY_DATABASE_SCHEMA": schema}
    backend = "postgres" if args.database_url else "sqlite"
    print(f"# bench/append.py on {backend}, {os.cpu_count()} cores, {CLIENTS} clients, "
          f"projections {args.projections}")

    bodies = [statement(i) for i in range(args.requests)]
    noop_port = free_port()
    noop_process = serve(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.noop_app:app",
            "--port",
            str(noop_port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        {},
        noop_port,
    )
    use_wrk = shutil.which("wrk") is not None
    print(f"# load generator: {'wrk' if use_wrk else 'httpx (install wrk for truer ceilings)'}")
    noop_url = f"http://127.0.0.1:{noop_port}/negotiations/x/events"
    try:
        if use_wrk:
            noop = wrk(noop_url, bodies[0], {}, args.seconds)
        else:
            elapsed, lat = asyncio.run(hammer(noop_url, bodies, {}))
    finally:
        noop_process.terminate()
    if use_wrk:
        noop_rate = report("baseline no-op POST", noop, None)
    else:
        noop_rate = line("baseline no-op POST", len(bodies), elapsed, lat, None)

    library_env = (
        {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(data / "library.sqlite3"),
        }
        if not args.database_url
        else {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": "test",
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": "5432",
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": "",
            "POSTGRES_SCHEMA": env["PARLEY_DATABASE_SCHEMA"],
        }
    )
    elapsed, lat = library_save(library_env, min(args.requests, 2000))
    library_rate = line("baseline library save()", min(args.requests, 2000), elapsed, lat, None)

    port = free_port()
    parley = serve(
        [sys.executable, "-m", "api.cli", "serve"], env | {"PARLEY_PORT": str(port)}, port
    )
    headers = {"Authorization": "Bearer bench"}
    try:
        base = f"http://127.0.0.1:{port}"
        httpx.post(
            f"{base}/negotiations",
            headers=headers,
            json={"slug": "bench", "title": "Bench", "parties": ["RUS", "UKR"]},
        ).raise_for_status()
        url = f"{base}/negotiations/bench/events"
        if use_wrk:
            single = report(
                "parley single-event append", wrk(url, bodies[0], headers, args.seconds), noop_rate
            )
        else:
            elapsed, lat = asyncio.run(hammer(url, bodies, headers))
            single = line(
                "parley single-event append", len(bodies), elapsed, lat, noop_rate, "no-op POST"
            )
        print(
            f"{'':<34} ratio={single / library_rate:.2f}x of library save(); "
            f"target 0.70x of no-op POST"
        )
        batch_lat = []
        started = time.perf_counter()
        with httpx.Client(timeout=120) as client:
            for b in range(args.batches):
                batch = [statement(b * 1000 + i) for i in range(1000)]
                t = time.perf_counter()
                client.post(
                    f"{base}/negotiations/bench/events", json=batch, headers=headers
                ).raise_for_status()
                batch_lat.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - started
        rate = line("parley 1,000-event batches", args.batches * 1000, elapsed, batch_lat, None)
        print(f"{'':<34} target 20,000 events/s: {rate / 20000:.2f}x of target")
    finally:
        parley.terminate()


if __name__ == "__main__":
    main()
