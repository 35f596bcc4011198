"""Parley's Python client: ``from parley import Client``.

``parley.client`` talks to a Parley server over HTTP; ``parley.models`` types its
answers and ``parley.errors`` its problem+json errors. Nothing here imports the server.
"""

from parley.client import Client
from parley.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    ParleyError,
    PayloadTooLargeError,
    TooManyRequestsError,
    UnauthorizedError,
    UnavailableError,
)

__all__ = [
    "BadRequestError",
    "Client",
    "ConflictError",
    "ForbiddenError",
    "InvalidInputError",
    "NotFoundError",
    "ParleyError",
    "PayloadTooLargeError",
    "TooManyRequestsError",
    "UnauthorizedError",
    "UnavailableError",
]
