"""The do-it-yourself stack as a baseline (bench/diy_app.py: the same FastAPI and
pydantic models, the library's ``Application.save()`` per request), measured exactly as
bench/append.py measures Parley: wrk -c32 single appends of the realistic statement
(bench/events.py), then 1,000-event batches posted in turn, under the same uvicorn
settings, on SQLite (a file of its own) or PostgreSQL (a schema of its own).

bench/append.py measures it once per backend, right before Parley's runs on that
backend, and prints Parley over it: targets single >= 2x, batches >= 5x, with the
projections inline and off. Alone, ``python -m bench.diy [--quick] [--backend
sqlite,postgres]`` prints its figures without Parley's.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bench import support
from bench.events import statement
from bench.support import Fill, Row, WrkResult

CONNECTIONS = 32
TARGET_SINGLE = 2.0
TARGET_BATCH = 5.0


class Diy(support.Process):
    """bench/diy_app.py under uvicorn as ``parley serve`` runs it (one worker, no access
    log, uvloop and httptools), its store given by the library's ``env``."""

    ready_path = "/diy/health"

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        super().__init__(env, log_dir / "diy.log")

    def command(self) -> list[str]:
        return support.uvicorn_command("bench.diy_app:app", self.port)


def library_env(backend: str, data: Path) -> dict[str, str]:
    """The library's environment for a new store of the DIY app on ``backend``."""
    if backend == "sqlite":
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(data / "diy.sqlite3"),
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    parts = urlsplit(support.POSTGRES_URL)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_SCHEMA": support.postgres_schema("diy"),
        "POSTGRES_LOCK_TIMEOUT": "10",
    }


@dataclass(frozen=True)
class Measured:
    """The DIY stack's figures on one backend."""

    backend: str
    single: WrkResult
    batches: Fill


def measure(
    backend: str,
    *,
    seconds: float,
    single_body: dict[str, Any],
    bodies: list[tuple[str, bytes, int]],
) -> Measured:
    """wrk -c32 single appends, then the 1,000-event ``bodies`` in turn, on a new store."""
    data = support.temp_dir(f"diy-{backend}")
    path = f"/negotiations/{support.SLUG}/events"
    with Diy(data, library_env(backend, data)) as diy:
        single = support.wrk(
            diy.url + path,
            support.post_script(path, single_body, {}),
            seconds=seconds,
            connections=CONNECTIONS,
        )
        batches = support.post_batches(diy.url, bodies)
    print(
        f"[{backend}] do-it-yourself: single {single.describe('events/s')}; 1,000-event "
        f"batches {batches.rate:,.0f} events/s, p50 "
        f"{support.pct(batches.latencies, 0.5):.0f} ms per batch",
        flush=True,
    )
    return Measured(backend, single, batches)


def rows(diy: Measured, mode: str, single: WrkResult, batches: Fill) -> list[Row]:
    """Parley (``single``, ``batches``, measured with projections ``mode``) over ``diy``."""
    label = f"{diy.backend}, {mode}"
    single_ratio = single.rate / diy.single.rate
    batch_ratio = batches.rate / diy.batches.rate
    return [
        Row(
            f"single append vs do-it-yourself, wrk -c32 [{label}]",
            single.describe("events/s"),
            f"DIY save() {diy.single.rate:,.0f} events/s, {diy.single.errors} errors",
            single_ratio,
            f">= {TARGET_SINGLE:.0f}x DIY, 0 errors",
            single_ratio >= TARGET_SINGLE and single.errors == 0,
        ),
        Row(
            f"1,000-event batches vs do-it-yourself [{label}]",
            f"{batches.rate:,.0f} events/s",
            f"DIY save() {diy.batches.rate:,.0f} events/s",
            batch_ratio,
            f">= {TARGET_BATCH:.0f}x DIY",
            batch_ratio >= TARGET_BATCH,
        ),
    ]


def main() -> None:
    from bench.append import batch_bodies  # bench/append.py imports this module

    args = parse()
    seconds = args.seconds or (4 if args.quick else 10)
    count = args.batches or (5 if args.quick else 20)
    found = []
    for backend in support.backends(args):
        diy = measure(
            backend,
            seconds=seconds,
            single_body=statement(0),
            bodies=batch_bodies(support.SLUG, count),
        )
        found += [
            Row(
                f"do-it-yourself single append, wrk -c32 [{backend}] (context)",
                diy.single.describe("events/s"),
                "",
                None,
                "",
                None,
            ),
            Row(
                f"do-it-yourself 1,000-event batches [{backend}] (context)",
                f"{diy.batches.rate:,.0f} events/s",
                "",
                None,
                "",
                None,
            ),
        ]
    support.finish(found, args)


def parse() -> argparse.Namespace:
    return support.parser(__doc__, appends=True).parse_args()


if __name__ == "__main__":
    main()
