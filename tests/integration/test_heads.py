"""Saved heads against the log, on a real SQLite file and the real PostgreSQL.

A head saved earlier must still be in the log: the same event, with the same hash, at
its version. Losing the tail of the log (rows deleted past the append-only triggers)
and rewriting history consistently (bytes and hashes redone, so that ``verify`` alone
finds nothing) are both caught by ``parley verify --heads``, which names the
negotiation and version and exits 2.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from builders import opened_event, statement_event
from support import Cli, delete_after, rewrite_row

from domain.negotiation import chain_hash
from store.codec import encode_record
from store.config import StoreConfig
from store.heads import Head, check_heads, read_heads
from store.log import ConflictLog

SLUG = "istanbul-2025"
OTHER = "geneva-2025"


def save_heads(parley_cli: Cli) -> str:
    """What ``parley head`` prints now: every negotiation's signed head, as NDJSON."""
    code, out, _ = parley_cli.run("head")
    assert code == 0
    return out


def verify_heads(parley_cli: Cli, heads: Path) -> tuple[int, str]:
    code, out, err = parley_cli.run("verify", "--heads", str(heads))
    return code, out + err


def test_heads_saved_while_the_log_grew_all_still_hold(
    log: ConflictLog, tmp_path: Path, parley_cli: Cli
) -> None:
    saved = tmp_path / "heads.ndjson"
    log.append(SLUG, [opened_event()])
    saved.write_text(save_heads(parley_cli))
    log.append(SLUG, [statement_event("one"), statement_event("two")])
    log.append(OTHER, [opened_event()])
    with saved.open("a") as file:
        file.write(save_heads(parley_cli))
    log.append(SLUG, [statement_event("three")])
    log.append(OTHER, [statement_event("four")])

    code, printed = verify_heads(parley_cli, saved)

    assert [(h.negotiation, h.version) for h in read_heads(saved)] == [
        (SLUG, 1),
        (OTHER, 1),
        (SLUG, 3),
    ]
    assert code == 0, printed
    assert "holds each of the 3 saved heads" in printed


def test_a_log_that_lost_its_tail_is_caught_naming_the_negotiation_and_version(
    log: ConflictLog, tmp_path: Path, parley_cli: Cli
) -> None:
    log.append(OTHER, [opened_event()])
    log.append(SLUG, [opened_event(), statement_event("one")])
    log.append(SLUG, [statement_event("two"), statement_event("three")])
    saved = tmp_path / "heads.ndjson"
    saved.write_text(save_heads(parley_cli))
    kept = log.record_at(SLUG, 2)
    assert kept is not None and kept.position is not None

    delete_after(parley_cli.config, kept.position)

    assert log.verify().ok  # what is left is a whole log: only the saved head knows better
    code, printed = verify_heads(parley_cli, saved)
    assert code == 2
    assert f"{SLUG} v4: the log lost its tail" in printed
    assert "ends at version 2" in printed
    assert OTHER not in printed


def test_a_saved_head_whose_event_is_gone_is_caught(
    log: ConflictLog, store_config: StoreConfig
) -> None:
    log.append(SLUG, [opened_event(), statement_event("one"), statement_event("two")])
    head = Head.of(log.head(SLUG))
    log.append(SLUG, [statement_event("three")])
    last = log.head(SLUG)
    assert last.position is not None

    delete_after(store_config, head.position - 1)  # the saved head's event and the rest
    log.events.put([last])  # ... then the last event comes back: version 4 without 3

    assert check_heads(log, [head]) == [
        f"{SLUG} v3: the log lost the event of the saved head: it is gone"
    ]
    assert not log.verify().ok


def test_a_rewritten_history_that_verify_accepts_is_caught_by_a_saved_head(
    log: ConflictLog, tmp_path: Path, parley_cli: Cli
) -> None:
    log.append(SLUG, [opened_event(), statement_event("Moscow proposed talks in Istanbul.")])
    saved = tmp_path / "heads.ndjson"
    saved.write_text(save_heads(parley_cli))
    last = log.head(SLUG)
    assert last.position is not None

    # Rewrite the last event and redo its hash, as someone holding the database could.
    edited = last.event_json.replace(b"Moscow", b"Kyiv")
    digest = chain_hash(
        negotiation=SLUG,
        version=last.version,
        recorded_at=last.recorded_at,
        event_json=edited,
        previous_hash=last.previous_hash,
        chain=last.chain,
    )
    rewritten = last.replace(event_json=edited, hash=digest)
    rewrite_row(parley_cli.config, last.position, encode_record(rewritten), digest)

    assert log.verify().ok, "the rewrite is consistent: the chain alone cannot tell"
    assert b"Kyiv proposed" in log.head(SLUG).event_json
    code, printed = verify_heads(parley_cli, saved)
    assert code == 2
    assert f"{SLUG} v2: the history was rewritten" in printed
    assert digest in printed and last.hash in printed


def test_parley_head_names_one_negotiation_or_fails_for_an_unknown_one(
    log: ConflictLog, parley_cli: Cli
) -> None:
    log.append(SLUG, [opened_event(), statement_event("one")])
    log.append(OTHER, [opened_event()])

    assert parley_cli("head", OTHER) == 0
    [line] = parley_cli.printed()[0].splitlines()
    assert parley_cli("head", "no-such-talks") == 1

    head = orjson.loads(line)
    record = log.head(OTHER)
    assert (head["negotiation"], head["version"], head["position"], head["hash"]) == (
        OTHER,
        1,
        record.position,
        record.hash,
    )
    assert "no-such-talks" in parley_cli.printed()[1]
