"""``parley serve``: load the example into an empty store, then serve the HTTP API."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from api.cli.common import Subcommands, console, errors
from api.cli.load import load_file
from api.settings import Settings
from api.tokens import admin_token
from store.loader import slug_for
from store.log import ConflictLog


def _example_missing(log: ConflictLog, example: Path) -> bool:
    """Load the example into an empty store, or finish loading it: a load that a crash
    cut short left fewer events than the file has (loading is idempotent)."""
    if log.last_position() == 0:
        return True
    if not example.exists():
        return False
    with example.open("rb") as lines:
        expected = sum(1 for line in lines if line.strip())
    return 0 < log.version_of(slug_for(example)) < expected


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.signing import signing_key

    if args.new_signing_key:
        os.environ["PARLEY_NEW_SIGNING_KEY"] = "1"  # the workers read it too
    settings = Settings()
    config = settings.store_config()
    signing_key(settings.signing_key_file, new_key=settings.new_signing_key)  # before workers
    with ConflictLog(config) as log:
        if settings.example and _example_missing(log, settings.example):
            if settings.example.exists():
                load_file(log, settings.example, None)
            else:
                errors.print(f"example {settings.example} not found; starting empty")
    token = admin_token(settings)
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"\n[bold]Parley[/bold] is serving {config.describe()}")
    console.print(f"  URL:    {base}")
    console.print(f"  docs:   {base}/docs")
    console.print(f"  token:  {token}")
    console.print(f"  try:    curl {base}/negotiations\n")
    if settings.workers > 1:  # every worker's figures, added up at /metrics
        from api.multiprocess import prepare_multiprocess

        prepare_multiprocess(settings.data_dir, settings.port)
    uvicorn.run(
        "api.http.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
        access_log=False,
        # No "server: uvicorn": the EventSourcingDB-compatible routes (/api/v1) name
        # their own server, and EventSourcingDB's SDKs read the first such header.
        server_header=False,
        # Live streams never end by themselves: give them 5 s, then close them.
        timeout_graceful_shutdown=5,
        # A bounded request head: httptools has no limit of its own (api/http/protocol.py).
        http="api.http.protocol:BoundedHttpToolsProtocol",
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )
    return 0


def add_serve(commands: Subcommands) -> None:
    serve = commands.add_parser("serve", help="start the HTTP API (settings from PARLEY_*)")
    serve.add_argument(
        "--new-signing-key",
        action="store_true",
        help="make a new signing key if the one that signed heads is missing or damaged "
        "(PARLEY_NEW_SIGNING_KEY=1; the old key stays listed by GET /keys)",
    )
    serve.set_defaults(run=cmd_serve)
