"""Crash tests of the server: ``kill -9`` a real ``parley serve`` while four clients append.

The server runs as ``make run`` starts it (one process, projections inline, the founding
example loaded into the empty store), in a process group of its own. Four writer
clients append realistic events over HTTP: single events and batches, with and without
``expected_version`` or ``If-Match``, to a negotiation of their own and to the founding
example's. At a random moment the whole process group is killed with SIGKILL, the server
is started again over the same data, and the clients go on, re-sending some of the
requests whose answer was lost with the same event ids (the idempotency key). Four kills
while the clients write in ``make test``, ten in ``make soak`` (``PARLEY_SOAK=1``); the
first run, on a fresh store, has two worker processes (the group kill takes both), and
twice more a server is killed while it starts up (creating tables, loading the example,
catching its projections up).

Each client keeps a ledger of what it sent and what it was answered. Afterwards:

- every event answered 2xx is stored exactly once (by id and by content), at the
  position, version and hash it was answered with, recorded by the client's own token;
- an event whose answer was lost is stored at most once, and a lost batch is stored
  whole or not at all; an event answered 409 is not stored; nothing else is stored;
- positions rise (without holes where the backend promises so), versions are 1..n per
  negotiation, and every hash chain verifies (the store, ``GET /verify``, ``parley
  verify``);
- the projections catch up (lag 0 in ``GET /projections`` and ``parley project
  status``) and equal the log, and ``GET …/state`` answers, now and as known at each
  kill, equal the reference fold of the stored events.

Timeouts only guard against hangs; nothing here asserts on timing.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from support import EXAMPLE, REPO, Server, start_server, stop_server

from api.parsing import instant
from api.schemas import negotiation_out
from domain.events import encode_event, parse_event
from domain.negotiation import Recorded
from projections.as_of import naive_state
from projections.runner import Projections
from projections.state import initial_state
from store.config import StoreConfig
from store.log import ConflictLog

pytestmark = pytest.mark.slow

Json = dict[str, Any]

SOAK = os.environ.get("PARLEY_SOAK") == "1"  # make soak: the long run
KILLS = 10 if SOAK else 4
WRITERS = 4
SHARED = "istanbul-2025"  # the founding example's negotiation, appended to by every client
ANSWERED_BEFORE_KILL = 4  # answers in a cycle before the kill may come (it comes while busy)
BURST_SECONDS = (0.0, 0.8)  # then the kill comes at a random moment within this
TWO_WORKERS = (0,)  # the first runs (a fresh store) have two worker processes, the rest one
STARTUP_KILLS = (0, KILLS // 2)  # before these cycles, one more kill while the server starts up
STARTUP_SECONDS = (0.0, 1.5)  # how long after its start (creating tables, loading, catching up)
RETRY_LOST = 0.7  # the chance that a client sends a lost request again after the restart
HANG_GUARD = 60.0  # seconds; a bound on waiting, never a timing assertion
AS_OF = ("2025-06-01", "2026-01-01T00:00:00Z")  # valid times asked of /state

# Events as the desk writes them (examples/istanbul-2025.ndjson, bench/events.py): actors
# with a country and a role, sources with a URL, published_at with the outlet's offset,
# attributed_to, a quote and the wires they came via.
PEOPLE: list[Json] = [
    {"name": "Vladimir Medinsky", "country": "RUS", "role": "head of the Russian delegation"},
    {"name": "Rustem Umerov", "country": "UKR", "role": "head of the Ukrainian delegation"},
    {"name": "Hakan Fidan", "country": "TUR", "role": "Minister of Foreign Affairs"},
    {"name": "Dmitry Peskov", "country": "RUS", "role": "Kremlin spokesperson"},
    {"name": "Andriy Sybiha", "country": "UKR", "role": "Minister of Foreign Affairs"},
    {"name": "Marco Rubio", "country": "USA", "role": "Secretary of State", "wikidata": "Q324546"},
]
OUTLETS = [
    ("teleSUR", "https://www.telesurtv.net/news/"),
    ("Reuters", "https://www.reuters.com/world/europe/"),
    ("Anadolu Agency", "https://www.aa.com.tr/en/russia-ukraine-war/"),
    ("Ukrinform", "https://www.ukrinform.net/rubric-polytics/"),
]
WIRES = ["EFE", "TASS", "Sputnik", "AFP", "Interfax", "AP"]
OFFSET = timezone(timedelta(hours=-4))
FIRST_DAY = date(2025, 5, 16)


class EventMaker:
    """One client's realistic events: unique ids and texts, valid times over the talks."""

    def __init__(self, rng: random.Random, name: str) -> None:
        self.rng = rng
        self.name = name
        self.made = 0

    def _envelope(self, kind: str, data: Json, day: date | None = None) -> Json:
        self.made += 1
        rng = self.rng
        at = day or FIRST_DAY + timedelta(days=rng.randrange(75))
        outlet, base = rng.choice(OUTLETS)
        published = datetime.combine(at, datetime.min.time(), tzinfo=UTC) + timedelta(
            hours=rng.randint(2, 72), minutes=rng.randint(0, 59)
        )
        return {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "type": kind,
            "occurred_at": at.isoformat(),
            "data": data,
            "sources": [
                {
                    "outlet": outlet,
                    "url": f"{base}{self.name}-{self.made}",
                    "published_at": published.astimezone(OFFSET).isoformat(),
                    "attributed_to": rng.choice(PEOPLE),
                    "quote": f"the delegations agreed to keep talking ({self.name} #{self.made})",
                    "via": rng.sample(WIRES, 2),
                }
            ],
        }

    def opening(self, title: str) -> Json:
        data = {"title": title, "parties": ["RUS", "UKR"], "mediators": [PEOPLE[2]]}
        return self._envelope("NegotiationOpened", data, FIRST_DAY)

    def world_event(self, proposals: list[str]) -> Json:
        """A fact about the world; an answer only to a proposal known to be stored."""
        rng, tag = self.rng, f"{self.name} #{self.made + 1}"
        roll = rng.random()
        if roll < 0.1 and proposals:
            return self._envelope(
                "ProposalAnswered",
                {
                    "proposal_id": rng.choice(proposals),
                    "responder": PEOPLE[1],
                    "response": rng.choice(["accepted", "rejected", "countered", "noted"]),
                    "summary": f"the delegation answered in writing ({tag})",
                },
            )
        if roll < 0.25:
            return self._envelope(
                "ProposalMade",
                {
                    "proposal_id": f"{self.name}-p{self.made + 1}",
                    "proposer": PEOPLE[0],
                    "addressee": PEOPLE[1],
                    "subject": rng.choice(["memorandum", "ceasefire", "prisoner_exchange"]),
                    "summary": f"a memorandum on the conditions of a ceasefire ({tag})",
                    "terms": ["a thirty-day ceasefire", "an exchange of prisoners of war"],
                },
            )
        if roll < 0.45:
            return self._envelope(
                "ContactHeld",
                {
                    "participants": rng.sample(PEOPLE, 2),
                    "medium": rng.choice(["phone", "visit", "video"]),
                    "summary": f"the two sides spoke about a second round ({tag})",
                },
            )
        if roll < 0.5:
            return self._envelope(
                "SecurityZoneDeclared",
                {"declared_by": "RUS", "regions": ["UA-59"], "status": "declared"},
            )
        if roll < 0.55:
            return self._envelope(
                "DocumentExchanged", {"title": f"memorandum ({tag})", "from": "RUS", "to": "UKR"}
            )
        speaker = rng.choice(PEOPLE)
        return self._envelope(
            "StatementIssued",
            {
                "speaker": speaker,
                "summary": f"{speaker['name']} said a second round could be held ({tag})",
                "topic": "second round",
            },
        )

    def dispute(self, target: str) -> Json:
        return self._envelope(
            "ClaimDisputed",
            {
                "event_id": target,
                "disputed_by": PEOPLE[4],
                "counter_claim": f"no such agreement was reached ({self.name} #{self.made + 1})",
            },
        )


@dataclass
class Attempt:
    """One request as sent, and what came back: a status, or None when the answer was lost."""

    slug: str
    events: list[Json]
    expected_version: int | None = None
    if_match: bool = False  # expected_version sent as If-Match instead of in the body
    retry_of: Attempt | None = None
    cycle: int = 0  # how many kills came before it was sent
    by: str = ""  # the name of the token it was sent with
    status: int | None = None
    answer: Json | None = None
    error: str | None = None

    def body(self) -> Any:
        if self.expected_version is not None and not self.if_match:
            return {"events": self.events, "expected_version": self.expected_version}
        return self.events[0] if len(self.events) == 1 else self.events

    def again(self) -> Attempt:
        return Attempt(self.slug, self.events, self.expected_version, self.if_match, self)

    @property
    def ids(self) -> list[str]:
        return [event["id"] for event in self.events]


@dataclass
class Client:
    """One writer: its own negotiation, the shared one, and its ledger of attempts."""

    index: int
    rng: random.Random
    ledger: list[Attempt] = field(default_factory=list)
    version: int | None = None  # its negotiation's version as last answered; None: unknown
    opened: bool = False
    pending: list[Attempt] = field(default_factory=list)  # sent first after a (re)start
    errors: list[BaseException] = field(default_factory=list)
    stored: dict[str, list[str]] = field(default_factory=dict)  # slug -> ids answered 2xx
    proposals: dict[str, list[str]] = field(default_factory=dict)  # slug -> proposal ids
    cycle: int = 0  # the kills so far
    token: str = ""  # its own append token, made by the desk's admin at the first start

    def __post_init__(self) -> None:
        self.slug = self.name = f"crash-desk-{self.index}"
        self.maker = EventMaker(self.rng, self.slug)
        self.opening = [self.maker.opening(f"Desk {self.index} talks")]
        self.pending.append(Attempt(self.slug, self.opening))

    def run(self, server: Server, stop: threading.Event) -> None:
        """Append until ``stop``, or until the first lost answer (the server is gone)."""
        try:
            with httpx.Client(
                base_url=server.url,
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=HANG_GUARD,
            ) as http:
                pending, self.pending = self.pending, []
                for number, attempt in enumerate(pending):
                    if not self.send(http, attempt):
                        self.pending.extend(pending[number + 1 :])
                        return
                while not stop.is_set():
                    if not self.send(http, self.next_attempt(http)):
                        return
        except httpx.TransportError:
            return  # the server died while this client read the shared version
        except BaseException as error:  # reported by the test, in the main thread
            self.errors.append(error)

    def next_attempt(self, http: httpx.Client) -> Attempt:
        rng = self.rng
        own = self.opened and rng.random() < 0.6
        slug = self.slug if own else SHARED
        count = 1 if rng.random() < 0.6 else rng.randint(2, 5)
        events = []
        for _ in range(count):
            answered = self.stored.get(slug, [])
            if answered and rng.random() < 0.1:
                events.append(self.maker.dispute(rng.choice(answered)))
            else:
                events.append(self.maker.world_event(self.proposals.get(slug, [])))
        attempt = Attempt(slug, events)
        if own and self.version is not None and rng.random() < 0.7:
            attempt.expected_version = self.version
            attempt.if_match = rng.random() < 0.3
        elif not own and rng.random() < 0.2:
            # Read, then write if nobody wrote meanwhile: the other clients often have (409).
            etag = http.get(f"/negotiations/{SHARED}").headers["ETag"]
            attempt.expected_version = int(etag.strip('"'))
            attempt.if_match = rng.random() < 0.5
        return attempt

    def send(self, http: httpx.Client, attempt: Attempt) -> bool:
        """Send one attempt and note its outcome; False once an answer was lost."""
        headers = {"If-Match": f'"{attempt.expected_version}"'} if attempt.if_match else {}
        attempt.cycle, attempt.by = self.cycle, self.name
        self.ledger.append(attempt)
        try:
            answer = http.post(
                f"/negotiations/{attempt.slug}/events", json=attempt.body(), headers=headers
            )
        except httpx.TransportError as error:
            attempt.error = f"{type(error).__name__}: {error}"
            if attempt.slug == self.slug:
                self.version = None
            # The same ids again: stored once, whether or not the lost one was committed.
            # The opening is always sent again: the client's own appends wait for it.
            if attempt.events is self.opening or self.rng.random() < RETRY_LOST:
                self.pending.append(attempt.again())
            return False
        attempt.status = answer.status_code
        attempt.answer = answer.json()
        if answer.is_success:
            body = attempt.answer
            if attempt.slug == self.slug:
                self.opened = True
                self.version = body["version"]
            self.stored.setdefault(attempt.slug, []).extend(
                e["id"] for e in attempt.events if e["type"] != "ClaimDisputed"
            )
            self.proposals.setdefault(attempt.slug, []).extend(
                e["data"]["proposal_id"] for e in attempt.events if e["type"] == "ProposalMade"
            )
        elif answer.status_code == 409 and attempt.slug == self.slug:
            self.version = None
        return True


def kill_group(server: Server) -> None:
    """``kill -9`` the server's whole process group, as a crash or the OOM killer would."""
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(HANG_GUARD)
    if server.process.stdout:
        server.process.stdout.close()


def answered_since(clients: list[Client], marks: list[int]) -> int:
    return sum(
        1
        for client, mark in zip(clients, marks, strict=True)
        for attempt in client.ledger[mark:]
        if attempt.status is not None
    )


def crash_cycles(
    env: dict[str, str], data_dir: Path, output: Path, clients: list[Client], seed: int
) -> list[datetime]:
    """Start, write, kill: ``KILLS`` times over the same data (the first time with two
    worker processes), and twice kill a server while it starts up. Returns a moment after each
    kill of a server written to (what the log knew then is fixed from there on)."""
    moments: list[datetime] = []
    rng = random.Random(seed)
    for cycle in range(KILLS):
        workers = 2 if cycle in TWO_WORKERS else 1
        if cycle in STARTUP_KILLS:
            starting = start_server(
                env, data_dir, workers, own_group=True, output=output, wait=False
            )
            time.sleep(rng.uniform(*STARTUP_SECONDS))
            kill_group(starting)
        server = start_server(env, data_dir, workers, own_group=True, output=output)
        for client in clients:
            if not client.token:  # each analyst's own key, with the append scope
                made = httpx.post(
                    f"{server.url}/tokens",
                    json={"name": client.name, "scope": "append"},
                    headers=server.auth,
                )
                assert made.status_code == 201, made.text
                client.token = made.json()["token"]
        stop = threading.Event()
        marks = [len(c.ledger) for c in clients]
        for client in clients:
            client.cycle = cycle
        threads = [threading.Thread(target=c.run, args=(server, stop)) for c in clients]
        try:
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + HANG_GUARD
            while answered_since(clients, marks) < ANSWERED_BEFORE_KILL and any(
                t.is_alive() for t in threads
            ):
                assert time.monotonic() < deadline, f"cycle {cycle}: the clients made no progress"
                time.sleep(0.01)
            time.sleep(rng.uniform(*BURST_SECONDS))
        finally:
            kill_group(server)
            stop.set()
            for thread in threads:
                thread.join(HANG_GUARD)
                assert not thread.is_alive(), "a client hung"
        for client in clients:
            if client.errors:
                raise client.errors[0]
        moments.append(datetime.now(UTC))
    return moments


@pytest.fixture
def env(store_config: StoreConfig) -> dict[str, str]:
    """``make run``'s settings: the example into the empty store, projections inline, the
    bootstrap token made at the first start."""
    settings = {
        "PARLEY_EXAMPLE": str(EXAMPLE),
        "PARLEY_PROJECTIONS": "inline",
        "PARLEY_ADMIN_TOKEN": "",  # made at the first start, kept in the data dir
        "PARLEY_DATABASE_URL": store_config.database_url or "",
    }
    if store_config.database_url:
        settings["PARLEY_DATABASE_SCHEMA"] = store_config.postgres_schema
    return settings


def test_killing_the_server_again_and_again_loses_no_answered_append_nor_stores_twice(
    store_config: StoreConfig,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    seed = random.randrange(2**32)
    print(f"seed {seed}")  # shown with a failure: the clients' choices and the kills' moments
    clients = [Client(i, random.Random(seed + i)) for i in range(WRITERS)]
    output = tmp_path / "serve.out"
    moments = crash_cycles(env, store_config.data_dir, output, clients, seed)
    attempts = [a for c in clients for a in c.ledger]

    # The restarted server: its projections catch up, its chains verify, its answers hold.
    server = start_server(env, store_config.data_dir, own_group=True, output=output)
    try:
        with httpx.Client(base_url=server.url, timeout=HANG_GUARD) as http:
            served = check_served(http, store_config, moments)
    finally:
        stop_server(server)

    log = ConflictLog(store_config)
    try:
        records = list(log.iter_all())
        report = log.verify()
        assert report.ok, report.first_break
        check_positions_and_versions(records, log.contiguous_positions)
        check_ledger(attempts, records, moments)
        check_views(store_config, log)
    finally:
        log.close()
    assert served == records[-1].position

    verified = parley(store_config, "verify")
    assert verified.returncode == 0, verified.stderr
    assert "every hash chain holds" in verified.stdout
    status = parley(store_config, "project", "status", "--json")
    assert status.returncode == 0, status.stderr
    statuses = json.loads(status.stdout)
    assert [(s["lag"], s["position"]) for s in statuses] == [(0, records[-1].position)] * len(
        statuses
    )
    outcome = Counter(
        "lost" if a.status is None else "resent" if a.retry_of else str(a.status)
        for a in attempts
    )
    existing = sum(1 for a in attempts if a.retry_of and a.status == 200)
    assert outcome["lost"] and outcome["resent"], outcome  # the crash paths were taken
    print(
        f"{store_config.backend}: {KILLS} + {len(STARTUP_KILLS)} kills, {len(attempts)} "
        f"requests {dict(outcome)}, {existing} re-sent ones found already stored; "
        f"{len(records)} events stored"
    )


def parley(config: StoreConfig, *args: str) -> subprocess.CompletedProcess[str]:
    """``parley ARGS`` as an operator runs it after the crash, on the test's store."""
    env = {
        **os.environ,
        "PARLEY_DATA_DIR": str(config.data_dir),
        "PARLEY_DATABASE_URL": config.database_url or "",
        "PARLEY_DATABASE_SCHEMA": config.postgres_schema,
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )


def check_served(http: httpx.Client, config: StoreConfig, moments: list[datetime]) -> int:
    """What the restarted server answers: projections at the head, /verify ok, and /state
    now and as known after each kill equal to the reference fold. Returns the head."""
    head = http.get("/health").json()["position"]
    deadline = time.monotonic() + HANG_GUARD
    while (listed := http.get("/negotiations", params={"wait_for": head})).status_code == 503:
        assert time.monotonic() < deadline, listed.text
    assert listed.status_code == 200, listed.text
    projections = http.get("/projections").json()["projections"]
    assert [(p["position"], p["lag"], p["error"]) for p in projections] == [
        (head, 0, None)
    ] * len(projections)
    verified = http.get("/verify").json()
    assert verified["ok"], verified

    log = ConflictLog(config)
    try:
        records = list(log.iter_all())
    finally:
        log.close()
    assert records[-1].position == head
    slugs = [n["negotiation"] for n in listed.json()["negotiations"]]
    assert SHARED in slugs
    known_ats = [m.isoformat() for m in moments[:: max(1, len(moments) // 4)]]
    known_ats.append(datetime.now(UTC).isoformat())
    for slug in slugs:
        for as_of in AS_OF:
            for known_at in known_ats:
                # reported_at pinned to known_at: its default (now) would differ from
                # the reference's by the time between the two
                answer = http.get(
                    f"/negotiations/{slug}/state",
                    params={"as_of": as_of, "known_at": known_at, "reported_at": known_at},
                )
                assert answer.status_code == 200, answer.text
                expected = folded(records, slug, instant(as_of, "as_of"), known_at)
                assert answer.json() == expected, (slug, as_of, known_at)
    return int(head)


def folded(records: list[Recorded], slug: str, as_of: datetime, known_at: str) -> Json:
    """The reference answer of GET /state: the naive fold of the stored events."""
    known = instant(known_at, "known_at")
    state = naive_state(records, slug, as_of, known, known)
    if state.event_count == 0:
        state = initial_state(slug, as_of=as_of, known_at=known, reported_at=known)
    answer: Json = orjson.loads(state.to_json_bytes())
    return answer


def check_positions_and_versions(records: list[Recorded], contiguous: bool) -> None:
    positions = [r.position for r in records]
    assert all(p is not None for p in positions)
    assert positions == sorted(set(positions)), "positions repeat or go back"  # type: ignore
    if contiguous:
        assert positions == list(range(1, len(records) + 1)), "holes in the positions"
    versions: dict[str, list[int]] = {}
    for record in records:
        versions.setdefault(record.negotiation, []).append(record.originator_version)
    for slug, found in versions.items():
        assert found == list(range(1, len(found) + 1)), f"{slug}: versions {found}"


def content(event_json: bytes) -> bytes:
    """An event's stored JSON without its id: what a duplicate under a new id would share."""
    parsed = orjson.loads(event_json)
    parsed.pop("id")
    return orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS)


def check_ledger(
    attempts: list[Attempt], records: list[Recorded], moments: list[datetime]
) -> None:
    """Every answered event stored once, as answered; lost ones at most once, and whole;
    each recorded while the server it was sent to ran (``moments``: just after each kill),
    so what the log knew at a moment between two runs never changes afterwards."""
    stored: dict[str, Recorded] = {}
    for record in records:
        key = str(record.event.id)
        assert key not in stored, f"event {key} is stored twice"
        stored[key] = record
    contents = Counter(content(r.json) for r in records)
    assert [c for c, n in contents.items() if n > 1] == [], "the same event stored twice"

    sent: dict[str, Json] = {}
    senders: dict[str, str] = {}
    answered: set[str] = set()
    refused: set[str] = set()
    for attempt in attempts:
        assert attempt.status in (None, 200, 201, 409), (attempt.status, attempt.answer)
        for event in attempt.events:
            sent[event["id"]] = event
            senders[event["id"]] = attempt.by
        if attempt.status is None:
            continue
        if attempt.status == 409:
            refused.update(attempt.ids)
            continue
        assert attempt.answer is not None
        returned = attempt.answer["events"]
        assert [e["id"] for e in returned] == attempt.ids
        for entry in returned:
            record = stored.get(entry["id"])
            assert record is not None, f"answered {attempt.status} but not stored: {entry}"
            assert (record.negotiation, record.position, record.originator_version) == (
                attempt.slug,
                entry["position"],
                entry["version"],
            )
            assert record.hash == entry["hash"]
            if entry["stored"] == "created":
                assert during(record, attempt.cycle, moments), (entry, attempt.cycle)
            else:  # a re-sent event: the answer is the record an earlier run committed
                assert record.recorded_at <= moments[attempt.cycle - 1], (entry, attempt.cycle)
        answered.update(attempt.ids)

    for key, event in sent.items():
        if key in stored:
            assert stored[key].json == encode_event(parse_event(event)), f"{key} differs"
            assert stored[key].recorded_by == senders[key]
    for attempt in attempts:
        if attempt.status is None and not answered.intersection(attempt.ids):
            found = [key in stored for key in attempt.ids]
            assert all(found) or not any(found), f"a lost batch is stored in part: {found}"
            if all(found) and attempt.retry_of is None:
                assert during(stored[attempt.ids[0]], attempt.cycle, moments)
    assert [key for key in refused - answered if key in stored] == [], "a refused event stored"
    example = {json.loads(line)["id"] for line in EXAMPLE.read_text().splitlines() if line}
    assert set(stored) - example - set(sent) == set(), "events nobody sent are stored"
    assert answered <= set(stored)


def during(record: Recorded, cycle: int, moments: list[datetime]) -> bool:
    """Whether ``record`` was recorded by the run of the server between two kills."""
    after = moments[cycle - 1] if cycle else datetime.min.replace(tzinfo=UTC)
    return after < record.recorded_at <= moments[cycle]


def check_views(config: StoreConfig, log: ConflictLog) -> None:
    """The negotiations index equals what the log itself counts."""
    with Projections(config, log=log) as projections:
        indexed = [n.to_json() for n in projections.negotiations_index.negotiations()]
        expected = [negotiation_out(log.opening(s.negotiation), s) for s in log.summaries()]
        assert indexed == expected
        for status in projections.status():
            assert (status.position, status.lag) == (log.last_position(), 0), status
