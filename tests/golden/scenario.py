"""Build the golden scenario, once, and write it as a ``parley dump`` (``scenario.ndjson``).

The golden answers (``tests/golden/answers/``) are asked of a store restored from that
dump, so the dump is the scenario: this script only says how it was made. It was run on
the code before issue 14's refactor, and need not run again (it patches the clock of
modules that the refactor may move). To run it::

    .venv/bin/python tests/golden/scenario.py   # from the repository root

It appends, through the real HTTP app on a fresh SQLite store, in seven transactions
at fixed recorded_at moments (a controlled clock stands in for ``datetime.now`` in the
writer, the redaction, the keyring and the dump, so the same code gives the same dump):

1. 2025-05-28T17:00Z: the founding example, ``istanbul-2025`` (16 events);
2. 2025-06-02T19:00Z: round 2 held (an interval with offsets), memoranda exchanged, a
   statement quoting a person (``attributed_to``, ``quote``, ``url``, ``via``: sealed),
   an ``asserted_by`` person, a Ukrainian proposal;
3. 2025-06-05T09:30Z: a correction of round 2, a retraction of an example statement,
   a dispute of the new statement, an answer to a proposal, round 3 scheduled;
4. 2025-06-10T12:00Z: a second negotiation, ``black-sea-2025``, with a host, a contact,
   a ceasefire proposed and declared, a zone, and a source quoting Vladimir Medinsky;
5. 2025-06-15T08:00Z: Vladimir Medinsky redacted (``PersonRedacted`` in both);
6. 2025-06-20T10:00:00.250Z: late knowledge: a May contact recorded only now, a second
   correction of round 2, a correction and a retraction in ``black-sea-2025``;
7. 2025-06-20T10:00:00.750Z: one more statement, half a second later (sub-second
   recorded_at; its month precision and a source of its own).

Positions are contiguous (1…N, SQLite), so a restore keeps them on both backends (it
keeps every row's bytes, version, recorded_at and position; on PostgreSQL it sets
``notification_id``). Person keys and sealing nonces are random, so a rebuild differs
from the committed dump in those bytes and in the hashes over them: the committed dump,
not this script, is the scenario.
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DUMP = HERE / "scenario.ndjson"
EXAMPLE = REPO / "examples" / "istanbul-2025.ndjson"
TOKEN = "golden-scenario-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

ISTANBUL = "istanbul-2025"
BLACK_SEA = "black-sea-2025"

UMEROV = {"name": "Rustem Umerov", "country": "UKR", "role": "Defense Minister"}
MEDINSKY = {
    "name": "Vladimir Medinsky",
    "country": "RUS",
    "role": "Presidential Aide, chief negotiator",
}
FIDAN = {"name": "Hakan Fidan", "country": "TUR", "role": "Foreign Minister"}
ISTANBUL_PLACE = {"city": "Istanbul", "country": "TUR", "region": "TR-34"}

ROUND_2 = "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4a01"
MEMORANDA = "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4a02"
UMEROV_STATEMENT = "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4a03"
UKR_PROPOSAL = "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4a04"
LAVROV_STATEMENT = "2d6187ac-1e03-42a2-8ab5-52110b3649aa"  # in the founding example
BS_OPENED = "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4b01"
BS_CEASEFIRE = "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4b05"
BS_ZONE = "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4b06"

REUTERS = {
    "outlet": "Reuters",
    "url": "https://www.reuters.com/world/europe/russia-ukraine-talks-istanbul-2025-06-02/",
    "published_at": "2025-06-02T16:40:00+00:00",
}


def source(**extra: Any) -> dict[str, Any]:
    return {**REUTERS, **extra}


BATCHES: list[tuple[str, str, list[dict[str, Any]]]] = [
    (
        "2025-06-02T19:00:00+00:00",
        ISTANBUL,
        [
            {
                "id": ROUND_2,
                "type": "RoundHeld",
                "occurred_at": "2025-06-02T13:00:00+03:00",
                "occurred_until": "2025-06-02T14:10:00+03:00",
                "data": {
                    "round": 2,
                    "place": {**ISTANBUL_PLACE, "geonames": 745044},
                    "delegations": ["RUS", "UKR"],
                    "outcomes": ["an exchange of all severely wounded prisoners"],
                },
                "sources": [source()],
            },
            {
                "id": MEMORANDA,
                "type": "DocumentExchanged",
                "occurred_at": "2025-06-02T13:30:00+03:00",
                "data": {
                    "title": "Memoranda on a settlement",
                    "from": "RUS",
                    "to": "UKR",
                    "round": 2,
                },
                "sources": [source(), {"outlet": "TASS", "published_at": "2025-06-02"}],
            },
            {
                "id": UMEROV_STATEMENT,
                "type": "StatementIssued",
                "occurred_at": "2025-06-02T15:00:00+03:00",
                "data": {
                    "speaker": UMEROV,
                    "summary": "Umerov said Kyiv would study the Russian memorandum within a week.",
                    "topic": "memoranda",
                },
                "sources": [
                    {
                        "outlet": "Ukrainska Pravda",
                        "url": "https://www.pravda.com.ua/eng/news/2025/06/02/umerov/",
                        "published_at": "2025-06-02T16:05:00+03:00",
                        "attributed_to": UMEROV,
                        "quote": "We will study the document within a week.",
                        "via": ["Ukrinform"],
                    }
                ],
                "asserted_by": FIDAN,
            },
            {
                "id": UKR_PROPOSAL,
                "type": "ProposalMade",
                "occurred_at": "2025-06-02",
                "data": {
                    "proposal_id": "ukr-2025-06-02-round-3",
                    "proposer": "UKR",
                    "addressee": "RUS",
                    "subject": "meeting",
                    "summary": "Ukraine proposed a third round before the end of June.",
                    "terms": ["before 30 June", "leaders' meeting to follow"],
                },
                "sources": [source()],
            },
        ],
    ),
    (
        "2025-06-05T09:30:00+00:00",
        ISTANBUL,
        [
            {
                "id": "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4a11",
                "type": "EventCorrected",
                "occurred_at": "2025-06-03",
                "data": {
                    "event_id": ROUND_2,
                    "data": {"outcomes": ["an exchange of 1,200 prisoners", "memoranda swapped"]},
                    "reason": "Reuters updated its report",
                },
                "sources": [source(published_at="2025-06-03T08:00:00+00:00")],
            },
            {
                "id": "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4a12",
                "type": "EventRetracted",
                "occurred_at": "2025-06-04",
                "data": {
                    "event_id": LAVROV_STATEMENT,
                    "reason": "the quote was from an earlier interview",
                },
                "sources": [{"outlet": "teleSUR", "published_at": "2025-06-04"}],
            },
            {
                "id": "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4a13",
                "type": "ClaimDisputed",
                "occurred_at": "2025-06-04T11:00:00+03:00",
                "data": {
                    "event_id": UMEROV_STATEMENT,
                    "disputed_by": "RUS",
                    "counter_claim": "Moscow said Kyiv had already rejected the memorandum.",
                },
                "sources": [{"outlet": "TASS", "published_at": "2025-06-04"}],
            },
            {
                "id": "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4a14",
                "type": "ProposalAnswered",
                "occurred_at": "2025-06-04",
                "data": {
                    "proposal_id": "ukr-2025-06-02-round-3",
                    "responder": "RUS",
                    "response": "countered",
                    "summary": "Russia proposed working groups first.",
                },
                "sources": [source()],
            },
            {
                "id": "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4a15",
                "type": "RoundScheduled",
                "occurred_at": "2025-06-04",
                "data": {
                    "round": 3,
                    "starts_at": "2025-07-23",
                    "place": ISTANBUL_PLACE,
                    "status": "proposed",
                },
                "sources": [source()],
            },
        ],
    ),
    (
        "2025-06-10T12:00:00+00:00",
        BLACK_SEA,
        [
            {
                "id": BS_OPENED,
                "type": "NegotiationOpened",
                "occurred_at": "2025-03-23",
                "data": {
                    "title": "Black Sea shipping talks, Riyadh 2025",
                    "parties": ["RUS", "UKR"],
                    "mediators": ["USA", "SAU"],
                },
                "sources": [{"outlet": "Reuters", "published_at": "2025-03-23"}],
            },
            {
                "id": "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4b07",
                "type": "RoundScheduled",
                "occurred_at": "2025-03-20",
                "data": {
                    "round": 1,
                    "starts_at": "2025-03-24",
                    "place": {"city": "Riyadh", "country": "SAU"},
                    "status": "confirmed",
                },
                "sources": [{"outlet": "Al Arabiya", "published_at": "2025-03-20"}],
            },
            {
                "id": "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4b02",
                "type": "HostAnnounced",
                "occurred_at": "2025-03-21",
                "data": {"round": 1, "host": "SAU", "place": {"city": "Riyadh", "country": "SAU"}},
                "sources": [{"outlet": "Al Arabiya", "published_at": "2025-03-21"}],
            },
            {
                "id": "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4b03",
                "type": "ContactHeld",
                "occurred_at": "2025-03-24",
                "occurred_until": "2025-03-25",
                "data": {
                    "participants": ["USA", "RUS"],
                    "medium": "visit",
                    "summary": "US and Russian teams met in Riyadh for twelve hours.",
                },
                "sources": [
                    {
                        "outlet": "Interfax",
                        "published_at": "2025-03-25",
                        "attributed_to": MEDINSKY,
                        "quote": "The talks were difficult but useful.",
                        "via": ["TASS"],
                    }
                ],
            },
            {
                "id": "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4b04",
                "type": "CeasefireProposed",
                "occurred_at": "2025-03-25",
                "data": {
                    "proposer": "USA",
                    "scope": ["UA-43", "UA-65"],
                    "duration": "P30D",
                    "conditions": ["safe navigation in the Black Sea"],
                },
                "sources": [{"outlet": "The White House", "published_at": "2025-03-25"}],
            },
            {
                "id": BS_CEASEFIRE,
                "type": "CeasefireDeclared",
                "occurred_at": "2025-03-25T20:00:00+00:00",
                "data": {
                    "parties": ["RUS", "UKR"],
                    "effective_from": "2025-03-26",
                    "effective_until": "2025-04-25",
                    "scope": ["UA-43"],
                },
                "sources": [{"outlet": "Reuters", "published_at": "2025-03-25"}],
            },
            {
                "id": BS_ZONE,
                "type": "SecurityZoneDeclared",
                "occurred_at": "2025-04-01",
                "precision": "month",
                "data": {"declared_by": "RUS", "regions": ["UA-43"], "depth_km": 12.5},
                "sources": [{"outlet": "TASS"}],
            },
        ],
    ),
]

LATE: list[tuple[str, str, list[dict[str, Any]]]] = [
    (
        "2025-06-20T10:00:00.250000+00:00",
        ISTANBUL,
        [
            {
                "id": "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4a21",
                "type": "ContactHeld",
                "occurred_at": "2025-05-20",
                "data": {
                    "participants": ["TUR", "UKR"],
                    "medium": "phone",
                    "summary": "Ankara and Kyiv spoke about hosting a second round.",
                },
                "sources": [{"outlet": "Anadolu", "published_at": "2025-06-19"}],
            },
            {
                "id": "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4a22",
                "type": "EventCorrected",
                "occurred_at": "2025-06-19",
                "data": {
                    "event_id": ROUND_2,
                    "data": {"outcomes": ["an exchange of 1,200 prisoners"]},
                    "reason": "the memoranda were exchanged, not swapped, at the round",
                },
                "sources": [source(published_at="2025-06-19")],
            },
        ],
    ),
    (
        "2025-06-20T10:00:00.250000+00:00",
        BLACK_SEA,
        [
            {
                "id": "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4b11",
                "type": "EventCorrected",
                "occurred_at": "2025-06-19",
                "data": {
                    "event_id": BS_CEASEFIRE,
                    "data": {"scope": ["UA-43", "UA-65"]},
                    "reason": "the declaration covered Mykolaiv too",
                },
                "sources": [{"outlet": "Reuters", "published_at": "2025-06-19"}],
            },
            {
                "id": "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4b12",
                "type": "EventRetracted",
                "occurred_at": "2025-06-19",
                "data": {"event_id": BS_ZONE, "reason": "no such declaration was made"},
                "sources": [{"outlet": "TASS", "published_at": "2025-06-19"}],
            },
        ],
    ),
    (
        "2025-06-20T10:00:00.750000+00:00",
        ISTANBUL,
        [
            {
                "id": "0b6f0c1e-2a8e-4d3c-9a51-0c1d2e3f4a23",
                "type": "StatementIssued",
                "occurred_at": "2025-06-01",
                "precision": "month",
                "data": {
                    "speaker": "TUR",
                    "summary": "Ankara offered to host a third round in July.",
                },
                "sources": [
                    {
                        "outlet": "Hürriyet",
                        "attributed_to": FIDAN,
                        "quote": "Türkiye is ready to host the third round.",
                    }
                ],
            },
        ],
    ),
]

REDACTED_AT = "2025-06-15T08:00:00+00:00"
EXAMPLE_AT = "2025-05-28T17:00:00+00:00"
DUMPED_AT = "2025-07-01T00:00:00+00:00"


class Clock:
    """The moment every patched ``datetime.now`` answers."""

    now = datetime.fromisoformat(EXAMPLE_AT)


class ControlledDatetime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        return Clock.now if tz is None else Clock.now.astimezone(tz)


def patch_clock() -> None:
    """Put the controlled clock where the store reads the time (writer, redaction,
    keyring, dump)."""
    import store.dump
    import store.keyring
    import store.redact
    import store.writer

    for module in (store.writer, store.redact, store.keyring, store.dump):
        assert module.datetime is datetime, module  # the code this was written against
        module.datetime = ControlledDatetime  # type: ignore[misc]


def build(out: Path) -> None:
    """Append the scenario to a fresh SQLite store and dump it to ``out``."""
    from fastapi.testclient import TestClient

    from api.http.app import create_app
    from api.settings import Settings
    from store.dump import dump
    from store.log import ConflictLog

    patch_clock()
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=Path(data_dir), admin_token=TOKEN, example=None)
        with ConflictLog(settings.store_config()) as log:
            with TestClient(create_app(settings, log=log)) as client:

                def post(at: str, slug: str, events: list[dict[str, Any]]) -> None:
                    Clock.now = datetime.fromisoformat(at)
                    answer = client.post(f"/negotiations/{slug}/events", json=events, headers=AUTH)
                    assert answer.status_code == 201, answer.text

                example = [json.loads(line) for line in EXAMPLE.read_text().splitlines()]
                post(EXAMPLE_AT, ISTANBUL, example)
                for at, slug, events in BATCHES:
                    post(at, slug, events)
                Clock.now = datetime.fromisoformat(REDACTED_AT)
                redacted = client.post(
                    "/redactions",
                    json={
                        "person": "Vladimir Medinsky",
                        "reason": "the source asked to be removed",
                        "requested_by": "the desk",
                    },
                    headers=AUTH,
                )
                assert redacted.status_code == 201, redacted.text
                for at, slug, events in LATE:
                    post(at, slug, events)
            Clock.now = datetime.fromisoformat(DUMPED_AT)
            with out.open("wb") as handle:
                header = dump(log, handle)
    print(f"wrote {out}: {header.events} events, {header.keys} person keys", file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    assert datetime.now(UTC).year > 2025  # the real clock, untouched here
    build(DUMP)
