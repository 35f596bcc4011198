"""The SQLite write gate (``store.sqlite.WriteGate``): the log's writer goes before the
views of the same file in this process, and a view that waited its turn is let in."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from store.sqlite import WriteGate, write_gate


def test_a_view_waits_while_the_writer_holds_the_gate() -> None:
    gate = WriteGate()
    entered = threading.Event()

    def view() -> None:
        with gate.view():
            entered.set()

    with gate.append():
        thread = threading.Thread(target=view)
        thread.start()
        assert not entered.wait(0.2)
    assert entered.wait(5)
    thread.join(5)


def test_the_writer_holding_the_gate_takes_it_again_without_waiting() -> None:
    gate = WriteGate()
    with gate.append(), gate.append():  # the group, then its transaction
        pass


def test_a_view_that_waited_its_turn_goes_before_the_next_group() -> None:
    gate = WriteGate()
    order: list[str] = []
    waiting = threading.Event()

    def view() -> None:
        waiting.set()
        with gate.view():
            order.append("view")

    with gate.append():
        thread = threading.Thread(target=view)
        thread.start()
        assert waiting.wait(5)
        time.sleep(WriteGate.VIEW_TURN * 3)
    with gate.append():  # the next group, at once
        order.append("append")
    thread.join(5)
    assert order == ["view", "append"]


def test_one_gate_per_file_however_it_is_named(tmp_path: Path) -> None:
    path = f"{tmp_path}/log.db"
    assert write_gate(path) is write_gate(f"{tmp_path}/./log.db")
    assert write_gate(path) is not write_gate(f"{tmp_path}/other.db")
