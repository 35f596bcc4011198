"""A Python client for a Parley server, on httpx: typed answers, problem+json errors as
exceptions, and a live stream that resumes by position after a dropped connection.

    with Client("http://127.0.0.1:8000", token=TOKEN) as parley:
        parley.append("istanbul-2025", event, expected_version=16)
        state = parley.state("istanbul-2025", as_of="2025-05-28")
        for event in parley.stream(negotiation="istanbul-2025"):
            ...

Times (``as_of``, ``known_at``, ``from_``, ``to``) are ISO 8601 text, a ``date`` (the
end of that day, UTC) or a timezone-aware ``datetime``; the server checks them and names
the parameter in a 422. Events to append are JSON-like mappings, or pydantic models
(such as ``domain.events``' own), dumped by their JSON names.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import IO, Any, Literal, Self, TypedDict, TypeVar, Unpack
from urllib.parse import quote
from uuid import UUID

import httpx
from httpx_sse import EventSource
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from parley.errors import ParleyError, UnavailableError, error_for
from parley.models import (
    Appended,
    Diff,
    Event,
    EventDetail,
    EventPage,
    Head,
    Health,
    Heartbeat,
    Key,
    Negotiation,
    State,
    Timeline,
    Verification,
)

DEFAULT_URL = "http://127.0.0.1:8000"
Time = str | date | datetime
Types = str | Sequence[str]
EventBody = Mapping[str, Any] | BaseModel
ActorLike = str | Mapping[str, Any] | BaseModel
ExportFormat = Literal["ndjson", "csv", "plover"]
_Model = TypeVar("_Model", bound=BaseModel)


class ExportWindow(TypedDict, total=False):
    """The export options ``export``, ``iter_export`` and ``export_to`` share, as the
    server's ``/export`` takes them (``from_`` is its ``from``); None leaves one out."""

    as_of: Time | None
    known_at: Time | None
    reported_at: Time | None
    from_: Time | None
    to: Time | None
    type: Types | None


class Client:
    """A synchronous client; use it as a context manager, or ``close()`` it."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        timeout: float | None = 30.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``token`` is sent as ``Authorization: Bearer``; writes need one with the
        ``append`` scope, reads one when the server sets ``PARLEY_READ_TOKEN``.
        ``timeout`` bounds each request (None: no bound); a live stream uses
        ``stream``'s ``idle_timeout`` for reads instead."""
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        sent = {"Accept": "application/json", **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.base_url, headers=sent, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- negotiations and appends ---------------------------------------------------

    def negotiations(self, *, wait_for: int | None = None) -> list[Negotiation]:
        """Every negotiation with its counts; ``wait_for`` (an append's ``position``)
        answers only once the index includes it (else ``UnavailableError``)."""
        body = self._send("GET", "/negotiations", params=_params(wait_for=wait_for)).json()
        return [Negotiation.model_validate(item) for item in body["negotiations"]]

    def negotiation(self, slug: str) -> Negotiation:
        return self._get(Negotiation, f"/negotiations/{_segment(slug)}")

    def open(
        self,
        slug: str,
        title: str,
        parties: Sequence[ActorLike],
        mediators: Sequence[ActorLike] = (),
        *,
        id: UUID | str | None = None,
        occurred_at: Time | None = None,
        sources: Sequence[Mapping[str, Any] | BaseModel] | None = None,
    ) -> Negotiation:
        """Open a negotiation. Re-sending the same ``id`` answers the one it opened."""
        body = {
            "slug": slug,
            "title": title,
            "parties": list(parties),
            "mediators": list(mediators),
            "id": id,
            "occurred_at": occurred_at,
            "sources": None if sources is None else list(sources),
        }
        sent = {key: value for key, value in body.items() if value is not None}
        return Negotiation.model_validate(
            self._send("POST", "/negotiations", json=_jsonable(sent)).json()
        )

    def append(
        self, slug: str, event: EventBody, *, expected_version: int | None = None
    ) -> Appended:
        """Append one event. With ``expected_version`` the server refuses it with a
        ``ConflictError`` (``current_version`` set) unless the negotiation is at that
        version. Re-sending an event's ``id`` with the same content answers the original."""
        headers = {} if expected_version is None else {"If-Match": f'"{expected_version}"'}
        return self._append(slug, _jsonable(event), headers)

    def append_batch(
        self, slug: str, events: Iterable[EventBody], *, expected_version: int | None = None
    ) -> Appended:
        """Append events atomically: all are stored, or none."""
        body: dict[str, Any] = {"events": [_jsonable(event) for event in events]}
        if expected_version is not None:
            body["expected_version"] = expected_version
        return self._append(slug, body, {})

    def _append(self, slug: str, body: Any, headers: dict[str, str]) -> Appended:
        path = f"/negotiations/{_segment(slug)}/events"
        return Appended.model_validate(self._send("POST", path, json=body, headers=headers).json())

    # -- reading events -------------------------------------------------------------

    def event(self, event_id: UUID | str) -> EventDetail:
        """One event with the disputes, corrections and retractions that name it."""
        return self._get(EventDetail, f"/events/{_segment(str(event_id))}")

    def events(
        self,
        slug: str,
        *,
        after_version: int | None = None,
        limit: int | None = None,
        type: Types | None = None,
        as_of: Time | None = None,
        known_at: Time | None = None,
        **filters: Any,
    ) -> EventPage:
        """One page of a negotiation's events in version order. ``filters`` go to the
        server as query parameters as they are (actor, region, outlet, q, …)."""
        params = _params(
            after_version=after_version,
            limit=limit,
            type=type,
            as_of=as_of,
            known_at=known_at,
            **filters,
        )
        return self._get(EventPage, f"/negotiations/{_segment(slug)}/events", params)

    def global_log(
        self,
        *,
        after: int | None = None,
        limit: int | None = None,
        type: Types | None = None,
        **filters: Any,
    ) -> EventPage:
        """One page of every negotiation's events after position ``after``. ``filters``
        go to the server as they are (negotiation, as_of, known_at, actor, q, …)."""
        return self._get(
            EventPage, "/events", _params(after=after, limit=limit, type=type, **filters)
        )

    def search(
        self,
        slug: str | None = None,
        *,
        type: Types | None = None,
        as_of: Time | None = None,
        known_at: Time | None = None,
        page_size: int = 1000,
        **filters: Any,
    ) -> Iterator[Event]:
        """Every matching event, page after page: of one negotiation (``slug``) in
        version order, or of the global log in position order. ``filters`` are the
        server's (actor, region, outlet, recorded_by, q, negotiation, …)."""
        path = "/events" if slug is None else f"/negotiations/{_segment(slug)}/events"
        params: dict[str, Any] | None = _params(
            limit=page_size, type=type, as_of=as_of, known_at=known_at, **filters
        )
        url: str | None = path
        while url is not None:
            page = self._get(EventPage, url, params)
            yield from page.events
            url, params = page.next, None  # the server's next URL keeps every filter

    # -- as of any moment -----------------------------------------------------------

    def state(
        self,
        slug: str,
        *,
        as_of: Time | None = None,
        known_at: Time | None = None,
        reported_at: Time | None = None,
    ) -> State:
        """The state at valid time ``as_of`` as the log knew it at ``known_at``, of what
        was reported by ``reported_at``."""
        return self._get(
            State,
            f"/negotiations/{_segment(slug)}/state",
            _params(as_of=as_of, known_at=known_at, reported_at=reported_at),
        )

    def timeline(
        self,
        slug: str,
        *,
        from_: Time | None = None,
        to: Time | None = None,
        known_at: Time | None = None,
        latest: int | None = None,
        reported_at: Time | None = None,
    ) -> Timeline:
        """The dated events overlapping ``[from_, to]`` in valid-time order, as known at
        ``known_at``, each with who disputes it and what corrected or retracted it; only
        the ``latest`` ones when given (``total`` counts them all)."""
        params = _params(to=to, known_at=known_at, reported_at=reported_at, latest=latest)
        params |= _params(**{"from": from_})
        return self._get(Timeline, f"/negotiations/{_segment(slug)}/timeline", params)

    def diff(
        self,
        slug: str,
        from_: Time,
        to: Time,
        *,
        known_at: Time | None = None,
        reported_at: Time | None = None,
    ) -> Diff:
        """What changed between valid times ``from_`` and ``to``."""
        params = _params(to=to, known_at=known_at, reported_at=reported_at)
        params |= _params(**{"from": from_})
        return self._get(Diff, f"/negotiations/{_segment(slug)}/diff", params)

    # -- export ---------------------------------------------------------------------

    def export(
        self,
        slug: str,
        format: ExportFormat = "ndjson",
        **window: Unpack[ExportWindow],
    ) -> str:
        """A negotiation exported whole, as text (``iter_export`` and ``export_to``
        stream it instead)."""
        chunks = self._export_chunks(slug, format, window)
        return b"".join(chunks).decode()

    def iter_export(
        self,
        slug: str,
        format: ExportFormat = "ndjson",
        **window: Unpack[ExportWindow],
    ) -> Iterator[str]:
        """The export's lines as they arrive, without line endings: one JSON object per
        line for ``ndjson`` and ``plover``."""
        chunks = self._export_chunks(slug, format, window)
        pending = b""
        for chunk in chunks:
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                yield line.removesuffix(b"\r").decode()
        if pending:
            yield pending.decode()

    def export_to(
        self,
        slug: str,
        file: IO[bytes],
        format: ExportFormat = "ndjson",
        **window: Unpack[ExportWindow],
    ) -> int:
        """Write the export's bytes to ``file`` as they arrive; returns how many."""
        written = 0
        for chunk in self._export_chunks(slug, format, window):
            file.write(chunk)
            written += len(chunk)
        return written

    def _export_chunks(self, slug: str, format: str, window: ExportWindow) -> Iterator[bytes]:
        params = _params(
            format=format,
            as_of=window.get("as_of"),
            known_at=window.get("known_at"),
            reported_at=window.get("reported_at"),
            to=window.get("to"),
            type=window.get("type"),
        )
        params |= _params(**{"from": window.get("from_")})
        path = f"/negotiations/{_segment(slug)}/export"
        with self._http.stream("GET", path, params=params, headers={"Accept": "*/*"}) as answer:
            if answer.is_error:
                answer.read()
                raise error_for(answer)
            yield from answer.iter_bytes()

    # -- the live stream ------------------------------------------------------------

    def stream(
        self,
        *,
        negotiation: str | None = None,
        type: Types | None = None,
        after: int | None = None,
        heartbeats: bool = False,
        idle_timeout: float | None = 60.0,
        retry_for: float | None = 60.0,
    ) -> Generator[Event | Heartbeat, None, None]:
        """The global log after position ``after`` (default: from the start), then live.

        When the connection drops, or the server restarts or closes the stream (as it
        does to a client that falls too far behind), this reconnects with
        ``Last-Event-ID`` set to the last position seen, heartbeats included, so that
        nothing is lost or repeated. A silence longer than ``idle_timeout`` seconds
        counts as a dropped connection (the server sends a heartbeat every 15 s by
        default). Reconnecting goes on for ``retry_for`` seconds (None: for ever)
        before the last error is raised. Error answers (404, 422, 401) are raised at
        once. With ``heartbeats`` the heartbeats are yielded too: their position is
        where a consumer that saves its place should resume. ``close()`` the generator
        (or leave its loop) to end the stream.
        """
        params = _params(negotiation=negotiation, type=type)
        timeout = httpx.Timeout(self.timeout, read=idle_timeout)
        last = after
        delay, failing_since = 0.1, None
        while True:
            headers = {"Accept": "text/event-stream"}
            if last is not None:
                headers["Last-Event-ID"] = str(last)
            try:
                with self._http.stream(
                    "GET", "/events/stream", params=params, headers=headers, timeout=timeout
                ) as answer:
                    if answer.is_error:
                        answer.read()
                        raise error_for(answer)  # a 503 is retried below; others end it
                    for sse in EventSource(answer).iter_sse():
                        if sse.event == "overflow":
                            last = int(sse.json()["resume_after"])
                            break
                        delay, failing_since = 0.1, None  # it works: retry soon next time
                        if sse.event == "heartbeat":
                            last = int(sse.id) if sse.id else last
                            if heartbeats and last is not None:
                                yield Heartbeat(position=last)
                            continue
                        event = Event.model_validate_json(sse.data)
                        last = event.position
                        yield event
            except (httpx.TransportError, UnavailableError):
                now = time.monotonic()
                failing_since = failing_since or now
                if retry_for is not None and now - failing_since >= retry_for:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    # -- integrity and service ------------------------------------------------------

    def head(self, slug: str) -> Head:
        """The negotiation's head, signed by the server (see ``keys``)."""
        return self._get(Head, f"/negotiations/{_segment(slug)}/head")

    def keys(self) -> list[Key]:
        """The public keys that sign heads."""
        return [Key.model_validate(key) for key in self._send("GET", "/keys").json()["keys"]]

    def verify(self) -> Verification:
        """Walk every hash chain on the server; ``ok`` is False at the first break."""
        return self._get(Verification, "/verify")

    def health(self) -> Health:
        return self._get(Health, "/health")

    # -- plumbing -------------------------------------------------------------------

    def _get(
        self, model: type[_Model], path: str, params: Mapping[str, Any] | None = None
    ) -> _Model:
        return model.model_validate_json(self._send("GET", path, params=params).content)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        answer = self._http.request(method, path, params=params, json=json, headers=headers)
        if answer.is_error:
            raise error_for(answer)
        return answer


def _segment(text: str) -> str:
    return quote(text, safe="")


def _params(**values: Any) -> dict[str, Any]:
    """Query parameters: None left out, times as ISO 8601, lists comma-joined."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, date | datetime):
            value = value.isoformat()
        elif isinstance(value, list | tuple | set | frozenset):
            value = ",".join(map(str, value))
        out[name] = value
    return out


def _jsonable(value: Any) -> Any:
    """JSON-ready data: pydantic models by their JSON names, dates and UUIDs as text."""
    return to_jsonable_python(value, by_alias=True)


__all__ = ["DEFAULT_URL", "Client", "ParleyError"]
