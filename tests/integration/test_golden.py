"""The golden answers: a fixed scenario asked a fixed list of questions gives, on each
backend, exactly the bytes recorded on the code before issue 14's refactor.

The scenario, the questions, the answer files and what they normalise are in
``tests/golden/`` (``questions.py`` says it all). An answer that differs fails with the
question's name and where its bytes part. To change an answer on purpose, re-record with
``.venv/bin/python tests/golden/record.py`` and review ``git diff tests/golden/answers``.
"""

from __future__ import annotations

from golden.questions import ANSWERS, QUESTIONS, SUFFIX, answer_file, ask_all

from store.config import StoreConfig

CONTEXT = 120  # bytes shown on either side of the first difference


def test_each_question_has_its_recorded_answer_and_no_answer_is_left_over() -> None:
    names = [question.name for question in QUESTIONS]
    assert len(names) == len(set(names)), "two questions share a name"
    recorded = {path.name for path in ANSWERS.glob(f"*{SUFFIX}")}
    assert recorded == {answer_file(name).name for name in names}


def test_every_answer_is_the_recorded_bytes(store_config: StoreConfig) -> None:
    answers = ask_all(store_config)
    differences = [
        difference(name, answer_file(name).read_bytes(), got)
        for name, got in answers.items()
        if got != answer_file(name).read_bytes()
    ]
    assert not differences, (
        f"{len(differences)} of {len(answers)} answers differ from the recorded ones "
        f"({store_config.backend}):\n\n" + "\n\n".join(differences)
    )


def difference(name: str, recorded: bytes, got: bytes) -> str:
    """Which question, and the bytes around the first place where the answers part."""
    at = next(
        (i for i, (a, b) in enumerate(zip(recorded, got, strict=False)) if a != b),
        min(len(recorded), len(got)),
    )
    start = max(0, at - CONTEXT)
    return (
        f"{name}: differs at byte {at} ({len(recorded)} bytes recorded, {len(got)} now)\n"
        f"  recorded: {recorded[start : at + CONTEXT]!r}\n"
        f"  now:      {got[start : at + CONTEXT]!r}"
    )
