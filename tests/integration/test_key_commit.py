"""A person's key commits with the first event that uses it, on both backends.

A real process appends an event naming a new person and is killed with SIGKILL inside
the transaction that stores it: after its rows were written, before the commit. The
kill point is reached by wrapping the recorder's search-row insert (the last step of
that transaction, on both backends) in the child process; nothing is patched here.
Afterwards every key in the keys table is used by a stored event: a key made for an
event that never committed would be a name kept with nothing to redact it by.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from dataclasses import asdict

from builders import opened_event as opened
from support import REPO

from domain.events import AnyEvent, parse_event
from domain.redaction import key_ids
from store.config import StoreConfig
from store.log import ConflictLog

SLUG = "istanbul-2025"

CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    from pathlib import Path
    from domain.events import parse_event
    from store.config import StoreConfig
    from store.log import ConflictLog
    from store.postgres import PostgresEventRecorder
    from store.sqlite import SQLiteEventRecorder

    fields = json.loads(sys.argv[1])
    fields["data_dir"] = Path(fields["data_dir"])
    log = ConflictLog(StoreConfig(**fields))

    def die(self, *args, **kwargs):
        print("killing", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    for recorder in (SQLiteEventRecorder, PostgresEventRecorder):
        recorder._insert_search = die
    event = parse_event({
        "type": "StatementIssued",
        "occurred_at": "2025-05-28",
        "data": {"speaker": "RUS", "summary": "Russia is ready for a second round."},
        "sources": [{
            "outlet": "TASS",
            "quote": "said by someone never named before",
            "attributed_to": {"name": "Never Named Before", "country": "RUS"},
        }],
    })
    log.append(sys.argv[2], [event])
    print("committed", flush=True)
    """
)


def named(person: str) -> AnyEvent:
    return parse_event(
        {
            "type": "StatementIssued",
            "occurred_at": "2025-05-27",
            "data": {"speaker": "RUS", "summary": "Russia proposes talks in Istanbul."},
            "sources": [{"outlet": "TASS", "quote": "ready", "attributed_to": {"name": person}}],
        }
    )


def unused_keys(log: ConflictLog) -> list[str]:
    """The persons whose key no stored event uses."""
    rows = b"\n".join(state for _, _, _, state in log.stored_rows(after=0, upto=10**12))
    used = key_ids(rows)
    return [key.person for key in log.keys.store.person_keys() if key.key_id not in used]


def test_a_writer_killed_before_its_commit_leaves_no_key_without_its_event(
    log: ConflictLog, store_config: StoreConfig
) -> None:
    log.append(SLUG, [opened()])
    kept = log.append(SLUG, [named("Vladimir Medinsky")]).created[0]  # a key in use
    fields = {**asdict(store_config), "data_dir": str(store_config.data_dir)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(fields), SLUG],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout.strip() == "killing"
    assert [r.event.id for r in log.global_log()][-1] == kept.event.id  # nothing committed
    assert [k.person for k in log.keys.store.person_keys()] == ["vladimir medinsky"]
    assert unused_keys(log) == []
