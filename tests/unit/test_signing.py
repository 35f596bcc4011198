"""Signed heads without a database: the key file, the signed bytes, the offline check,
and the files of saved heads that ``parley verify --heads`` reads."""

from __future__ import annotations

import base64
import json
import stat
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support import run_threads

from api.signing import (
    Signer,
    SigningKeyError,
    check_signature,
    load_public_key,
    signed_bytes,
    signing_key,
)
from store.heads import Head, HeadsFileError, read_heads

HEAD = Head(
    negotiation="istanbul-2025",
    version=16,
    position=16,
    hash="3626b11ac9fe43876e9f1ab5f3c552957744f39c7fd224f5096139af5c68c522",
    recorded_at="2025-05-28T17:00:00.000000Z",
)


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return signing_key(tmp_path / "signing-key.pem")


def test_the_key_is_made_once_with_mode_0600_and_read_back_on_later_uses(tmp_path: Path) -> None:
    path = tmp_path / "data" / "signing-key.pem"

    first = signing_key(path)
    again = signing_key(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert again.key_id == first.key_id and len(first.key_id) == 16
    # Beside it only the list of keys the data dir signed with (api.signing_keys).
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "signing-key.pem",
        "signing-keys.json",
    ]


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "signing-key.pem"
    ids: list[str] = []

    run_threads(8, lambda _: ids.append(signing_key(path).key_id))

    assert len(set(ids)) == 1
    assert signing_key(path).key_id == ids[0]


def test_a_key_file_without_an_ed25519_key_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "signing-key.pem"
    path.write_text("not a key\n")

    with pytest.raises(SigningKeyError, match="signing-key.pem"):
        signing_key(path)


def test_a_key_put_in_by_hand_retires_the_listed_one_and_keeps_it_published(
    tmp_path: Path,
) -> None:
    from cryptography.hazmat.primitives import serialization

    path = tmp_path / "signing-key.pem"
    first = signing_key(path)
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    second = signing_key(path)

    assert second.key_id != first.key_id
    assert [r.key_id for r in second.retired] == [first.key_id]
    assert "by hand" in (second.retired[0].retired_because or "")
    published = second.keys_json()
    assert [k["key_id"] for k in published] == [second.key_id, first.key_id]
    assert published[1]["public_key"] == first.public_json()["public_key"]


def test_the_signed_bytes_are_the_documented_canonical_json(signer: Signer) -> None:
    signed = signer.sign(HEAD)

    expected = (
        '{"hash":"' + HEAD.hash + '","key_id":"' + signer.key_id + '",'
        '"negotiation":"istanbul-2025","parley_head":1,"position":16,'
        '"recorded_at":"2025-05-28T17:00:00.000000Z","version":16}'
    ).encode()
    assert signed_bytes(signed) == expected
    # What the docstring promises a third party: the standard library makes them too.
    fields = {k: v for k, v in signed.to_json().items() if k != "signature"}
    assert json.dumps(fields, sort_keys=True, separators=(",", ":")).encode() == expected
    assert check_signature(signed, signer.public_key) is None


def test_the_key_id_is_the_start_of_the_sha256_of_the_raw_public_key(signer: Signer) -> None:
    import hashlib

    published = signer.public_json()

    raw = base64.b64decode(published["public_key"])
    assert len(raw) == 32
    assert published["key_id"] == hashlib.sha256(raw).hexdigest()[:16] == signer.key_id
    assert published["algorithm"] == "Ed25519"
    assert load_public_key(published["pem"]) == load_public_key(published["public_key"])


@pytest.mark.parametrize(
    "edit",
    [
        {"version": 15},
        {"position": 17},
        {"hash": "0" * 64},
        {"recorded_at": "2025-05-28T17:00:00.000001Z"},
        {"negotiation": "geneva-2025"},
    ],
    ids=["version", "position", "hash", "recorded_at", "negotiation"],
)
def test_an_edited_head_is_refused(signer: Signer, edit: dict[str, object]) -> None:
    edited = replace(signer.sign(HEAD), **edit)  # type: ignore[arg-type]

    problem = check_signature(edited, signer.public_key)

    assert problem is not None and "bad signature" in problem


def test_a_head_signed_by_another_key_is_refused_naming_both_keys(signer: Signer) -> None:
    forger = Signer(Ed25519PrivateKey.generate())
    forged = forger.sign(HEAD)
    # Claiming the server's key id does not help the forger either.
    claimed = replace(forged, key_id=signer.key_id)

    assert check_signature(forged, signer.public_key) == (
        f"istanbul-2025 v16: signed by key {forger.key_id}, not by key {signer.key_id}"
    )
    problem = check_signature(claimed, signer.public_key)
    assert problem is not None and "bad signature" in problem


def test_an_unsigned_or_garbled_signature_is_refused(signer: Signer) -> None:
    signed = signer.sign(HEAD)
    unsigned = replace(signed, signature=None)
    garbled = replace(signed, signature="%%")

    assert "not signed" in (check_signature(unsigned, signer.public_key) or "")
    assert "not base64" in (check_signature(garbled, signer.public_key) or "")


@pytest.mark.parametrize("text", ["not base64!", base64.b64encode(b"short").decode()])
def test_a_public_key_that_is_neither_pem_nor_32_raw_bytes_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="base64|32"):
        load_public_key(text)


# Files of saved heads.
def test_saved_heads_are_read_from_ndjson_a_json_list_or_one_object(
    signer: Signer, tmp_path: Path
) -> None:
    heads = [signer.sign(HEAD), signer.sign(replace(HEAD, negotiation="geneva-2025"))]
    lines = tmp_path / "heads.ndjson"
    lines.write_bytes(b"\n".join(orjson.dumps(h.to_json()) for h in heads) + b"\n\n")
    listed = tmp_path / "heads.json"
    listed.write_text(json.dumps([h.to_json() for h in heads], indent=2))
    one = tmp_path / "head.json"
    one.write_text(json.dumps(heads[0].to_json(), indent=2))

    assert read_heads(lines) == heads
    assert read_heads(listed) == heads
    assert read_heads(one) == heads[:1]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"negotiation": "a", "version": 1, "hash": "x"}\n{oops\n', "heads.ndjson:2: not JSON"),
        (b'[{"negotiation": "a", "version": "1", "hash": "x"}]', "entry 1: version is missing"),
        (b'[{"negotiation": "a", "version": 0, "hash": "x"}]', "entry 1: version must be 1"),
        (b'{"parley_head": 2, "negotiation": "a", "version": 1, "hash": "x"}', "parley_head 2"),
        (b"[]", "no heads"),
    ],
)
def test_a_bad_heads_file_is_refused_naming_the_entry(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "heads.ndjson"
    path.write_bytes(content)

    with pytest.raises(HeadsFileError, match=message):
        read_heads(path)
