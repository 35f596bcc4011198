"""The SQLite write gate (``store.sqlite.WriteGate``): the log's writer goes before the
views of the same file in this process, and a view that waited its turn is let in."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from store.sqlite import WriteGate, write_gate


def in_thread(gate: WriteGate, entered: threading.Event) -> threading.Thread:
    """A view's transaction on a thread of its own: ``entered`` is set once it holds
    the gate."""

    def view() -> None:
        with gate.view():
            entered.set()

    thread = threading.Thread(target=view)
    thread.start()
    return thread


def test_a_view_begins_no_transaction_while_a_group_is_announced() -> None:
    gate = WriteGate()
    entered = threading.Event()
    with gate.group():
        thread = in_thread(gate, entered)
        assert not entered.wait(0.2)
        with gate.append():  # the group's transaction
            pass
        assert not entered.wait(0.1)
    assert entered.wait(5)
    thread.join(5)


def test_an_append_waits_for_the_view_transaction_it_found() -> None:
    gate = WriteGate()
    order: list[str] = []
    inside, leave = threading.Event(), threading.Event()

    def view() -> None:
        with gate.view():
            inside.set()
            leave.wait(5)
            order.append("view")

    thread = threading.Thread(target=view)
    thread.start()
    assert inside.wait(5)
    with gate.group():
        threading.Timer(0.1, leave.set).start()
        with gate.append():
            order.append("append")
    thread.join(5)
    assert order == ["view", "append"]


def test_a_view_that_waited_its_turn_goes_before_the_next_group() -> None:
    gate = WriteGate()
    order: list[str] = []
    waiting = threading.Event()

    def view() -> None:
        waiting.set()
        with gate.view():
            order.append("view")

    with gate.group():
        thread = threading.Thread(target=view)
        thread.start()
        assert waiting.wait(5)
        time.sleep(WriteGate.VIEW_TURN * 3)
    with gate.group():  # the next group, at once
        order.append("group")
    thread.join(5)
    assert order == ["view", "group"]


def test_one_gate_per_file_however_it_is_named(tmp_path: Path) -> None:
    path = f"{tmp_path}/log.db"
    assert write_gate(path) is write_gate(f"{tmp_path}/./log.db")
    assert write_gate(path) is not write_gate(f"{tmp_path}/other.db")
