"""The ``parley`` command (``api.cli.main``)."""
