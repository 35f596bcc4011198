"""The EventSourcingDB-compatible API (/api/v1): wire format, requests, service, routes."""
