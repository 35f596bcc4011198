"""The client's exceptions: every error answer of a Parley server, as the problem+json
(RFC 9457) it sent.

``ParleyError`` carries the status, ``type``, ``title``, ``detail`` and ``errors`` (one
``{field, message, value}`` per invalid field), and the whole body in ``problem`` for
the extensions a problem may add (``current_version`` on a version conflict). One
subclass per status a client handles differently; ``error_for`` picks it.
"""

from __future__ import annotations

from typing import Any

import httpx


class ParleyError(Exception):
    """An error answer of a Parley server."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.type: str = str(problem.get("type") or "about:blank")
        self.title: str = str(problem.get("title") or "")
        self.detail: str = str(problem.get("detail") or "")
        errors = problem.get("errors")
        self.errors: list[dict[str, Any]] = errors if isinstance(errors, list) else []
        super().__init__(f"{status} {self.title}: {self.detail}" if self.title else self.detail)

    @property
    def fields(self) -> list[str]:
        """The fields the server named as invalid, in its order."""
        return [str(error.get("field", "")) for error in self.errors]


class BadRequestError(ParleyError):
    """400: the request could not be read (not JSON, empty)."""


class UnauthorizedError(ParleyError):
    """401: no bearer token, or one the server does not know."""


class ForbiddenError(ParleyError):
    """403: the token is known but lacks the scope (a read token used for a write)."""


class NotFoundError(ParleyError):
    """404: no such negotiation or event."""


class ConflictError(ParleyError):
    """409: a stale ``expected_version``, an event id reused with other content, or a
    negotiation opened twice (``type`` says which)."""

    @property
    def current_version(self) -> int | None:
        """On a version conflict, the negotiation's version now."""
        value = self.problem.get("current_version")
        return value if isinstance(value, int) else None


class PayloadTooLargeError(ParleyError):
    """413: the body is over the server's ``PARLEY_MAX_BODY_BYTES``; split the batch."""


class InvalidInputError(ParleyError):
    """422: an invalid event or parameter; ``errors`` names each field."""


class TooManyRequestsError(ParleyError):
    """429: slow down; ``retry_after`` says for how many seconds, when the server said."""

    def __init__(
        self, status: int, problem: dict[str, Any], retry_after: float | None = None
    ) -> None:
        super().__init__(status, problem)
        self.retry_after = retry_after


class UnavailableError(ParleyError):
    """503: busy, or a projection behind (``wait_for``); retry shortly."""


_BY_STATUS: dict[int, type[ParleyError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: InvalidInputError,
    429: TooManyRequestsError,
    503: UnavailableError,
}


def error_for(response: httpx.Response) -> ParleyError:
    """The exception for an error answer whose body has been read."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        # Not a problem (a proxy's page, say): keep its text as the detail.
        body = {"title": response.reason_phrase, "detail": response.text[:500]}
    kind = _BY_STATUS.get(response.status_code, ParleyError)
    if kind is TooManyRequestsError:
        return TooManyRequestsError(response.status_code, body, _seconds(response))
    return kind(response.status_code, body)


def _seconds(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None
