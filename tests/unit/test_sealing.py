"""Which fields are sealed under whose key, and how sealed text is read back (pure)."""

from __future__ import annotations

import base64
import re
from typing import Any

import orjson
import pytest
from builders import statement_event

from domain.events import (
    EVENT_TYPES,
    KNOWLEDGE,
    RECORDED_TYPES,
    dump_event,
    encode_json,
    parse_event,
)
from domain.redaction import (
    REDACTED,
    REDACTED_JSON,
    SEALED_JSON,
    SEALED_PREFIX,
    key_ids,
    open_json,
    person_id,
    person_of,
    protects,
    seal_fields,
    sealed_path,
    sealed_text,
)
from domain.stored import build_event


def stored_statement(**envelope: Any) -> dict[str, Any]:
    """A statement by a named person, as the store dumps it before sealing."""
    medinsky = {"name": "Vladimir Medinsky", "country": "RUS"}
    return dump_event(statement_event("s", speaker=medinsky, **envelope))


def fake_seal(person: str, text: str) -> str:
    """Seals as ``sealed:v1:<person without spaces>:<text reversed>``, to see what went
    under whose key."""
    return f"{SEALED_PREFIX}{person.replace(' ', '')}:{text[::-1]}"


MEDINSKY = {"name": "Vladimir Medinsky", "country": "RUS", "role": "aide", "wikidata": "Q4"}


def test_a_source_attributed_to_a_person_seals_quote_url_and_who_under_their_key() -> None:
    fields = stored_statement(
        sources=[
            {
                "outlet": "TASS",
                "url": "https://tass.com/1",
                "quote": "we are ready",
                "attributed_to": MEDINSKY,
                "via": ["EFE"],
                "published_at": "2025-05-28",
            }
        ]
    )
    sealed = seal_fields(fields, fake_seal)
    source = sealed["sources"][0]
    assert source["quote"] == "sealed:v1:vladimirmedinsky:ydaer era ew"
    assert source["url"].startswith("sealed:v1:vladimirmedinsky:")
    who = source["attributed_to"]
    assert [who[k].split(":")[2] for k in ("name", "role", "wikidata")] == ["vladimirmedinsky"] * 3
    # What names states and outlets stays in the clear, and so does the data.
    assert who["country"] == "RUS"
    assert (source["outlet"], source["via"], source["published_at"]) == (
        "TASS",
        ["EFE"],
        "2025-05-28",
    )
    assert sealed["data"] == fields["data"]
    assert fields["sources"][0]["quote"] == "we are ready"  # the input is left alone


def test_sources_of_states_or_of_the_outlet_itself_seal_nothing() -> None:
    fields = stored_statement(
        sources=[
            {"outlet": "teleSUR", "quote": "the first round", "url": "https://t.net/1"},
            {"outlet": "TASS", "quote": "the Kremlin said", "attributed_to": "RUS"},
        ]
    )
    assert not protects(fields)
    assert seal_fields(fields, fake_seal) == fields


def test_asserted_by_a_person_is_sealed_under_their_own_key() -> None:
    fields = stored_statement(asserted_by={"name": "Jane  SOURCE", "country": "UKR"})
    assert protects(fields)
    sealed = seal_fields(fields, fake_seal)
    assert sealed["asserted_by"]["name"] == "sealed:v1:janesource:ECRUOS  enaJ"
    assert sealed["asserted_by"]["country"] == "UKR"


def test_a_person_is_their_normalised_name() -> None:
    assert person_id("  Vladimir\u00a0 MEDINSKY ") == person_id("vladimir medinsky")
    assert person_id("Vladimir\x00 Medinsky") == "vladimir medinsky"
    assert person_of({"name": "Sergey Lavrov", "country": "RUS"}) == "sergey lavrov"
    assert person_of({"country": "RUS"}) is None
    assert person_of("RUS") is None and person_of(None) is None


def test_a_sealed_field_names_its_key_and_carries_the_bytes_in_base64url() -> None:
    text = sealed_text("0a1b2c3d4e5f6a7b", b"\x00\xffnonce+ciphertext")
    assert text.startswith("sealed:v1:0a1b2c3d4e5f6a7b:")
    match = SEALED_JSON.fullmatch(orjson.dumps(text))
    assert match is not None and match.group(1) == b"0a1b2c3d4e5f6a7b"
    body = match.group(2)
    assert base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)) == b"\x00\xffnonce+ciphertext"
    stored = f'{{"quote":"{text}","x":"sealed:v1:ffee:AA"}}'.encode()
    assert key_ids(stored) == {"0a1b2c3d4e5f6a7b", "ffee"}


def hex_seal(person: str, text: str) -> str:
    """Seals as ``sealed:v1:<hex of the person>:<base64url of the text>`` (no cipher)."""
    return sealed_text(person.encode().hex()[:64], text.encode())


def test_opening_replaces_each_sealed_string_in_the_bytes_and_nothing_else() -> None:
    quoted = {"outlet": "TASS", "quote": 'q "1"', "attributed_to": MEDINSKY}
    plain = stored_statement(sources=[quoted])
    stored = encode_json(seal_fields(plain, hex_seal))

    def reveal(match: re.Match[bytes]) -> bytes:
        body = match.group(2)
        return orjson.dumps(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)).decode())

    assert open_json(stored, reveal) == encode_json(plain)  # canonical, byte for byte
    redacted = orjson.loads(open_json(stored, lambda match: REDACTED_JSON))
    source = redacted["sources"][0]
    assert source["quote"] == source["attributed_to"]["name"] == REDACTED
    assert source["attributed_to"]["country"] == "RUS"
    assert redacted["data"] == plain["data"]
    # Same keys, same types: a redacted event keeps its shape.
    assert shape(redacted) == shape(plain)


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def test_text_a_client_sends_that_already_looks_sealed_is_found() -> None:
    fields = stored_statement(sources=[{"outlet": "TASS", "quote": "sealed:v1:ab:cd"}])
    assert sealed_path(fields) == "sources.0.quote"
    assert sealed_path(stored_statement()) is None


def test_the_trusted_decoder_builds_events_whose_protected_fields_are_sealed() -> None:
    # The stored quote is longer than a quote may be (300): limits apply before sealing.
    long = "sealed:v1:ab:" + "x" * 600
    fields = stored_statement(
        sources=[
            {"outlet": "TASS", "quote": "q", "url": "https://a.b/c", "attributed_to": MEDINSKY}
        ]
    )
    fields["sources"][0] |= {"quote": long, "url": long}
    fields["sources"][0]["attributed_to"]["name"] = long
    event = build_event(fields)
    assert event.sources[0].quote == long
    assert event.sources[0].attributed_to is not None
    assert event.sources[0].attributed_to.name == long


def test_person_redacted_is_recorded_by_the_log_not_sent_by_clients() -> None:
    assert "PersonRedacted" in RECORDED_TYPES and "PersonRedacted" not in EVENT_TYPES
    assert "PersonRedacted" in KNOWLEDGE  # folds along valid time skip it
    with pytest.raises(ValueError, match="PersonRedacted"):
        parse_event(
            {
                "type": "PersonRedacted",
                "occurred_at": "2025-05-28",
                "sources": [],
                "data": {"person": "ab", "reason": "asked"},
            }
        )
