"""Parley's read side: folds of the log into answers a reader can repeat, and the
runners that keep read models up to date.

``state`` folds a negotiation's events into its state (parties, delegations, rounds,
proposals, documents, ceasefires, security zones, contested claims); ``timeline`` lists
what was said along valid time and ``diff`` what changed between two valid times;
``as_of`` answers "what was the state on date V, as we knew it on date K?", first by a
naive reference fold and then by a checkpointed engine that property tests hold equal
to it. Those modules are pure: callers hand in ``Recorded`` events or index rows.
``service`` feeds them from the store; ``runner``, ``views`` and ``negotiations_index``
are the subscribing projection that persists a read model with its tracking position.
"""
