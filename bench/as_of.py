"""Benchmark of the as-of engine against the naive reference fold, at 1k, 10k and 100k events.

It generates negotiations in memory (recorded through the real Negotiation
aggregate, so ids, clocks and hashes are genuine), with 5% back-dated events and a
few corrections, retractions and disputes. Most events are statements and contacts;
the rounds, proposals, documents, zones and ceasefires number the same whatever the
size, as in a real negotiation, while answers, rounds' event ids and contested claims
grow with the log (and with them the cost of ``to_json``, reported apart).
``measure(records)`` takes any list of one negotiation's ``Recorded`` (e.g. read back
from the store) and times ``AsOfEngine.state(random V, now)``, the naive fold, a
query at a past knowledge horizon, and a full rebuild. Run: ``python bench/as_of.py``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.events import (
    AnyEvent,
    CeasefireDeclared,
    CeasefireProposed,
    ClaimDisputed,
    ContactHeld,
    DelegationNamed,
    DocumentExchanged,
    EventCorrected,
    EventRetracted,
    HostAnnounced,
    NegotiationOpened,
    ProposalAnswered,
    ProposalMade,
    RoundHeld,
    RoundScheduled,
    SecurityZoneDeclared,
    StatementIssued,
)
from domain.negotiation import Negotiation, Recorded
from domain.values import Actor, Place, Source
from projections.as_of import AsOfEngine, naive_state

SLUG = "bench"
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
SOURCES = [Source(outlet="teleSUR", via=["TASS"])]
RUS, UKR, TUR, USA = (Actor(country=c) for c in ("RUS", "UKR", "TUR", "USA"))
ISTANBUL = Place(city="Istanbul", country="TUR", region="TR-34")
REGIONS = [["UA-63"], ["UA-59"], ["UA-63", "UA-59"], ["UA-14"], ["UA-23"], ["UA-65"]]


def generate(n: int, *, seed: int = 1) -> list[Recorded]:
    """A negotiation of ``n`` events: valid times over three years, 5% back-dated."""
    rng = random.Random(seed)
    log = Negotiation(SLUG)
    valid_start = datetime(2022, 2, 24, tzinfo=UTC)
    step = timedelta(days=3 * 365) / n
    clock = datetime(2025, 1, 1, tzinfo=UTC)
    rounds_known: list[int] = []
    rounds_held: set[int] = set()
    proposals: list[str] = []
    retractable: list[UUID] = []  # statements and contacts, never corrected or retracted
    correctable: list[AnyEvent] = []
    # State-making events come at a rate that keeps the state's size about the same
    # whatever n is, as in a real negotiation: the log grows, the state does not.
    creating = {
        "delegation": 4,
        "round": 30,
        "proposal": 60,
        "document": 30,
        "zone": 12,
        "ceasefire": 20,
    }
    records: list[Recorded] = []
    pending: list[AnyEvent] = [
        NegotiationOpened(
            occurred_at=valid_start,
            sources=SOURCES,
            data=NegotiationOpened.Data(title="Benchmark talks", parties=[RUS, UKR]),
        )
    ]
    position = 0

    def flush() -> None:
        nonlocal clock, position
        clock += timedelta(minutes=rng.randint(1, 90))
        for item in log.record(pending, clock):
            position += rng.randint(1, 3)  # other negotiations interleave in the global log
            records.append(item.placed(position))
        pending.clear()

    for i in range(1, n):
        if len(pending) >= rng.randint(1, 200):
            flush()
        at = valid_start + step * i
        if rng.random() < 0.05:
            at = valid_start + step * rng.randrange(i)  # back-dated
        roll = rng.random()
        kind = "statement"
        for name, count in creating.items():
            roll -= count / n
            if roll < 0:
                kind = name
                break
        else:
            roll = rng.random()
            if roll < 0.03 and proposals:
                kind = "answer"
            elif roll < 0.06 and rounds_known:
                kind = "reschedule"
            elif roll < 0.07 and rounds_known:
                kind = "host"
            elif roll < 0.08 and correctable:
                kind = "dispute"
            elif roll < 0.09 and correctable:
                kind = "correction"
            elif roll < 0.092 and retractable:
                kind = "retraction"
            elif roll < 0.5:
                kind = "contact"
        event = _event(
            kind, at, rng, rounds_known, rounds_held, proposals, retractable, correctable
        )
        pending.append(event)
    flush()
    return records


def _event(
    kind: str,
    at: datetime,
    rng: random.Random,
    rounds_known: list[int],
    rounds_held: set[int],
    proposals: list[str],
    retractable: list[UUID],
    correctable: list[AnyEvent],
) -> AnyEvent:
    event: AnyEvent
    if kind == "round":
        number = len(rounds_known) + 1
        rounds_known.append(number)
        event = RoundScheduled(
            occurred_at=at,
            sources=SOURCES,
            data=RoundScheduled.Data(
                round=number, starts_at=at + timedelta(days=5), place=ISTANBUL
            ),
        )
    elif kind == "reschedule" or kind == "host":
        number = rng.choice(rounds_known)
        if kind == "host":
            event = HostAnnounced(
                occurred_at=at, sources=SOURCES, data=HostAnnounced.Data(round=number, host=TUR)
            )
        elif number not in rounds_held and rng.random() < 0.2:
            rounds_held.add(number)
            event = RoundHeld(
                occurred_at=at, sources=SOURCES, data=RoundHeld.Data(round=number, place=ISTANBUL)
            )
        else:
            status = rng.choice(["proposed", "confirmed", "postponed", "cancelled"])
            event = RoundScheduled(
                occurred_at=at,
                sources=SOURCES,
                data=RoundScheduled.Data(
                    round=number, starts_at=at + timedelta(days=7), place=ISTANBUL, status=status
                ),
            )
    elif kind == "delegation":
        event = DelegationNamed(
            occurred_at=at,
            sources=SOURCES,
            data=DelegationNamed.Data(
                party=rng.choice([RUS, UKR]), head=Actor(name=f"Head {rng.randrange(9)}")
            ),
        )
    elif kind == "proposal":
        proposal_id = f"p{len(proposals) + 1}"
        proposals.append(proposal_id)
        event = ProposalMade(
            occurred_at=at,
            sources=SOURCES,
            data=ProposalMade.Data(
                proposal_id=proposal_id, proposer=RUS, addressee=UKR, subject="other", summary="x"
            ),
        )
    elif kind == "answer":
        response = rng.choice(["accepted", "rejected", "countered", "noted"])
        event = ProposalAnswered(
            occurred_at=at,
            sources=SOURCES,
            data=ProposalAnswered.Data(
                proposal_id=rng.choice(proposals), responder=UKR, response=response
            ),
        )
    elif kind == "document":
        event = DocumentExchanged(
            occurred_at=at,
            sources=SOURCES,
            data=DocumentExchanged.Data(title="memorandum", sender=RUS, recipient=UKR),
        )
    elif kind == "zone":
        event = SecurityZoneDeclared(
            occurred_at=at,
            sources=SOURCES,
            data=SecurityZoneDeclared.Data(
                declared_by=RUS,
                regions=rng.choice(REGIONS),
                status=rng.choice(["declared", "implemented"]),
            ),
        )
    elif kind == "ceasefire":
        event = (
            CeasefireProposed(
                occurred_at=at, sources=SOURCES, data=CeasefireProposed.Data(proposer=USA)
            )
            if rng.random() < 0.5
            else CeasefireDeclared(
                occurred_at=at,
                sources=SOURCES,
                data=CeasefireDeclared.Data(parties=[RUS, UKR], effective_from=at),
            )
        )
    elif kind == "dispute":
        event = ClaimDisputed(
            occurred_at=at,
            sources=SOURCES,
            data=ClaimDisputed.Data(
                event_id=rng.choice(correctable).id, disputed_by=UKR, counter_claim="untrue"
            ),
        )
    elif kind == "correction":
        target = rng.choice(correctable)
        fields = {"status": "confirmed"} if target.type == "RoundScheduled" else {"summary": "y"}
        event = EventCorrected(
            occurred_at=at,
            sources=SOURCES,
            data=EventCorrected.Data(event_id=target.id, data=fields, reason="better source"),
        )
    elif kind == "retraction":
        target_id = retractable.pop(rng.randrange(len(retractable)))
        event = EventRetracted(
            occurred_at=at,
            sources=SOURCES,
            data=EventRetracted.Data(event_id=target_id, reason="withdrawn"),
        )
    elif kind == "contact":
        event = ContactHeld(
            occurred_at=at,
            sources=SOURCES,
            data=ContactHeld.Data(participants=[RUS, UKR], medium="phone", summary="a call"),
        )
        retractable.append(event.id)
    else:
        event = StatementIssued(
            occurred_at=at, sources=SOURCES, data=StatementIssued.Data(speaker=RUS, summary="x")
        )
        if rng.random() < 0.5:
            retractable.append(event.id)
        elif len(correctable) < 1000:
            correctable.append(event)
    if isinstance(event, RoundScheduled) and len(correctable) < 1000:
        correctable.append(event)
    return event


@dataclass
class Measurement:
    n: int
    fast: list[float]  # seconds per state(random V, now)
    to_json: list[float]
    naive: list[float]
    past_first: list[float]  # a past known_at, first query at that horizon
    past_again: list[float]  # the same horizon, again
    load: float  # AsOfEngine.add of every record
    rebuild: float  # engine load plus the fold to the last valid time

    @staticmethod
    def ms(samples: Sequence[float], q: float = 0.5) -> float:
        ordered = sorted(samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def measure(
    records: list[Recorded], *, queries: int = 1000, naive_samples: int = 5, seed: int = 2
) -> Measurement:
    """Time the engine and the naive fold on one negotiation's records (position order)."""
    rng = random.Random(seed)
    slug = records[0].negotiation
    valid = [r.event.valid_from for r in records]
    low, high = min(valid), max(valid)

    def moment() -> datetime:
        return low + (high - low) * rng.random()

    start = time.perf_counter()
    engine = AsOfEngine(slug)
    engine.add(records)
    load = time.perf_counter() - start
    engine.state(high, FAR_FUTURE)  # every checkpoint built: a steady, warm engine
    rebuild = time.perf_counter() - start

    fast = [_timed(lambda: engine.state(moment(), FAR_FUTURE)) for _ in range(queries)]
    sample = engine.state(moment(), FAR_FUTURE)
    to_json = [_timed(sample.to_json) for _ in range(min(queries, 200))]
    naive = [
        _timed(lambda: naive_state(records, slug, moment(), FAR_FUTURE))
        for _ in range(naive_samples)
    ]
    past_first: list[float] = []
    past_again: list[float] = []
    for _ in range(naive_samples):
        known_at = records[rng.randrange(len(records))].recorded_at
        past_first.append(_timed(lambda: engine.state(moment(), known_at)))  # noqa: B023
        past_again.append(_timed(lambda: engine.state(moment(), known_at)))  # noqa: B023
    return Measurement(len(records), fast, to_json, naive, past_first, past_again, load, rebuild)


def report(m: Measurement, baseline: Measurement | None) -> list[str]:
    fast, naive = m.ms(m.fast), m.ms(m.naive)
    ratio = fast / m.ms(baseline.fast) if baseline else 1.0
    return [
        f"as_of n={m.n} fast p50={fast:.2f}ms p99={m.ms(m.fast, 0.99):.2f}ms "
        f"naive p50={naive:.1f}ms speedup={naive / fast:.0f}x ratio_to_1k={ratio:.1f}x "
        f"(to_json p50={m.ms(m.to_json):.2f}ms)",
        f"as_of n={m.n} past known_at: first query p50={m.ms(m.past_first):.1f}ms, "
        f"same horizon again p50={m.ms(m.past_again):.2f}ms",
        f"rebuild n={m.n} load={m.load * 1000:.0f}ms ({m.n / m.load:,.0f} events/s), "
        f"load+full fold={m.rebuild * 1000:.0f}ms ({m.n / m.rebuild:,.0f} events/s)",
    ]


def targets(m: Measurement, baseline: Measurement) -> str:
    """The issue's targets at this size: p50 <= 5 ms, <= 2x the 1k p50, >= 100x naive."""
    fast = m.ms(m.fast)
    checks = {
        "p50<=5ms": fast <= 5,
        "ratio_to_1k<=2x": fast <= 2 * baseline.ms(baseline.fast),
        "speedup>=100x": m.ms(m.naive) >= 100 * fast,
    }
    return f"targets n={m.n} " + " ".join(
        f"{name}:{'ok' if ok else 'MISSED'}" for name, ok in checks.items()
    )


def through_store(records: list[Recorded], *, queries: int = 300) -> list[str]:
    """Store the records in a SQLite log, then time the raw read, a full rebuild from the
    file (read + decode + fold) and the service's ``state`` (catch-up query included)."""
    import sqlite3
    import tempfile
    from pathlib import Path

    from projections.service import AsOf
    from store.config import StoreConfig
    from store.log import ConflictLog

    config = StoreConfig(data_dir=Path(tempfile.mkdtemp(prefix="parley-as-of-")))
    log = ConflictLog(config)
    events = [r.event for r in records]
    for start in range(0, len(events), 1000):
        log.append(SLUG, events[start : start + 1000])
    with sqlite3.connect(config.sqlite_path) as raw:
        started = time.perf_counter()
        rows = raw.execute("SELECT state FROM stored_events").fetchall()
        raw_rate = len(rows) / (time.perf_counter() - started)
    started = time.perf_counter()
    stored = log.index.select_records(negotiation=SLUG)
    read = time.perf_counter() - started
    del stored
    # A full rebuild as a server does it on first use: read, decode, fold, checkpoints.
    started = time.perf_counter()
    service = AsOf(log)
    engine = service.engine(SLUG)
    engine.state(FAR_FUTURE, FAR_FUTURE)
    rebuild = time.perf_counter() - started
    stored = list(engine.records)
    rng = random.Random(3)
    valid = [r.event.valid_from for r in stored]
    low, high = min(valid), max(valid)
    samples = [
        _timed(lambda: service.state(SLUG, low + (high - low) * rng.random()).to_json())
        for _ in range(queries)
    ]
    log.close()
    n = len(stored)
    return [
        f"store n={n} raw SELECT state: {raw_rate:,.0f} rows/s; read+decode "
        f"{n / read:,.0f} events/s; full rebuild (read+decode+fold) {n / rebuild:,.0f} "
        f"events/s = {n / rebuild / raw_rate:.2f}x of raw (target 150,000 events/s)",
        f"store n={n} service state+to_json p50={Measurement.ms(samples):.2f}ms "
        f"p99={Measurement.ms(samples, 0.99):.2f}ms",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument(
        "--no-store", dest="store", action="store_false", help="skip the SQLite round trip"
    )
    args = parser.parse_args()
    baseline: Measurement | None = None
    for n in (int(size) for size in args.sizes.split(",")):
        start = time.perf_counter()
        records = generate(n)
        print(f"generated n={n} in {time.perf_counter() - start:.1f}s", flush=True)
        m = measure(records, queries=args.queries, naive_samples=30 if n <= 10_000 else 5)
        baseline = baseline or m
        for line in report(m, baseline):
            print(line, flush=True)
        if n >= 100_000:
            print(targets(m, baseline), flush=True)
        if args.store:
            for line in through_store(records):
                print(line, flush=True)


if __name__ == "__main__":
    main()
