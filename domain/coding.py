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
    AnyEvent,
    CeasefireDeclared,
    CeasefireProposed,
    ClaimDisputed,
    ContactHeld,
    ContactMedium,
    DelegationNamed,
    DocumentExchanged,
    EventCorrected,
    EventRetracted,
    HostAnnounced,
    NegotiationOpened,
    PersonRedacted,
    ProposalAnswered,
    ProposalMade,
    ProposalResponse,
    ProposalSubject,
    RoundHeld,
    RoundScheduled,
    RoundStatus,
    SecurityZoneDeclared,
    StatementIssued,
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
        "0871": "Declare truce, ceasefire",
        "112": "Accuse, not specified below",
        "120": "Reject, not specified below",
        "1243": "Refuse to release persons or property",
        "1246": "Refuse to de-escalate military engagement",
        "125": "Reject proposal to meet, discuss, or negotiate",
        "127": "Reject plan, agreement to settle dispute",
        "1382": "Threaten occupation",
        "164": "Halt negotiations",
        "192": "Occupy territory",
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


def coding_for(event: AnyEvent, proposals: Mapping[str, Proposal]) -> Coding:
    """The coding of ``event``; an answer is coded by its proposal's subject, if known."""
    if isinstance(event, ProposalAnswered):
        proposal = proposals.get(event.data.proposal_id)
        return code(event, subject=None if proposal is None else proposal.subject)
    return code(event)


def code(event: AnyEvent, *, subject: ProposalSubject | None = None) -> Coding:
    """The coding of ``event``. ``subject`` is, for a ``ProposalAnswered``, the subject
    of the proposal it answers (its ``ProposalMade``), when known; other types ignore it.
    """
    return coding_of(cameo_code(event, subject=subject))


def coding_of(cameo: str | None) -> Coding:
    """The label and PLOVER reading of a CAMEO code (None where PLOVER has no row)."""
    if cameo is None:
        return Coding(None, None, None, None, ())
    row = plover_row(cameo)
    if row is None:  # CAMEO 01 and 02: PLOVER dropped statements and appeals
        return Coding(cameo, CAMEO_LABELS[cameo], None, None, ())
    return Coding(cameo, CAMEO_LABELS[cameo], row.event, row.mode, row.context)


def cameo_code(event: AnyEvent, *, subject: ProposalSubject | None = None) -> str | None:
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
            return "112"  # disputing a claim charges its author with a falsehood
        case EventCorrected() | EventRetracted() | PersonRedacted():
            return None  # facts about the log, not about the world
        case _:
            assert_never(event)


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

MEETINGS_OF_EQUALS = (ContactHeld, RoundScheduled, RoundHeld, CeasefireDeclared)
"""Types whose actors are all sides alike (no recipient in PLOVER)."""


def name_of(actor: Actor) -> str:
    """An actor as one text: its name, else its country."""
    return actor.name or actor.country or ""


def roles(
    event: AnyEvent, parties: Sequence[Actor], proposer: Actor | None
) -> tuple[list[Actor], list[Actor]]:
    """PLOVER's ``actor`` and ``recipient`` of an event: who initiated it, and to whom it
    was directed when that is clear (the manual: all participants of a meeting of
    equals are actors, with no recipient). ``parties`` are the negotiation's, and
    ``proposer`` made the proposal an answer answers, if known."""
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
            return [event.data.disputed_by], []
        case EventCorrected() | EventRetracted():
            return [], []  # never exported: facts about the log


def where(event: AnyEvent) -> tuple[Place | None, list[str]]:
    """The place an event names, and the ISO 3166-2 regions it covers."""
    match event:
        case RoundScheduled() | RoundHeld():
            place: Place | None = event.data.place
        case HostAnnounced() | ContactHeld():
            place = event.data.place
        case CeasefireProposed() | CeasefireDeclared():
            return None, list(event.data.scope)
        case SecurityZoneDeclared():
            return None, list(event.data.regions)
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
        case EventCorrected() | EventRetracted():
            return event.data.reason
