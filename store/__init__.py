"""Parley's append-only store: the eventsourcing Application, its pydantic mapper, the
recorders for SQLite and PostgreSQL with their event index, and the hash chain check.
"""
