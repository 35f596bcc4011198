"""Imported first by ``tests/conftest.py``: the test run writes Python's bytecode caches
(``__pycache__``, ignored by git) whatever ``PYTHONDONTWRITEBYTECODE`` says.

Without them every pytest process (each xdist worker) compiled and assertion-rewrote
the whole test suite again at collection (~7 s of CPU each, ~3.3 s with the caches), and
every server, CLI and runner process a test starts compiled Parley's modules again
(~0.12 s each, hundreds of times a run). The variable is dropped from this process's
environment, so the processes the tests start inherit the same.
"""

from __future__ import annotations

import os
import sys

os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False
