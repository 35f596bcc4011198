"""CAMEO and PLOVER codes for Parley's events, chosen by what each event says.

``code(event)`` gives an event's CAMEO code and label, and the PLOVER event, mode and
context that the Open Event Data Alliance's conversion table gives that CAMEO code
(``domain/cameo2plover.py``); PLOVER is never chosen here, only looked up, so the two
cannot disagree. The code depends on the event's content, not only on its type: a
phone call and a visit, an acceptance and a rejection, a declared and an implemented
security zone are coded differently. A ``ProposalAnswered`` does not repeat what the
proposal was about, so its caller passes the proposal's ``subject`` when it knows it;
without it, the answer gets CAMEO's "not specified below" code for its kind.

The rules follow the definitions of the CAMEO 1.1b3 codebook: the 03 codes cover any
"offer, promise, agree to, or otherwise indicate willingness or commitment to" act,
so a proposal and its acceptance share a code; the 12 codes are refusals; 046 is
"negotiate or bargain with others". Where no code fits, the code is None and the
reason is given at the rule. Types that record the log itself (corrections and
retractions) are never coded. CAMEO labels are GDELT's (``CAMEO_LABELS``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple, assert_never

from domain.cameo2plover import plover_row
from domain.events import (
    CODEBOOK,
    AgreementKind,
    AgreementRatified,
    AgreementReached,
    AgreementSigned,
    AgreementSuspended,
    AgreementTerminated,
    AnyEvent,
    CeasefireDeclared,
    CeasefireLifted,
    CeasefireProposed,
    ClaimDisputed,
    ContactHeld,
    ContactMedium,
    DelegationNamed,
    DocumentExchanged,
    EventCorrected,
    EventRetracted,
    HostAnnounced,
    HostilitiesKind,
    HostilitiesReported,
    NegotiationOpened,
    PersonRedacted,
    ProposalAnswered,
    ProposalMade,
    ProposalResponse,
    ProposalSubject,
    ProvisionImplemented,
    ProvisionTopic,
    RoundHeld,
    RoundScheduled,
    RoundStatus,
    SecurityZoneDeclared,
    StatementIssued,
    ViolationAlleged,
    ZoneStatus,
)
from domain.values import Actor, Place, region_country

CAMEO_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "010": "Make statement, not specified below",
        "014": "Consider policy option",
        "030": "Express intent to cooperate, not specified below",
        "0353": "Express intent to release persons or property",
        "0356": "Express intent to de-escalate military engagement",
        "036": "Express intent to meet or negotiate",
        "037": "Express intent to settle dispute",
        "039": "Express intent to mediate",
        "040": "Consult, not specified below",
        "041": "Discuss by telephone",
        "042": "Make a visit",
        "044": "Meet at a 'third' location",
        "046": "Engage in negotiation",
        "057": "Sign formal agreement",
        "060": "Engage in material cooperation, not specified below",
        "061": "Cooperate economically",
        "080": "Yield, not specified below",
        "083": "Accede to requests or demands for political reform not specified below",
        "0841": "Return, release person(s)",
        "0862": "Receive inspectors",
        "0863": "Allow delivery of humanitarian aid",
        "087": "De-escalate military engagement",
        "0871": "Declare truce, ceasefire",
        "0874": "Retreat or surrender militarily",
        "112": "Accuse, not specified below",
        "1123": "Accuse of aggression",
        "120": "Reject, not specified below",
        "1243": "Refuse to release persons or property",
        "1246": "Refuse to de-escalate military engagement",
        "125": "Reject proposal to meet, discuss, or negotiate",
        "127": "Reject plan, agreement to settle dispute",
        "1382": "Threaten occupation",
        "160": "Reduce relations, not specified below",
        "164": "Halt negotiations",
        "190": "Use conventional military force, not specified below",
        "192": "Occupy territory",
        "193": "Fight with small arms and light weapons",
        "194": "Fight with artillery and tanks",
        "195": "Employ aerial weapons",
    }
)
"""The label of every CAMEO code that ``code`` can give, as GDELT's lookup file
``CAMEO.eventcodes.txt`` (https://www.gdeltproject.org/data/lookups/CAMEO.eventcodes.txt)
writes it, read in the copy at ``AlifCor/media-focus``, path ``CAMEO.eventcodes.txt``,
commit ``a7e3917cff6a5d308203e4e6cc2f060baad9fb67``. Trailing spaces are trimmed, and
the quotes around 'third' in 044, mis-encoded in that file, are written plainly, as
the PLOVER table writes them."""


@dataclass(frozen=True)
class Coding:
    """An event's CAMEO code and label and its PLOVER reading; all None when uncoded."""

    cameo: str | None
    cameo_label: str | None
    plover_event: str | None
    plover_mode: str | None
    plover_context: tuple[str, ...]
    codebook: str = CODEBOOK

    def as_json(self) -> dict[str, Any]:
        """The ``coding`` object of the API's answers: ``{cameo, cameo_label, plover:
        {event, mode, context}}``; the codebook is named once per answer, not here."""
        return {
            "cameo": self.cameo,
            "cameo_label": self.cameo_label,
            "plover": {
                "event": self.plover_event,
                "mode": self.plover_mode,
                "context": list(self.plover_context),
            },
        }


class Proposal(NamedTuple):
    """What an answer's coding and export need of the proposal it answers."""

    subject: ProposalSubject
    proposer: Actor


def proposals_of(events: Iterable[AnyEvent]) -> dict[str, Proposal]:
    """The proposals made among ``events``, by proposal id (the first one of an id)."""
    found: dict[str, Proposal] = {}
    for event in events:
        if isinstance(event, ProposalMade):
            found.setdefault(
                event.data.proposal_id, Proposal(event.data.subject, event.data.proposer)
            )
    return found


ProvisionKey = tuple[str, str]
"""A provision by (agreement id, provision id)."""


def provisions_of(events: Iterable[AnyEvent]) -> dict[ProvisionKey, ProvisionTopic]:
    """The topic of every provision that the agreements among ``events`` list, by
    (agreement id, provision id). A later text of an agreement (the signed one after
    the one reached) gives the topic of a provision it lists again."""
    found: dict[ProvisionKey, ProvisionTopic] = {}
    for event in events:
        if isinstance(event, AgreementReached | AgreementSigned):
            for provision in event.data.provisions:
                found[(event.data.agreement_id, provision.id)] = provision.topic
    return found


def coding_for(
    event: AnyEvent,
    proposals: Mapping[str, Proposal],
    provisions: Mapping[ProvisionKey, ProvisionTopic] | None = None,
) -> Coding:
    """The coding of ``event``; an answer is coded by its proposal's subject, and an
    implementation step by its provision's topic, when known."""
    if isinstance(event, ProposalAnswered):
        proposal = proposals.get(event.data.proposal_id)
        return code(event, subject=None if proposal is None else proposal.subject)
    if isinstance(event, ProvisionImplemented):
        key = (event.data.agreement_id, event.data.provision)
        return code(event, topic=(provisions or {}).get(key))
    return code(event)


def code(
    event: AnyEvent,
    *,
    subject: ProposalSubject | None = None,
    topic: ProvisionTopic | None = None,
) -> Coding:
    """The coding of ``event``. ``subject`` is, for a ``ProposalAnswered``, the subject
    of the proposal it answers (its ``ProposalMade``), when known; ``topic`` is, for a
    ``ProvisionImplemented``, the topic its agreement gives the provision, when known.
    Other types ignore both.
    """
    return coding_of(cameo_code(event, subject=subject, topic=topic))


def coding_of(cameo: str | None) -> Coding:
    """The label and PLOVER reading of a CAMEO code (None where PLOVER has no row)."""
    if cameo is None:
        return Coding(None, None, None, None, ())
    row = plover_row(cameo)
    if row is None:  # CAMEO 01 and 02: PLOVER dropped statements and appeals
        return Coding(cameo, CAMEO_LABELS[cameo], None, None, ())
    return Coding(cameo, CAMEO_LABELS[cameo], row.event, row.mode, row.context)


def cameo_code(
    event: AnyEvent,
    *,
    subject: ProposalSubject | None = None,
    topic: ProvisionTopic | None = None,
) -> str | None:
    """The CAMEO code of ``event``, or None where no CAMEO code describes it."""
    match event:
        case NegotiationOpened():
            # Opens Parley's log of a process. The acts that open talks in the world
            # are their own events (a round, a contact, a proposal); coding this too
            # would count them twice.
            return None
        case DelegationNamed():
            # A party appointing its own negotiators is not an act towards another
            # actor; CAMEO has no code for it. The intent to meet it implies is coded
            # where it is expressed (a proposal, an answer, a scheduled round).
            return None
        case ContactHeld():
            return _contact(event.data.medium)
        case StatementIssued():
            return "010"  # a statement's topic is free text: nothing finer can be chosen
        case ProposalMade():
            return _intent(event.data.subject)  # an offer is an expressed intent (03)
        case ProposalAnswered():
            return _answer(event.data.response, subject)
        case RoundScheduled():
            return _round(event.data.status)
        case HostAnnounced():
            # A host offers its good offices to the parties: Türkiye hosting Russia and
            # Ukraine. (Were a party itself to host, 036 would be closer; the event does
            # not say who the parties are.)
            return "039"
        case RoundHeld():
            return "046"
        case DocumentExchanged():
            # Handing over a draft or memorandum is a move in the bargaining; CAMEO has
            # no code for sending a document as such.
            return "046"
        case CeasefireProposed():
            return "0356"
        case CeasefireDeclared():
            return "0871"  # not 0831, "Accede to demands for change in leadership"
        case SecurityZoneDeclared():
            return _zone(event.data.status)
        case ClaimDisputed():
            # A denial: the disputer rejects the claim; it does not accuse its author.
            # CAMEO's own "Deny responsibility" (016) is a statement, which PLOVER
            # dropped; of the 12 refusals none is about a claim (125 is a proposal to
            # meet, 127 a plan), so it is rejection not specified below: PLOVER REJECT.
            return "120"
        case AgreementReached():
            # Agreed in principle or initialled, not yet signed: CAMEO's 03 codes are
            # "agree to", by what is agreed; the signature is 057.
            return _agreed(event.data.kind)
        case AgreementSigned():
            return "057"
        case AgreementRatified():
            return "057"  # CAMEO: "sign or ratify an agreement or treaty"
        case AgreementSuspended():
            # Withdrawing, in part, from a tie with the other parties: CAMEO's 16,
            # "reduce or terminate, in whole or in part, relations".
            return "160"
        case AgreementTerminated():
            if event.data.superseded_by is not None or event.data.by is None:
                # Replaced by another agreement (whose signing is coded 057) or expired:
                # nobody acts against anybody.
                return None
            return "160"
        case ProvisionImplemented():
            return _implemented(topic)
        case CeasefireLifted():
            # The ceasefire was the de-escalation (0871); lifting it, suspended or
            # ended, declines to keep de-escalating. Not 196, "Violate ceasefire": the
            # lifting is announced, not a breach (an alleged breach is ViolationAlleged).
            return "1246"
        case ViolationAlleged():
            if event.data.ceasefire is not None or event.data.kind is not None:
                # Breaking a ceasefire, or fighting of a named kind, is a use of force.
                return "1123"
            return "112"  # an agreement's terms broken, not said to be by force
        case HostilitiesReported():
            return _hostilities(event.data.kind)
        case EventCorrected() | EventRetracted() | PersonRedacted():
            return None  # facts about the log, not about the world
        case _:
            assert_never(event)


def _agreed(kind: AgreementKind) -> str:
    """Agree to: the 03 code for what an agreement not yet signed settles."""
    match kind:
        case "ceasefire":
            return "0356"
        case "pre_negotiation":
            return "036"  # an agreement on how to talk is an intent to negotiate
        case "framework" | "partial" | "comprehensive" | "implementation" | "declaration" | "other":
            return "037"
        case _:
            assert_never(kind)


def _implemented(topic: ProvisionTopic | None) -> str:
    """A provision carried out: the 06 and 08 code for what it does. CAMEO's 08 codes
    are the acts that yield or de-escalate; cooperation not yielding is 06."""
    match topic:
        case "ceasefire":
            return "0871"
        case "withdrawal":
            return "0874"  # CAMEO: "withdraw troops, retreat, or surrender"
        case "prisoners":
            return "0841"
        case "humanitarian":
            return "0863"
        case "security" | "demining":
            return "087"  # de-escalating, not in any way named below it
        case "monitoring":
            return "0862"  # monitors let in; the monitors' own deployment is theirs
        case "political":
            return "083"
        case "territory":
            return "080"  # ground handed over: a yield, which CAMEO does not divide
        case "economic":
            return "061"
        case "implementation" | "other" | None:
            return "060"  # carrying out agreed terms is material cooperation
        case _:
            assert_never(topic)


def _hostilities(kind: HostilitiesKind) -> str:
    """Fight: the 19 code for the kind of fighting reported."""
    match kind:
        case "shelling":
            return "194"  # artillery and tanks
        case "air_strike" | "drone_strike" | "missile_strike":
            # CAMEO 1.1b3 (and GDELT's list) has one code for aerial weapons; the
            # 1951/1952 (precision-guided, remotely piloted) of later drafts have no
            # PLOVER row.
            return "195"
        case "ground_fighting":
            return "193"  # armed clashes: small arms and light weapons
        case "naval" | "other":
            return "190"  # conventional force, not specified below
        case _:
            assert_never(kind)


def _contact(medium: ContactMedium) -> str:
    match medium:
        case "phone":
            return "041"
        case "video":
            # A real-time conversation at a distance, which is what 041 codes; PLOVER's
            # "phone" mode is "phone or some other remote medium".
            return "041"
        case "visit":
            # One event, coded from the visitor's side as PLOVER codes a visit (the
            # visitor is the actor, the host the recipient). 043, "Host a visit", is the
            # same meeting seen from the host, the second event of a CAMEO dyad; Parley
            # records the meeting once. PLOVER reads 042 and 043 alike: CONSULT, visit.
            return "042"
        case "third-party":
            return "044"  # PLOVER: "meeting is hosted by a third party"
        case "letter":
            # Written exchanges are consultation, but not by telephone; CAMEO has no
            # code for correspondence, so it is consultation not specified below.
            return "040"
        case _:
            assert_never(medium)


def _intent(subject: ProposalSubject | None) -> str:
    """Offer or accept: the 03 code for what is offered."""
    match subject:
        case "meeting":
            return "036"
        case "ceasefire":
            return "0356"
        case "prisoner_exchange":
            return "0353"
        case "memorandum" | "roadmap":
            return "037"  # terms or a plan to settle the dispute
        case "other" | None:
            return "030"
        case _:
            assert_never(subject)


def _refusal(subject: ProposalSubject | None) -> str:
    """Refuse: the 12 code for what was offered."""
    match subject:
        case "meeting":
            return "125"
        case "ceasefire":
            return "1246"
        case "prisoner_exchange":
            return "1243"
        case "memorandum" | "roadmap":
            return "127"
        case "other" | None:
            return "120"
        case _:
            assert_never(subject)


def _answer(response: ProposalResponse, subject: ProposalSubject | None) -> str:
    match response:
        case "accepted":
            return _intent(subject)  # CAMEO's 03 codes include "agree to"
        case "rejected":
            return _refusal(subject)
        case "countered":
            # Neither acceptance nor refusal: other terms are put on the table, which
            # is bargaining, "negotiate or bargain with others".
            return "046"
        case "noted":
            # Received and to be studied: "consider policy option". PLOVER dropped
            # CAMEO's 01 statements, so it has no reading of it.
            return "014"
        case _:
            assert_never(response)


def _round(status: RoundStatus) -> str:
    match status:
        case "proposed" | "confirmed":
            return "036"  # a future round is an intent to meet (PLOVER: AGREE)
        case "postponed":
            return "036"  # still an intent to meet, on the new date it names
        case "cancelled":
            return "164"  # the round is called off
        case _:
            assert_never(status)


def _zone(status: ZoneStatus) -> str:
    match status:
        case "declared":
            return "1382"  # announcing a zone in another state's regions
        case "implemented":
            return "192"  # forces hold it
        case _:
            assert_never(status)


# What every export format reads of an event: who acted, towards whom, where, and what
# it said.

MEETINGS_OF_EQUALS = (
    ContactHeld,
    RoundScheduled,
    RoundHeld,
    CeasefireDeclared,
    AgreementReached,
    AgreementSigned,
    HostilitiesReported,
)
"""Types whose actors are all sides alike (no recipient in PLOVER)."""


def name_of(actor: Actor) -> str:
    """An actor as one text: its name, else its country."""
    return actor.name or actor.country or ""


def roles(
    event: AnyEvent,
    parties: Sequence[Actor],
    proposer: Actor | None,
    disputed: AnyEvent | None = None,
) -> tuple[list[Actor], list[Actor]]:
    """PLOVER's ``actor`` and ``recipient`` of an event: who initiated it, and to whom it
    was directed when that is clear (the manual: all participants of a meeting of
    equals are actors, with no recipient). ``parties`` are the negotiation's,
    ``proposer`` made the proposal an answer answers, and ``disputed`` is the event a
    dispute disputes, if known."""
    sides = list(parties)
    match event:
        case NegotiationOpened():
            return list(event.data.parties), list(event.data.mediators)
        case DelegationNamed():
            return [event.data.party, event.data.head, *event.data.members], []
        case ContactHeld():
            return list(event.data.participants), []
        case StatementIssued():
            return [event.data.speaker], []
        case ProposalMade():
            return [event.data.proposer], list(event.data.addressees)
        case ProposalAnswered():
            return [event.data.responder], [] if proposer is None else [proposer]
        case RoundScheduled():
            return sides, []
        case HostAnnounced():
            return [event.data.host], sides
        case RoundHeld():
            # The parties meet as equals; a chair, mediators or observers sit beside them.
            at_table = [p.actor for p in event.data.participants if p.role == "party"]
            return at_table or sides, []
        case DocumentExchanged():
            return [event.data.sender], [event.data.recipient]
        case CeasefireProposed():
            return [event.data.proposer], []
        case CeasefireDeclared():
            return list(event.data.parties), []
        case SecurityZoneDeclared():
            countries = sorted({c for r in event.data.regions if (c := region_country(r))})
            return [event.data.declared_by], [Actor(country=c) for c in countries]
        case ClaimDisputed():
            # The denier rejects, towards whoever made the claim it denies.
            denier = event.data.disputed_by
            return [denier], [] if disputed is None else _claimants(disputed, denier)
        case AgreementReached():
            return list(event.data.parties), []
        case AgreementSigned():
            return signing_parties(event), []
        case AgreementRatified() | AgreementSuspended() | CeasefireLifted():
            return [event.data.by], others(sides, [event.data.by])
        case AgreementTerminated():
            by = event.data.by
            return ([], []) if by is None else ([by], others(sides, [by]))
        case ProvisionImplemented():
            return list(event.data.by), others(sides, event.data.by)
        case ViolationAlleged():
            return [event.data.accuser], list(event.data.accused)
        case HostilitiesReported():
            return list(event.data.parties), []
        case EventCorrected() | EventRetracted():
            return [], []  # never exported: facts about the log
    return [], []


def signing_parties(event: AgreementSigned) -> list[Actor]:
    """The parties that signed: each signatory's principal (the state a minister signs
    for), else the signatory, in order, each once. Witnesses and guarantors are not
    among them: PLOVER has no role for them, and ``notes`` names them."""
    found: list[Actor] = []
    for signatory in event.data.signatories:
        party = signatory.on_behalf_of or signatory.actor
        if party not in found:
            found.append(party)
    return found


def others(sides: Sequence[Actor], actors: Sequence[Actor]) -> list[Actor]:
    """The negotiation's ``sides`` that are none of ``actors``: a side is one of them if
    it is equal to one, or shares its country (a minister acts for a state)."""

    def among(side: Actor) -> bool:
        return any(a == side or (a.country and a.country == side.country) for a in actors)

    return [side for side in sides if not among(side)]


def _claimants(event: AnyEvent, denier: Actor) -> list[Actor]:
    """Whom a denial of ``event`` answers: the actors whose claim or act it records,
    but the denier; if none, its ``asserted_by``, when that names a country (PLOVER
    codes an entity by it: "various news agencies" cannot be coded)."""
    found = [a for a in claimants(event) if a != denier]
    asserted = event.asserted_by
    if not found and asserted is not None and asserted.country and asserted != denier:
        found = [asserted]
    return found


def claimants(event: AnyEvent) -> list[Actor]:
    """The actors whose claim or one-sided act ``event`` records (an accuser, a speaker,
    a proposer). A report of hostilities, a meeting or an agreement names none: its
    sources report it."""
    match event:
        case ViolationAlleged():
            return [event.data.accuser]
        case StatementIssued():
            return [event.data.speaker]
        case ProposalMade() | CeasefireProposed():
            return [event.data.proposer]
        case ProposalAnswered():
            return [event.data.responder]
        case DocumentExchanged():
            return [event.data.sender]
        case HostAnnounced():
            return [event.data.host]
        case SecurityZoneDeclared():
            return [event.data.declared_by]
        case ClaimDisputed():
            return [event.data.disputed_by]
        case AgreementRatified() | AgreementSuspended() | CeasefireLifted():
            return [event.data.by]
        case AgreementTerminated():
            return [] if event.data.by is None else [event.data.by]
        case ProvisionImplemented():
            return list(event.data.by)
        case _:
            return []


ACLED_SUB_EVENT = "ACLED Codebook (2023): sub_event_type"


def acled_sub_event(event: AnyEvent) -> str | None:
    """ACLED's sub-event type where ACLED records such an event, else None: its
    "Agreement" (peace agreements, ceasefires, prisoner exchanges, negotiated transfers
    of territory) and its kinds of fighting. ACLED records no talks or allegations."""
    match event:
        case (
            AgreementReached()
            | AgreementSigned()
            | AgreementRatified()
            | ProvisionImplemented()
            | CeasefireDeclared()
        ):
            return "Agreement"
        case HostilitiesReported():
            return _ACLED_FIGHTING[event.data.kind]
        case _:
            return None


_ACLED_FIGHTING: Mapping[HostilitiesKind, str | None] = MappingProxyType(
    {
        "shelling": "Shelling/artillery/missile attack",
        "missile_strike": "Shelling/artillery/missile attack",
        "air_strike": "Air/drone strike",
        "drone_strike": "Air/drone strike",
        "ground_fighting": "Armed clash",
        "naval": None,  # ACLED has no sub-event type for it
        "other": None,
    }
)


def where(event: AnyEvent) -> tuple[Place | None, list[str]]:
    """The place an event names, and the ISO 3166-2 regions it covers."""
    match event:
        case RoundScheduled() | RoundHeld():
            place: Place | None = event.data.place
        case HostAnnounced() | ContactHeld():
            place = event.data.place
        case CeasefireProposed() | CeasefireDeclared():
            return None, list(event.data.scope)
        case SecurityZoneDeclared() | ViolationAlleged() | HostilitiesReported():
            return None, list(event.data.regions)
        case AgreementReached() | AgreementSigned():
            place = event.data.place
        case _:
            place = None
    return place, [] if place is None or place.region is None else [place.region]


def notes(event: AnyEvent) -> str:
    """What the event says, in a sentence or two (ACLED's ``notes``)."""
    match event:
        case NegotiationOpened():
            return event.data.title
        case DelegationNamed():
            party, chief = name_of(event.data.party), name_of(event.data.head)
            return f"{party} names its delegation, headed by {chief}"
        case ContactHeld():
            return f"{event.data.medium}: {event.data.summary}"
        case StatementIssued():
            topic = f" (topic: {event.data.topic})" if event.data.topic else ""
            return event.data.summary + topic
        case ProposalMade():
            terms = f" Terms: {'; '.join(event.data.terms)}" if event.data.terms else ""
            return f"{event.data.subject}: {event.data.summary}{terms}"
        case ProposalAnswered():
            said = f": {event.data.summary}" if event.data.summary else ""
            return f"{event.data.response} proposal {event.data.proposal_id}{said}"
        case RoundScheduled():
            return (
                f"round {event.data.round} {event.data.status} "
                f"for {event.data.starts_at.isoformat()}"
            )
        case HostAnnounced():
            return f"{name_of(event.data.host)} to host round {event.data.round}"
        case RoundHeld():
            outcomes = f": {'; '.join(event.data.outcomes)}" if event.data.outcomes else ""
            return f"round {event.data.round} held{outcomes}"
        case DocumentExchanged():
            return event.data.title
        case CeasefireProposed():
            duration = f" for {event.data.duration}" if event.data.duration else ""
            conditions = "; ".join(event.data.conditions)
            return f"ceasefire proposed{duration}" + (f": {conditions}" if conditions else "")
        case CeasefireDeclared():
            until = event.data.effective_until
            return f"ceasefire from {event.data.effective_from.isoformat()}" + (
                f" until {until.isoformat()}" if until else ""
            )
        case SecurityZoneDeclared():
            depth = f", {event.data.depth_km:g} km deep" if event.data.depth_km else ""
            return f"security zone {event.data.status}{depth}"
        case ClaimDisputed():
            return f"disputes {event.data.event_id}: {event.data.counter_claim}"
        case AgreementReached():
            parties = ", ".join(map(name_of, event.data.parties))
            return (
                f"{event.data.kind} agreement {event.data.agreement_id} {event.data.stage}"
                f" by {parties}: {event.data.title}{_provisions(event)}"
            )
        case AgreementSigned():
            return (
                f"{event.data.kind} agreement {event.data.agreement_id} signed: "
                f"{event.data.title}. Signed by {_signatories(event)}"
                + _named("Witnesses", event.data.witnesses)
                + _named("Guarantors", event.data.guarantors)
                + _provisions(event)
            )
        case AgreementRatified():
            said = f": {event.data.summary}" if event.data.summary else ""
            return f"{name_of(event.data.by)} ratifies {event.data.agreement_id}{said}"
        case AgreementSuspended():
            by = name_of(event.data.by)
            return f"{by} suspends {event.data.agreement_id}: {event.data.reason}"
        case AgreementTerminated():
            by = "" if event.data.by is None else f" by {name_of(event.data.by)}"
            successor = event.data.superseded_by
            instead = "" if successor is None else f", superseded by {successor}"
            return f"{event.data.agreement_id} terminated{by}{instead}: {event.data.reason}"
        case ProvisionImplemented():
            by = ", ".join(map(name_of, event.data.by))
            return (
                f"provision {event.data.provision} of {event.data.agreement_id} "
                f"implemented by {by}: {event.data.summary}"
            )
        case CeasefireLifted():
            why = f": {event.data.reason}" if event.data.reason else ""
            by = name_of(event.data.by)
            return f"ceasefire {event.data.ceasefire} {event.data.mode} by {by}{why}"
        case ViolationAlleged():
            accused = ", ".join(map(name_of, event.data.accused))
            violated = " and ".join(
                part
                for part in (
                    None if event.data.ceasefire is None else f"ceasefire {event.data.ceasefire}",
                    None
                    if event.data.agreement_id is None
                    else f"agreement {event.data.agreement_id}",
                )
                if part
            )
            kind = f" ({event.data.kind})" if event.data.kind else ""
            return (
                f"{name_of(event.data.accuser)} accuses {accused} of violating {violated}"
                f"{kind}: {event.data.summary}"
            )
        case HostilitiesReported():
            return f"{event.data.kind}: {event.data.summary}"
        case EventCorrected() | EventRetracted():
            return event.data.reason


def _signatories(event: AgreementSigned) -> str:
    return ", ".join(
        name_of(s.actor) + ("" if s.on_behalf_of is None else f" for {name_of(s.on_behalf_of)}")
        for s in event.data.signatories
    )


def _named(label: str, actors: Sequence[Actor]) -> str:
    return f". {label}: {', '.join(map(name_of, actors))}" if actors else ""


def _provisions(event: AgreementReached | AgreementSigned) -> str:
    provisions = event.data.provisions
    listed = "; ".join(f"{p.id} ({p.topic}) {p.text}" for p in provisions)
    return f". Provisions: {listed}" if provisions else ""
