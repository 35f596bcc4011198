"""The EventSourcingDB-compatible API, driven by EventSourcingDB's official Python SDK
(``eventsourcingdb``) against a real ``parley serve`` on each backend.

One server per backend serves this module (``shared_server``, with SERVER_ENV from
tests/esdb_support.py): the founding example, an admin and a read token, heartbeats every
0.3 s. Tests share its log: each writes to a negotiation of its own, and reads the
positions it expects from Parley's own API.
"""

from __future__ import annotations

import asyncio
import os
import queue
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import aclosing
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from esdb_support import READ, READ_TOKEN, new_subject
from esdb_support import SERVER_ENV as SERVER_ENV  # the shared_server's
from eventsourcingdb import (
    Bound,
    BoundType,
    Client,
    DbApiError,
    ErrorCode,
    Event,
    EventCandidate,
    HashVerificationFailedError,
    IfEventIsMissingDuringObserve,
    IfEventIsMissingDuringRead,
    IncompatibleServerError,
    IsEventQlQueryTrue,
    IsSubjectOnEventId,
    IsSubjectPopulated,
    IsSubjectPristine,
    ObserveEventsOptions,
    ObserveFromLatestEvent,
    Order,
    PreconditionOptions,
    ReadEventsOptions,
    ReadFromLatestEvent,
    ReadSubjectsOptions,
)
from support import AUTH, REPO, TOKEN, Server

from domain.events import EVENT_TYPES

HANG_GUARD = 60.0
T = TypeVar("T")


@pytest.fixture(scope="module")
def parley(shared_server: Server) -> Server:
    """The module's server on one backend, with SERVER_ENV."""
    return shared_server


def run(scenario: Awaitable[T]) -> T:
    async def guarded() -> T:
        return await asyncio.wait_for(scenario, HANG_GUARD)

    return asyncio.run(guarded())


OPENED: dict[str, Any] = {
    "occurred_at": "2025-03-25",
    "precision": "day",
    "data": {
        "title": "Black Sea shipping talks",
        "parties": [
            {"name": None, "country": "RUS", "role": None, "wikidata": None},
            {"name": None, "country": "UKR", "role": None, "wikidata": None},
        ],
        "mediators": [{"name": "Hakan Fidan", "country": "TUR", "role": None, "wikidata": None}],
    },
    "sources": [
        {
            "outlet": "Reuters",
            "url": None,
            "published_at": "2025-03-25T09:30:00+03:00",
            "attributed_to": None,
            "quote": None,
            "via": ["TASS"],
        }
    ],
}


def opened(subject: str, **data: Any) -> EventCandidate:
    return EventCandidate(
        "https://desk.example.org",
        subject,
        "io.parley.NegotiationOpened",
        {
            **OPENED,
            **data,
        },
    )


def statement_candidate(subject: str, summary: str) -> EventCandidate:
    return EventCandidate(
        "https://desk.example.org",
        subject,
        "io.parley.StatementIssued",
        {
            "occurred_at": "2025-03-26",
            "data": {"speaker": "UKR", "summary": summary},
            "sources": [{"outlet": "Ukrinform"}],
        },
    )


def parley_events(server: Server, slug: str) -> list[dict[str, Any]]:
    """A negotiation's events as Parley's own API shows them."""
    response = httpx.get(
        f"{server.url}/negotiations/{slug}/events",
        params={"limit": 1000},
        headers=READ,
        timeout=HANG_GUARD,
    )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def collect(events: AsyncIterator[T]) -> list[T]:
    return [event async for event in events]


async def failure(call: Awaitable[Any]) -> DbApiError:
    with pytest.raises(DbApiError) as caught:
        await call
    return caught.value


async def read_failure(client: Client, subject: str, options: ReadEventsOptions) -> DbApiError:
    return await failure(collect(client.read_events(subject, options)))


def ids(events: list[Event]) -> list[int]:
    return [int(e.event_id) for e in events]


def test_the_sdk_speaks_v1_pings_and_verifies_parley_tokens(parley: Server) -> None:
    async def scenario() -> None:
        async with Client(parley.url, TOKEN) as admin:
            await admin.ping()
            assert await admin._get_api_version() == "v1"  # /api/v2 answers 404
            await admin.verify_api_token()
        async with Client(parley.url, READ_TOKEN) as reader:
            await reader.verify_api_token()
        async with Client(parley.url, "not-a-parley-token") as stranger:
            await stranger.ping()  # ping needs no token
            assert (await failure(stranger.verify_api_token())).status == 401
            refused = await read_failure(stranger, "/", ReadEventsOptions(recursive=True))
            assert refused.status == 401
            writes = await failure(stranger.write_events([opened(new_subject()[1])]))
            assert writes.status == 401

    run(scenario())


def test_opening_a_negotiation_returns_the_stored_event_with_every_field_sent(
    parley: Server,
) -> None:
    slug, subject = new_subject()

    async def scenario() -> list[Event]:
        async with Client(parley.url, TOKEN) as client:
            return await client.write_events([opened(subject)], [IsSubjectPristine(subject)])

    (written,) = run(scenario())
    (stored,) = parley_events(parley, slug)
    assert written.subject == subject
    assert written.type == "io.parley.NegotiationOpened"
    assert written.event_id == str(stored["position"])
    assert written.source == "https://desk.example.org"  # as written, stored and hashed
    assert stored["source"] == "https://desk.example.org"
    assert written.predecessor_hash == "0" * 64
    assert written.hash == stored["hash"]
    assert written.spec_version == "1.0"
    assert written.data_content_type == "application/json"
    recorded = datetime.fromisoformat(stored["recorded_at"]).replace(tzinfo=None)
    assert written.time == recorded
    # Everything sent comes back as sent; the server added the id and the empty fields.
    assert {k: written.data[k] for k in OPENED} == OPENED
    assert written.data["id"] == stored["id"]
    assert uuid.UUID(written.data["id"])
    assert written.data["occurred_until"] is None and written.data["asserted_by"] is None
    assert "type" not in written.data
    # The hash is Parley's chain hash, not EventSourcingDB's: the SDK cannot verify it.
    with pytest.raises(HashVerificationFailedError):
        written.verify_hash()


def test_each_precondition_guards_the_write_and_a_failed_one_stores_nothing(
    parley: Server,
) -> None:
    slug, subject = new_subject()

    async def scenario() -> None:
        async with Client(parley.url, TOKEN) as client:
            missing = await failure(
                client.write_events(
                    [statement_candidate(subject, "early")], [IsSubjectPopulated(subject)]
                )
            )
            assert missing.status == 409 and missing.code == ErrorCode.PRECONDITION_VIOLATED.value
            assert missing.description.startswith("state conflict: precondition failed")

            (first,) = await client.write_events([opened(subject)], [IsSubjectPristine(subject)])
            again = await failure(
                client.write_events([opened(subject)], [IsSubjectPristine(subject)])
            )
            assert again.code == ErrorCode.PRECONDITION_VIOLATED.value

            (second,) = await client.write_events(
                [statement_candidate(subject, "populated")], [IsSubjectPopulated(subject)]
            )
            (third,) = await client.write_events(
                [statement_candidate(subject, "on the last event")],
                [IsSubjectOnEventId(subject, second.event_id)],
            )
            assert third.predecessor_hash == second.hash
            stale = await failure(
                client.write_events(
                    [statement_candidate(subject, "on a stale event")],
                    [IsSubjectOnEventId(subject, first.event_id)],
                )
            )
            assert stale.status == 409 and stale.code == ErrorCode.PRECONDITION_VIOLATED.value

            eventql = await failure(
                client.write_events(
                    [statement_candidate(subject, "eventql")],
                    [IsEventQlQueryTrue("FROM e IN events")],
                )
            )
            assert 400 <= eventql.status < 500 and "not supported" in eventql.description
            # Recursive preconditions need the v2 API: the SDK refuses before sending.
            with pytest.raises(IncompatibleServerError):
                await client.write_events(
                    [statement_candidate(subject, "recursive")],
                    [IsSubjectPristine("/negotiations", PreconditionOptions(recursive=True))],
                )

    run(scenario())
    summaries = [e["data"].get("summary") for e in parley_events(parley, slug)]
    assert summaries == [None, "populated", "on the last event"]


def test_invalid_writes_are_refused_with_the_field_named(parley: Server) -> None:
    slug, subject = new_subject()

    async def scenario() -> None:
        async with Client(parley.url, TOKEN) as client:
            first = await failure(client.write_events([statement_candidate(subject, "no opening")]))
            assert first.status == 422 and "io.parley.NegotiationOpened" in first.description

            bad_actor = opened(subject)
            bad_actor.data = {
                **OPENED,
                "data": {"title": "x", "parties": ["RUS"], "mediators": [5]},
            }
            bad = await failure(client.write_events([bad_actor]))
            assert bad.status == 422
            assert bad.description.startswith("events.0.data.data.mediators.0")

            unknown = opened(subject)
            unknown.type = "io.parley.TreatySigned"
            assert (await failure(client.write_events([unknown]))).status == 422
            elsewhere = await failure(client.write_events([opened("/books/42")]))
            assert elsewhere.description.startswith("events.0.subject")
        async with Client(parley.url, READ_TOKEN) as reader:
            assert (await failure(reader.write_events([opened(subject)]))).status == 403

    run(scenario())
    response = httpx.get(f"{parley.url}/negotiations/{slug}", headers=READ)
    assert response.status_code == 404


def test_reads_honour_order_bounds_and_from_latest_event(parley: Server) -> None:
    stored = [e["position"] for e in parley_events(parley, "istanbul-2025")]
    contacts = [
        e["position"] for e in parley_events(parley, "istanbul-2025") if e["type"] == "ContactHeld"
    ]
    subject = "/negotiations/istanbul-2025"
    low, high = stored[3], stored[9]

    def options(**given: Any) -> ReadEventsOptions:
        return ReadEventsOptions(recursive=False, **given)

    async def scenario() -> None:
        async with Client(parley.url, READ_TOKEN) as client:

            async def read(subject: str, given: ReadEventsOptions) -> list[int]:
                return ids(await collect(client.read_events(subject, given)))

            assert await read(subject, options()) == stored
            assert await read(subject, options(order=Order.CHRONOLOGICAL)) == stored
            assert await read(subject, options(order=Order.ANTICHRONOLOGICAL)) == stored[::-1]
            inclusive = Bound(str(low), BoundType.INCLUSIVE)
            exclusive = Bound(str(high), BoundType.EXCLUSIVE)
            assert await read(subject, options(lower_bound=inclusive)) == stored[3:]
            assert await read(subject, options(upper_bound=exclusive)) == stored[:9]
            both = options(lower_bound=inclusive, upper_bound=Bound(str(high), BoundType.INCLUSIVE))
            assert await read(subject, both) == stored[3:10]
            backwards = options(
                order=Order.ANTICHRONOLOGICAL,
                lower_bound=Bound(str(low), BoundType.EXCLUSIVE),
                upper_bound=exclusive,
            )
            assert await read(subject, backwards) == stored[4:9][::-1]

            def latest(kind: str, missing: IfEventIsMissingDuringRead) -> ReadEventsOptions:
                return options(from_latest_event=ReadFromLatestEvent(subject, kind, missing))

            found = latest("io.parley.ContactHeld", IfEventIsMissingDuringRead.READ_NOTHING)
            assert await read(subject, found) == [p for p in stored if p >= contacts[-1]]
            nothing = latest("io.parley.CeasefireDeclared", IfEventIsMissingDuringRead.READ_NOTHING)
            assert await read(subject, nothing) == []
            everything = latest(
                "io.parley.CeasefireDeclared", IfEventIsMissingDuringRead.READ_EVERYTHING
            )
            assert await read(subject, everything) == stored

            every = await read("/", ReadEventsOptions(recursive=True))
            assert every == sorted(every) and set(stored) <= set(every)
            assert await read("/negotiations", ReadEventsOptions(recursive=True)) == every
            backwards_all = ReadEventsOptions(recursive=True, order=Order.ANTICHRONOLOGICAL)
            assert await read("/", backwards_all) == every[::-1]
            assert await read("/", options()) == []
            assert await read("/negotiations/no-such-talks", options()) == []

            for bad in (
                options(lower_bound=Bound("hello", BoundType.INCLUSIVE)),
                options(lower_bound=Bound("-1", BoundType.INCLUSIVE)),
                options(upper_bound=Bound("hello", BoundType.INCLUSIVE)),
                options(upper_bound=Bound("-1", BoundType.EXCLUSIVE)),
                options(
                    lower_bound=Bound("0", BoundType.INCLUSIVE),
                    from_latest_event=ReadFromLatestEvent(
                        subject, "io.parley.ContactHeld", IfEventIsMissingDuringRead.READ_NOTHING
                    ),
                ),
            ):
                assert (await read_failure(client, subject, bad)).status == 422
            assert (await read_failure(client, "", options())).status == 422
            beyond = options(
                upper_bound=Bound(str(contacts[-1] - 1), BoundType.INCLUSIVE),
                from_latest_event=ReadFromLatestEvent(
                    subject, "io.parley.ContactHeld", IfEventIsMissingDuringRead.READ_NOTHING
                ),
            )
            conflict = await read_failure(client, subject, beyond)
            assert conflict.status == 409 and conflict.code == ErrorCode.RANGE_UNSATISFIABLE.value

    run(scenario())


def test_observing_follows_the_log_live_and_resumes_after_a_reconnect(parley: Server) -> None:
    slug, subject = new_subject()

    async def scenario() -> None:
        async with Client(parley.url, TOKEN) as client:
            (first,) = await client.write_events([opened(subject)])
            seen: list[Event] = []
            alone = ObserveEventsOptions(recursive=False)
            async with aclosing(client.observe_events(subject, alone)) as stream:
                async for event in stream:
                    seen.append(event)
                    if len(seen) == 1:  # caught up: now events arrive live
                        await client.write_events([statement_candidate(subject, "live 1")])
                        await client.write_events([statement_candidate(subject, "live 2")])
                    if len(seen) == 3:
                        break
            assert seen[0].event_id == first.event_id
            assert [e.data["data"]["summary"] for e in seen[1:]] == ["live 1", "live 2"]

            # While disconnected, more is written; resuming after the last event seen
            # loses nothing and repeats nothing.
            missed = await client.write_events(
                [statement_candidate(subject, "missed 1"), statement_candidate(subject, "missed 2")]
            )
            after = Bound(seen[-1].event_id, BoundType.EXCLUSIVE)
            resumed = await take(
                client.observe_events(
                    subject, ObserveEventsOptions(recursive=False, lower_bound=after)
                ),
                2,
            )
            assert ids(resumed) == ids(missed)

            # From the latest event of a type, here read recursively from /negotiations.
            latest = ObserveFromLatestEvent(
                subject, "io.parley.StatementIssued", IfEventIsMissingDuringObserve.WAIT_FOR_EVENT
            )
            (newest,) = await take(
                client.observe_events(
                    "/negotiations", ObserveEventsOptions(recursive=True, from_latest_event=latest)
                ),
                1,
            )
            assert newest.event_id == missed[-1].event_id

            # A type never written, read-everything: from the first event on.
            missing = ObserveFromLatestEvent(
                subject, "io.parley.RoundHeld", IfEventIsMissingDuringObserve.READ_EVERYTHING
            )
            (oldest,) = await take(
                client.observe_events(
                    subject, ObserveEventsOptions(recursive=False, from_latest_event=missing)
                ),
                1,
            )
            assert oldest.event_id == first.event_id

            # Waiting for a type not yet written: the stream starts at its first event.
            waiting = ObserveFromLatestEvent(
                subject, "io.parley.RoundScheduled", IfEventIsMissingDuringObserve.WAIT_FOR_EVENT
            )
            options = ObserveEventsOptions(recursive=False, from_latest_event=waiting)
            async with aclosing(client.observe_events(subject, options)) as stream:
                next_event = asyncio.ensure_future(anext(stream))
                await asyncio.sleep(1)  # heartbeats go by meanwhile
                await client.write_events([statement_candidate(subject, "not yet")])
                await asyncio.sleep(0.5)
                assert not next_event.done()
                (scheduled,) = await client.write_events([round_scheduled(subject)])
                assert (await next_event).event_id == scheduled.event_id
                await client.write_events([statement_candidate(subject, "after")])
                assert (await anext(stream)).data["data"]["summary"] == "after"

    run(scenario())
    assert len(parley_events(parley, slug)) == 8


def round_scheduled(subject: str) -> EventCandidate:
    return EventCandidate(
        "https://desk.example.org",
        subject,
        "io.parley.RoundScheduled",
        {
            "occurred_at": "2025-03-27",
            "data": {"round": 1, "starts_at": "2025-04-01", "place": {"country": "SAU"}},
            "sources": [{"outlet": "AP"}],
        },
    )


async def take(events: AsyncIterator[Event], count: int) -> list[Event]:
    """The first ``count`` events of a stream, which is then closed."""
    taken: list[Event] = []
    async with aclosing(events) as stream:
        async for event in stream:
            taken.append(event)
            if len(taken) == count:
                break
    return taken


def test_subjects_and_event_types_are_listed_and_schemas_are_fixed(parley: Server) -> None:
    async def scenario() -> None:
        async with Client(parley.url, READ_TOKEN) as client:
            subjects = await collect(client.read_subjects("/", ReadSubjectsOptions(recursive=True)))
            assert subjects[:2] == ["/", "/negotiations"]
            assert "/negotiations/istanbul-2025" in subjects
            alone = ReadSubjectsOptions(recursive=False)
            assert await collect(client.read_subjects("/negotiations/istanbul-2025", alone)) == [
                "/negotiations/istanbul-2025"
            ]
            assert await collect(client.read_subjects("/books", alone)) == []

            types = await collect(client.read_event_types())
            assert len(types) == len(EVENT_TYPES)  # issue 16's types among them
            assert "io.parley.ViolationAlleged" in {t.type for t in types}
            assert all(t.type.startswith("io.parley.") and t.has_events for t in types)
            held = await client.read_event_type("io.parley.RoundHeld")
            assert held.schema is not None
            assert {"occurred_at", "sources", "data"} <= set(held.schema["properties"])
            assert "type" not in held.schema["properties"]
            unknown = await failure(client.read_event_type("io.parley.TreatySigned"))
            assert unknown.status == 404 and unknown.code == ErrorCode.EVENT_TYPE_UNKNOWN.value

            assert (
                await failure(collect(client.run_eventql_query("FROM e IN events")))
            ).status == 400
        async with Client(parley.url, TOKEN) as admin:
            fixed = await failure(admin.register_event_schema("io.parley.RoundHeld", {}))
            assert fixed.status == 409
            assert fixed.code == ErrorCode.EVENT_SCHEMA_ALREADY_REGISTERED.value
            other = await failure(admin.register_event_schema("io.example.Thing", {}))
            assert other.status == 400

    run(scenario())


def test_the_readme_example_opens_appends_reads_and_observes(
    parley: Server, tmp_path: Path
) -> None:
    readme = (REPO / "README.md").read_text()
    found = re.search(
        r"<!-- esdb-example -->\s*```python\n(.*?)```\s*<!-- /esdb-example -->", readme, re.S
    )
    assert found, "README has no <!-- esdb-example --> block"
    script = tmp_path / "example.py"
    script.write_text(found.group(1))
    example = subprocess.Popen(
        [sys.executable, str(script)],
        env={**os.environ, "PARLEY": parley.url, "TOKEN": TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(x) for x in example.stdout or ()], daemon=True
    ).start()
    try:
        printed = [lines.get(timeout=HANG_GUARD) for _ in range(2)]
        assert [line.split()[1] for line in printed] == [
            "io.parley.NegotiationOpened",
            "io.parley.StatementIssued",
        ], printed
        # It observes every negotiation: an event written anywhere shows up live.
        slug = "istanbul-2025"
        written = httpx.post(
            f"{parley.url}/negotiations/{slug}/events",
            json={
                "type": "StatementIssued",
                "occurred_at": "2025-05-29",
                "data": {"speaker": "UKR", "summary": "Kyiv asks for the memorandum"},
                "sources": [{"outlet": "Reuters"}],
            },
            headers=AUTH,
        )
        assert written.status_code == 201, written.text
        position = written.json()["events"][0]["position"]
        live = lines.get(timeout=HANG_GUARD)
        assert live.split() == [
            "live:",
            str(position),
            f"/negotiations/{slug}",
            "io.parley.StatementIssued",
        ]
    finally:
        example.terminate()
        example.wait(HANG_GUARD)
