"""The timeline: what was said along valid time, with what the log later said about it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from histories import (
    DOHA,
    UMEROV,
    agreement_ratified,
    agreement_reached,
    agreement_signed,
    agreement_suspended,
    agreement_terminated,
    alleged,
    answer,
    ceasefire_declared,
    ceasefire_lifted,
    contact,
    correction,
    dispute,
    given,
    hostilities,
    implemented,
    proposal,
    retraction,
    scheduled,
    statement,
    zone,
)

from projections.as_of import parse_instant
from projections.timeline import Timeline, timeline


def ids(result: Timeline) -> list[object]:
    return [entry.event.id for entry in result.events]


def test_timeline_lists_world_events_in_valid_time_order_with_disputes_as_entries() -> None:
    later = statement("2025-05-28")
    earlier = contact("2025-05-19")  # recorded after ``later``, back-dated
    history = given(later, earlier)
    objection = history.add(dispute("2025-05-29", earlier.id)).event
    result = timeline(history.records)
    assert ids(result) == [history.records[0].event.id, earlier.id, later.id, objection.id]
    assert [e.event.type for e in result.events][-1] == "ClaimDisputed"
    assert result.position == max(r.position or 0 for r in history.records)


def test_timeline_leaves_out_corrections_and_retractions_as_entries() -> None:
    history = given(round_2 := scheduled("2025-05-28"), said := statement("2025-05-28"))
    history.add(correction("2025-05-29", round_2.id, status="confirmed"))
    history.add(retraction("2025-05-29", said.id))
    assert {e.event.type for e in timeline(history.records).events} == {
        "NegotiationOpened",
        "RoundScheduled",
        "StatementIssued",
    }


def test_timeline_shows_data_as_corrected_at_known_at_and_names_the_corrections() -> None:
    history = given(round_2 := scheduled("2025-05-28", status="proposed"))
    before = history.clock
    fix = history.add(correction("2025-05-30", round_2.id, status="confirmed", place=DOHA))
    entry = timeline(history.records).events[1]
    assert entry.to_json()["data"]["status"] == "confirmed"
    assert entry.to_json()["data"]["place"]["city"] == "Doha"
    assert entry.corrected_by == (fix.event.id,)
    then = timeline(history.records, known_at=before).events[1]
    assert (then.to_json()["data"]["status"], then.corrected_by) == ("proposed", ())


def test_retracted_event_stays_in_the_timeline_flagged() -> None:
    history = given(said := statement("2025-05-28"))
    before = history.clock
    withdrawn = history.add(retraction("2025-05-29", said.id)).event
    entry = timeline(history.records).events[1]
    assert (entry.event.id, entry.retracted_by) == (said.id, withdrawn.id)
    assert timeline(history.records, known_at=before).events[1].retracted_by is None


def test_timeline_names_who_disputes_each_event_as_known_at_known_at() -> None:
    history = given(call := contact("2025-05-28"))
    before = history.clock
    objection = history.add(dispute("2025-05-28", call.id, "The other way round", by=UMEROV))
    entry = timeline(history.records).events[1]
    assert [(d.event_id, d.counter_claim) for d in entry.disputed_by] == [
        (objection.event.id, "The other way round")
    ]
    assert entry.to_json()["disputed_by"][0]["disputed_by"]["name"] == "Rustem Umerov"
    assert timeline(history.records, known_at=before).events[1].disputed_by == ()


def test_retracted_dispute_no_longer_disputes_its_event() -> None:
    history = given(call := contact("2025-05-28"))
    objection = history.add(dispute("2025-05-28", call.id)).event
    history.add(retraction("2025-05-29", objection.id))
    entries = timeline(history.records).events
    assert entries[1].disputed_by == ()
    assert entries[2].retracted_by is not None  # the dispute itself stays, flagged


def test_timeline_window_keeps_events_overlapping_it() -> None:
    start, end = parse_instant("2025-05-20", bound="start"), parse_instant("2025-05-25")
    inside = statement("2025-05-22")
    spanning = statement("2025-05-16", occurred_until="2025-05-28")
    on_first_day = statement(datetime(2025, 5, 20, 8, tzinfo=UTC))
    day_before = statement("2025-05-19")
    after = statement("2025-05-26")
    history = given(inside, spanning, on_first_day, day_before, after)
    assert ids(timeline(history.records, from_=start, to=end)) == [
        spanning.id,
        on_first_day.id,
        inside.id,
    ]
    result = timeline(history.records, to=end)
    assert after.id not in ids(result) and day_before.id in ids(result)


def test_timeline_omits_what_was_recorded_after_known_at() -> None:
    history = given(statement("2025-05-20"))
    cutoff = history.clock
    history.add(zone("2025-05-19"))
    assert len(timeline(history.records, known_at=cutoff).events) == 2
    assert len(timeline(history.records, known_at=cutoff + timedelta(days=1)).events) == 3


def test_timeline_json_keeps_valid_times_as_given() -> None:
    moment = datetime.fromisoformat("2025-05-28T12:57:00-04:00")
    history = given(statement(moment))
    json = timeline(history.records, to=parse_instant("2025-05-30")).to_json()
    assert list(json) == ["from", "to", "known_at", "reported_at", "position", "total", "events"]
    entry = json["events"][1]
    assert list(entry) == [
        "id", "type", "occurred_at", "occurred_until", "precision", "position", "recorded_at",
        "recorded_by", "data", "sources", "asserted_by", "disputed_by", "corrected_by",
        "retracted_by", "coding",
    ]  # fmt: skip
    assert (entry["occurred_at"], entry["precision"]) == ("2025-05-28T12:57:00-04:00", "exact")
    assert json["events"][0]["occurred_at"] == "2025-05-16"
    assert entry["sources"][0]["outlet"] == "teleSUR"
    assert (json["from"], json["to"]) == (None, "2025-05-30T23:59:59.999999Z")


def test_timeline_codes_each_entry_as_corrected_and_an_answer_by_its_proposal() -> None:
    call = contact("2025-05-20")
    history = given(call, proposal("2025-05-21", subject="meeting"))
    history.add(answer("2025-05-22", response="rejected"))
    cutoff = history.clock
    history.add(correction("2025-05-23", call.id, medium="visit"))

    def cameo(known_at: datetime) -> dict[str, str | None]:
        entries = timeline(history.records, known_at=known_at).events
        return {entry.event.type: entry.coding.cameo for entry in entries}

    assert cameo(cutoff) == {
        "NegotiationOpened": None,
        "ContactHeld": "041",
        "ProposalMade": "036",
        "ProposalAnswered": "125",  # rejecting a meeting, not the unspecified 120
    }
    assert cameo(history.clock)["ContactHeld"] == "042"


def test_timeline_lists_issue_16s_types_and_a_denial_of_an_allegation_as_its_dispute() -> None:
    declared = ceasefire_declared("2025-05-28")
    accusation = alleged("2025-06-02", ceasefire=declared.id, occurred_until="2025-06-03")
    history = given(
        declared,
        accusation,
        agreement_reached("2025-06-04"),
        agreement_signed("2025-06-05"),
        agreement_ratified("2025-06-06"),
        agreement_suspended("2025-06-07"),
        agreement_terminated("2025-06-08"),
        implemented("2025-06-05"),
        ceasefire_lifted("2025-06-09", declared.id, mode="ended"),
        report := hostilities("2025-06-10"),
    )
    denial = history.add(dispute("2025-06-03", accusation.id, by="RUS")).event
    result = timeline(history.records)
    types = [entry.event.type for entry in result.events]
    assert types[1:] == [
        "CeasefireDeclared",
        "ViolationAlleged",
        "ClaimDisputed",
        "AgreementReached",
        "AgreementSigned",
        "ProvisionImplemented",
        "AgreementRatified",
        "AgreementSuspended",
        "AgreementTerminated",
        "CeasefireLifted",
        "HostilitiesReported",
    ]
    alleged_entry = result.events[2].to_json()
    assert alleged_entry["occurred_until"] == "2025-06-03"
    assert [d["event_id"] for d in alleged_entry["disputed_by"]] == [str(denial.id)]
    assert result.events[-1].event.id == report.id
