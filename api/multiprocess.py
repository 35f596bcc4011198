"""The folder where ``parley serve --workers N`` keeps each worker's metric figures.

prometheus-client's multiprocess mode: each worker writes its figures to files in
``PROMETHEUS_MULTIPROC_DIR``, which must be set before the workers start (they read it
when they import the library), and ``/metrics`` adds them up (``api.http.observe``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess(data_dir: Path, port: int) -> Path:
    """Make (empty) this server's folder, ``<data_dir>/metrics/<port>``, and point the
    workers at it. Figures left by an earlier run of the same server are removed:
    counters start again from zero, as Prometheus expects of a restart."""
    folder = data_dir / "metrics" / str(port)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder
