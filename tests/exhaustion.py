"""Clients that try to sink a server (issue 15, part 3), and what they are measured by.

Shared by ``tests/e2e/test_exhaustion.py`` (a smaller store, in the suite) and
``bench/exhaust.py`` (the issue's full size). Every attacker is a real client on a real
socket: downloads and streams that send their request and never read a byte, full
timelines read by many at once, a huge header, a body over the limit sent by urllib.
The server is watched from outside: its RSS from /proc, /health's latency, and how long
an append takes to commit while the attack goes on.
"""

from __future__ import annotations

import contextlib
import random
import socket
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from api.parsing import parse_events
from store.config import StoreConfig
from store.log import ConflictLog

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # bench.events makes realistic events; pytest runs from tests/
    sys.path.append(str(REPO))

MIB = 1024**2
SLUG = "siege"


def rss(pid: int) -> int:
    """The resident set of a process, in bytes (VmRSS in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def fill(config: StoreConfig, events: int, slug: str = SLUG) -> float:
    """Append ``events`` events (the opening included) to a new negotiation through the
    store in this process, 1,000 a batch; returns the seconds it took."""
    import orjson

    from bench.events import Mix

    started = time.monotonic()
    mix = Mix(events, seed=sum(map(ord, slug)))
    with ConflictLog(config) as log:
        opening, _ = parse_events(orjson.dumps([mix.first()]))
        log.append(slug, opening, opening=True, recorded_by="siege")
        left = events - 1
        while left > 0:
            count = min(1000, left)
            batch, _ = parse_events(orjson.dumps(mix.take(count)))
            log.append(slug, batch, recorded_by="siege")
            left -= count
    return time.monotonic() - started


def statement_body(i: int) -> bytes:
    import orjson

    from bench.events import statement

    return orjson.dumps(statement(10_000_000 + i, seed=random.randrange(1 << 30)))


# -- attackers ------------------------------------------------------------------------


def peer(i: int) -> str:
    """The ``i``-th of many loopback addresses: each is another anonymous client."""
    return f"127.0.{1 + i // 250}.{2 + i % 250}"


def silent_get(
    port: int, path: str, headers: dict[str, str] | None = None, source: str | None = None
) -> socket.socket:
    """A GET that is sent and never read: the answer can only pile up somewhere."""
    sock = socket.create_connection(
        ("127.0.0.1", port), timeout=30, source_address=(source, 0) if source else None
    )
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "User-Agent: siege"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


@contextlib.contextmanager
def silent_clients(
    port: int, paths: Sequence[str], *, many: bool = True, gap: float = 0.0
) -> Iterator[None]:
    """Open one non-reading connection per path, each from an address of its own
    (``many``: the class limits must hold) or all from one (the per-client limit must);
    close them all on leaving."""
    socks: list[socket.socket] = []
    try:
        for i, path in enumerate(paths):
            socks.append(silent_get(port, path, source=peer(i) if many else None))
            if gap:
                time.sleep(gap)
        yield
    finally:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()


def status_line(port: int, path: str, source: str | None = None) -> int | None:
    """The status a silent GET would get, read from the first bytes (None: no answer)."""
    with silent_get(port, path, source=source) as sock:
        sock.settimeout(30)
        return answered_status(sock)


def answered_status(sock: socket.socket) -> int | None:
    """The status in the first bytes of the answer on ``sock`` (None: no answer)."""
    try:
        first = sock.recv(64)
    except OSError:
        return None
    try:
        return int(first.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


# -- watching -------------------------------------------------------------------------


@dataclass
class Watch:
    """/health latency, append latency and RSS, sampled while an attack runs."""

    url: str
    pid: int
    token: str
    health: list[float] = field(default_factory=list)
    health_at: list[float] = field(default_factory=list)  # monotonic time of each probe
    appends: list[float] = field(default_factory=list)
    append_failures: list[str] = field(default_factory=list)
    peak_rss: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for target in (self._probe_health, self._probe_appends, self._probe_rss):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(120)

    def _probe_health(self) -> None:
        with httpx.Client(timeout=120) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                self.health_at.append(started)
                try:
                    client.get(self.url + "/health").raise_for_status()
                except httpx.HTTPError:
                    self.health.append(float("inf"))
                else:
                    self.health.append(time.monotonic() - started)
                self._stop.wait(0.2)

    def _probe_appends(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        with httpx.Client(timeout=120, headers=headers) as client:
            i = 0
            while not self._stop.is_set():
                i += 1
                started = time.monotonic()
                try:
                    response = client.post(
                        f"{self.url}/negotiations/{SLUG}/events", content=statement_body(i)
                    )
                except httpx.HTTPError as error:
                    self.append_failures.append(f"{type(error).__name__} after 120 s")
                    continue
                if response.status_code == 201:
                    self.appends.append(time.monotonic() - started)
                else:
                    self.append_failures.append(f"{response.status_code} {response.text[:200]}")
                self._stop.wait(0.5)

    def _probe_rss(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, RuntimeError):
                self.peak_rss = max(self.peak_rss, rss(self.pid))
            self._stop.wait(0.05)

    def slow_health(self, over: float = 0.1) -> list[float]:
        """When (seconds after the first probe) /health took longer than ``over``."""
        return [
            round(at - self.health_at[0], 1)
            for at, took in zip(self.health_at, self.health, strict=False)
            if took > over
        ]

    def summary(self) -> str:
        def ms(values: list[float]) -> str:
            if not values:
                return "-"
            median, worst = statistics.median(values) * 1000, max(values) * 1000
            return f"p50 {median:,.0f} ms, max {worst:,.0f} ms"

        return (
            f"peak RSS {self.peak_rss / MIB:,.0f} MiB; /health {ms(self.health)} "
            f"({len(self.health)}); append {ms(self.appends)} ({len(self.appends)}, "
            f"{len(self.append_failures)} failed)"
        )


@contextlib.contextmanager
def watching(url: str, pid: int, token: str) -> Iterator[Watch]:
    watch = Watch(url, pid, token)
    watch.start()
    try:
        yield watch
    finally:
        watch.stop()


def settle(pid: int, seconds: float = 3.0) -> int:
    """Wait for the process's RSS to change less than 1 MiB over ``seconds`` (at most
    ten times that), and return it."""
    last = rss(pid)
    for _ in range(10):
        time.sleep(seconds)
        now = rss(pid)
        if abs(now - last) < MIB:
            return now
        last = now
    return last


# -- the timeline crowd, the header, the body ------------------------------------------


def crowd(url: str, path: str, count: int) -> list[int]:
    """``count`` clients GET ``path`` at once and read it all; their statuses."""
    statuses: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            status = httpx.get(url + path, timeout=300).status_code
        except httpx.HTTPError:
            status = 0
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    return statuses


def huge_header(port: int, size: int) -> int | None:
    """Send a GET with one header of ``size`` bytes; the status answered (None: none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        try:
            sock.sendall(b"GET /negotiations HTTP/1.1\r\nHost: x\r\nX-Big: ")
            chunk = b"a" * MIB
            sent = 0
            while sent < size:
                sock.sendall(chunk[: size - sent])
                sent += len(chunk)
            sock.sendall(b"\r\n\r\n")
        except OSError:
            pass  # refused mid-way: the answer, if any, is waiting
        return answered_status(sock)


def urllib_big_body(url: str, token: str, size: int) -> str:
    """POST ``size`` bytes with urllib, as a script would; the status it sees, or the
    error it gets instead (a broken pipe or reset when the server hangs up first)."""
    request = urllib.request.Request(
        f"{url}/negotiations/{SLUG}/events",
        data=b"[" + b" " * (size - 2) + b"]",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return str(response.status)
    except urllib.error.HTTPError as error:
        return str(error.code)
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return type(reason).__name__
