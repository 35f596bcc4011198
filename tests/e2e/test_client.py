"""``parley.client`` against a real ``parley serve`` process, on SQLite and PostgreSQL.

Each backend gets one server for the module, loaded with the founding example, with a
read token set (so that reads need a token too) and heartbeats every 0.3 s. Tests that
write use a negotiation of their own. The typed answers are compared with the JSON the
server sent, so that a model that drops or bends a field fails. Stream tests drop the
connection through a TCP proxy that can cut it, or restart the server on its port.
Timeouts only guard against hangs; nothing here asserts on time.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from builders import statement_body
from support import EXAMPLE, REPO, Server, start_server, stop_server, store_env

from api.cli import main as cli
from api.cli import remote
from api.signing import check_signature, load_public_key
from domain.events import parse_event
from parley import (
    Client,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    ParleyError,
    PayloadTooLargeError,
    UnauthorizedError,
)
from parley.client import ExportFormat
from parley.models import Event, Heartbeat, Negotiation
from store.config import StoreConfig
from store.heads import Head

SLUG = "istanbul-2025"
AFTER_THE_EXAMPLE = "2025-05-29"
READER = "reader-token"
DISPUTED = "3221c451-fe72-4f21-b409-4d50f4b07cdd"  # who phoned whom
HANG_GUARD = 60.0
README = (REPO / "README.md").read_text()


SERVER_ENV = {"PARLEY_READ_TOKEN": READER, "PARLEY_HEARTBEAT_SECONDS": "0.3"}  # shared_server


def server_env(store: StoreConfig | None = None, **extra: str) -> dict[str, str]:
    return {
        "PARLEY_EXAMPLE": str(EXAMPLE),
        **SERVER_ENV,
        **extra,
        **(store_env(store) if store is not None else {}),
    }


@pytest.fixture(scope="module")
def live(shared_server: Server) -> Server:
    """A server with the example loaded, shared by this module's tests on one backend."""
    return shared_server


@pytest.fixture
def parley(live: Server) -> Iterator[Client]:
    with Client(live.url, token=live.token, timeout=HANG_GUARD) as client:
        yield client


def raw(server: Server, path: str, **params: Any) -> Any:
    """The JSON the server sends for ``path``, read without the client."""
    answer = httpx.get(server.url + path, params=params, headers=server.auth, timeout=HANG_GUARD)
    assert answer.status_code == 200, answer.text
    return answer.json()


def dumped(model: Any) -> Any:
    """The model as the JSON it was read from (optional fields the server left out, out)."""
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)


def later_statement(summary: str, **envelope: Any) -> dict[str, Any]:
    """A statement after the example's last day: what the shared server's state shows as
    of any day that the other tests read stays the example's."""
    return statement_body(summary, speaker="UKR", **{"occurred_at": AFTER_THE_EXAMPLE, **envelope})


def new_slug() -> str:
    return f"talks-{uuid.uuid4().hex[:8]}"


def opened(parley: Client) -> str:
    slug = new_slug()
    parley.open(slug, "Black Sea shipping talks", ["RUS", "UKR"], ["TUR"], occurred_at="2025-03-25")
    return slug


def test_importing_the_client_loads_nothing_of_the_server(tmp_path: Path) -> None:
    code = (
        "import sys, parley, parley.client\n"
        "server = {'fastapi', 'starlette', 'uvicorn', 'eventsourcing', 'psycopg',\n"
        "          'domain', 'store', 'projections', 'api'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & server))"
    )
    result = run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# -- writes -----------------------------------------------------------------------------


def test_open_append_and_batch_guarded_by_expected_version(parley: Client) -> None:
    slug = new_slug()
    negotiation = parley.open(
        slug, "Black Sea shipping talks", ["RUS", {"country": "UKR", "name": "Kyiv"}], ["TUR"]
    )
    assert (negotiation.negotiation, negotiation.version) == (slug, 1)
    assert [p.country for p in negotiation.parties] == ["RUS", "UKR"]

    one = parley.append(slug, later_statement("first", id=str(uuid.uuid4())), expected_version=1)
    assert one.version == 2 and one.events[0].stored == "created"
    pair = [later_statement("second"), later_statement("third")]
    batch = parley.append_batch(slug, pair, expected_version=2)
    assert batch.version == 4 and [e.version for e in batch.created] == [3, 4]
    assert batch.position == batch.events[-1].position

    with pytest.raises(ConflictError) as stale:
        parley.append(slug, later_statement("late"), expected_version=2)
    assert stale.value.status == 409 and stale.value.type == "/problems/version-conflict"
    assert stale.value.current_version == 4
    with pytest.raises(ConflictError) as stale_batch:
        late = [later_statement("late"), later_statement("later")]
        parley.append_batch(slug, late, expected_version=3)
    assert stale_batch.value.current_version == 4
    assert parley.negotiation(slug).version == 4  # neither stored anything

    again = parley.append(slug, later_statement("first", id=str(one.events[0].id)))
    assert (again.events[0].stored, again.events[0].position) == ("existing", one.position)


def test_a_domain_event_model_is_appended_by_its_json_names(parley: Client) -> None:
    slug = opened(parley)
    event = parse_event(later_statement("typed", occurred_at="2025-03-26"))
    appended = parley.append(slug, event)
    stored = parley.event(event.id)
    assert appended.events[0].id == event.id
    assert (stored.type, stored.data["summary"], stored.negotiation) == (
        "StatementIssued",
        "typed",
        slug,
    )


def test_an_invalid_event_is_a_422_naming_the_field_and_stores_nothing(parley: Client) -> None:
    slug = opened(parley)
    zone = {
        "type": "SecurityZoneDeclared",
        "occurred_at": "2025-05-22",
        "data": {"declared_by": "RUS", "regions": ["07"]},
        "sources": [{"outlet": "TASS"}],
    }
    with pytest.raises(InvalidInputError) as invalid:
        parley.append_batch(slug, [later_statement("fine"), zone])
    error = invalid.value
    assert error.status == 422 and error.type == "/problems/invalid"
    assert error.fields == ["events.1.data.regions.0"]
    assert "ISO 3166-2" in error.errors[0]["message"] and error.errors[0]["value"] == "07"
    assert "events.1.data.regions.0" in error.detail
    assert parley.negotiation(slug).version == 1


def test_a_batch_over_the_body_limit_is_a_413_that_says_to_split_it(parley: Client) -> None:
    slug = opened(parley)
    long = [later_statement("x" * 4000) for _ in range(300)]  # about 1.3 MB, over 1 MiB
    with pytest.raises(PayloadTooLargeError) as too_large:
        parley.append_batch(slug, long)
    assert too_large.value.status == 413 and "split the batch" in too_large.value.detail
    assert parley.negotiation(slug).version == 1


def test_a_bad_query_parameter_is_a_422_naming_it(parley: Client) -> None:
    with pytest.raises(InvalidInputError) as invalid:
        parley.state(SLUG, as_of="28 May")
    assert invalid.value.fields == ["as_of"]
    with pytest.raises(InvalidInputError) as backwards:
        parley.timeline(SLUG, from_="2025-05-28", to="2025-05-01")
    assert backwards.value.fields == ["from"]


# -- auth and missing things -------------------------------------------------------------


def test_auth_errors_are_401_without_a_token_and_403_for_a_read_token_writing(
    live: Server,
) -> None:
    with Client(live.url) as anonymous, pytest.raises(UnauthorizedError) as unread:
        anonymous.state(SLUG)
    assert unread.value.status == 401 and "Bearer" in unread.value.detail
    with Client(live.url, token="not-a-token") as stranger, pytest.raises(UnauthorizedError):
        stranger.append(SLUG, later_statement("nope"))
    with Client(live.url, token=READER) as reader:
        assert reader.state(SLUG).negotiation == SLUG
        with pytest.raises(ForbiddenError) as forbidden:
            reader.append(SLUG, later_statement("nope"))
    assert forbidden.value.status == 403 and "append" in forbidden.value.detail
    assert isinstance(forbidden.value, ParleyError)


def test_unknown_negotiations_and_events_are_404_with_the_problem(parley: Client) -> None:
    with pytest.raises(NotFoundError) as missing:
        parley.state("no-such-talks")
    assert missing.value.problem["negotiation"] == "no-such-talks"
    assert missing.value.title == "Not found" and "no-such-talks" in str(missing.value)
    with pytest.raises(NotFoundError):
        parley.event(uuid.uuid4())
    with pytest.raises(NotFoundError):
        parley.append("no-such-talks", later_statement("nowhere"))


# -- reads ---------------------------------------------------------------------------------


def test_negotiations_and_summaries_match_the_servers_json(live: Server, parley: Client) -> None:
    appended = parley.append(opened(parley), later_statement("read me"))
    listed = parley.negotiations(wait_for=appended.position)
    sent = raw(live, "/negotiations", wait_for=appended.position)["negotiations"]
    # The list writes UTC as +00:00 where other answers write Z: compare the instants.
    assert listed == [Negotiation.model_validate(n) for n in sent]
    assert [set(dumped(n)) for n in listed] == [set(n) for n in sent]
    assert dumped(parley.negotiation(SLUG)) == raw(live, f"/negotiations/{SLUG}")


@pytest.mark.parametrize(
    "as_of, known_at",
    [("2025-05-17", None), ("2025-05-28", None), ("2025-05-28", "2025-01-01T00:00Z"), (None, None)],
)
def test_state_as_of_and_known_at_matches_the_servers_json(
    live: Server, parley: Client, as_of: str | None, known_at: str | None
) -> None:
    state = parley.state(SLUG, as_of=as_of, known_at=known_at)
    # Defaults are now: repeat the query with the moments the answer echoes.
    echoed = dumped(state)
    params = {key: echoed[key] for key in ("as_of", "known_at", "reported_at")}
    assert echoed == raw(live, f"/negotiations/{SLUG}/state", **params)
    if known_at:
        assert state.event_count == 0 and state.rounds == []


def test_the_state_reads_as_typed_objects(parley: Client) -> None:
    before = parley.state(SLUG, as_of="2025-05-17")
    assert [(r.round, r.status) for r in before.rounds] == [(1, "held")]
    after = parley.state(SLUG, as_of="2025-05-28")
    second = after.rounds[1]
    assert second.round == 2 and second.host is not None and second.host.country == "TUR"
    assert second.place is not None and second.place.city == "Istanbul"
    assert {tuple(z.regions) for z in after.security_zones} == {("UA-63", "UA-59")}
    assert [str(c.event_id) for c in after.contested] == [DISPUTED]
    assert after.position is not None and after.position > (before.position or 0)


def test_timeline_and_diff_match_the_servers_json(live: Server, parley: Client) -> None:
    # A later known_at is clamped to now: repeat with the bounds the answer echoes.
    timeline = parley.timeline(SLUG, from_="2025-05-19", to="2025-05-19", known_at="2030-01-01")
    bounds = {key: dumped(timeline)[key] for key in ("known_at", "reported_at")}
    assert dumped(timeline) == raw(
        live,
        f"/negotiations/{SLUG}/timeline",
        **{"from": "2025-05-19", "to": "2025-05-19", **bounds},
    )
    assert timeline.events and timeline.from_ is not None
    diff = parley.diff(SLUG, "2025-05-17", "2025-05-28", **bounds)
    assert dumped(diff) == raw(
        live,
        f"/negotiations/{SLUG}/diff",
        **{"from": "2025-05-17", "to": "2025-05-28", **bounds},
    )
    assert [(c.model_extra or {}).get("round") for c in diff.rounds if c.change == "added"] == [2]


def test_an_event_reads_with_its_disputes(live: Server, parley: Client) -> None:
    event = parley.event(DISPUTED)
    assert dumped(event) == raw(live, f"/events/{DISPUTED}")
    assert [d.type for d in event.disputes] == ["ClaimDisputed"]


def test_event_pages_and_search_follow_the_servers_filters(live: Server, parley: Client) -> None:
    page = parley.events(SLUG, limit=3, type=["ProposalMade", "RoundHeld"], as_of="2025-05-28")
    assert dumped(page) == raw(
        live,
        f"/negotiations/{SLUG}/events",
        limit=3,
        type="ProposalMade,RoundHeld",
        as_of="2025-05-28",
    )
    assert page.next is not None and "type=ProposalMade" in page.next

    everything = list(parley.search(SLUG, page_size=2))
    assert [e.version for e in everything] == list(range(1, 17))
    proposals = list(parley.search(type="ProposalMade", page_size=1))
    assert proposals and {e.type for e in proposals} == {"ProposalMade"}
    log = raw(live, "/events", type="ProposalMade", limit=1000)["events"]
    assert [str(e.id) for e in proposals] == [e["id"] for e in log]

    first = parley.global_log(after=0, limit=2)
    assert [e.position for e in first.events] == [1, 2]
    # Filters the client does not know go through as they are, and the server's next
    # page keeps them: the search filters of GET /events travel this way.
    filtered = parley.global_log(limit=1, negotiation=SLUG, q="Istanbul", outlet="teleSUR")
    assert filtered.next is not None
    assert {"negotiation=istanbul-2025", "q=Istanbul", "outlet=teleSUR"} <= set(
        filtered.next.split("?", 1)[1].split("&")
    )


# -- heads, keys, verify, health -------------------------------------------------------------


def test_a_head_read_by_the_client_verifies_with_the_servers_key(
    live: Server, parley: Client
) -> None:
    head = parley.head(SLUG)
    assert dumped(head) == raw(live, f"/negotiations/{SLUG}/head")
    (key,) = parley.keys()
    assert key.key_id == head.key_id and key.algorithm == "Ed25519"
    public = load_public_key(key.public_key)
    assert check_signature(Head.from_json(dumped(head)), public) is None
    forged = Head.from_json({**dumped(head), "version": head.version - 1})
    assert check_signature(forged, public) is not None


def test_verify_and_health(parley: Client) -> None:
    report = parley.verify()
    assert report.ok and report.first_break is None and report.events >= 16
    health = parley.health()
    assert health.status == "ok" and health.position >= report.events


# -- export ------------------------------------------------------------------------------------


def has_export(server: Server) -> bool:
    return "/negotiations/{slug}/export" in raw(server, "/openapi.json")["paths"]


def test_export_streams_the_servers_bytes_in_each_format(live: Server, parley: Client) -> None:
    if not has_export(live):
        pytest.skip("this server has no GET /negotiations/{slug}/export")
    ids = {str(e.id) for e in parley.search(SLUG)}
    # The defaults are now, and a later known_at is clamped to now: pin the echoed bounds.
    head = json.loads(parley.export(SLUG, "ndjson", as_of="2030-01-01").splitlines()[0])["export"]
    moments = {key: head[key] for key in ("as_of", "known_at", "reported_at")}
    formats: tuple[ExportFormat, ...] = ("ndjson", "csv", "plover")
    for format in formats:
        answer = httpx.get(
            f"{live.url}/negotiations/{SLUG}/export",
            params={"format": format, **moments},
            headers=live.auth,
            timeout=HANG_GUARD,
        )
        text = parley.export(SLUG, format, **moments)
        assert text.encode() == answer.content
        assert list(parley.iter_export(SLUG, format, **moments)) == text.splitlines()
        sink = io.BytesIO()
        assert parley.export_to(SLUG, sink, format, **moments) == len(answer.content)
        assert sink.getvalue() == answer.content
        assert all(event_id in text for event_id in ids)
    text = parley.export(SLUG, "csv", type=["ProposalMade"], from_="2025-05-28", to="2025-05-28")
    rows = list(csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#")))
    assert {"event_date", "event_type", "actor1"} <= set(rows[0])
    assert [(r["event_type"], r["event_date"]) for r in rows] == [
        ("ProposalMade", "2025-05-28")
    ] * 2
    with pytest.raises(NotFoundError):
        parley.export("no-such-talks", "csv")
    with pytest.raises(InvalidInputError) as invalid:
        parley.export(SLUG, "xml")  # type: ignore[arg-type]
    assert invalid.value.fields == ["format"]


def readme_block(name: str) -> str:
    found = re.search(rf"<!-- {name} -->\s*```python\n(.*?)```", README, re.S)
    assert found, f"README has no <!-- {name} --> block"
    return found.group(1)


def run_python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_readme_client_example_runs_as_written(live: Server, tmp_path: Path) -> None:
    result = run_python(readme_block("client-example"), tmp_path, PARLEY=live.url, TOKEN=live.token)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("409 ") and lines[0].endswith("now at 4"), lines
    assert "2 proposed 2025-06-02 TUR" in lines and lines[-5].endswith(" True")
    streamed = [line.split() for line in lines[-4:]]
    assert [kind for _, kind in streamed] == ["NegotiationOpened", *["StatementIssued"] * 3]
    positions = [int(position) for position, _ in streamed]
    assert positions == sorted(set(positions))


def test_the_readme_pandas_analysis_counts_proposals_per_month_by_proposer(
    live: Server, tmp_path: Path
) -> None:
    pytest.importorskip("pandas")
    if not has_export(live):
        pytest.skip("this server has no GET /negotiations/{slug}/export")
    code = readme_block("pandas-example")
    result = run_python(code, tmp_path, PARLEY=live.url, PARLEY_TOKEN=READER)
    assert result.returncode == 0, result.stderr
    expected = "actor1 RUS Vladimir Medinsky Vladimir Putin month 2025-05 1 1 1"
    assert result.stdout.split() == expected.split()


# -- the live stream ---------------------------------------------------------------------------


class Proxy:
    """A TCP proxy on loopback to ``port`` that can cut every connection through it; new
    connections go to whatever ``port`` is then."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections = 0
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.port))
            except OSError:  # nothing listens there now: refuse, as the server would
                client.close()
                continue
            with self._lock:
                self.connections += 1
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        for end in (source, sink):  # shutdown, not only close: it wakes the other pump
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def cut(self) -> None:
        """Drop every open connection, as a flaky network would; keep listening."""
        with self._lock:
            for end in self._open:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()


def port_of(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def take(stream: Iterator[Event | Heartbeat], count: int) -> list[Event]:
    """The next ``count`` events of ``stream`` (heartbeats skipped)."""
    events: list[Event] = []
    for item in stream:
        if isinstance(item, Event):
            events.append(item)
            if len(events) == count:
                break
    return events


def test_a_stream_resumes_after_a_dropped_connection_losing_and_repeating_nothing(
    live: Server, parley: Client
) -> None:
    slug = opened(parley)
    start = parley.negotiation(slug).last_position
    proxy = Proxy(port_of(live))
    try:
        with Client(proxy.url, token=READER, timeout=HANG_GUARD) as follower:
            stream = follower.stream(negotiation=slug, after=start, heartbeats=True)
            first = parley.append_batch(slug, [later_statement(f"before {i}") for i in range(3)])
            assert [e.position for e in take(stream, 3)] == [e.position for e in first.events]
            proxy.cut()
            second = parley.append_batch(slug, [later_statement(f"after {i}") for i in range(3)])
            resumed = take(stream, 3)
            assert [e.position for e in resumed] == [e.position for e in second.events]
            assert [e.data["summary"] for e in resumed] == [f"after {i}" for i in range(3)]
            stream.close()
        assert proxy.connections == 2  # the drop was real and one reconnect resumed it
    finally:
        proxy.close()


def test_a_filtered_streams_heartbeats_move_past_events_it_does_not_want(
    parley: Client,
) -> None:
    slug = opened(parley)
    stream = parley.stream(negotiation=slug, heartbeats=True)
    (opening,) = take(stream, 1)
    elsewhere = parley.append(opened(parley), later_statement("not for this stream")).position
    for item in stream:
        assert isinstance(item, Heartbeat), "only heartbeats: nothing else was appended"
        if item.position >= elsewhere:
            break
    stream.close()
    assert opening.type == "NegotiationOpened" and opening.negotiation == slug


@pytest.mark.slow  # starts a server of its own
def test_a_stream_resumes_across_a_server_restart(store_config: StoreConfig) -> None:
    env = server_env(store_config)
    server = start_server(env, store_config.data_dir)
    proxy = Proxy(port_of(server))  # one address for the client, whichever server is behind
    try:
        with Client(proxy.url, token=server.token, timeout=HANG_GUARD) as parley:
            stream = parley.stream(negotiation=SLUG, type="ProposalMade", retry_for=HANG_GUARD)
            stored = [e.position for e in parley.search(SLUG, type="ProposalMade")]
            assert [e.position for e in take(stream, len(stored))] == stored
            stop_server(server)
            server = start_server(env, store_config.data_dir)
            proxy.port = port_of(server)
            proposal = {
                "type": "ProposalMade",
                "occurred_at": "2025-06-02",
                "data": {
                    "proposal_id": f"late-{uuid.uuid4().hex[:6]}",
                    "proposer": "UKR",
                    "subject": "ceasefire",
                    "summary": "A 30-day ceasefire first.",
                },
                "sources": [{"outlet": "Ukrinform"}],
            }
            appended = parley.append_batch(SLUG, [later_statement("noise"), proposal])
            (after,) = take(stream, 1)
            assert after.position == appended.events[1].position and after.type == "ProposalMade"
            stream.close()
    finally:
        proxy.close()
        stop_server(server)


def test_a_stream_refused_by_the_server_raises_its_problem_at_once(parley: Client) -> None:
    with pytest.raises(InvalidInputError) as invalid:
        next(parley.stream(type="NoSuchType"))
    assert invalid.value.fields == ["type"]
    with pytest.raises(NotFoundError):
        next(parley.stream(negotiation="no-such-talks"))


def test_a_stream_gives_up_on_a_server_that_is_gone_after_retry_for() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens on it
    with Client(f"http://127.0.0.1:{port}") as client, pytest.raises(httpx.ConnectError):
        next(client.stream(retry_for=0))


# -- the CLI against a server ----------------------------------------------------------------


def write_file(path: Path, count: int) -> Path:
    lines = [
        {
            "type": "NegotiationOpened",
            "occurred_at": "2025-03-25",
            "data": {"title": "Black Sea talks", "parties": ["RUS", "UKR"], "mediators": ["TUR"]},
            "sources": [{"outlet": "AP"}],
        },
        *(later_statement(f"line {i}") for i in range(count)),
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def test_parley_load_over_http_is_idempotent_and_batched(
    live: Server,
    parley: Client,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slug = new_slug()
    path = write_file(tmp_path / "talks.ndjson", 120)
    monkeypatch.setattr(remote, "BATCH_EVENTS", 50)
    monkeypatch.setenv("PARLEY_TOKEN", live.token)
    assert cli.main(["load", str(path), "--slug", slug, "--server", live.url]) == 0
    assert f"{slug}: 121 new, 0 already stored" in capsys.readouterr().out
    assert cli.main(["load", str(path), "--slug", slug, "--server", live.url]) == 0
    assert f"{slug}: 0 new, 121 already stored" in capsys.readouterr().out
    events = list(parley.search(slug))
    assert [e.data.get("summary") for e in events[1:]] == [f"line {i}" for i in range(120)]


def test_parley_load_over_http_reports_the_servers_refusal(
    live: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_file(tmp_path / "talks.ndjson", 1)
    args = ["load", str(path), "--slug", new_slug(), "--server", live.url]
    assert cli.main([*args, "--token", READER]) == 1
    assert "403 Forbidden" in capsys.readouterr().err
    bad = tmp_path / "bad.ndjson"
    bad.write_text(json.dumps(later_statement("x", occurred_at="20225-01-01")) + "\n")
    assert cli.main(["load", str(bad), "--server", live.url, "--token", live.token]) == 1
    assert "occurred_at" in capsys.readouterr().err  # checked before anything is sent


def test_parley_state_head_and_verify_over_http(
    live: Server, parley: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = ["--server", live.url, "--token", READER]
    pinned = dumped(parley.state(SLUG, as_of="2025-05-28"))  # later bounds are clamped
    moments = ["--as-of", "2025-05-28", "--known-at", pinned["known_at"]]
    moments += ["--reported-at", pinned["reported_at"]]
    assert cli.main(["state", SLUG, *moments, "--json", *server]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == pinned
    assert cli.main(["state", SLUG, "--as-of", "2025-05-28", *server]) == 0
    assert "Rounds" in capsys.readouterr().out
    assert cli.main(["state", "no-such-talks", *server]) == 1
    assert "404 Not found" in capsys.readouterr().err

    assert cli.main(["head", SLUG, *server]) == 0
    saved = tmp_path / "heads.ndjson"
    saved.write_text(capsys.readouterr().out)
    assert json.loads(saved.read_text()) == dumped(parley.head(SLUG))
    assert cli.main(["verify", "--heads", str(saved), *server]) == 0
    assert "holds each of the 1 saved heads" in capsys.readouterr().out

    forged = {**json.loads(saved.read_text()), "version": 99, "hash": "0" * 64}
    saved.write_text(json.dumps(forged) + "\n")
    assert cli.main(["verify", "--heads", str(saved), *server]) == 2
    assert "lost its tail" in capsys.readouterr().err

    assert cli.main(["head", *server]) == 0
    listed = {json.loads(line)["negotiation"] for line in capsys.readouterr().out.splitlines()}
    indexed = parley.negotiations(wait_for=parley.health().position)  # as far as the log
    assert SLUG in listed and listed == {n.negotiation for n in indexed}


@pytest.mark.slow  # starts a server of its own
def test_parley_head_over_http_prints_a_negotiation_the_index_does_not_list_yet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``parley head`` lists every negotiation the log has opened, not the negotiations
    index's list, a projection a moment behind the log: asked right after an opening,
    the index lacked it about 1 time in 8 under load. With no runner in the server
    (PARLEY_PROJECTIONS=off) the index never lists it."""
    server = start_server({"PARLEY_PROJECTIONS": "off"}, tmp_path)
    try:
        with Client(server.url, token=server.token, timeout=HANG_GUARD) as parley:
            slug = opened(parley)
            assert parley.negotiations() == []  # the index is behind
        assert cli.main(["head", "--server", server.url, "--token", server.token]) == 0
        printed = capsys.readouterr().out.splitlines()
        listed = [json.loads(line)["negotiation"] for line in printed]
        assert listed == sorted(["istanbul-2025", slug])  # the example, and the new one
    finally:
        stop_server(server)


def test_parley_export_over_http_writes_what_the_server_exports(
    live: Server, parley: Client, tmp_path: Path
) -> None:
    server = ["--server", live.url, "--token", READER]
    target = tmp_path / "istanbul.csv"
    pinned = dumped(parley.state(SLUG, as_of="2025-05-28"))  # later bounds are clamped
    bounds = {key: pinned[key] for key in ("known_at", "reported_at")}
    moments = ["--as-of", "2025-05-28", "--known-at", bounds["known_at"]]
    moments += ["--reported-at", bounds["reported_at"]]
    assert cli.main(["export", SLUG, "--format", "csv", *moments, "-o", str(target), *server]) == 0
    expected = parley.export(SLUG, "csv", as_of="2025-05-28", **bounds)
    assert target.read_text(encoding="utf-8") == expected
    assert expected.count("\n") > 5 and not (tmp_path / "istanbul.csv.partial").exists()
    assert cli.main(["export", "no-such-talks", *server]) == 1


def test_remote_batches_stay_under_the_body_limit() -> None:
    small = [parse_event(later_statement(f"s{i}")) for i in range(5)]
    big = [parse_event(later_statement("x" * 2000, id=str(uuid.uuid4()))) for _ in range(600)]
    assert [len(b) for b in remote.batches(small)] == [5]
    sizes = [sum(len(orjson.dumps(e)) + 1 for e in b) for b in remote.batches(big)]
    assert len(sizes) > 2 and max(sizes) <= remote.BATCH_BYTES
    assert sum(len(b) for b in remote.batches(big)) == 600
