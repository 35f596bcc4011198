"""Record the golden answers: restore the scenario into a fresh SQLite store, ask every
question in ``questions.py`` through the real app, and write each answer's exact bytes to
``answers/<name>.http`` (the files no question asks any more are deleted).

Run it from the repository root, only when an answer is meant to change::

    .venv/bin/python tests/golden/record.py

then read ``git diff tests/golden/answers`` before committing it: the golden test
(``tests/integration/test_golden.py``) holds every later version of the code to these
bytes. What is asked, and the few things normalised, are in ``questions.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/, for ``golden``

from golden.questions import ANSWERS, SUFFIX, answer_file, ask_all  # noqa: E402

from store.config import StoreConfig  # noqa: E402


def main() -> int:
    with tempfile.TemporaryDirectory() as data_dir:
        answers = ask_all(StoreConfig(data_dir=Path(data_dir)))
    ANSWERS.mkdir(exist_ok=True)
    for stale in set(ANSWERS.glob(f"*{SUFFIX}")) - {answer_file(n) for n in answers}:
        stale.unlink()
    for name, content in answers.items():
        answer_file(name).write_bytes(content)
    print(f"recorded {len(answers)} answers in {ANSWERS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
