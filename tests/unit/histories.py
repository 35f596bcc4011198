"""Recorded histories for the projection tests: a hand-driven log, and random ones.

``History`` records events the way the store does (the Negotiation aggregate checks
and chains them; the log gives positions and the server's clock), without I/O. The
event builders keep tests short and readable; ``histories`` is the hypothesis
strategy that the as-of property tests draw from: back-dated events, corrections
(some that do not fit their target), retractions and disputes of disputes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from uuid import UUID

from hypothesis import strategies as st

from domain.errors import InvalidEventError
from domain.events import AnyEvent, EventCorrected, EventRetracted, parse_event
from domain.negotiation import Negotiation, Recorded
from domain.values import Source, end_of_day

SLUG = "istanbul-2025"
ISTANBUL = {"city": "Istanbul", "country": "TUR", "region": "TR-34"}
DOHA = {"city": "Doha", "country": "QAT"}
TELESUR = {"outlet": "teleSUR", "via": ["EFE", "TASS", "Sputnik"]}
MEDINSKY = {"name": "Vladimir Medinsky", "country": "RUS", "role": "chief negotiator"}
UMEROV = {"name": "Rustem Umerov", "country": "UKR", "role": "defence minister"}
RECORDING_STARTS = datetime(2025, 5, 28, 17, 0, tzinfo=UTC)

Moment = date | datetime | str


_ENVELOPE = ("occurred_until", "precision", "asserted_by")


def event(type_: str, occurred_at: Moment, *, id: UUID | None = None, **data: Any) -> AnyEvent:
    """One event as a client would send it, sourced to teleSUR; envelope fields pass through."""
    envelope = {key: data.pop(key) for key in _ENVELOPE if key in data}
    body: dict[str, Any] = {
        "type": type_,
        "occurred_at": occurred_at,
        "data": data,
        "sources": [TELESUR],
        **envelope,
    }
    if id is not None:
        body["id"] = id
    return parse_event(body)


def opened(at: Moment = "2025-05-16", **kw: Any) -> AnyEvent:
    return event(
        "NegotiationOpened",
        at,
        title="Russia–Ukraine direct talks, Istanbul 2025",
        parties=["RUS", "UKR"],
        mediators=["TUR"],
        **kw,
    )


def scheduled(
    at: Moment,
    round: int = 2,
    starts_at: Moment = "2025-06-02",
    status: str = "proposed",
    place: dict[str, Any] | None = None,
    **kw: Any,
) -> AnyEvent:
    return event(
        "RoundScheduled",
        at,
        round=round,
        starts_at=starts_at,
        place=place or ISTANBUL,
        status=status,
        **kw,
    )


def host(at: Moment, round: int = 2, host: Any = "TUR", **kw: Any) -> AnyEvent:
    return event("HostAnnounced", at, round=round, host=host, place=ISTANBUL, **kw)


def held(at: Moment, round: int = 1, **kw: Any) -> AnyEvent:
    return event("RoundHeld", at, round=round, place=ISTANBUL, delegations=["RUS", "UKR"], **kw)


def proposal(
    at: Moment, proposal_id: str = "rus-memo", subject: str = "memorandum", **kw: Any
) -> AnyEvent:
    return event(
        "ProposalMade",
        at,
        proposal_id=proposal_id,
        proposer=MEDINSKY,
        addressee=UMEROV,
        subject=subject,
        summary="Exchange memoranda on a settlement",
        **kw,
    )


def answer(
    at: Moment, proposal_id: str = "rus-memo", response: str = "accepted", **kw: Any
) -> AnyEvent:
    return event(
        "ProposalAnswered",
        at,
        proposal_id=proposal_id,
        responder=UMEROV,
        response=response,
        **kw,
    )


def statement(at: Moment, **kw: Any) -> AnyEvent:
    return event("StatementIssued", at, speaker="RUS", summary="Russia expects support.", **kw)


def contact(at: Moment, **kw: Any) -> AnyEvent:
    return event(
        "ContactHeld",
        at,
        participants=[MEDINSKY, UMEROV],
        medium="phone",
        summary="Medinsky called Umerov about the memorandum.",
        **kw,
    )


def delegation(at: Moment, party: Any = "RUS", head: Any = None, **kw: Any) -> AnyEvent:
    return event("DelegationNamed", at, party=party, head=head or MEDINSKY, members=[], **kw)


def document(at: Moment, title: str = "Russian memorandum", **kw: Any) -> AnyEvent:
    parties: dict[str, Any] = {"from": "RUS", "to": "UKR"}  # aliases: not Python names
    return event("DocumentExchanged", at, title=title, **parties, **kw)


def ceasefire_proposed(at: Moment, **kw: Any) -> AnyEvent:
    return event(
        "CeasefireProposed",
        at,
        proposer="RUS",
        scope=["UA-63"],
        duration="P3D",
        conditions=["memoranda exchanged"],
        **kw,
    )


def ceasefire_declared(at: Moment, **kw: Any) -> AnyEvent:
    kw.setdefault("parties", ["RUS", "UKR"])
    kw.setdefault("effective_from", at)
    kw.setdefault("scope", [])
    return event("CeasefireDeclared", at, **kw)


def zone(
    at: Moment, regions: Sequence[str] = ("UA-63", "UA-59"), status: str = "declared", **kw: Any
) -> AnyEvent:
    return event(
        "SecurityZoneDeclared",
        at,
        declared_by="RUS",
        regions=list(regions),
        status=status,
        **kw,
    )


def dispute(
    at: Moment,
    target: UUID,
    counter_claim: str = "It was the other way around",
    by: Any = None,
    **kw: Any,
) -> AnyEvent:
    return event(
        "ClaimDisputed",
        at,
        event_id=target,
        disputed_by=by or MEDINSKY,
        counter_claim=counter_claim,
        **kw,
    )


def agreement_reached(
    at: Moment, agreement_id: str = "istanbul-accord", stage: str = "reached", **kw: Any
) -> AnyEvent:
    kw.setdefault("provisions", [{"id": "1", "topic": "prisoners", "text": "1,000 for 1,000"}])
    return event(
        "AgreementReached",
        at,
        agreement_id=agreement_id,
        title="Istanbul accord",
        kind="partial",
        stage=stage,
        parties=["RUS", "UKR"],
        **kw,
    )


def agreement_signed(at: Moment, agreement_id: str = "istanbul-accord", **kw: Any) -> AnyEvent:
    kw.setdefault(
        "signatories",
        [{"actor": MEDINSKY, "on_behalf_of": "RUS"}, {"actor": UMEROV, "on_behalf_of": "UKR"}],
    )
    kw.setdefault("witnesses", ["TUR"])
    kw.setdefault("provisions", [{"id": "2", "topic": "humanitarian", "text": "Bodies returned"}])
    return event(
        "AgreementSigned",
        at,
        agreement_id=agreement_id,
        title="Istanbul accord",
        kind="partial",
        place=ISTANBUL,
        **kw,
    )


def agreement_ratified(
    at: Moment, agreement_id: str = "istanbul-accord", by: Any = "UKR", **kw: Any
) -> AnyEvent:
    return event("AgreementRatified", at, agreement_id=agreement_id, by=by, **kw)


def agreement_suspended(
    at: Moment, agreement_id: str = "istanbul-accord", by: Any = "RUS", **kw: Any
) -> AnyEvent:
    return event(
        "AgreementSuspended", at, agreement_id=agreement_id, by=by, reason="a strike", **kw
    )


def agreement_terminated(at: Moment, agreement_id: str = "istanbul-accord", **kw: Any) -> AnyEvent:
    kw.setdefault("reason", "replaced by a wider accord")
    return event("AgreementTerminated", at, agreement_id=agreement_id, **kw)


def implemented(
    at: Moment, agreement_id: str = "istanbul-accord", provision: str = "1", **kw: Any
) -> AnyEvent:
    return event(
        "ProvisionImplemented",
        at,
        agreement_id=agreement_id,
        provision=provision,
        by=["RUS", "UKR"],
        summary="390 prisoners exchanged",
        **kw,
    )


def ceasefire_lifted(
    at: Moment, ceasefire: UUID, mode: str = "suspended", by: Any = "RUS", **kw: Any
) -> AnyEvent:
    return event("CeasefireLifted", at, ceasefire=ceasefire, by=by, mode=mode, **kw)


def alleged(
    at: Moment,
    ceasefire: UUID | None = None,
    agreement_id: str | None = None,
    accuser: Any = "UKR",
    **kw: Any,
) -> AnyEvent:
    if ceasefire is not None:
        kw["ceasefire"] = ceasefire
    if agreement_id is not None:
        kw["agreement_id"] = agreement_id
    return event(
        "ViolationAlleged",
        at,
        accuser=accuser,
        accused=["RUS"],
        regions=["UA-63"],
        kind="shelling",
        summary="Shelling of Kharkiv despite the truce",
        **kw,
    )


def hostilities(at: Moment, **kw: Any) -> AnyEvent:
    return event(
        "HostilitiesReported",
        at,
        parties=["RUS", "UKR"],
        regions=["UA-59"],
        kind="ground_fighting",
        summary="Fighting near Sumy",
        **kw,
    )


def correction(at: Moment, target: UUID, **fields: Any) -> AnyEvent:
    return event("EventCorrected", at, event_id=target, data=fields, reason="a better source")


def retraction(at: Moment, target: UUID) -> AnyEvent:
    return event("EventRetracted", at, event_id=target, reason="the report was withdrawn")


class History:
    """A negotiation's log, recorded as the store would but in memory.

    Positions step by ``step`` (a global log interleaves negotiations), and the
    server's clock never goes back.
    """

    def __init__(
        self, slug: str = SLUG, *, start: datetime = RECORDING_STARTS, step: int = 3
    ) -> None:
        self.negotiation = Negotiation(slug)
        self.records: list[Recorded] = []
        self.clock = start
        self.step = step
        self.next_position = step

    def record(self, *events: AnyEvent, at: datetime | None = None) -> list[Recorded]:
        """Record a batch at ``at`` (default: the clock), which becomes the clock."""
        recorded_at = self.clock if at is None else at
        assert recorded_at >= self.clock, "the server's clock never goes back"
        batch = self.negotiation.record(list(events), recorded_at)
        self.clock = recorded_at
        placed = []
        for item in batch:
            placed.append(item.placed(self.next_position))
            self.next_position += self.step
        self.records.extend(placed)
        return placed

    def later(self, **delta: float) -> datetime:
        """Move the clock on and return it: the time of the next recording."""
        self.clock += timedelta(**delta)
        return self.clock

    def add(self, event_: AnyEvent, *, hours: float = 1) -> Recorded:
        """Record one event an interval after the previous recording."""
        return self.record(event_, at=self.later(hours=hours))[0]


def moments_of(records: Sequence[Recorded]) -> list[datetime]:
    """Valid-time query points that hit every boundary the records have, and beyond."""
    points = {datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)}
    for r in records:
        start = r.event.valid_from
        points.update({start, start - timedelta(microseconds=1), end_of_day(start.date())})
    return sorted(points)


def horizons_of(records: Sequence[Recorded]) -> list[datetime]:
    """Knowledge query points: each recording, just before it, and after all of them."""
    points = {RECORDING_STARTS - timedelta(days=1), datetime(2030, 1, 1, tzinfo=UTC)}
    for r in records:
        points.update({r.recorded_at, r.recorded_at - timedelta(microseconds=1)})
    return sorted(points)


_FIRST_DAY = date(2025, 5, 10)
_KINDS = (
    "statement",
    "contact",
    "delegation",
    "proposal",
    "answer",
    "scheduled",
    "scheduled",
    "host",
    "held",
    "document",
    "ceasefire_proposed",
    "ceasefire_declared",
    "zone",
    "zone",
    "dispute",
    "dispute",
    "correction",
    "correction",
    "correction",
    "retraction",
    "retraction",
    "agreement_reached",
    "agreement_signed",
    "agreement_life",
    "implemented",
    "ceasefire_lifted",
    "alleged",
    "alleged",
    "hostilities",
)
_EAST = timezone(timedelta(hours=3))
_WEST = timezone(timedelta(hours=-4))


@st.composite
def valid_times(draw: st.DrawFn) -> date | datetime:
    """A date, or a datetime in one of three offsets, within a six-week span."""
    day = _FIRST_DAY + timedelta(days=draw(st.integers(0, 40)))
    if draw(st.booleans()):
        return day
    hour = draw(st.sampled_from([0, 1, 12, 23]))
    zone_ = draw(st.sampled_from([UTC, _EAST, _WEST]))
    return datetime.combine(day, time(hour), tzinfo=zone_)


def _fields_for(draw: st.DrawFn, target: AnyEvent, ids: list[UUID]) -> dict[str, Any]:
    """Correction fields for ``target``: mostly fitting its type, sometimes not."""
    kind = target.type
    if draw(st.integers(0, 9)) == 0:
        return {"no_such_field": 1}  # does not fit: the projections must ignore it
    if kind == "RoundScheduled":
        return draw(
            st.sampled_from(
                [
                    {"status": "confirmed"},
                    {"status": "cancelled"},
                    {"round": 3},
                    {"starts_at": "2025-06-09", "place": DOHA},
                ]
            )
        )
    if kind == "ProposalMade":
        return draw(st.sampled_from([{"summary": "A corrected summary"}, {"proposal_id": "p1"}]))
    if kind == "ProposalAnswered":
        return {"response": draw(st.sampled_from(["accepted", "rejected", "noted"]))}
    if kind == "HostAnnounced":
        return {"host": "QAT", "place": DOHA}
    if kind == "SecurityZoneDeclared":
        return draw(st.sampled_from([{"status": "implemented"}, {"regions": ["UA-63"]}]))
    if kind == "ClaimDisputed":
        # May point the dispute at any id, even one recorded later, or at itself.
        return draw(
            st.sampled_from(
                [
                    {"counter_claim": "A corrected counter-claim"},
                    {"event_id": draw(st.sampled_from(ids))},
                ]
            )
        )
    if kind == "DelegationNamed":
        return {"head": UMEROV}
    if kind in ("AgreementReached", "AgreementSigned"):
        return draw(
            st.sampled_from(
                [
                    {"title": "Istanbul accord (corrected)"},
                    {"provisions": [{"id": "1", "topic": "prisoners", "text": "All for all"}]},
                    {"kind": "comprehensive"},
                ]
            )
        )
    if kind in ("AgreementRatified", "AgreementSuspended"):
        return {"by": "TUR"}
    if kind == "AgreementTerminated":
        return {"superseded_by": "wider-accord"}
    if kind == "ProvisionImplemented":
        return draw(st.sampled_from([{"provision": "2"}, {"summary": "corrected"}]))
    if kind == "CeasefireLifted":
        return {"mode": draw(st.sampled_from(["suspended", "ended"]))}
    if kind == "ViolationAlleged":
        # May point the allegation at any ceasefire id, or none of them.
        return draw(
            st.sampled_from([{"ceasefire": draw(st.sampled_from(ids))}, {"summary": "corrected"}])
        )
    if kind == "HostilitiesReported":
        return {"kind": "shelling"}
    if kind == "RoundHeld":
        return {"outcomes": ["a prisoner exchange"]}
    if kind == "NegotiationOpened":
        return {"title": "Istanbul talks (corrected)"}
    return {"summary": "corrected"} if kind in ("StatementIssued", "ContactHeld") else {"scope": []}


def _a_ceasefire(draw: st.DrawFn, made: list[AnyEvent], ids: list[UUID]) -> UUID:
    """Mostly a ceasefire already in the log (proposed or declared), else any id: one
    recorded later, or none at all."""
    ceasefires = [e.id for e in made if e.type in ("CeasefireDeclared", "CeasefireProposed")]
    if ceasefires and draw(st.integers(0, 3)) > 0:
        return draw(st.sampled_from(ceasefires))
    return draw(st.sampled_from(ids))


@st.composite
def publications(draw: st.DrawFn) -> list[Source]:
    """One to three sources, each with no ``published_at``, a date, or a datetime with
    an offset, from before the recordings start to after most of them."""
    sources = []
    for n in range(draw(st.integers(1, 3))):
        published: date | datetime | None = None
        kind = draw(st.sampled_from(["none", "date", "datetime"]))
        day = date(2025, 5, 26) + timedelta(days=draw(st.integers(0, 12)))
        if kind == "date":
            published = day
        elif kind == "datetime":
            zone_ = draw(st.sampled_from([UTC, _EAST, _WEST]))
            published = datetime.combine(day, time(draw(st.sampled_from([0, 17, 23]))), zone_)
        sources.append(Source(outlet=f"outlet {n}", published_at=published))
    return sources


@st.composite
def histories(draw: st.DrawFn, max_steps: int = 24, published: bool = False) -> list[Recorded]:
    """A random valid log: events at random valid times (so many are back-dated),
    recorded at non-decreasing times (ties included), with log facts among them.
    ``published``: each event's sources get random ``published_at`` (``publications``)."""
    history = History(step=draw(st.sampled_from([1, 2, 5])))
    ids = [UUID(int=n) for n in range(1, max_steps + 2)]  # each step's id, known upfront
    first = opened(draw(valid_times()), id=ids[0])
    if published:
        first = first.model_copy(update={"sources": draw(publications())})
    history.record(first)
    for step in range(1, draw(st.integers(0, max_steps)) + 1):
        made = [r.event for r in history.records]
        world = [e for e in made if not isinstance(e, EventCorrected | EventRetracted)]
        at = draw(valid_times())
        kind = draw(st.sampled_from(_KINDS))
        round_ = draw(st.integers(1, 3))
        pid = draw(st.sampled_from(["p1", "p2"]))
        aid = draw(st.sampled_from(["accord-a", "accord-b"]))
        new: AnyEvent
        if kind == "statement":
            new = statement(at, id=ids[step])
        elif kind == "contact":
            new = contact(at, id=ids[step])
        elif kind == "delegation":
            new = delegation(at, party=draw(st.sampled_from(["RUS", "UKR"])), id=ids[step])
        elif kind == "proposal":
            new = proposal(at, proposal_id=pid, id=ids[step])
        elif kind == "answer":
            response = draw(st.sampled_from(["accepted", "rejected", "countered", "noted"]))
            new = answer(at, proposal_id=pid, response=response, id=ids[step])
        elif kind == "scheduled":
            status = draw(st.sampled_from(["proposed", "confirmed", "postponed", "cancelled"]))
            new = scheduled(at, round=round_, status=status, id=ids[step])
        elif kind == "host":
            new = host(at, round=round_, id=ids[step])
        elif kind == "held":
            new = held(at, round=round_, id=ids[step])
        elif kind == "document":
            new = document(at, id=ids[step])
        elif kind == "ceasefire_proposed":
            new = ceasefire_proposed(at, id=ids[step])
        elif kind == "ceasefire_declared":
            terms: dict[str, Any] = draw(
                st.sampled_from(
                    [
                        {},
                        {"scope": ["UA-63"]},
                        {"scope": ["UA-59"], "parties": ["RUS"]},
                        {"effective_from": _FIRST_DAY + timedelta(days=draw(st.integers(0, 40)))},
                        {"effective_until": _FIRST_DAY + timedelta(days=draw(st.integers(0, 40)))},
                    ]
                )
            )
            new = ceasefire_declared(at, id=ids[step], **terms)
        elif kind == "zone":
            regions = draw(st.sampled_from([["UA-63", "UA-59"], ["UA-59", "UA-63"], ["UA-63"]]))
            status = draw(st.sampled_from(["declared", "implemented"]))
            new = zone(at, regions=regions, status=status, id=ids[step])
        elif kind == "agreement_reached":
            stage = draw(st.sampled_from(["reached", "initialled"]))
            new = agreement_reached(at, agreement_id=aid, stage=stage, id=ids[step])
        elif kind == "agreement_signed":
            new = agreement_signed(at, agreement_id=aid, id=ids[step])
        elif kind == "agreement_life":
            life = draw(st.sampled_from([agreement_ratified, agreement_suspended]))
            if draw(st.integers(0, 2)) == 0:
                life = agreement_terminated
            new = life(at, agreement_id=aid, id=ids[step])
        elif kind == "implemented":
            provision = draw(st.sampled_from(["1", "2", "9"]))
            new = implemented(at, agreement_id=aid, provision=provision, id=ids[step])
        elif kind == "ceasefire_lifted":
            mode = draw(st.sampled_from(["suspended", "ended"]))
            new = ceasefire_lifted(at, _a_ceasefire(draw, made, ids), mode=mode, id=ids[step])
        elif kind == "alleged":
            if draw(st.booleans()):
                new = alleged(at, ceasefire=_a_ceasefire(draw, made, ids), id=ids[step])
            else:
                new = alleged(at, agreement_id=aid, id=ids[step])
        elif kind == "hostilities":
            new = hostilities(at, id=ids[step])
        elif kind == "dispute":
            # Half the time a denial of an allegation or a report, when there is one.
            claims: list[AnyEvent] = [
                e for e in made if e.type in ("ViolationAlleged", "HostilitiesReported")
            ]
            pool = claims if draw(st.booleans()) and claims else made
            new = dispute(at, draw(st.sampled_from(pool)).id, id=ids[step])
        elif kind == "correction":
            target = draw(st.sampled_from(world))
            new = correction(at, target.id, **_fields_for(draw, target, ids))
            new = new.model_copy(update={"id": ids[step]})
        else:
            new = retraction(at, draw(st.sampled_from(world)).id)
            new = new.model_copy(update={"id": ids[step]})
        if published:
            new = new.model_copy(update={"sources": draw(publications())})
        wait = draw(st.sampled_from([0, 0, 1, 24]))
        try:
            history.record(new, at=history.clock + timedelta(hours=wait))
        except InvalidEventError:
            continue  # refused by the aggregate (e.g. a round held twice): not in the log
    return history.records


def given(*events: AnyEvent) -> History:
    """A negotiation opened on 16 May, then ``events``, each recorded an hour apart."""
    history = History()
    history.record(opened())
    for event in events:
        history.add(event)
    return history
