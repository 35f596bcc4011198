"""The golden questions: what is asked of the golden scenario, and how each answer is
written down, byte for byte. ``record.py`` writes the answers; the test
``tests/integration/test_golden.py`` asks again and compares.

The scenario is ``scenario.ndjson``, a ``parley dump`` (see ``scenario.py``), restored
into a fresh store: positions, versions, recorded_at, ids, hashes, sealed bytes and the
person keys all come from it, on SQLite and PostgreSQL alike. The app is the real one
(``create_app``) behind Starlette's TestClient, with a fixed signing key
(``signing-key.pem``, copied into the data dir: Ed25519 signatures are deterministic, so
signed heads and ``/keys`` are asked like any other answer). Every question names its
as_of and known_at (or a window): none depends on "now".

An answer file (``answers/<name>.http``) holds the request, then the status and the
response headers, a blank line and the body's exact bytes::

    > GET /negotiations/istanbul-2025/state?as_of=…&known_at=…
    > accept: application/json
    < 200
    < content-type: application/json

    {"negotiation":"istanbul-2025",…}

What is normalised, and why (nothing else is):

1. Response headers are written sorted by name (stably, so fields of one name keep
   their order): HTTP gives the order of different fields no meaning (RFC 9110, 5.3).
2. ``content-length`` is not written but checked: it must be the length of the body
   read (which is compared whole), so a normalised body does not carry a stale length.
3. A live stream (``/events/stream``, EventSourcingDB's ``observe-events``) never ends:
   it is read until its first heartbeat, which comes only once the catch-up from the
   store is over, and then the client hangs up. The answer is the bytes up to the end
   of that heartbeat. Its position is the log's head, the same every time: the live
   tail starts at the head and nothing is appended.
4. EventSourcingDB's ``ping`` and ``verify-api-token`` answer with an event whose
   ``time`` is now: it is written as ``"time":"(now)"``.
5. ``/verify``'s ``detail.contiguous_positions`` is a property of the backend, not of
   the log (SQLite promises positions without holes; PostgreSQL leaves one for each
   rolled-back transaction), so it is the one value that differs between the two runs:
   it is written as ``"contiguous_positions":"(the backend's)"``.
6. ``x-request-id`` is not written but checked: the questions send none, so each answer
   carries a new one (``api.http.observe``), different every run.

Left out: ``/health`` (it names the backend, which is what differs between the two
runs), ``/projections`` (the runners' progress, not an answer about the log), the page
and its static files, and ``/openapi.json`` (descriptions, not answers).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings
from store.config import StoreConfig
from store.dump import restore
from store.log import ConflictLog

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "scenario.ndjson"
SIGNING_KEY = HERE / "signing-key.pem"
ANSWERS = HERE / "answers"
SUFFIX = ".http"

TOKEN = "golden-admin-token"
HEARTBEAT_SECONDS = 0.2  # how soon a stream, caught up, sends the heartbeat that ends a read
HANG_GUARD = 30.0
LAST_POSITION = 39  # the scenario's head: /negotiations waits for its index to reach it

IST = "istanbul-2025"
BSEA = "black-sea-2025"
ROUND_2 = "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4a01"
UMEROV_STATEMENT = "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4a03"
LAVROV_STATEMENT = "2d6187ac-1e03-42a2-8ab5-52110b3649aa"  # retracted
MEDINSKY_CONTACT = "3221c451-fe72-4f21-b409-4d50f4b07cdd"  # disputed; its source redacted
BS_CEASEFIRE = "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4b05"
BS_ZONE = "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4b06"
NO_SUCH_EVENT = "00000000-0000-4000-8000-000000000000"

# The moments of the scenario's recorded_at (scenario.py), and moments between them.
BEFORE_ALL = "2025-05-28T16:59:59Z"
EXAMPLE_AT = "2025-05-28T17:00:00Z"  # the founding example, exactly
AFTER_ROUND_2 = "2025-06-03"  # the end of that day
CORRECTED_AT = "2025-06-05T12:30:00+03:00"  # = 09:30Z, the first correction, exactly
AFTER_BLACK_SEA = "2025-06-12T00:00:00Z"
AFTER_REDACTION = "2025-06-16T00:00:00Z"
BETWEEN_LATE = "2025-06-20T10:00:00.500000Z"  # after the late batches, before the last
ALL = "2025-07-01T00:00:00Z"

SSE_END = b"\n\n"
LINE_END = b"\n"
NOW = ((rb'"time":"[^"]*"', b'"time":"(now)"'),)
BACKEND = (
    (rb'"contiguous_positions":(?:true|false)', b'"contiguous_positions":"(the backend\'s)"'),
)


@dataclass(frozen=True)
class Question:
    """One request. ``until``: a stream, read up to the end (``end``) of the first
    message holding these bytes."""

    name: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    method: str = "GET"
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    until: bytes | None = None
    end: bytes = LINE_END
    normalise: tuple[tuple[bytes, bytes], ...] = ()  # (pattern, replacement) in the body

    @property
    def target(self) -> str:
        return self.path + (f"?{urlencode(self.params)}" if self.params else "")

    def request_headers(self) -> dict[str, str]:
        return {"accept": "application/json", **dict(self.headers)}


def q(name: str, path: str, **params: str | int | list[str]) -> Question:
    """A GET; a list value repeats its parameter. ``from_`` is sent as ``from``. A
    question with ``known_at`` is asked with ``reported_at`` too (``ALL`` unless given):
    left out, it would be now, and the answer's echo would change every day."""
    if "known_at" in params:
        params.setdefault("reported_at", ALL)
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        for one in value if isinstance(value, list) else [value]:
            pairs.append((key.rstrip("_"), str(one)))
    return Question(name, path, tuple(pairs))


def esdb(name: str, route: str, body: Any, **extra: Any) -> Question:
    """A POST to the EventSourcingDB-compatible API."""
    return Question(name, f"/api/v1/{route}", method="POST", body=body, **extra)


def sse(name: str, headers: tuple[tuple[str, str], ...] = (), **params: str | int) -> Question:
    base = q(name, "/events/stream", **params)
    accept = (("accept", "text/event-stream"), *headers)
    return Question(
        name, base.path, base.params, headers=accept, until=b"event: heartbeat\n", end=SSE_END
    )


def _questions() -> list[Question]:
    st, tl, df = (
        f"/negotiations/{IST}/state",
        f"/negotiations/{IST}/timeline",
        (f"/negotiations/{IST}/diff"),
    )
    bst, btl = f"/negotiations/{BSEA}/state", f"/negotiations/{BSEA}/timeline"
    ev, bev = f"/negotiations/{IST}/events", f"/negotiations/{BSEA}/events"
    ex, bex = f"/negotiations/{IST}/export", f"/negotiations/{BSEA}/export"
    ch, bch = f"/negotiations/{IST}/chart", f"/negotiations/{BSEA}/chart"
    subject = f"/negotiations/{IST}"
    return [
        # State along both axes.
        q("state-known-before-anything", st, as_of="2025-06-30", known_at=BEFORE_ALL),
        q("state-example-exactly", st, as_of="2025-05-28", known_at=EXAMPLE_AT),
        q("state-may-20-known-all", st, as_of="2025-05-20", known_at=ALL),
        q("state-may-28-known-all", st, as_of="2025-05-28", known_at=ALL),
        q("state-round-2-starting", st, as_of="2025-06-02T12:00:00+02:00", known_at=AFTER_ROUND_2),
        q("state-june-known-round-2", st, as_of="2025-06-30", known_at=AFTER_ROUND_2),
        q("state-june-known-corrected", st, as_of="2025-06-30", known_at=CORRECTED_AT),
        q("state-june-known-redacted", st, as_of="2025-06-30", known_at=AFTER_REDACTION),
        q("state-june-known-between-late", st, as_of="2025-06-30", known_at=BETWEEN_LATE),
        q("state-june-known-all", st, as_of="2025-06-30", known_at=ALL),
        q("state-black-sea-march", bst, as_of="2025-03-31", known_at=AFTER_BLACK_SEA),
        q("state-black-sea-april-known-all", bst, as_of="2025-04-30", known_at=ALL),
        q("state-black-sea-known-redacted", bst, as_of="2025-06-30", known_at=AFTER_REDACTION),
        q(
            "state-unknown-negotiation",
            "/negotiations/no-such-talks/state",
            as_of="2025-06-30",
            known_at=ALL,
        ),
        q("state-bad-as-of", st, as_of="yesterday", known_at=ALL),
        # Timelines.
        q("timeline-known-all", tl, known_at=ALL),
        q("timeline-known-corrected", tl, known_at=CORRECTED_AT),
        q("timeline-known-example", tl, known_at=EXAMPLE_AT),
        q("timeline-latest-3", tl, known_at=ALL, latest=3),
        q("timeline-window", tl, from_="2025-05-19", to="2025-06-02", known_at=BETWEEN_LATE),
        q(
            "timeline-window-latest-2",
            tl,
            from_="2025-05-19",
            to="2025-05-28",
            known_at=ALL,
            latest=2,
        ),
        q("timeline-black-sea", btl, known_at=ALL),
        q("timeline-from-after-to", tl, from_="2025-06-02", to="2025-05-19", known_at=ALL),
        # Diffs.
        q("diff-may-june-known-all", df, from_="2025-05-28", to="2025-06-30", known_at=ALL),
        q(
            "diff-may-june-known-round-2",
            df,
            from_="2025-05-28",
            to="2025-06-30",
            known_at=AFTER_ROUND_2,
        ),
        q(
            "diff-within-round-2",
            df,
            from_="2025-06-02T09:00:00Z",
            to="2025-06-02T12:00:00Z",
            known_at=ALL,
        ),
        q(
            "diff-black-sea",
            f"/negotiations/{BSEA}/diff",
            from_="2025-03-24",
            to="2025-04-30",
            known_at=ALL,
        ),
        # One event, with what names it.
        q("event-round-2-corrected-twice", f"/events/{ROUND_2}"),
        q("event-sealed-statement-disputed", f"/events/{UMEROV_STATEMENT}"),
        q("event-retracted", f"/events/{LAVROV_STATEMENT}"),
        q("event-redacted-source", f"/events/{MEDINSKY_CONTACT}"),
        q("event-black-sea-ceasefire", f"/events/{BS_CEASEFIRE}"),
        q("event-black-sea-zone-retracted", f"/events/{BS_ZONE}"),
        q("event-unknown", f"/events/{NO_SUCH_EVENT}"),
        q("event-not-an-id", "/events/not-a-uuid"),
        # Negotiations and their events.
        Question("negotiations", "/negotiations", (("wait_for", str(LAST_POSITION)),)),
        q("negotiation-istanbul", f"/negotiations/{IST}"),
        q("negotiation-black-sea", f"/negotiations/{BSEA}"),
        q("negotiation-events", ev),
        q("negotiation-events-page", ev, after_version=10, limit=5),
        q("negotiation-events-types", ev, type="EventCorrected,EventRetracted,ClaimDisputed"),
        q("negotiation-events-as-of-known-at", ev, as_of="2025-05-28", known_at=CORRECTED_AT),
        q("negotiation-events-q", ev, q="prisoners"),
        q("negotiation-events-actor-redacted", ev, actor="Medinsky"),
        q("negotiation-events-actor-sealed", ev, actor="Umerov"),
        q("negotiation-events-black-sea", bev, limit=4),
        q("negotiation-events-bad-type", ev, type="NoSuchType"),
        # The global log.
        q("log", "/events"),
        q("log-page", "/events", after=20, limit=10),
        q("log-types", "/events", type=["EventCorrected", "PersonRedacted"]),
        q("log-negotiation", "/events", negotiation=BSEA),
        q("log-as-of-known-at", "/events", as_of="2025-05-31", known_at=ALL),
        q("log-q-ceasefire", "/events", q="ceasefire"),
        q("log-q-phrase-exclude", "/events", q='"second round" -Kremlin'),
        q("log-q-quote", "/events", q="study document"),
        q("log-outlet", "/events", outlet="TASS", limit=5),
        q("log-region", "/events", region="UA-43"),
        q("log-recorded-by", "/events", recorded_by="admin", after=30),
        q("log-actor-both", "/events", actor=["RUS", "UKR"], known_at=AFTER_ROUND_2),
        # Exports.
        q("export-ndjson", ex, format="ndjson", as_of="2025-06-30", known_at=ALL),
        q("export-csv", ex, format="csv", as_of="2025-06-30", known_at=ALL),
        q("export-plover", ex, format="plover", as_of="2025-06-30", known_at=ALL),
        q(
            "export-ndjson-known-round-2",
            ex,
            format="ndjson",
            as_of="2025-06-30",
            known_at=AFTER_ROUND_2,
        ),
        q(
            "export-csv-window-types",
            ex,
            format="csv",
            as_of="2025-06-30",
            known_at=ALL,
            from_="2025-05-19",
            to="2025-06-02",
            type="ProposalMade,RoundHeld,StatementIssued",
        ),
        q(
            "export-plover-window",
            ex,
            format="plover",
            as_of="2025-06-30",
            known_at=CORRECTED_AT,
            from_="2025-06-01",
            to="2025-06-30",
        ),
        q("export-ndjson-black-sea", bex, format="ndjson", as_of="2025-06-30", known_at=ALL),
        q(
            "export-csv-black-sea-known-before-late",
            bex,
            format="csv",
            as_of="2025-06-30",
            known_at=AFTER_REDACTION,
        ),
        q(
            "export-known-before-anything",
            ex,
            format="csv",
            as_of="2025-06-30",
            known_at=BEFORE_ALL,
        ),
        # The charts' data.
        q("chart", ch, as_of="2025-06-30", known_at=ALL),
        q(
            "chart-window-known-corrected",
            ch,
            from_="2025-05-16",
            to="2025-06-05",
            as_of="2025-06-05",
            known_at=CORRECTED_AT,
        ),
        q("chart-counts", ch, as_of="2025-06-30", known_at=ALL, max_items=10),
        q("chart-black-sea", bch, as_of="2025-06-30", known_at=ALL),
        # The third clock: what had been reported by the end of 3 June.
        q("state-june-reported-round-2", st, as_of="2025-06-30", known_at=ALL,
          reported_at=AFTER_ROUND_2),
        q("timeline-reported-round-2", tl, known_at=ALL, reported_at=AFTER_ROUND_2),
        q("chart-axis-reported", ch, as_of="2025-06-30", known_at=ALL, axis="reported"),
        q("state-bad-reported-at", st, as_of="2025-06-30", reported_at="last week"),
        # Integrity.
        q("head-istanbul", f"/negotiations/{IST}/head"),
        q("head-black-sea", f"/negotiations/{BSEA}/head"),
        q("keys", "/keys"),
        Question("verify", "/verify", normalise=BACKEND),
        # The live stream's catch-up.
        sse("stream-all", after=0),
        sse("stream-after-30", after=30),
        sse("stream-negotiation", negotiation=BSEA),
        sse("stream-types", type="EventCorrected,EventRetracted,PersonRedacted"),
        sse("stream-last-event-id", headers=(("last-event-id", "35"),), after=1),
        Question(
            "stream-ndjson",
            "/events/stream",
            (("negotiation", IST), ("after", "20")),
            headers=(("accept", "application/x-ndjson"),),
            until=b'{"heartbeat":true',
        ),
        # The EventSourcingDB-compatible API.
        Question("esdb-ping", "/api/v1/ping", normalise=NOW),
        esdb(
            "esdb-verify-api-token",
            "verify-api-token",
            None,
            headers=(("authorization", f"Bearer {TOKEN}"),),
            normalise=NOW,
        ),
        esdb(
            "esdb-read-negotiation",
            "read-events",
            {"subject": subject, "options": {"recursive": False}},
        ),
        esdb("esdb-read-all", "read-events", {"subject": "/", "options": {"recursive": True}}),
        esdb(
            "esdb-read-bounded-backwards",
            "read-events",
            {
                "subject": "/negotiations",
                "options": {
                    "recursive": True,
                    "order": "antichronological",
                    "lowerBound": {"id": "20", "type": "inclusive"},
                    "upperBound": {"id": "34", "type": "exclusive"},
                },
            },
        ),
        esdb(
            "esdb-read-from-latest",
            "read-events",
            {
                "subject": subject,
                "options": {
                    "recursive": False,
                    "fromLatestEvent": {
                        "subject": subject,
                        "type": "io.parley.EventCorrected",
                        "ifEventIsMissing": "read-nothing",
                    },
                },
            },
        ),
        esdb(
            "esdb-read-unknown-subject",
            "read-events",
            {"subject": "/negotiations/no-such-talks", "options": {"recursive": False}},
        ),
        esdb("esdb-read-subjects", "read-subjects", {"baseSubject": "/"}),
        esdb("esdb-read-subjects-negotiation", "read-subjects", {"baseSubject": subject}),
        esdb("esdb-read-event-types", "read-event-types", None),
        esdb("esdb-read-event-type", "read-event-type", {"eventType": "io.parley.RoundHeld"}),
        esdb("esdb-read-event-type-unknown", "read-event-type", {"eventType": "io.parley.Nothing"}),
        esdb("esdb-read-events-bad-body", "read-events", {"subject": subject}),
        esdb(
            "esdb-observe-negotiation",
            "observe-events",
            {"subject": f"/negotiations/{BSEA}", "options": {"recursive": False}},
            until=b'{"type":"heartbeat"',
        ),
        esdb(
            "esdb-observe-from-bound",
            "observe-events",
            {
                "subject": "/",
                "options": {"recursive": True, "lowerBound": {"id": "33", "type": "exclusive"}},
            },
            until=b'{"type":"heartbeat"',
        ),
        Question("esdb-unknown-route", "/api/v1/nothing-here"),
    ]


QUESTIONS: list[Question] = _questions()


@contextmanager
def golden_client(config: StoreConfig) -> Iterator[TestClient]:
    """The app on a fresh store (``config``) holding the restored scenario."""
    key = config.data_dir / "signing-key.pem"
    config.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SIGNING_KEY, key)
    key.chmod(0o600)
    settings = Settings(
        data_dir=config.data_dir,
        database_url=config.database_url,
        database_schema=config.postgres_schema,
        admin_token=TOKEN,
        read_token=None,
        rate_limit=None,
        example=None,
        heartbeat_seconds=HEARTBEAT_SECONDS,
        projections="inline",
        wait_for_seconds=HANG_GUARD,  # /negotiations?wait_for: a loaded machine waits longer
    )
    with ConflictLog(settings.store_config()) as log:
        with SCENARIO.open("rb") as dump:
            restore(log, dump)
        with TestClient(create_app(settings, log=log)) as client:
            yield client


def ask(client: TestClient, question: Question) -> bytes:
    """The question and its answer, as an answer file holds them."""
    body = None if question.body is None else orjson.dumps(question.body)
    headers = question.request_headers()
    with client.stream(
        question.method, question.target, content=body, headers=headers, timeout=HANG_GUARD
    ) as response:
        content = _read(response.iter_raw(), question) if question.until else response.read()
        status, fields = response.status_code, response.headers.multi_items()
    length = response.headers.get("content-length")
    assert length is None or int(length) == len(content), f"{question.name}: content-length"
    for pattern, replacement in question.normalise:
        content, found = re.subn(pattern, replacement, content)
        assert found == 1, f"{question.name}: {pattern!r} found {found} times, not once"
    made = response.headers.get("x-request-id", "")
    assert re.fullmatch("[0-9a-f]{32}", made), f"{question.name}: x-request-id {made!r}"
    fields = [(n, value) for n, value in fields if n not in ("content-length", "x-request-id")]
    asked = [f"> {question.method} {question.target}"]
    asked += [f"> {name}: {value}" for name, value in headers.items()]
    if body is not None:
        asked.append(f"> {body.decode()}")
    answered = [f"< {status}"]
    answered += [f"< {name}: {value}" for name, value in sorted(fields, key=lambda f: f[0])]
    return "\n".join([*asked, *answered, "", ""]).encode() + content


def _read(chunks: Iterator[bytes], question: Question) -> bytes:
    """A stream's bytes up to the end of its first message holding ``question.until``."""
    assert question.until is not None
    read = b""
    for chunk in chunks:
        read += chunk
        mark = read.find(question.until)
        if mark >= 0 and (end := read.find(question.end, mark)) >= 0:
            return read[: end + len(question.end)]
    raise AssertionError(f"{question.name}: the stream ended before {question.until!r}")


def ask_all(config: StoreConfig) -> dict[str, bytes]:
    """Every question's answer file, by name, asked of the scenario restored in ``config``."""
    with golden_client(config) as client:
        return {question.name: ask(client, question) for question in QUESTIONS}


def answer_file(name: str) -> Path:
    return ANSWERS / f"{name}{SUFFIX}"
