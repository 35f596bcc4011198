"""Parley's domain: negotiation events, value objects and the Negotiation aggregate.

Pure: imports only the standard library, pydantic, pycountry's code tables and
``eventsourcing.domain``.
"""
