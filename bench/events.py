"""The benchmarks' one event factory: realistic Parley events, as the JSON a client sends.

Every event looks like the desk's own (examples/istanbul-2025.ndjson): actors with a
name, a country, a role and sometimes a Wikidata id; one or two sources, each with an
outlet, a URL, ``published_at``, ``attributed_to``, a quote and the wires it came
``via``. A statement is about 1 kB of JSON, like the example's median event.

``statement(i)`` is one such StatementIssued (the single-event append and the no-op
POST send it). ``Mix`` makes a whole negotiation: mostly statements and contacts, a
steady number of rounds, proposals, documents, zones and ceasefires whatever the size
(the log grows, the state does not), answers, hosts, disputes, corrections and
retractions of earlier events, and 5% back-dated events; each event passes the
aggregate's invariants in the order made, so batches of it can be appended as they come.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

Json = dict[str, Any]

PEOPLE: list[Json] = [
    {"name": "Vladimir Putin", "country": "RUS", "role": "President", "wikidata": "Q7747"},
    {"name": "Donald Trump", "country": "USA", "role": "President", "wikidata": "Q22686"},
    {"name": "Vladimir Medinsky", "country": "RUS", "role": "head of the Russian delegation"},
    {"name": "Rustem Umerov", "country": "UKR", "role": "head of the Ukrainian delegation"},
    {"name": "Hakan Fidan", "country": "TUR", "role": "Minister of Foreign Affairs"},
    {"name": "Dmitry Peskov", "country": "RUS", "role": "Kremlin spokesperson"},
    {"name": "Andriy Sybiha", "country": "UKR", "role": "Minister of Foreign Affairs"},
    {"name": "Marco Rubio", "country": "USA", "role": "Secretary of State"},
    {"name": "Yuri Ushakov", "country": "RUS", "role": "presidential aide"},
    {"name": "Andriy Yermak", "country": "UKR", "role": "head of the Presidential Office"},
]
RUSSIA = PEOPLE[0]
UKRAINE = PEOPLE[3]
OUTLETS = [
    ("teleSUR", "https://www.telesurtv.net/news/"),
    ("Reuters", "https://www.reuters.com/world/europe/"),
    ("Anadolu Agency", "https://www.aa.com.tr/en/russia-ukraine-war/"),
    ("Ukrinform", "https://www.ukrinform.net/rubric-polytics/"),
    ("TASS", "https://tass.com/politics/"),
    ("Kyiv Independent", "https://kyivindependent.com/"),
]
WIRES = ["EFE", "TASS", "Sputnik", "AFP", "Interfax", "RIA Novosti", "AP", "dpa"]
ISTANBUL = {"city": "Istanbul", "country": "TUR", "region": "TR-34"}
REGIONS = [["UA-63"], ["UA-59"], ["UA-63", "UA-59"], ["UA-14"], ["UA-23"], ["UA-65"]]
TOPICS = [
    "prisoner exchange",
    "a memorandum on the conditions of a ceasefire",
    "the return of deported children",
    "a meeting of the two presidents",
    "security guarantees",
    "energy infrastructure strikes",
]
SUMMARY = (
    "{who} said the delegations had agreed to exchange a thousand prisoners of war each and "
    "to set out their visions of a future ceasefire in memoranda, while denying that a "
    "meeting of the presidents had been discussed (item {n})."
)

VALID_START = datetime(2022, 2, 24, tzinfo=UTC)
VALID_SPAN = timedelta(days=3 * 365)
OFFSET = timezone(timedelta(hours=-4))  # published_at as the outlet wrote it, with its UTC offset


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def source(rng: random.Random, at: date, n: int) -> Json:
    """One source: outlet, URL, published_at (after the fact), attributed_to, quote, via."""
    outlet, base = OUTLETS[n % len(OUTLETS)]
    published = datetime.combine(at, datetime.min.time(), tzinfo=UTC) + timedelta(
        hours=rng.randint(2, 72), minutes=rng.randint(0, 59)
    )
    return {
        "outlet": outlet,
        "url": f"{base}{n}-talks-{at.isoformat()}",
        "published_at": published.astimezone(OFFSET).isoformat(),
        "attributed_to": rng.choice(PEOPLE),
        "quote": "the parties agreed to continue contacts at the level of delegations "
        "and to exchange documents setting out their positions",
        "via": rng.sample(WIRES, 2),
    }


def sources(rng: random.Random, at: date, n: int) -> list[Json]:
    return [source(rng, at, n)] + ([source(rng, at, n + 1)] if n % 3 == 0 else [])


def statement(i: int, at: date | None = None, *, seed: int = 0) -> Json:
    """One realistic StatementIssued with an id (clients send one: the idempotency key)."""
    rng = random.Random(seed * 1_000_003 + i)
    at = at or (VALID_START + VALID_SPAN * rng.random()).date()
    speaker = PEOPLE[i % len(PEOPLE)]
    return {
        "id": _uuid(rng),
        "type": "StatementIssued",
        "occurred_at": at.isoformat(),
        "data": {
            "speaker": speaker,
            "summary": SUMMARY.format(who=speaker["name"], n=i),
            "topic": TOPICS[i % len(TOPICS)],
        },
        "sources": sources(rng, at, i),
    }


def opening(title: str = "Benchmark talks", at: date = VALID_START.date()) -> Json:
    """The body of ``POST /negotiations`` apart from the slug."""
    return {
        "title": title,
        "parties": ["RUS", "UKR"],
        "mediators": [PEOPLE[4]],
        "occurred_at": at.isoformat(),
        "sources": [source(random.Random(0), at, 0)],
    }


# How many of each state-making kind a negotiation gets in all, whatever its size.
CREATING = {
    "delegation": 4,
    "round": 30,
    "proposal": 60,
    "document": 30,
    "zone": 12,
    "ceasefire": 20,
}


class Mix:
    """The events of one negotiation of about ``total`` events, made in order.

    ``first()`` is its NegotiationOpened; ``take(k)`` the next ``k`` events. Valid
    times run over three years in order, 5% back-dated; ids come from ``seed``.
    """

    def __init__(self, total: int, *, seed: int = 1) -> None:
        self.total = max(total, 2)
        self.rng = random.Random(seed)
        self.made = 1  # the opening (first(), or POST /negotiations) is event 0
        self.rounds_known: list[int] = []
        self.rounds_held: set[int] = set()
        self.proposals: list[str] = []
        self.retractable: list[str] = []  # statements and contacts, never corrected
        self.correctable: list[tuple[str, str]] = []  # (id, type), never retracted

    def first(self) -> Json:
        at = VALID_START.date()
        return {
            "id": _uuid(self.rng),
            "type": "NegotiationOpened",
            "occurred_at": at.isoformat(),
            "data": {"title": "Benchmark talks", "parties": ["RUS", "UKR"], "mediators": ["TUR"]},
            "sources": sources(self.rng, at, 0),
        }

    def take(self, count: int) -> list[Json]:
        return [self.next() for _ in range(count)]

    def next(self) -> Json:
        rng, i = self.rng, self.made
        self.made += 1
        step = VALID_SPAN / self.total
        when = VALID_START + step * i
        if rng.random() < 0.05:
            when = VALID_START + step * rng.randrange(max(i, 1))  # back-dated
        at = when.date()
        roll = rng.random()
        kind = "statement"
        for name, count in CREATING.items():
            roll -= count / self.total
            if roll < 0:
                kind = name
                break
        else:
            roll = rng.random()
            if roll < 0.03 and self.proposals:
                kind = "answer"
            elif roll < 0.06 and self.rounds_known:
                kind = "reschedule"
            elif roll < 0.07 and self.rounds_known:
                kind = "host"
            elif roll < 0.08 and self.correctable:
                kind = "dispute"
            elif roll < 0.09 and self.correctable:
                kind = "correction"
            elif roll < 0.092 and self.retractable:
                kind = "retraction"
            elif roll < 0.5:
                kind = "contact"
        event_type, data = self._data(kind, at)
        event_id = _uuid(rng)
        event: Json = {
            "id": event_id,
            "type": event_type,
            "occurred_at": at.isoformat(),
            "data": data,
            "sources": sources(rng, at, i),
        }
        if event_type == "StatementIssued":
            if rng.random() < 0.5:
                self.retractable.append(event_id)
            elif len(self.correctable) < 1000:
                self.correctable.append((event_id, event_type))
        elif event_type == "ContactHeld":
            self.retractable.append(event_id)
        elif event_type == "RoundScheduled" and len(self.correctable) < 1000:
            self.correctable.append((event_id, event_type))
        return event

    def _data(self, kind: str, at: date) -> tuple[str, Json]:
        rng, i = self.rng, self.made
        if kind == "round":
            number = len(self.rounds_known) + 1
            self.rounds_known.append(number)
            starts = (at + timedelta(days=5)).isoformat()
            return "RoundScheduled", {"round": number, "starts_at": starts, "place": ISTANBUL}
        if kind in ("reschedule", "host"):
            number = rng.choice(self.rounds_known)
            if kind == "host":
                return "HostAnnounced", {"round": number, "host": PEOPLE[4], "place": ISTANBUL}
            if number not in self.rounds_held and rng.random() < 0.2:
                self.rounds_held.add(number)
                return "RoundHeld", {
                    "round": number,
                    "place": ISTANBUL,
                    "delegations": [RUSSIA, UKRAINE],
                    "outcomes": ["an exchange of prisoners of war, 1,000 for 1,000"],
                }
            status = rng.choice(["proposed", "confirmed", "postponed", "cancelled"])
            return "RoundScheduled", {
                "round": number,
                "starts_at": (at + timedelta(days=7)).isoformat(),
                "place": ISTANBUL,
                "status": status,
            }
        if kind == "delegation":
            return "DelegationNamed", {
                "party": rng.choice(["RUS", "UKR"]),
                "head": rng.choice(PEOPLE),
                "members": rng.sample(PEOPLE, 3),
            }
        if kind == "proposal":
            proposal_id = f"p{len(self.proposals) + 1}"
            self.proposals.append(proposal_id)
            return "ProposalMade", {
                "proposal_id": proposal_id,
                "proposer": RUSSIA,
                "addressee": UKRAINE,
                "subject": rng.choice(["memorandum", "ceasefire", "roadmap", "prisoner_exchange"]),
                "summary": "a memorandum setting out the conditions of a ceasefire",
                "terms": ["a thirty-day ceasefire", "an exchange of prisoners of war"],
            }
        if kind == "answer":
            return "ProposalAnswered", {
                "proposal_id": rng.choice(self.proposals),
                "responder": UKRAINE,
                "response": rng.choice(["accepted", "rejected", "countered", "noted"]),
                "summary": "the delegation answered in writing",
            }
        if kind == "document":
            return "DocumentExchanged", {"title": "memorandum", "from": RUSSIA, "to": UKRAINE}
        if kind == "zone":
            return "SecurityZoneDeclared", {
                "declared_by": RUSSIA,
                "regions": rng.choice(REGIONS),
                "status": rng.choice(["declared", "implemented"]),
            }
        if kind == "ceasefire":
            if rng.random() < 0.5:
                return "CeasefireProposed", {"proposer": PEOPLE[1], "duration": "P30D"}
            return "CeasefireDeclared", {
                "parties": ["RUS", "UKR"],
                "effective_from": at.isoformat(),
                "scope": rng.choice(REGIONS),
            }
        if kind == "dispute":
            target, _ = rng.choice(self.correctable)
            return "ClaimDisputed", {
                "event_id": target,
                "disputed_by": UKRAINE,
                "counter_claim": "no such agreement was reached",
            }
        if kind == "correction":
            target, target_type = rng.choice(self.correctable)
            fields = (
                {"status": "confirmed"} if target_type == "RoundScheduled" else {"summary": "y"}
            )
            return "EventCorrected", {"event_id": target, "data": fields, "reason": "better source"}
        if kind == "retraction":
            target = self.retractable.pop(rng.randrange(len(self.retractable)))
            return "EventRetracted", {"event_id": target, "reason": "the outlet withdrew it"}
        if kind == "contact":
            return "ContactHeld", {
                "participants": rng.sample(PEOPLE, 2),
                "medium": rng.choice(["phone", "visit", "video"]),
                "summary": SUMMARY.format(who="The two sides", n=i),
            }
        speaker = PEOPLE[i % len(PEOPLE)]
        return "StatementIssued", {
            "speaker": speaker,
            "summary": SUMMARY.format(who=speaker["name"], n=i),
            "topic": TOPICS[i % len(TOPICS)],
        }
