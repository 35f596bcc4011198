"""What sealing protected fields costs (issue 8, part 6), in process, on SQLite.

- ``Writer.submit`` per event, in process time (the queue stubbed out): what the request
  thread spends before the writer takes over, beside ``encode_event`` alone;
- single-event appends from 16 client threads, each waiting for its answer (SQLite,
  synchronous=FULL, group commit);
- reading the global log back as ``GET /events`` does (rows decoded, sealed fields
  opened, answer JSON made).

Each for the bench's statements with their sources attributed to people (sealed), and
the same statements with no one named (nothing sealed). Run it on a checkout before and
after a change to compare: ``python -m bench.sealing [--events 2000]``.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from bench.events import statement
from domain.events import AnyEvent, encode_event, parse_event
from store.config import StoreConfig
from store.log import ConflictLog

OPENING = {
    "type": "NegotiationOpened",
    "occurred_at": "2022-02-24",
    "sources": [{"outlet": "teleSUR"}],
    "data": {"title": "bench", "parties": ["RUS", "UKR"]},
}


def events(count: int, *, named: bool, seed: int) -> list[AnyEvent]:
    made = []
    for i in range(count):
        raw = statement(i, seed=seed)
        if not named:
            for source in raw["sources"]:
                source.pop("attributed_to", None)
        made.append(parse_event(raw))
    return made


def fresh_log(tmp: str) -> ConflictLog:
    log = ConflictLog(StoreConfig(data_dir=Path(tmp)))
    log.append("bench", [parse_event(OPENING)])
    return log


def submit_cost(batch: list[AnyEvent]) -> tuple[float, float]:
    """(µs per submit, µs per encode_event), process time, best of 25."""
    with tempfile.TemporaryDirectory() as tmp:
        log = fresh_log(tmp)
        writer = log.writer
        writer._queue.put = lambda request: None  # type: ignore[method-assign]
        submits, encodes = [], []
        for _ in range(25):
            start = time.process_time()
            for event in batch:
                writer.submit("bench", [event])
            submits.append(time.process_time() - start)
            start = time.process_time()
            for event in batch:
                encode_event(event)
            encodes.append(time.process_time() - start)
        log.close()
    return min(submits) / len(batch) * 1e6, min(encodes) / len(batch) * 1e6


def appends_per_second(batch: list[AnyEvent], clients: int = 16) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        log = fresh_log(tmp)

        def client(k: int) -> None:
            for event in batch[k::clients]:
                log.append("bench", [event])

        threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rate = len(batch) / (time.perf_counter() - start)
        log.close()
    return rate


def reads_per_second(batch: list[AnyEvent]) -> float:
    from store.codec import answer_json

    with tempfile.TemporaryDirectory() as tmp:
        log = fresh_log(tmp)
        for k in range(0, len(batch), 500):
            log.append("bench", batch[k : k + 500])
        best = float("inf")
        for _ in range(5):
            start = time.process_time()
            after = 0
            while page := log.global_log(after=after, limit=1000):
                b"".join(answer_json(record) for record in page)
                after = page[-1].position or after
            best = min(best, time.process_time() - start)
        log.close()
    return len(batch) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    for named in (False, True):
        label = "sources name people" if named else "no one named       "
        submit, encode = submit_cost(events(1000, named=named, seed=5))
        appends = max(appends_per_second(events(args.events, named=named, seed=s)) for s in (1, 2))
        reads = reads_per_second(events(args.events, named=named, seed=3))
        print(
            f"{label}: submit {submit:5.1f} µs (encode_event {encode:4.1f} µs); "
            f"{appends:6.0f} appends/s from 16 clients; {reads:7.0f} events/s read"
        )


if __name__ == "__main__":
    main()
