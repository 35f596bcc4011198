"""``/metrics``, the access log, ``X-Request-ID`` and readiness (issue 18): the figures
move as requests are made, on both backends, in one process and across two workers."""

from __future__ import annotations

import io
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from builders import statement_body
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.parser import text_string_to_metric_families
from support import AUTH, EXAMPLE, TOKEN, settings_for, start_server, stop_server, store_env

from api.http.app import create_app
from api.logs import configure_logging
from store.config import StoreConfig
from store.log import ConflictLog
from store.metrics import STAGES

SLUG = "talks-metrics"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels`` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples(text).items() if n == name and wanted <= got)


def scrape(client: TestClient | httpx.Client, **headers: str) -> str:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def open_body(slug: str) -> dict[str, object]:
    return {
        "slug": slug,
        "title": f"Talks {slug}",
        "parties": ["RUS", "UKR"],
        "occurred_at": "2025-05-16",
    }


def append_statements(client: TestClient, slug: str, count: int) -> None:
    for number in range(count):
        body = statement_body(f"statement {number}")
        response = client.post(f"/negotiations/{slug}/events", json=body, headers=AUTH)
        assert response.status_code == 201, response.text


@pytest.fixture
def opened(client: TestClient) -> TestClient:
    response = client.post("/negotiations", json=open_body(SLUG), headers=AUTH)
    assert response.status_code == 201, response.text
    return client


def test_appending_three_events_raises_the_appended_counter_by_three(opened: TestClient) -> None:
    before = scrape(opened)
    append_statements(opened, SLUG, 3)
    after = scrape(opened)
    appended = "parley_events_appended_total"
    assert value(after, appended, type="StatementIssued") == (
        value(before, appended, type="StatementIssued") + 3
    )
    route = {"method": "POST", "route": "/negotiations/{slug}/events"}
    requests = "parley_http_requests_total"
    assert value(after, requests, **route, status="201") == (
        value(before, requests, **route, status="201") + 3
    )
    took = "parley_http_request_duration_seconds_count"
    assert value(after, took, **route) == value(before, took, **route) + 3
    # Route templates, never raw paths: no series names the negotiation.
    assert SLUG not in after
    for name in ("parley_writer_group_size_count", "parley_writer_commit_seconds_count"):
        assert value(after, name) >= value(before, name) + 3


def test_each_stage_of_the_append_path_is_timed(opened: TestClient) -> None:
    before = scrape(opened)
    append_statements(opened, SLUG, 3)
    after = scrape(opened)
    took = "parley_append_stage_seconds_count"
    per_request = ("queue_wait", "resolution", "answer")
    for stage in STAGES:
        grew = value(after, took, stage=stage) - value(before, took, stage=stage)
        assert grew >= (3 if stage in per_request else 1), stage
        assert value(after, "parley_append_stage_seconds_sum", stage=stage) > 0, stage
    assert value(after, "parley_writer_group_size_count") >= (
        value(before, "parley_writer_group_size_count") + 1
    )


def test_the_lag_of_each_projection_and_the_as_of_cache_are_shown(opened: TestClient) -> None:
    before = scrape(opened)
    assert opened.get(f"/negotiations/{SLUG}/state").status_code == 200
    assert opened.get(f"/negotiations/{SLUG}/state").status_code == 200
    after = scrape(opened)
    cache = "parley_asof_cache_total"
    assert value(after, cache, outcome="miss") >= value(before, cache, outcome="miss") + 1
    assert value(after, cache, outcome="hit") >= value(before, cache, outcome="hit") + 1
    projections = {status["name"] for status in opened.get("/projections").json()["projections"]}
    assert projections
    shown = samples(after)
    for name in projections:
        labels = frozenset({("projection", name)})
        assert ("parley_projection_lag_events", labels) in shown
        assert ("parley_projection_lag_seconds", labels) in shown


@pytest.fixture
def limited(log: ConflictLog, store_config: StoreConfig) -> Iterator[TestClient]:
    """The app with a rate limit of two requests an hour per token."""
    app = create_app(settings_for(store_config, rate_limit="2/hour"), log=log)
    with TestClient(app) as test_client:
        yield test_client


def test_401s_and_429s_are_counted_by_token_name_never_by_token(limited: TestClient) -> None:
    bad = "not-a-token-anyone-has-1f3c9a"
    before = scrape(limited)
    refused = limited.get("/negotiations", headers={"Authorization": f"Bearer {bad}"})
    assert refused.status_code == 401
    statuses = [limited.get("/negotiations", headers=AUTH).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    after = scrape(limited)
    failures, limited_total = "parley_auth_failures_total", "parley_rate_limited_total"
    assert value(after, failures, token="unknown") == value(before, failures, token="unknown") + 1
    assert value(after, limited_total, token="admin") == (
        value(before, limited_total, token="admin") + 1
    )
    assert bad not in after
    assert TOKEN not in after


def test_a_revoked_token_s_401s_are_counted_under_its_name(client: TestClient) -> None:
    made = client.post("/tokens", json={"name": "ci-bot", "scope": "append"}, headers=AUTH)
    assert made.status_code == 201, made.text
    secret = made.json()["token"]
    assert client.delete("/tokens/ci-bot", headers=AUTH).status_code == 200
    before = scrape(client)
    refused = client.get("/negotiations", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401
    after = scrape(client)
    failures = "parley_auth_failures_total"
    assert value(after, failures, token="ci-bot") == value(before, failures, token="ci-bot") + 1
    assert secret not in after


def test_metrics_need_a_token_when_reads_do(log: ConflictLog, store_config: StoreConfig) -> None:
    app = create_app(settings_for(store_config, read_token="reader-secret"), log=log)
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=AUTH).status_code == 200


def test_each_request_logs_one_json_line_and_echoes_its_request_id(opened: TestClient) -> None:
    lines = io.StringIO()
    configure_logging("info", stream=lines)
    try:
        given = opened.get(f"/negotiations/{SLUG}", headers={"X-Request-ID": "probe-42.a:b"})
        made = opened.get("/negotiations", headers={"X-Request-ID": "x" * 200})
        hostile = opened.get("/negotiations", headers={"X-Request-ID": 'a b"<script>'})
    finally:
        configure_logging("info")
    assert given.headers["x-request-id"] == "probe-42.a:b"
    for answer in (made, hostile):
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"])
    records = [json.loads(line) for line in lines.getvalue().splitlines()]
    access = [r for r in records if r["logger"] == "parley.access"]
    assert len(access) == 3
    first = access[0]
    assert first["request_id"] == "probe-42.a:b"
    assert first["method"] == "GET"
    assert first["route"] == "/negotiations/{slug}"
    assert first["status"] == 200
    assert first["negotiation"] == SLUG
    assert first["duration_ms"] > 0
    assert first["token"] is None
    assert "time" in first
    assert [r["request_id"] for r in access[1:]] == [
        made.headers["x-request-id"],
        hostile.headers["x-request-id"],
    ]


def test_a_write_logs_the_name_of_its_token(opened: TestClient) -> None:
    lines = io.StringIO()
    configure_logging("info", stream=lines)
    try:
        append_statements(opened, SLUG, 1)
    finally:
        configure_logging("info")
    (line,) = [json.loads(x) for x in lines.getvalue().splitlines() if "parley.access" in x]
    assert line["token"] == "admin"
    assert line["status"] == 201
    assert TOKEN not in lines.getvalue()


def test_readiness_is_503_while_a_projection_is_behind_then_200(
    log: ConflictLog, store_config: StoreConfig
) -> None:
    app = create_app(settings_for(store_config, ready_max_lag=0), log=log)
    with TestClient(app) as client:
        assert client.get("/health/ready").status_code == 200
        client.app.state.projections.stop()  # type: ignore[attr-defined]
        response = client.post("/negotiations", json=open_body(SLUG), headers=AUTH)
        assert response.status_code == 201
        behind = client.get("/health/ready")
        assert behind.status_code == 503
        assert behind.json()["type"] == "/problems/projections-behind"
        assert client.get("/health").status_code == 200  # liveness is not readiness
        client.app.state.projections.start()  # type: ignore[attr-defined]
        assert client.app.state.projections.catch_up(30)  # type: ignore[attr-defined]
        assert client.get("/health/ready").status_code == 200


def subscribers(url: str) -> float:
    with httpx.Client(base_url=url, timeout=10) as client:
        return value(scrape(client), "parley_stream_subscribers")


def assert_subscribers_counted(url: str) -> None:
    """An open stream is one subscriber, whichever worker holds it; none once closed."""
    assert subscribers(url) == 0
    headers = {"Accept": "application/x-ndjson"}
    with httpx.stream("GET", f"{url}/events/stream", headers=headers, timeout=10) as stream:
        lines = stream.iter_lines()
        assert json.loads(next(lines))  # the first event: the stream runs
        assert subscribers(url) == 1
    deadline = time.monotonic() + 10
    while subscribers(url) != 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert subscribers(url) == 0


def per_process(folder: Path, name: str, tmp_path: Path, **labels: str) -> list[float]:
    """``name``'s figure in each worker's own file (a worker's counters are one file)."""
    figures = []
    for index, db in enumerate(sorted(folder.glob("counter_*.db"))):
        alone = tmp_path / f"alone-{index}"
        alone.mkdir()
        shutil.copy(db, alone)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
        wanted = set(labels.items())
        figures.append(
            sum(
                s.value
                for family in registry.collect()
                for s in family.samples
                if s.name == name and wanted <= set(s.labels.items())
            )
        )
    return figures


@pytest.mark.slow
def test_two_workers_add_their_figures_up(store_config: StoreConfig, tmp_path: Path) -> None:
    data_dir = tmp_path / "served"
    data_dir.mkdir()
    env = {"PARLEY_EXAMPLE": str(EXAMPLE), **store_env(store_config)}
    server = start_server(env, data_dir, workers=2)
    try:
        count = 40
        for _ in range(count):  # a connection each: the kernel hands them to either worker
            assert httpx.get(f"{server.url}/negotiations", timeout=10).status_code == 200
        with httpx.Client(base_url=server.url, timeout=10) as client:
            text = scrape(client)
        labels = {"method": "GET", "route": "/negotiations", "status": "200"}
        assert value(text, "parley_http_requests_total", **labels) == count
        folder = next((data_dir / "metrics").iterdir())
        figures = per_process(folder, "parley_http_requests_total", tmp_path, **labels)
        assert len([f for f in figures if f]) == 2, figures  # both workers answered some
        assert sum(figures) == count
        assert_subscribers_counted(server.url)
    finally:
        stop_server(server)
