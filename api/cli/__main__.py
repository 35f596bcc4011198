"""``python -m api.cli``: the ``parley`` command."""

import sys

from api.cli.main import main

sys.exit(main())
