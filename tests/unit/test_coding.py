"""CAMEO and PLOVER coding of every event type and every variant of what it says.

The PLOVER reading of each code is checked against the shipped table read here by a
regular expression of its own, not through ``domain.cameo2plover``, so that a fault in
either the reader or the coding shows. The anchors below were checked by hand against
GDELT's CAMEO.eventcodes.txt and the table.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, get_args
from uuid import UUID

import peace_events as peace
import pytest
from histories import ISTANBUL, MEDINSKY, UMEROV, event

from domain.coding import (
    CAMEO_LABELS,
    Coding,
    Proposal,
    cameo_code,
    code,
    coding_for,
    proposals_of,
    provisions_of,
)
from domain.events import (
    CODEBOOK,
    EVENT_TYPES,
    AgreementKind,
    AgreementStage,
    AnyEvent,
    CeasefireEnd,
    ContactMedium,
    HostilitiesKind,
    ProposalResponse,
    ProposalSubject,
    ProvisionTopic,
    RoundStatus,
    ZoneStatus,
    parse_event,
)

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "domain" / "reference" / "CAMEO2PLOVER-2021.txt"
FOUNDING_EXAMPLE = ROOT / "examples" / "istanbul-2025.ndjson"
SOME_EVENT = UUID("3221c451-fe72-4f21-b409-4d50f4b07cdd")
DAY = "2025-05-28"

ROW = re.compile(r"^(\d{3,4}):\s*([A-Z]+)\s*,([^,#]*),([^#]*)#", re.MULTILINE)


def table_rows() -> dict[str, tuple[str, str | None, tuple[str, ...]]]:
    """(event, mode, context) by CAMEO code, straight from the shipped file."""
    rows = {}
    for cameo, event_, mode, context in ROW.findall(TABLE.read_text(encoding="ascii")):
        contexts = tuple(part.strip() for part in context.split(";") if part.strip())
        rows[cameo] = (event_, mode.strip() or None, contexts)
    return rows


ROWS = table_rows()


def contact(medium: str) -> AnyEvent:
    return event(
        "ContactHeld", DAY, participants=[MEDINSKY, UMEROV], medium=medium, summary="Talks."
    )


def proposal(subject: str) -> AnyEvent:
    return event(
        "ProposalMade", DAY, proposal_id="p-1", proposer="RUS", subject=subject, summary="An offer."
    )


def answer(response: str) -> AnyEvent:
    return event("ProposalAnswered", DAY, proposal_id="p-1", responder="UKR", response=response)


def scheduled(status: str) -> AnyEvent:
    return event(
        "RoundScheduled", DAY, round=2, starts_at="2025-06-02", place=ISTANBUL, status=status
    )


def zone(status: str) -> AnyEvent:
    return event(
        "SecurityZoneDeclared", DAY, declared_by="RUS", regions=["UA-63", "UA-59"], status=status
    )


SENDER_AND_RECIPIENT: dict[str, Any] = {"from": "RUS", "to": "UKR"}  # not Python names
ONE_OF_EACH_TYPE: list[AnyEvent] = [
    event("NegotiationOpened", DAY, title="Talks", parties=["RUS", "UKR"], mediators=["TUR"]),
    event("DelegationNamed", DAY, party="RUS", head=MEDINSKY),
    contact("phone"),
    event("StatementIssued", DAY, speaker="RUS", summary="Russia expects support."),
    proposal("meeting"),
    answer("accepted"),
    scheduled("proposed"),
    event("HostAnnounced", DAY, round=2, host="TUR", place=ISTANBUL),
    event("RoundHeld", DAY, round=1, place=ISTANBUL, delegations=["RUS", "UKR"]),
    event("DocumentExchanged", DAY, title="Memorandum", **SENDER_AND_RECIPIENT),
    event("CeasefireProposed", DAY, proposer="RUS", scope=["UA-63"], duration="P3D"),
    event("CeasefireDeclared", DAY, parties=["RUS", "UKR"], effective_from=DAY),
    zone("declared"),
    event("ClaimDisputed", DAY, event_id=SOME_EVENT, disputed_by="UKR", counter_claim="No."),
    event("EventCorrected", DAY, event_id=SOME_EVENT, data={"summary": "x"}, reason="typo"),
    event("EventRetracted", DAY, event_id=SOME_EVENT, reason="withdrawn"),
    *(peace.parsed(build()) for build in peace.BUILDERS.values()),
]


def new(type_: str, **data: Any) -> AnyEvent:
    """An event of one of issue 16's types (``tests/peace_events.py``), data overridden."""
    return peace.parsed(peace.BUILDERS[type_](**data))


# Every variant the data can take, drawn from the types' own Literal sets, so that a
# new medium, subject, response or status is coded and checked here without an edit.
SUBJECTS: list[ProposalSubject | None] = [*get_args(ProposalSubject), None]
TOPICS: list[ProvisionTopic | None] = [*get_args(ProvisionTopic), None]
Case = tuple[str, AnyEvent, ProposalSubject | None, ProvisionTopic | None]
CASES: list[Case] = [
    *((e.type, e, None, None) for e in ONE_OF_EACH_TYPE),
    *((f"ContactHeld-{m}", contact(m), None, None) for m in get_args(ContactMedium)),
    *((f"ProposalMade-{s}", proposal(s), None, None) for s in get_args(ProposalSubject)),
    *(
        (f"ProposalAnswered-{r}-{s}", answer(r), s, None)
        for r in get_args(ProposalResponse)
        for s in SUBJECTS
    ),
    *((f"RoundScheduled-{s}", scheduled(s), None, None) for s in get_args(RoundStatus)),
    *((f"SecurityZoneDeclared-{s}", zone(s), None, None) for s in get_args(ZoneStatus)),
    *(
        (f"AgreementReached-{k}-{st}", new("AgreementReached", kind=k, stage=st), None, None)
        for k in get_args(AgreementKind)
        for st in get_args(AgreementStage)
    ),
    *(
        (f"AgreementSigned-{k}", new("AgreementSigned", kind=k), None, None)
        for k in get_args(AgreementKind)
    ),
    *(
        (f"AgreementTerminated-{name}", new("AgreementTerminated", **data), None, None)
        for name, data in {
            "by-a-party": {},
            "expired": {"by": None},
            "superseded": {"superseded_by": "washington-2026"},
        }.items()
    ),
    *((f"ProvisionImplemented-{t}", new("ProvisionImplemented"), None, t) for t in TOPICS),
    *(
        (f"CeasefireLifted-{m}", new("CeasefireLifted", mode=m), None, None)
        for m in get_args(CeasefireEnd)
    ),
    *(
        (f"ViolationAlleged-{name}", new("ViolationAlleged", **data), None, None)
        for name, data in {
            "ceasefire-and-kind": {},
            "ceasefire-only": {"kind": None},
            "agreement-and-kind": {"ceasefire": None, "agreement_id": peace.ACCORD},
            "agreement-only": {"ceasefire": None, "kind": None, "agreement_id": peace.ACCORD},
        }.items()
    ),
    *(
        (f"HostilitiesReported-{k}", new("HostilitiesReported", kind=k), None, None)
        for k in get_args(HostilitiesKind)
    ),
]


def coded(cameo: str | None) -> Coding:
    """What the coding of ``cameo`` should say, from the table and the labels."""
    if cameo is None:
        return Coding(None, None, None, None, ())
    event_, mode, context = ROWS.get(cameo, (None, None, ()))
    return Coding(cameo, CAMEO_LABELS[cameo], event_, mode, context)


def test_the_cases_cover_every_event_type() -> None:
    assert {e.type for _, e, _, _ in CASES} == set(EVENT_TYPES)
    assert len(EVENT_TYPES) == 25


@pytest.mark.parametrize(("case", "event_", "subject", "topic"), CASES, ids=[c[0] for c in CASES])
def test_plover_reading_is_the_table_row_of_the_cameo_code(
    case: str, event_: AnyEvent, subject: ProposalSubject | None, topic: ProvisionTopic | None
) -> None:
    coding = code(event_, subject=subject, topic=topic)

    assert coding == coded(coding.cameo)
    if coding.cameo is not None and coding.plover_event is None:
        # Only CAMEO's statements (01) and appeals (02) lack a PLOVER row: PLOVER
        # dropped them. Any other code without a row would be a wrong code.
        assert coding.cameo[:2] in {"01", "02"}
        assert coding.cameo not in ROWS


def test_every_label_shipped_is_a_code_the_rules_give() -> None:
    given = {code(e, subject=s, topic=t).cameo for _, e, s, t in CASES} - {None}

    assert given == set(CAMEO_LABELS)


def test_every_coding_names_its_codebook_and_table_version() -> None:
    assert {code(e, subject=s, topic=t).codebook for _, e, s, t in CASES} == {CODEBOOK}
    assert "Parley coding rules v2" in CODEBOOK  # v2: issue 16's types, denials rejected
    assert "CAMEO 1.1b3" in CODEBOOK
    assert "CAMEO2PLOVER-2021.txt" in CODEBOOK
    assert "e834df5" in CODEBOOK


# Hand-checked anchors


def test_a_declared_ceasefire_is_0871_declare_truce_not_0831() -> None:
    coding = code(event("CeasefireDeclared", DAY, parties=["RUS", "UKR"], effective_from=DAY))

    assert coding == Coding(
        "0871", "Declare truce, ceasefire", "RETREAT", "ceasefire", ("military",)
    )


def test_a_proposed_ceasefire_is_an_intent_to_de_escalate() -> None:
    assert code(event("CeasefireProposed", DAY, proposer="RUS")).cameo == "0356"
    assert code(proposal("ceasefire")).cameo == "0356"
    assert code(proposal("ceasefire")).plover_event == "AGREE"


@pytest.mark.parametrize("medium", ["phone", "video"])
def test_a_call_is_041_discuss_by_telephone(medium: str) -> None:
    coding = code(contact(medium))

    assert (coding.cameo, coding.cameo_label) == ("041", "Discuss by telephone")
    assert (coding.plover_event, coding.plover_mode) == ("CONSULT", "phone")


@pytest.mark.parametrize(
    ("medium", "cameo", "mode"),
    [("visit", "042", "visit"), ("third-party", "044", "third-party"), ("letter", "040", None)],
)
def test_a_contact_is_coded_by_its_medium(medium: str, cameo: str, mode: str | None) -> None:
    coding = code(contact(medium))

    assert (coding.cameo, coding.plover_event, coding.plover_mode) == (cameo, "CONSULT", mode)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_a_rejection_is_never_agree(subject: ProposalSubject | None) -> None:
    coding = code(answer("rejected"), subject=subject)

    assert coding.plover_event == "REJECT"
    assert coding.cameo is not None and coding.cameo.startswith("12")


@pytest.mark.parametrize("subject", SUBJECTS)
def test_the_four_answers_are_four_different_codes(subject: ProposalSubject | None) -> None:
    codes = {r: cameo_code(answer(r), subject=subject) for r in get_args(ProposalResponse)}

    assert len(set(codes.values())) == 4
    assert codes["countered"] == "046"
    assert codes["noted"] == "014"


@pytest.mark.parametrize("subject", get_args(ProposalSubject))
def test_accepting_a_proposal_is_coded_as_making_it(subject: ProposalSubject) -> None:
    # CAMEO's 03 codes are "offer, promise, agree to ... or otherwise indicate
    # willingness or commitment to": an offer and its acceptance are the same act.
    assert cameo_code(answer("accepted"), subject=subject) == cameo_code(proposal(subject))


@pytest.mark.parametrize(
    ("subject", "accepted", "rejected"),
    [
        ("meeting", "036", "125"),
        ("ceasefire", "0356", "1246"),
        ("prisoner_exchange", "0353", "1243"),
        ("memorandum", "037", "127"),
        ("roadmap", "037", "127"),
        ("other", "030", "120"),
        (None, "030", "120"),
    ],
)
def test_an_answer_is_coded_by_the_subject_of_its_proposal(
    subject: ProposalSubject | None, accepted: str, rejected: str
) -> None:
    assert cameo_code(answer("accepted"), subject=subject) == accepted
    assert cameo_code(answer("rejected"), subject=subject) == rejected


def test_rejecting_a_meeting_is_125_reject_meet() -> None:
    coding = code(answer("rejected"), subject="meeting")

    assert coding == Coding(
        "125", "Reject proposal to meet, discuss, or negotiate", "REJECT", "meet", ("diplomatic",)
    )


def test_a_security_zone_threatens_when_declared_and_occupies_when_implemented() -> None:
    declared, implemented = code(zone("declared")), code(zone("implemented"))

    assert (declared.cameo, declared.plover_event) == ("1382", "THREATEN")
    assert (implemented.cameo, implemented.plover_event) == ("192", "COERCE")


def test_a_scheduled_round_is_an_intent_to_meet_until_it_is_cancelled() -> None:
    assert {s: cameo_code(scheduled(s)) for s in get_args(RoundStatus)} == {
        "proposed": "036",
        "confirmed": "036",
        "postponed": "036",
        "cancelled": "164",
    }
    assert code(scheduled("cancelled")).plover_event == "SANCTION"


def test_statements_and_noted_answers_have_cameo_codes_but_no_plover_reading() -> None:
    statement = code(event("StatementIssued", DAY, speaker="RUS", summary="We expect support."))
    noted = code(answer("noted"))

    assert statement == Coding("010", "Make statement, not specified below", None, None, ())
    assert noted == Coding("014", "Consider policy option", None, None, ())


def test_a_dispute_is_a_rejection_by_the_disputer_never_an_accusation() -> None:
    # Issue 16: a denial coded 112 made the PLOVER export read as the denier accusing.
    coding = code(
        event("ClaimDisputed", DAY, event_id=SOME_EVENT, disputed_by="UKR", counter_claim="No.")
    )

    assert coding == Coding("120", "Reject, not specified below", "REJECT", None, ())


@pytest.mark.parametrize(
    "type_", ["NegotiationOpened", "DelegationNamed", "EventCorrected", "EventRetracted"]
)
def test_opening_naming_a_delegation_and_log_facts_are_not_coded(type_: str) -> None:
    [coding] = [code(e) for e in ONE_OF_EACH_TYPE if e.type == type_]

    assert coding == Coding(None, None, None, None, (), CODEBOOK)


def test_the_subject_only_matters_to_answers_and_the_topic_to_implementation() -> None:
    for event_ in ONE_OF_EACH_TYPE:
        if event_.type != "ProposalAnswered":
            assert code(event_, subject="ceasefire") == code(event_)
        if event_.type != "ProvisionImplemented":
            assert code(event_, topic="prisoners") == code(event_)


def test_the_founding_example_codes_as_read_by_hand() -> None:
    lines = FOUNDING_EXAMPLE.read_text(encoding="utf-8").splitlines()
    events = [parse_event(json.loads(line)) for line in lines if line.strip()]
    by_type: dict[str, Counter[str | None]] = {}
    for event_ in events:
        by_type.setdefault(event_.type, Counter())[cameo_code(event_)] += 1

    assert by_type == {
        "NegotiationOpened": Counter({None: 1}),
        "RoundHeld": Counter({"046": 1}),
        "StatementIssued": Counter({"010": 3}),
        "ContactHeld": Counter({"041": 2}),  # both by phone
        "ProposalMade": Counter({"037": 2, "036": 1}),  # roadmap, memorandum; meeting
        "CeasefireProposed": Counter({"0356": 1}),
        "SecurityZoneDeclared": Counter({"1382": 1}),
        "ClaimDisputed": Counter({"120": 1}),
        "RoundScheduled": Counter({"036": 1}),
        "DelegationNamed": Counter({None: 1}),
        "HostAnnounced": Counter({"039": 1}),  # Türkiye hosts the second round
    }


def test_an_answer_is_coded_by_the_subject_of_the_proposal_it_names() -> None:
    offers = [proposal("ceasefire"), event(
        "ProposalMade", DAY, proposal_id="p-2", proposer="UKR", subject="meeting", summary="Meet."
    )]  # fmt: skip
    proposals = proposals_of([*offers, answer("rejected")])
    rejected_meeting = event(
        "ProposalAnswered", DAY, proposal_id="p-2", responder="RUS", response="rejected"
    )

    assert list(proposals) == ["p-1", "p-2"]
    assert proposals["p-2"].subject == "meeting" and proposals["p-2"].proposer.country == "UKR"
    assert coding_for(answer("rejected"), proposals).cameo == "1246"  # a ceasefire refused
    assert coding_for(rejected_meeting, proposals).cameo == "125"
    assert coding_for(rejected_meeting, {}).cameo == "120"  # the proposal unknown
    assert coding_for(contact("visit"), proposals) == code(contact("visit"))


def test_the_first_proposal_of_an_id_is_the_one_answered() -> None:
    found = proposals_of([proposal("meeting"), proposal("ceasefire")])

    assert found == {"p-1": Proposal("meeting", found["p-1"].proposer)}


def test_a_coding_as_json_is_the_answers_coding_object() -> None:
    assert code(contact("phone")).as_json() == {
        "cameo": "041",
        "cameo_label": "Discuss by telephone",
        "plover": {"event": "CONSULT", "mode": "phone", "context": []},
    }
    assert code(zone("declared")).as_json()["plover"]["context"] == ["military"]
    assert Coding(None, None, None, None, ()).as_json() == {
        "cameo": None,
        "cameo_label": None,
        "plover": {"event": None, "mode": None, "context": []},
    }


# Issue 16's types: each anchor read by hand in GDELT's CAMEO.eventcodes.txt and the table


def reading(coding: Coding) -> tuple[str | None, str | None, str | None]:
    return coding.cameo, coding.plover_event, coding.plover_mode


@pytest.mark.parametrize("kind", get_args(AgreementKind))
def test_signing_and_ratifying_are_057_sign_formal_agreement(kind: AgreementKind) -> None:
    signed = code(new("AgreementSigned", kind=kind))

    assert signed == Coding("057", "Sign formal agreement", "SUPPORT", None, ("diplomatic",))
    assert signed == coded("057")  # the table's own row
    assert code(new("AgreementRatified")) == signed


@pytest.mark.parametrize("stage", get_args(AgreementStage))
@pytest.mark.parametrize(
    ("kind", "cameo"),
    [("ceasefire", "0356"), ("pre_negotiation", "036"), ("comprehensive", "037")],
)
def test_an_agreement_not_yet_signed_is_an_agreement_to_act_not_a_signature(
    stage: AgreementStage, kind: AgreementKind, cameo: str
) -> None:
    coding = code(new("AgreementReached", kind=kind, stage=stage))

    assert coding == coded(cameo)
    assert coding.plover_event == "AGREE"


def test_suspending_or_withdrawing_from_an_agreement_reduces_relations() -> None:
    assert reading(code(new("AgreementSuspended"))) == ("160", "SANCTION", None)
    assert reading(code(new("AgreementTerminated"))) == ("160", "SANCTION", None)
    # Expired, or replaced by a successor (whose signing is coded): nobody acts.
    assert code(new("AgreementTerminated", by=None)).cameo is None
    assert code(new("AgreementTerminated", superseded_by="next")).cameo is None


@pytest.mark.parametrize(
    ("topic", "cameo", "plover"),
    [
        ("prisoners", "0841", ("RETREAT", "release")),
        ("ceasefire", "0871", ("RETREAT", "ceasefire")),
        ("withdrawal", "0874", ("RETREAT", "disarm")),
        ("demining", "087", ("RETREAT", "disarm")),
        ("security", "087", ("RETREAT", "disarm")),
        ("humanitarian", "0863", ("RETREAT", "access")),
        ("monitoring", "0862", ("RETREAT", "access")),
        ("political", "083", ("CONCEDE", None)),
        ("territory", "080", ("CONCEDE", None)),
        ("economic", "061", ("COOPERATE", None)),
        ("implementation", "060", ("COOPERATE", None)),
        ("other", "060", ("COOPERATE", None)),
        (None, "060", ("COOPERATE", None)),
    ],
)
def test_an_implementation_step_is_coded_by_its_provisions_topic(
    topic: ProvisionTopic | None, cameo: str, plover: tuple[str, str | None]
) -> None:
    coding = code(new("ProvisionImplemented"), topic=topic)

    assert coding == coded(cameo)
    assert (coding.cameo, (coding.plover_event, coding.plover_mode)) == (cameo, plover)


def test_an_implementation_step_finds_its_topic_in_the_agreements_texts() -> None:
    texts = [new("AgreementReached"), new("AgreementSigned")]
    topics = provisions_of(texts)
    release, withdrawal = new("ProvisionImplemented"), new("ProvisionImplemented", provision="3")

    assert topics[(peace.ACCORD, "2")] == "prisoners"
    assert coding_for(release, {}, topics).cameo == "0841"
    assert coding_for(withdrawal, {}, topics).cameo == "0874"  # listed by the signed text only
    assert coding_for(release, {}).cameo == "060"  # the agreement unknown
    other = new("ProvisionImplemented", agreement_id="another")
    assert coding_for(other, {}, topics).cameo == "060"


def test_a_later_text_of_an_agreement_gives_a_provisions_topic() -> None:
    first = new("AgreementReached", provisions=[{"id": "2", "topic": "other", "text": "x"}])

    assert provisions_of([first, new("AgreementSigned")])[(peace.ACCORD, "2")] == "prisoners"
    assert provisions_of([new("AgreementSigned"), first])[(peace.ACCORD, "2")] == "other"


@pytest.mark.parametrize("mode", get_args(CeasefireEnd))
def test_lifting_a_ceasefire_declines_to_de_escalate_it_is_no_violation(mode: str) -> None:
    coding = code(new("CeasefireLifted", mode=mode))

    assert coding == coded("1246")
    assert reading(coding) == ("1246", "REJECT", "yield")


def test_an_allegation_is_an_accusation_of_aggression_when_force_is_alleged() -> None:
    of_a_ceasefire = code(new("ViolationAlleged"))
    of_terms = code(new("ViolationAlleged", ceasefire=None, kind=None, agreement_id=peace.ACCORD))

    assert of_a_ceasefire == Coding(
        "1123", "Accuse of aggression", "ACCUSE", "allege", ("military",)
    )
    assert of_a_ceasefire == coded("1123")
    assert reading(of_terms) == ("112", "ACCUSE", "disapprove")
    assert code(new("ViolationAlleged", kind=None)).cameo == "1123"  # a ceasefire named


@pytest.mark.parametrize(
    ("kind", "cameo", "mode"),
    [
        ("shelling", "194", "heavy-weapons"),
        ("air_strike", "195", "heavy-weapons"),
        ("drone_strike", "195", "heavy-weapons"),
        ("missile_strike", "195", "heavy-weapons"),
        ("ground_fighting", "193", "firearms"),
        ("naval", "190", None),
        ("other", "190", None),
    ],
)
def test_hostilities_are_the_19_fight_code_of_their_kind(
    kind: HostilitiesKind, cameo: str, mode: str | None
) -> None:
    coding = code(new("HostilitiesReported", kind=kind))

    assert coding == coded(cameo)
    assert (coding.cameo, coding.plover_event, coding.plover_mode) == (cameo, "ASSAULT", mode)
    assert coding.plover_context == ("military",)


def test_no_new_type_is_coded_as_a_statement_without_plover() -> None:
    for _, event_, subject, topic in CASES:
        if event_.type in peace.BUILDERS:
            coding = code(event_, subject=subject, topic=topic)
            assert coding.cameo is None or coding.plover_event is not None, event_.type
