"""The CLI's commands against a running server (``--server URL``, ``--token``), through
``parley.client``: load a file over HTTP, show a state, print signed heads, verify.

Each does what its local command does on the store, with the same output, so that a
desk without access to the database can use them. Errors come back as the server's
problem+json and are printed with the fields it names.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from api.cli.output import output
from domain.events import AnyEvent, dump_event
from parley.client import Client
from parley.errors import NotFoundError, ParleyError
from parley.models import Event
from store.heads import Head, check_heads
from store.loader import slug_for
from store.verify import ChainReport

BATCH_EVENTS = 500
BATCH_BYTES = 512 * 1024  # half the server's default PARLEY_MAX_BODY_BYTES

console = Console()
errors = Console(stderr=True)


def run(args: argparse.Namespace, command: Callable[[Client, argparse.Namespace], int]) -> int:
    """Run ``command`` with a client on ``args.server``; its errors printed, exit 1."""
    try:
        with Client(args.server, token=args.token) as client:
            return command(client, args)
    except ParleyError as error:
        errors.print(f"[red]{error}[/red]", soft_wrap=True)
        for entry in error.errors[1:]:
            errors.print(f"  {entry.get('field')}: {entry.get('message')}", soft_wrap=True)
        return 1
    except httpx.HTTPError as error:
        errors.print(f"[red]{args.server}: {error or type(error).__name__}[/red]")
        return 1


def batches(events: Sequence[AnyEvent]) -> Iterator[list[dict[str, Any]]]:
    """The events as JSON-ready dicts, in batches that stay under the server's body limit."""
    batch: list[dict[str, Any]] = []
    size = 0
    for event in events:
        fields = dump_event(event)
        length = len(orjson.dumps(fields)) + 1
        if batch and (len(batch) == BATCH_EVENTS or size + length > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(fields)
        size += length
    if batch:
        yield batch


def load(client: Client, path: Path, slug: str | None, events: Sequence[AnyEvent]) -> int:
    """Append the file's checked events over HTTP, each batch atomically, in file order.
    The ids are those a local load gives, so loading again stores nothing new."""
    name = slug or slug_for(path)
    created = 0
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), console=errors
    ) as bar:
        task = bar.add_task(
            f"loading {path.name} into {name} on {client.base_url}", total=len(events)
        )
        for batch in batches(events):
            created += len(client.append_batch(name, batch).created)
            bar.advance(task, len(batch))
    console.print(
        f"{name}: {created} new, {len(events) - created} already stored "
        f"({len(events)} events in {path}) on {client.base_url}"
    )
    return 0


def state(client: Client, args: argparse.Namespace) -> int:
    from api.cli.render import print_state

    answer = client.state(
        args.slug, as_of=args.as_of, known_at=args.known_at, reported_at=args.reported_at
    )
    body = answer.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        print_state(console, body)
    return 0


def export(client: Client, args: argparse.Namespace) -> int:
    """``parley export --server``: the server's export, streamed to a file or stdout."""
    options: dict[str, Any] = {
        "as_of": args.as_of,
        "known_at": args.known_at,
        "reported_at": args.reported_at,
        "from_": args.from_,
        "to": args.to,
        "type": [t for v in args.type or [] for t in v.split(",") if t] or None,
    }
    with output(args.output) as out:
        client.export_to(args.slug, out, args.format, **options)
    return 0


def head(client: Client, args: argparse.Namespace) -> int:
    slugs = [args.slug] if args.slug else opened(client)
    for signed in [client.head(slug) for slug in slugs]:
        print(signed.model_dump_json())
    return 0


def opened(client: Client) -> list[str]:
    """Every negotiation the log has opened, by slug: read from the log's openings, not
    from the negotiations index, a projection a moment behind it that may lack one
    opened just before (as the local ``parley head`` reads the store)."""
    openings = client.search(type="NegotiationOpened")
    return sorted({event.negotiation for event in openings})


class _ServerChains:
    """``check_heads``' view of a server: versions and events read over HTTP."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def version_of(self, slug: str) -> int:
        try:
            return self.client.negotiation(slug).version
        except NotFoundError:
            return 0

    def record_at(self, slug: str, version: int) -> Event | None:
        page = self.client.events(slug, after_version=version - 1, limit=1)
        return next((e for e in page.events if e.version == version), None)


def verify(client: Client, heads: list[Head]) -> tuple[ChainReport, list[str]]:
    """The server's own walk of its chains, and each saved head checked against its log."""
    report = client.verify()
    chains = ChainReport(
        ok=report.ok,
        events=report.events,
        negotiations=report.negotiations,
        first_break=report.first_break,
        broken_event=report.broken_event,
        detail=report.detail,
    )
    return chains, check_heads(_ServerChains(client), heads)
