"""``GET /events/stream`` on a real ``parley serve`` process, through real HTTP clients.

Each backend gets one server for the module (heartbeats every 0.3 s), loaded with the
founding example, plus one with a 50-event client buffer for the slow-client test. Tests
share the server's log, so each reads the positions it expects from the log itself.
Timeouts only guard against hangs; nothing here asserts on time.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from builders import statement_body
from fastapi.testclient import TestClient
from httpx_sse import EventSource, ServerSentEvent, aconnect_sse, connect_sse
from support import EXAMPLE, Server, settings_for, start_server, stop_server, store_env

from api.http.app import create_app
from store.config import StoreConfig
from store.log import ConflictLog

HANG_GUARD = 60.0
SLUG = "istanbul-2025"
AFTER_THE_EXAMPLE = "2025-05-29"


SERVER_ENV = {"PARLEY_HEARTBEAT_SECONDS": "0.3"}  # shared_server's


@pytest.fixture(scope="module")
def live(shared_server: Server) -> Server:
    """A server with the example loaded, shared by this module's tests on one backend."""
    return shared_server


def later_statement(summary: str, **envelope: Any) -> dict[str, Any]:
    """A statement after the example's last day: what the shared server's state shows as
    of any day that the other tests read stays the example's."""
    return statement_body(summary, speaker="UKR", occurred_at=AFTER_THE_EXAMPLE, **envelope)


def append(server: Server, events: list[dict[str, Any]], slug: str = SLUG) -> list[int]:
    response = httpx.post(
        f"{server.url}/negotiations/{slug}/events",
        json=events,
        headers=server.auth,
        timeout=HANG_GUARD,
    )
    assert response.status_code == 201, response.text
    return [e["position"] for e in response.json()["events"]]


def log_events(server: Server, after: int = 0) -> list[dict[str, Any]]:
    """Every event in the log after ``after``, as GET /events shows them."""
    found: list[dict[str, Any]] = []
    while True:
        page = httpx.get(
            f"{server.url}/events", params={"after": after, "limit": 1000}, timeout=HANG_GUARD
        ).json()["events"]
        if not page:
            return found
        found += page
        after = found[-1]["position"]


def log_positions(
    server: Server, *, negotiation: str | None = None, types: tuple[str, ...] = ()
) -> list[int]:
    return [
        e["position"]
        for e in log_events(server)
        if (negotiation is None or e["negotiation"] == negotiation)
        and (not types or e["type"] in types)
    ]


def last_position(server: Server) -> int:
    return max([0, *log_positions(server)])


def read_events(source: EventSource, until: int) -> tuple[list[ServerSentEvent], int]:
    """Read events (not heartbeats) until one at position ``until``; return them and
    how many heartbeats went by."""
    events, heartbeats = [], 0
    for sse in source.iter_sse():
        if sse.event == "heartbeat":
            heartbeats += 1
            continue
        events.append(sse)
        if int(sse.id) >= until:
            break
    return events, heartbeats


def test_a_stream_resumed_with_last_event_id_loses_and_repeats_nothing(live: Server) -> None:
    append(live, [later_statement(f"before {i}") for i in range(5)])
    first_end = last_position(live)
    with httpx.Client(base_url=live.url, timeout=HANG_GUARD) as client:
        with connect_sse(client, "GET", "/events/stream", params={"after": 0}) as source:
            assert source.response.headers["content-type"].startswith("text/event-stream")
            head, _ = read_events(source, until=7)
        # Disconnected; the log moves on.
        appended = append(live, [later_statement(f"while away {i}") for i in range(10)])
        with connect_sse(
            client, "GET", "/events/stream", headers={"Last-Event-ID": head[-1].id}
        ) as source:
            rest, _ = read_events(source, until=appended[-1])
    got = [int(e.id) for e in head + rest]
    assert got == log_positions(live) == sorted(set(got))
    assert got[-1] == appended[-1] and first_end < appended[0]
    # Each event's data is the event as GET /events shows it.
    assert [json.loads(e.data) for e in head + rest] == log_events(live)
    assert all(e.event == json.loads(e.data)["type"] for e in head + rest)


def test_after_resumes_and_last_event_id_wins_over_it(live: Server) -> None:
    end = last_position(live)
    with httpx.Client(base_url=live.url, timeout=HANG_GUARD) as client:
        with connect_sse(client, "GET", "/events/stream", params={"after": end - 2}) as source:
            events, _ = read_events(source, until=end)
        assert [int(e.id) for e in events] == [end - 1, end]
        with connect_sse(
            client,
            "GET",
            "/events/stream",
            params={"after": 0},
            headers={"Last-Event-ID": str(end - 1)},
        ) as source:
            events, _ = read_events(source, until=end)
        assert [int(e.id) for e in events] == [end]


def test_filters_by_negotiation_and_type_from_the_store_and_live(live: Server) -> None:
    geneva = f"geneva-{uuid.uuid4().hex[:6]}"
    opened = httpx.post(
        f"{live.url}/negotiations",
        json={"slug": geneva, "title": "Geneva", "parties": ["RUS", "UKR"]},
        headers=live.auth,
    )
    assert opened.status_code == 201, opened.text
    append(live, [later_statement("Geneva, before")], slug=geneva)
    rounds = ("RoundScheduled", "HostAnnounced")
    streams: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
        "negotiation": ({"negotiation": geneva}, {"negotiation": geneva}),
        "comma": ({"type": ",".join(rounds)}, {"types": rounds}),
        "repeated": ({"type": list(rounds)}, {"types": rounds}),
        "both": (
            {"negotiation": SLUG, "type": "StatementIssued"},
            {"negotiation": SLUG, "types": ("StatementIssued",)},
        ),
    }
    round_scheduled = {
        "type": "RoundScheduled",
        "occurred_at": "2025-05-30",
        "data": {
            "round": 3,
            "starts_at": "2025-07-01",
            "place": {"city": "Istanbul", "country": "TUR", "region": "TR-34"},
        },
        "sources": [{"outlet": "TASS"}],
    }
    with httpx.Client(base_url=live.url, timeout=HANG_GUARD) as client:
        for name, (params, wanted) in streams.items():
            with connect_sse(client, "GET", "/events/stream", params=params) as source:
                got: list[int] = []
                marker = None
                for sse in source.iter_sse():
                    if sse.event != "heartbeat":
                        got.append(int(sse.id))
                    elif marker is None:  # caught up from the store: now some live events
                        append(live, [later_statement("Geneva, live")], slug=geneva)
                        istanbul = [later_statement("Istanbul, live"), round_scheduled]
                        marker = append(live, istanbul)[-1]
                    elif int(sse.id) >= marker:
                        break  # a heartbeat follows every matching event up to its id
            expected = [p for p in log_positions(live, **wanted) if p <= marker]
            assert got == expected, name


def test_heartbeats_on_an_idle_filtered_stream_advance_past_unwanted_events(live: Server) -> None:
    params = {"type": "CeasefireDeclared"}  # the log has none
    with httpx.Client(base_url=live.url, timeout=HANG_GUARD) as client:
        with connect_sse(client, "GET", "/events/stream", params=params) as source:
            beats = source.iter_sse()
            first, second = next(beats), next(beats)
            assert first.event == second.event == "heartbeat"
            assert json.loads(first.data) == {"position": int(first.id)}
            assert int(first.id) == last_position(live)
            unwanted = append(live, [later_statement("not a ceasefire") for _ in range(3)])
            for beat in beats:
                assert beat.event == "heartbeat"
                if int(beat.id) == unwanted[-1]:
                    break
        # Resuming from the heartbeat's id starts past the unwanted events.
        ceasefire = {
            "type": "CeasefireDeclared",
            "occurred_at": "2025-05-30",
            "data": {"parties": ["RUS", "UKR"], "effective_from": "2025-06-01"},
            "sources": [{"outlet": "TASS"}],
        }
        wanted = append(live, [ceasefire])[0]
        with connect_sse(
            client, "GET", "/events/stream", params=params, headers={"Last-Event-ID": beat.id}
        ) as source:
            (event,), _ = read_events(source, until=wanted)
    assert (event.event, int(event.id)) == ("CeasefireDeclared", wanted)


def test_fifty_concurrent_streams_each_receive_every_appended_event_in_order(
    live: Server,
) -> None:
    clients, count = 50, 100
    start = last_position(live)

    async def main() -> tuple[list[int], list[list[int]]]:
        limits = httpx.Limits(max_connections=clients + 5)
        async with httpx.AsyncClient(base_url=live.url, timeout=HANG_GUARD, limits=limits) as c:
            ready = [asyncio.Event() for _ in range(clients)]

            async def listen(index: int) -> list[int]:
                got: list[int] = []
                async with aconnect_sse(
                    c, "GET", "/events/stream", headers={"Last-Event-ID": str(start)}
                ) as source:
                    async for sse in source.aiter_sse():
                        ready[index].set()  # a heartbeat: caught up and live
                        if sse.event != "heartbeat":
                            got.append(int(sse.id))
                            if len(got) == count:
                                return got
                return got

            async def write() -> list[int]:
                for event in ready:
                    await event.wait()
                positions: list[int] = []
                for i in range(count):
                    response = await c.post(
                        f"/negotiations/{SLUG}/events",
                        json=later_statement(f"fan-out {i}"),
                        headers=live.auth,
                    )
                    assert response.status_code == 201, response.text
                    positions.append(response.json()["events"][0]["position"])
                return positions

            async with asyncio.timeout(HANG_GUARD):
                listeners = [asyncio.create_task(listen(i)) for i in range(clients)]
                written = await write()
                return written, list(await asyncio.gather(*listeners))

    written, received = asyncio.run(main())
    assert written == list(range(start + 1, start + count + 1))
    assert all(got == written for got in received)


def test_ndjson_serves_events_and_heartbeats_as_json_lines(live: Server) -> None:
    end = last_position(live)
    lines: list[dict[str, Any]] = []
    with httpx.stream(
        "GET",
        f"{live.url}/events/stream",
        params={"after": end - 3},
        headers={"Accept": "application/x-ndjson"},
        timeout=HANG_GUARD,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        for line in response.iter_lines():
            lines.append(json.loads(line))
            if len([x for x in lines if x.get("heartbeat")]) == 2:
                break
    events = [x for x in lines if "heartbeat" not in x]
    assert [e["position"] for e in events] == [end - 2, end - 1, end]
    assert events == log_events(live, after=end - 3)
    assert lines[-1] == {"heartbeat": True, "position": end}


def test_stream_errors_are_problems_naming_the_field(live: Server) -> None:
    def get(**kwargs: Any) -> httpx.Response:
        return httpx.get(f"{live.url}/events/stream", timeout=HANG_GUARD, **kwargs)

    for response, field in (
        (get(params={"after": "seven"}), "after"),
        (get(params={"after": -1}), "after"),
        (get(headers={"Last-Event-ID": "x7"}), "Last-Event-ID"),
        (get(params={"type": "Ceasefire"}), "type"),
    ):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["field"] == field
    missing = get(params={"negotiation": "no-such-talks"})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    # "stream" is a route, and /events/{id} still reads ids.
    assert httpx.get(f"{live.url}/events/{uuid.uuid4()}").status_code == 404


def test_a_configured_read_token_guards_the_stream(
    log: ConflictLog, store_config: StoreConfig
) -> None:
    app = create_app(settings_for(store_config, read_token="reader"), log=log)
    with TestClient(app) as client:
        refused = client.get("/events/stream")
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        # With the token the request gets past auth (and here to the negotiation check).
        missing = client.get(
            "/events/stream",
            params={"negotiation": "no-such-talks"},
            headers={"Authorization": "Bearer reader"},
        )
        assert missing.status_code == 404


@pytest.fixture
def small_buffer(store_config: StoreConfig) -> Iterator[Server]:
    """A server whose clients may fall only 50 events behind."""
    env = {
        "PARLEY_EXAMPLE": str(EXAMPLE),
        "PARLEY_STREAM_BUFFER": "50",
        **SERVER_ENV,
        **store_env(store_config),
    }
    running = start_server(env, store_config.data_dir)
    yield running
    stop_server(running)


def test_a_client_that_stops_reading_is_told_where_to_resume_and_stalls_nobody(
    small_buffer: Server,
) -> None:
    server = small_buffer
    start = last_position(server)
    with httpx.Client(base_url=server.url, timeout=HANG_GUARD) as stalled_client:
        with connect_sse(
            stalled_client, "GET", "/events/stream", headers={"Last-Event-ID": str(start)}
        ) as stalled:
            # Another client reads everything while the writer appends: big events fill
            # the socket buffers, then over 50 small ones overflow the stalled client's.
            reader_got: list[int] = []
            reader_ready = threading.Event()

            def read_all(until: int) -> None:
                with httpx.Client(base_url=server.url, timeout=HANG_GUARD) as client:
                    with connect_sse(
                        client, "GET", "/events/stream", headers={"Last-Event-ID": str(start)}
                    ) as source:
                        for sse in source.iter_sse():
                            reader_ready.set()
                            if sse.event != "heartbeat":
                                reader_got.append(int(sse.id))
                                if int(sse.id) >= until:
                                    return

            bigs = big_events_to_block_a_connection()
            total = bigs + 120
            reader = threading.Thread(target=read_all, args=(start + total,), daemon=True)
            reader.start()
            assert reader_ready.wait(HANG_GUARD)
            written: list[int] = []
            for i in range(bigs):
                written += append(server, [big(i)])
            for i in range(12):
                written += append(server, [later_statement(f"small {i}.{j}") for j in range(10)])
            assert len(written) == total  # every append completed
            reader.join(HANG_GUARD)
            assert reader_got == written

            # Now the stalled client reads: what was in flight, then the overflow.
            received: list[int] = []
            final = None
            for sse in stalled.iter_sse():
                if sse.event == "overflow":
                    final = json.loads(sse.data)
                elif sse.event != "heartbeat":
                    received.append(int(sse.id))
                elif received and received[-1] == written[-1]:
                    break  # it got everything: the connection never blocked
            assert final is not None, "the stream should end with an overflow message"
            assert final["resume_after"] == received[-1]
            assert "resume" in final["detail"]
            assert received == written[: len(received)] and len(received) < total

    # Resuming where it says loses nothing.
    with httpx.Client(base_url=server.url, timeout=HANG_GUARD) as client:
        with connect_sse(
            client, "GET", "/events/stream", headers={"Last-Event-ID": str(received[-1])}
        ) as source:
            rest, _ = read_events(source, until=written[-1])
    assert received + [int(e.id) for e in rest] == written


BIG = 100 * 4000  # bytes of terms in one big event


def big_events_to_block_a_connection() -> int:
    """How many big events outgrow what the kernel buffers for one idle connection: the
    sender's buffer (at most tcp_wmem's maximum) and the receiver's (tcp_rmem's default,
    which only grows as the application reads)."""
    buffered = 0
    for name, column in (("tcp_wmem", 2), ("tcp_rmem", 1)):
        try:
            buffered += int(Path(f"/proc/sys/net/ipv4/{name}").read_text().split()[column])
        except (OSError, IndexError, ValueError):
            buffered += 8 * 1024 * 1024
    return buffered // BIG + 5


def big(i: int) -> dict[str, Any]:
    return {
        "type": "ProposalMade",
        "occurred_at": "2025-05-29",
        "data": {
            "proposal_id": f"big-{i}",
            "proposer": "RUS",
            "addressee": "UKR",
            "subject": "memorandum",
            "summary": "a long memorandum",
            "terms": ["x" * 4000] * (BIG // 4000),
        },
        "sources": [{"outlet": "TASS"}],
    }
