"""What every benchmark shares: the server as users run it, the no-op baselines, wrk,
filling a store over HTTP, percentiles, RSS, py-spy, and the summary table.

``Server`` starts ``parley serve`` (the console script ``make run`` starts: uvicorn
with uvloop and httptools, no access log, one worker) on a data directory and a free
port of 127.0.0.1, with ``PARLEY_PROJECTIONS`` set, and waits for ``/health``. ``Noop``
starts ``bench/noop_app.py`` under the same uvicorn settings. ``Row`` is one line of
the summary table that every script prints, and that ``bench/report.py`` gathers.
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import orjson

from bench.events import Mix, opening

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOKEN = "bench"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON_HEADERS = {**AUTH, "Content-Type": "application/json"}
MODES = ("inline", "off")
SLUG = "bench"
STORE_MARKER = "bench-store.json"
GIB = 1024**3


# Numbers.
def pct(values: Sequence[float], q: float) -> float:
    """The q-quantile of ``values`` (seconds), in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in bytes, from /proc/<pid>/status; and
    RssAnon and RssFile, the parts of VmRSS that are its heap and mapped files."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            found[key] = int(value.split()[0]) * 1024
    return found


def listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds the listening TCP socket of 127.0.0.1:``port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(fields[9])
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


def mib(value: float) -> str:
    return f"{value / 1024**2:,.0f} MiB"


# Processes.
class Process:
    """A server subprocess on a free port of 127.0.0.1, ready once ``ready_path`` answers."""

    ready_path = "/health"
    poll_seconds = 0.05  # between asks of ready_path: ready_seconds is known to this

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_seconds = 0.0  # from the start to the first answer of ready_path

    def command(self) -> list[str]:
        raise NotImplementedError

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 300) -> None:
        env = {**os.environ, **self.env}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command(), cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{self.command()} exited ({self.process.returncode}):\n{tail}")
            try:
                answered = httpx.get(self.url + self.ready_path, timeout=5).status_code == 200
                # Other test suites on this machine pick free ports too: make sure that
                # the answer came from our process, not from one that took the port.
                if answered and listens(self.process.pid, self.port):
                    self.ready_seconds = timeout - (deadline - time.monotonic())
                    return
            except httpx.HTTPError:
                pass
            time.sleep(self.poll_seconds)
        self.stop()
        raise RuntimeError(f"{self.command()} did not answer {self.ready_path} in {timeout} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def memory(self) -> dict[str, int]:
        return memory(self.pid)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if error is not None and self.process is not None:
            code = self.process.poll()
            state = "running" if code is None else f"exited with {code}"
            tail = self.log.read_text(errors="replace")[-3000:]
            print(
                f"# {self.command()[-1]} on port {self.port} ({state}); its log ends:\n{tail}",
                file=sys.stderr,
                flush=True,
            )
        self.stop()


class Server(Process):
    """``parley serve`` (as ``make run`` starts it) on ``data_dir``, with
    ``PARLEY_PROJECTIONS=projections`` and any other ``PARLEY_<KEY>`` given."""

    def __init__(self, data_dir: Path, projections: str, **env: str) -> None:
        self.data_dir = data_dir
        self.projections = projections
        super().__init__(
            {
                "PARLEY_DATA_DIR": str(data_dir),
                "PARLEY_ADMIN_TOKEN": TOKEN,
                "PARLEY_EXAMPLE": "",
                "PARLEY_PROJECTIONS": projections,
                **{f"PARLEY_{k.upper()}": v for k, v in env.items()},
            },
            data_dir / "server.log",
        )
        self.env["PARLEY_PORT"] = str(self.port)

    def command(self) -> list[str]:
        return [str(BIN / "parley"), "serve"]

    def position(self) -> int:
        return int(httpx.get(self.url + "/health", timeout=30).json()["position"])

    def open(self, slug: str) -> None:
        body = {"slug": slug, **opening()}
        response = httpx.post(f"{self.url}/negotiations", json=body, headers=AUTH, timeout=30)
        response.raise_for_status()

    def caught_up(self, timeout: float = 900) -> float:
        """Wait until every inline projection has processed the log; seconds waited."""
        started = time.monotonic()
        if self.projections != "inline":
            return 0.0
        while time.monotonic() - started < timeout:
            status = httpx.get(self.url + "/projections", timeout=30).json()
            if all(p["lag"] == 0 for p in status["projections"]):
                return time.monotonic() - started
            time.sleep(0.1)
        raise RuntimeError(f"the projections did not catch up in {timeout} s")


class Noop(Process):
    """bench/noop_app.py under uvicorn as ``parley serve`` runs it: one worker, no access
    log, log level warning, uvicorn's "auto" loop and HTTP (uvloop and httptools).
    Keyword arguments become ``NOOP_<KEY>`` variables of its environment."""

    ready_path = "/noop/health"

    def __init__(self, log_dir: Path, **env: str) -> None:
        super().__init__({f"NOOP_{k.upper()}": v for k, v in env.items()}, log_dir / "noop.log")

    def command(self) -> list[str]:
        return uvicorn_command("bench.noop_app:app", self.port)


def uvicorn_command(app: str, port: int) -> list[str]:
    """A baseline app under uvicorn on ``port``, with the settings ``parley serve`` uses
    for the bench (no access log, warnings only)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def temp_dir(prefix: str) -> Path:
    """A new directory under $TMPDIR, removed when this process exits (servers stopped
    first), unless PARLEY_BENCH_KEEP=1."""
    path = Path(tempfile.mkdtemp(prefix=f"parley-bench-{prefix}-"))
    if os.environ.get("PARLEY_BENCH_KEEP") != "1":
        atexit.register(shutil.rmtree, path, True)
    return path


# Backends.
BACKENDS = ("sqlite", "postgres")
POSTGRES_URL = os.environ.get(
    "PARLEY_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def postgres_schema(prefix: str) -> str:
    """A new, empty schema in ``POSTGRES_URL``'s database, dropped (with all in it) when
    this process exits, unless PARLEY_BENCH_KEEP=1."""
    import psycopg

    schema = f"parley_bench_{prefix}_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    if os.environ.get("PARLEY_BENCH_KEEP") != "1":
        atexit.register(_drop_schema, schema)
    return schema


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def backend_env(backend: str, prefix: str) -> dict[str, str]:
    """``Server`` keywords that put its store on ``backend``: nothing for SQLite (the
    data directory's file), a fresh schema of ``POSTGRES_URL`` for PostgreSQL."""
    if backend == "sqlite":
        return {}
    if backend == "postgres":
        return {"database_url": POSTGRES_URL, "database_schema": postgres_schema(prefix)}
    raise SystemExit(f"--backend: unknown {backend!r}; choose from {BACKENDS}")


def chosen(flag: str, text: str, allowed: Sequence[str]) -> list[str]:
    """A comma-separated option's values, each one of ``allowed``; else exit naming it."""
    values = [v for v in text.split(",") if v]
    unknown = set(values) - set(allowed)
    if unknown:
        raise SystemExit(f"{flag}: unknown {sorted(unknown)}; choose from {tuple(allowed)}")
    return values


def backends(args: argparse.Namespace) -> list[str]:
    return chosen("--backend", args.backend, BACKENDS)


# wrk.
@dataclass(frozen=True)
class WrkResult:
    requests: int
    rate: float  # requests/s
    p50: float  # ms
    p99: float  # ms
    socket_errors: int
    non_2xx: int

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non_2xx

    def describe(self, unit: str = "req/s") -> str:
        return (
            f"{self.rate:,.0f} {unit}, p50 {self.p50:.2f} ms, p99 {self.p99:.2f} ms, "
            f"{self.errors} errors"
        )


POST_LUA = """
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
end
local function hex(n) return string.format("%%0" .. n .. "x", math.random(0, 16 ^ n - 1)) end
local head = [==[%(head)s]==]
local middle = [==[%(middle)s]==]
local tail = [==[%(tail)s]==]
local headers = {%(headers)s}
request = function()
  counter = counter + 1
  local id = hex(8) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-a" .. hex(3) .. "-" .. hex(6) .. hex(6)
  return wrk.format("POST", "%(path)s", headers, head .. id .. middle .. counter .. tail)
end
"""

GET_LUA = """
local paths = {%(paths)s}
function init(args) math.randomseed(os.time()) end
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
"""


def post_script(path: str, event: dict[str, Any], headers: dict[str, str]) -> str:
    """A wrk script POSTing ``event`` with a fresh id and a numbered summary each time,
    so that every request is a new event, as a client's would be."""
    marker_id, marker_n = "@@ID@@", "@@N@@"
    body = dict(event, id=marker_id)
    body["data"] = dict(body["data"], summary=f"{body['data']['summary']} #{marker_n}")
    text = orjson.dumps(body).decode()
    head, rest = text.split(marker_id)
    middle, tail = rest.split(marker_n)
    all_headers = {"Content-Type": "application/json", **headers}
    return POST_LUA % {
        "head": head,
        "middle": middle,
        "tail": tail,
        "path": path,
        "headers": ", ".join(f'["{k}"] = "{v}"' for k, v in all_headers.items()),
    }


def get_script(paths: Iterable[str]) -> str:
    return GET_LUA % {"paths": ", ".join(f'"{p}"' for p in paths)}


def _ms(text: str, label: str) -> float:
    match = re.search(rf"^\s*{re.escape(label)}\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    if not match:
        raise RuntimeError(f"no {label} in wrk's output:\n{text}")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(url: str, script: str, *, seconds: float, connections: int, threads: int = 2) -> WrkResult:
    """Run wrk with ``script`` against ``url``; requests/s, p50/p99 and every error."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{min(threads, connections)}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                file.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(file.name)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = re.search(r"(\d+) requests in", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert requests and rate, out
    return WrkResult(
        requests=int(requests.group(1)),
        rate=float(rate.group(1)),
        p50=_ms(out, "50%"),
        p99=_ms(out, "99%"),
        socket_errors=sum(int(g) for g in sockets.groups()) if sockets else 0,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


# Appending over HTTP.
@dataclass(frozen=True)
class Fill:
    events: int
    seconds: float  # wall time of the POSTs (bodies are encoded before each is sent)
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def post_batches(
    base: str,
    batches: Iterable[tuple[str, bytes, int]],
    path: str = "/negotiations/{slug}/events",
) -> Fill:
    """POST each (slug, encoded body, events) in turn; the POSTs' time, not the encoding's."""
    events, seconds, latencies = 0, 0.0, []
    with httpx.Client(base_url=base, timeout=600, headers=JSON_HEADERS) as client:
        for slug, body, count in batches:
            started = time.perf_counter()
            response = client.post(path.format(slug=slug), content=body)
            took = time.perf_counter() - started
            if response.status_code != 201:
                raise RuntimeError(f"{response.status_code}: {response.text[:500]}")
            events += count
            seconds += took
            latencies.append(took)
    return Fill(events, seconds, latencies)


def batches(
    slugs: Sequence[str], total: int, *, size: int = 1000
) -> Iterator[tuple[str, bytes, int]]:
    """``total`` events in all (the openings included) for ``slugs``, as 1,000-event
    batches, one negotiation after another in turn, as a desk's loaders would send them."""
    per = total // len(slugs)
    mixes = {slug: Mix(per, seed=k + 1) for k, slug in enumerate(slugs)}
    left = dict.fromkeys(slugs, per - 1)
    while any(left.values()):
        for slug in slugs:
            count = min(size, left[slug])
            if count:
                left[slug] -= count
                yield slug, orjson.dumps(mixes[slug].take(count)), count


def lag(server: Server) -> int:
    """The most events any projection is behind the log (0 with projections off)."""
    if server.projections != "inline":
        return 0
    status = httpx.get(server.url + "/projections", timeout=30).json()
    return max(int(p["lag"]) for p in status["projections"])


def fill_store(
    data_dir: Path, events: int, *, slugs: Sequence[str] = (SLUG,), **env: str
) -> dict[str, Any]:
    """Fill a store with ``events`` events over HTTP (1,000-event batches to the server
    as ``make run`` starts it, projections inline) and write the marker that the
    scripts' ``--store`` reads (``env``: ``Server``'s keywords, ``backend_env``'s). The
    projections' lag at the end of the fill is noted; the next server start catches
    them up in pages (``Server.caught_up`` waits)."""
    with Server(data_dir, "inline", **env) as server:
        for slug in slugs:
            server.open(slug)
        fill = post_batches(server.url, batches(slugs, events))
        behind = lag(server)
        position = server.position()
        rss = server.memory()
    marker = {
        "slugs": list(slugs),
        "events": position,
        "fill_rate": fill.rate,
        "fill_seconds": fill.seconds,
        "projections_lag": behind,
        "rss_after_fill": rss["VmRSS"],
    }
    (data_dir / STORE_MARKER).write_text(json.dumps(marker))
    return marker


def store(args: argparse.Namespace, prefix: str, count: int) -> tuple[Path, dict[str, Any]]:
    """The prefilled store ``--store`` names, or a new one of ``count`` events."""
    if args.store:
        path = Path(args.store)
        return path, json.loads((path / STORE_MARKER).read_text())
    path = temp_dir(prefix)
    print(f"# filling {path} with {count:,} events over HTTP ...", flush=True)
    marker = fill_store(path, count)
    print(
        f"# filled at {marker['fill_rate']:,.0f} events/s; the inline projections were "
        f"{marker['projections_lag']:,} events behind at the end",
        flush=True,
    )
    return path, marker


def last_valid_date(data_dir: Path, slug: str) -> str:
    """The latest valid date of a negotiation, from the store's index."""
    import sqlite3

    with sqlite3.connect(data_dir / "parley.sqlite3") as conn:
        row = conn.execute(
            "SELECT MAX(occurred_at) FROM parley_event_index WHERE negotiation = ?", [slug]
        ).fetchone()
    return str(row[0])[:10]


# py-spy.
@contextmanager
def profiled(pid: int, name: str, out_dir: Path | None) -> Iterator[None]:
    """Sample ``pid`` with py-spy (``$PY_SPY`` or on PATH) while the block runs; writes
    ``<out_dir>/<name>.txt`` (collapsed stacks) and prints the top frames. No-op when
    ``out_dir`` is None."""
    exe = os.environ.get("PY_SPY") or shutil.which("py-spy")
    if out_dir is None:
        yield
        return
    if exe is None:
        print("# py-spy not found (set PY_SPY or put it on PATH): no profile", flush=True)
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.txt"
    spy = subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--rate", "100", "--nonblocking"]
        + ["--format", "raw", "--threads", "--output", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
        if path.exists():
            print(f"# py-spy {name}: {path}", flush=True)
            for line in top_frames(path):
                print(f"#   {line}", flush=True)


def top_frames(path: Path, count: int = 15) -> list[str]:
    """The functions most often at the top of the stack (self) and on it (inclusive), in
    % of the busy samples of a py-spy collapsed-stack file (idle threads left out)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    # Threads waiting, and uvloop's own loop (C code under Runner.run: polling, mostly).
    idle = (
        "wait (threading",
        "select (selectors",
        "_worker (concurrent",
        "get (queue",
        "Runner.run (asyncio",
    )
    for line in path.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        frames = [f.rsplit(":", 1)[0] + ")" if f.endswith(")") else f for f in stack.split(";")]
        if not frames or any(i in frames[-1] for i in idle):
            continue
        n = int(samples)
        total += n
        for frame in set(frames[1:]):
            inclusive[frame] += n
        own[frames[-1]] += n
    if not total:
        return []
    lines = [f"{total} busy samples; self time:"]
    lines += [f"{100 * n / total:5.1f}% {f}" for f, n in own.most_common(count)]
    lines.append("inclusive:")
    lines += [f"{100 * n / total:5.1f}% {f}" for f, n in inclusive.most_common(count)]
    return lines


# The summary table.
@dataclass
class Row:
    what: str
    measured: str
    baseline: str
    ratio: float | None  # measured over baseline (or over an absolute target)
    target: str
    met: bool | None  # None: context, no target

    def cells(self) -> list[str]:
        ratio = "" if self.ratio is None else f"{self.ratio:.2f}x"
        met = "" if self.met is None else ("yes" if self.met else "NO")
        return [self.what, self.measured, self.baseline, ratio, self.target, met]


HEADER = ["what", "measured", "baseline", "ratio", "target", "met?"]


def table(rows: Sequence[Row]) -> str:
    cells = [HEADER] + [row.cells() for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADER))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        for line in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine() -> str:
    """The load average: other work on these cores skews absolute figures (ratios less,
    as each baseline runs right before its measurement)."""
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return f"{os.cpu_count()} cores, load average {one} {five} {fifteen}"


def finish(rows: Sequence[Row], args: argparse.Namespace) -> None:
    """Print the script's rows as a table; append them to ``--results`` for report.py."""
    print(f"# machine: {machine()}")
    print(table(rows), flush=True)
    if args.results:
        save(rows, Path(args.results))


def save(rows: Sequence[Row], path: Path) -> None:
    """Append rows to a JSON-lines file."""
    with path.open("a") as out:
        for row in rows:
            out.write(json.dumps(dataclasses.asdict(row)) + "\n")


def parser(
    doc: str | None, *, events: int | None = None, appends: bool = False
) -> argparse.ArgumentParser:
    """The options every script has (and, with ``appends``, the append runs' lengths)."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a short run (smaller, shorter)")
    parser.add_argument(
        "--projections",
        default=",".join(MODES),
        help="PARLEY_PROJECTIONS values to measure, comma-separated (default: inline,off)",
    )
    parser.add_argument(
        "--backend",
        default=",".join(BACKENDS),
        help="stores to measure, comma-separated (default: sqlite,postgres; PostgreSQL at "
        "$PARLEY_BENCH_DATABASE_URL, a new schema each run); bench/append.py and "
        "bench/diy.py measure each",
    )
    parser.add_argument("--results", help="append the summary rows to this JSON-lines file")
    parser.add_argument(
        "--profile", type=Path, help="record py-spy profiles of the server into this directory"
    )
    if events is not None:
        parser.add_argument(
            "--events", type=int, help=f"events in the store (default {events:,}; --quick: less)"
        )
    if appends:
        parser.add_argument("--seconds", type=float, help="per wrk run (default 10; --quick 4)")
        parser.add_argument(
            "--batches", type=int, help="1,000-event batches (default 20; --quick 5)"
        )
        parser.add_argument(
            "--store", type=Path, help="a store filled by bench/report.py (skips the fill)"
        )
    return parser


def modes(args: argparse.Namespace) -> list[str]:
    return chosen("--projections", args.projections, MODES)


def events(args: argparse.Namespace, full: int, quick: int) -> int:
    """``--events``, else ``full``, or ``quick`` with ``--quick``."""
    return int(args.events or (quick if args.quick else full))


# The server's CPU and the append path's stages, read around a run.
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STAGES = ("queue_wait", "prepare", "lock", "put", "commit", "resolution", "answer")
"""The append path's stages (``store.metrics.STAGES``, read from /metrics)."""


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) ``pid`` has used so far, every thread's."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of each thread of ``pid``, by its native id (py-spy dump names
    the Python threads by the same ids)."""
    used: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the thread ended meanwhile
        used[task.name] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return used


@dataclass(frozen=True)
class Stages:
    """The append path's histograms from /metrics: count and sum of seconds per stage,
    and the groups' count and size sum (``parley_writer_group_size``)."""

    counts: dict[str, float]
    sums: dict[str, float]
    groups: float
    grouped: float

    @classmethod
    def read(cls, url: str) -> Stages:
        text = httpx.get(url + "/metrics", headers=AUTH, timeout=30).text
        counts: dict[str, float] = {}
        sums: dict[str, float] = {}
        groups = grouped = 0.0
        for line in text.splitlines():
            if line.startswith("parley_append_stage_seconds_"):
                match = re.match(
                    r'parley_append_stage_seconds_(count|sum)\{stage="(\w+)"\} (\S+)', line
                )
                if match:
                    kind, stage, number = match.groups()
                    (counts if kind == "count" else sums)[stage] = float(number)
            elif line.startswith("parley_writer_group_size_count "):
                groups = float(line.split()[1])
            elif line.startswith("parley_writer_group_size_sum "):
                grouped = float(line.split()[1])
        return cls(counts, sums, groups, grouped)

    def since(self, before: Stages) -> Stages:
        return Stages(
            {k: v - before.counts.get(k, 0.0) for k, v in self.counts.items()},
            {k: v - before.sums.get(k, 0.0) for k, v in self.sums.items()},
            self.groups - before.groups,
            self.grouped - before.grouped,
        )

    def describe(self) -> str:
        """Mean ms per stage, and the mean group size."""
        means = [
            f"{stage} {1000 * self.sums[stage] / self.counts[stage]:.2f}"
            for stage in STAGES
            if self.counts.get(stage)
        ]
        size = self.grouped / self.groups if self.groups else 0.0
        return f"mean ms: {', '.join(means)}; {self.groups:,.0f} groups of {size:.1f} on average"


@contextmanager
def loaded(pid: int) -> Iterator[dict[str, float]]:
    """The CPU that ``pid`` uses while the block runs, in cores (``"cores"``), and each
    of its threads' (by native id), filled in when the block ends."""
    used: dict[str, float] = {}
    started, cpu, threads = time.monotonic(), cpu_seconds(pid), thread_cpu(pid)
    yield used
    wall = time.monotonic() - started
    used["cores"] = (cpu_seconds(pid) - cpu) / wall
    for name, seconds in thread_cpu(pid).items():
        used[name] = (seconds - threads.get(name, 0.0)) / wall
