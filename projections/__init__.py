"""Parley's read side: pure folds of the log into answers a reader can repeat.

``state`` folds a negotiation's events into its state (parties, delegations, rounds,
proposals, documents, ceasefires, security zones, contested claims); ``timeline`` lists
what was said along valid time and ``diff`` what changed between two valid times;
``as_of`` answers "what was the state on date V, as we knew it on date K?", first by a
naive reference fold and then by a checkpointed engine that property tests hold equal
to it. Nothing here does I/O: callers hand in ``Recorded`` events from the store.
"""
