"""``python -m api.cli``: the ``parley`` command."""

import sys

from api.cli import entry

sys.exit(entry())
