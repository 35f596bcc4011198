"""``parley.errors.error_for``: each status its exception, carrying the problem+json,
and an error answer that is not a problem still read. Real ``httpx.Response`` objects;
the statuses no test server sends (429, a proxy's 502 page) are made here."""

from __future__ import annotations

import httpx

from parley.errors import (
    ConflictError,
    InvalidInputError,
    ParleyError,
    TooManyRequestsError,
    UnavailableError,
    error_for,
)

PROBLEM = {"Content-Type": "application/problem+json"}


def test_a_problem_becomes_the_exception_of_its_status_with_every_field() -> None:
    body = {
        "type": "/problems/invalid",
        "title": "Invalid input",
        "status": 422,
        "detail": "as_of: not a date",
        "errors": [{"field": "as_of", "message": "not a date", "value": "x"}],
    }
    error = error_for(httpx.Response(422, json=body, headers=PROBLEM))
    assert isinstance(error, InvalidInputError)
    assert (error.status, error.type, error.title, error.detail) == (
        422,
        "/problems/invalid",
        "Invalid input",
        "as_of: not a date",
    )
    assert error.fields == ["as_of"] and error.problem == body
    assert str(error) == "422 Invalid input: as_of: not a date"


def test_a_version_conflict_names_the_current_version() -> None:
    body = {"type": "/problems/version-conflict", "status": 409, "current_version": 7}
    error = error_for(httpx.Response(409, json=body))
    assert isinstance(error, ConflictError) and error.current_version == 7
    assert error.errors == [] and error.title == ""


def test_too_many_requests_carries_retry_after() -> None:
    answer = httpx.Response(429, json={"title": "Slow down"}, headers={"Retry-After": "3"})
    error = error_for(answer)
    assert isinstance(error, TooManyRequestsError) and error.retry_after == 3.0
    unsaid = error_for(httpx.Response(429, json={}))
    assert isinstance(unsaid, TooManyRequestsError) and unsaid.retry_after is None


def test_an_answer_that_is_not_a_problem_keeps_its_text() -> None:
    page = error_for(httpx.Response(502, text="<h1>Bad gateway</h1>"))
    assert type(page) is ParleyError and page.status == 502
    assert page.title == "Bad Gateway" and "Bad gateway" in page.detail
    busy = error_for(httpx.Response(503, json=["not", "an", "object"]))
    assert isinstance(busy, UnavailableError) and busy.type == "about:blank"
