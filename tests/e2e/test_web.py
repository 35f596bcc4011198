"""The web page at ``/``, in real headless Chromium against a real ``parley serve``.

The browser is Debian's ``chromium`` binary, driven by Playwright (``playwright`` from
PyPI, a test extra) through ``executable_path``: nothing is downloaded. The tests wait,
in real time, for what the page shows; the page's live panel keeps an ``EventSource``
open, which is why a one-shot ``--dump-dom`` cannot be used.

Without Chromium (or Playwright) the browser tests skip, unless
``PARLEY_REQUIRE_BROWSER=1`` (CI), where they fail. Install it with
``apt-get install -y chromium``. Screenshots are saved as artifacts under
``$PARLEY_ARTIFACTS`` (default: the test's tmp dir); with ``PARLEY_DOCS_SCREENSHOTS=DIR``
the chart test also writes the README's pictures of both charts there (``docs/``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from builders import GENEVA_OPENING, accord_bodies, back_dated_proposal
from support import EXAMPLE, Server, require_slow, start_server, stop_server

REQUIRE_BROWSER = os.environ.get("PARLEY_REQUIRE_BROWSER") == "1"
WIDTH, HEIGHT = 1440, 900  # a laptop
HANG_GUARD = 60.0  # seconds; a bound on waiting for an HTTP answer, not a timing assertion

try:
    from playwright.sync_api import Browser, Page, sync_playwright
    from playwright.sync_api import Error as PlaywrightError
except ImportError:  # the test extra is not installed
    sync_playwright = None


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server with the example for the whole module (the live test adds a round 3
    on 29 May, after every date the other tests look at)."""
    running = start_server({"PARLEY_EXAMPLE": str(EXAMPLE)}, tmp_path_factory.mktemp("web"))
    yield running
    stop_server(running)


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"PARLEY_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    require_slow("a browser")
    binary = chromium_binary()
    if binary is None:
        _unavailable("no chromium binary on PATH; install it with: apt-get install -y chromium")
    if sync_playwright is None:
        _unavailable(
            "playwright is not installed; install the test extra: pip install -e '.[test]'"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=binary, args=["--no-sandbox", "--disable-gpu", "--lang=en-US"]
        )
        yield browser
        browser.close()


@pytest.fixture
def browser(chromium: Browser) -> Iterator[Page]:
    """A fresh page (and browser context: no shared storage) for each test."""
    context = chromium.new_context(
        viewport={"width": WIDTH, "height": HEIGHT}, locale="en-US", timezone_id="UTC"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: ``$PARLEY_ARTIFACTS`` (kept by CI), else the test's tmp dir."""
    where = Path(os.environ.get("PARLEY_ARTIFACTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


# --- page helpers -------------------------------------------------------------------------

# The state and timeline answers are on screen and nothing is loading.
SHOWN = (
    "document.getElementById('main').getAttribute('aria-busy') === 'false' && "
    "!!document.getElementById('echo-as-of')"
)
# ...and both charts are drawn for that view.
CHARTED = (
    f"{SHOWN} && !!document.querySelector('#charts[data-drawn]') && "
    "document.getElementById('charts').getAttribute('aria-busy') === 'false'"
)


def wait_for(page: Page, expression: str, timeout: float = 10) -> Any:
    """Poll until the expression is truthy; return its value.

    Polled with ``page.evaluate`` rather than ``wait_for_function``, whose string
    predicates the page's Content-Security-Policy (no ``unsafe-eval``) rightly refuses.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = page.evaluate(expression)
        except PlaywrightError:  # e.g. the page is navigating
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            said = page.evaluate("document.body ? document.body.innerText : ''")
            raise AssertionError(f"timed out waiting for {expression}; the page says:\n{said}")
        time.sleep(0.05)


def show(page: Page, url: str, as_of: str) -> None:
    """Open the page and wait for the state whose echoed as_of starts with ``as_of``."""
    page.goto("about:blank")
    page.goto(url)
    wait_for(
        page,
        f"{SHOWN} && document.getElementById('echo-as-of').textContent"
        f".startsWith({json.dumps(as_of)})",
    )


def rows(page: Page, block: str) -> list[list[str]]:
    """The cells' text of one state table (``rounds``, ``zones``, …), row by row."""
    value = page.evaluate(
        f"[...document.querySelectorAll('#{block} tbody tr')]"
        ".map(r => [...r.cells].map(c => c.innerText.trim()))"
    )
    assert isinstance(value, list)
    return value


def text(page: Page, selector: str) -> str:
    value = page.evaluate(
        f"(document.querySelector({json.dumps(selector)}) || {{innerText: ''}}).innerText"
    )
    return str(value)


def screenshot(target: Any, path: Path) -> Path:
    """A PNG of a page or an element, checked to be one."""
    target.screenshot(path=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


# --- tests --------------------------------------------------------------------------------


def test_the_page_its_script_and_its_stylesheet_are_served_and_kept_out_of_the_api_schema(
    web_server: Server,
) -> None:
    page = httpx.get(f"{web_server.url}/", timeout=HANG_GUARD)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/parley.js"' in page.text
    assert '<script src="/static/charts.js"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = httpx.get(f"{web_server.url}/static/parley.js", timeout=HANG_GUARD)
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "EventSource" in script.text
    again = httpx.get(
        f"{web_server.url}/static/parley.js",
        headers={"If-None-Match": script.headers["etag"]},
        timeout=HANG_GUARD,
    )
    assert again.status_code == 304
    style = httpx.get(f"{web_server.url}/static/parley.css", timeout=HANG_GUARD)
    assert style.headers["content-type"].startswith("text/css")
    for missing in ("/static/nothing.js", "/static/..%2Fmain.py", "/static/"):
        answer = httpx.get(f"{web_server.url}{missing}", timeout=HANG_GUARD)
        assert answer.status_code == 404, missing
    paths = httpx.get(f"{web_server.url}/openapi.json", timeout=HANG_GUARD).json()["paths"]
    assert "/" not in paths
    assert not [path for path in paths if path.startswith("/static")]


def test_as_of_28_may_the_page_shows_round_two_proposed_in_istanbul_hosted_by_turkiye(
    web_server: Server, browser: Page, artifacts: Path
) -> None:
    show(browser, f"{web_server.url}/?negotiation=istanbul-2025&as_of=2025-05-28", "2025-05-28")

    round_1, round_2 = rows(browser, "rounds")
    assert round_1[:3] == ["Round 1", "held", "2025-05-16"]
    assert round_2[:3] == ["Round 2", "proposed", "2025-06-02"]
    assert "Istanbul" in round_2[3]
    assert "(TUR)" in round_2[4] and ("Türkiye" in round_2[4] or "Turkey" in round_2[4])
    ((regions, declared_by, *_),) = rows(browser, "zones")
    assert "UA-63" in regions and "UA-59" in regions
    assert "Vladimir Putin" in declared_by
    ((claim, disputed_by, counter_claim, disputed_on),) = rows(browser, "contested")
    assert "Umerov called Medinsky" in claim
    assert "Vladimir Medinsky" in disputed_by
    assert "Medinsky called Umerov" in counter_claim
    assert disputed_on == "2025-05-28"
    proposals = rows(browser, "proposals")
    assert len(proposals) == 3
    assert any("Vladimir Putin (RUS) → Donald Trump (USA)" in row[1] for row in proposals)
    assert [row[1] for row in rows(browser, "ceasefires")] == ["proposed"]

    # The echo, and a curl that repeats the answer exactly.
    assert text(browser, "#echo-as-of") == "2025-05-28T23:59:59.999999Z"
    assert text(browser, "#echo-position") == "16"
    known_at = text(browser, "#echo-known-at")
    reported_at = text(browser, "#echo-reported-at")
    curl = text(browser, "#curl-state")
    assert curl.startswith("curl -s '")
    url = curl.split("'")[1]
    assert url == (
        f"{web_server.url}/negotiations/istanbul-2025/state"
        f"?as_of=2025-05-28T23:59:59.999999Z&known_at={known_at}&reported_at={reported_at}"
    )
    repeated = httpx.get(url, timeout=HANG_GUARD).json()
    assert (
        repeated["as_of"], repeated["known_at"], repeated["reported_at"], repeated["position"]
    ) == ("2025-05-28T23:59:59.999999Z", known_at, reported_at, 16)
    assert [r["round"] for r in repeated["rounds"]] == [1, 2]

    # The timeline: every event to 28 May with its sources; the phone call flagged.
    assert browser.evaluate("document.querySelectorAll('#timeline-body li.entry').length") == 16
    call = text(browser, "#ev-3221c451-fe72-4f21-b409-4d50f4b07cdd")
    assert "disputed" in call and "Disputed by Vladimir Medinsky" in call
    assert "teleSUR via EFE ← TASS ← Sputnik" in call
    assert "reports from various news agencies suggesting" in call
    assert "CAMEO 041 · CONSULT" in call  # its codes, as GET /events/{id} gives them
    export_csv = browser.evaluate("document.querySelector('#exports a').getAttribute('href')")
    assert export_csv.startswith("/negotiations/istanbul-2025/export?format=csv&as_of=2025-05-28")
    assert browser.evaluate("!!document.querySelector('a[href=\"/docs\"]')")

    shot = screenshot(browser, artifacts / "parley-28-may.png")
    assert shot.stat().st_size > 10_000


def test_as_of_17_may_the_page_shows_round_one_held_and_no_round_two(
    web_server: Server, browser: Page
) -> None:
    show(browser, f"{web_server.url}/?negotiation=istanbul-2025&as_of=2025-05-17", "2025-05-17")

    assert [row[:2] for row in rows(browser, "rounds")] == [["Round 1", "held"]]
    assert "Round 2" not in text(browser, "#state-body")
    assert rows(browser, "zones") == []
    assert "None as of 2025-05-17." in text(browser, "#zones")
    assert browser.evaluate("document.getElementById('as-of').value") == "2025-05-17"


def test_known_at_before_anything_was_recorded_shows_an_empty_state_sent_in_utc(
    web_server: Server, browser: Page
) -> None:
    show(
        browser,
        f"{web_server.url}/?negotiation=istanbul-2025&as_of=2025-05-28&known_at=2025-01-01T00:00Z",
        "2025-05-28",
    )

    assert text(browser, "#echo-known-at") == "2025-01-01T00:00:00Z"
    assert browser.evaluate("document.getElementById('known-at').value") == "2025-01-01T00:00"
    assert "Folded from 0 events" in text(browser, "#state-body")
    assert rows(browser, "rounds") == []
    assert "No events up to 2025-05-28" in text(browser, "#timeline-body")


def test_changing_the_dates_updates_the_state_and_the_shareable_url(
    web_server: Server, browser: Page
) -> None:
    show(browser, f"{web_server.url}/", "")
    # A bare / picks the first negotiation and says so in the URL.
    assert browser.evaluate("location.search") == "?negotiation=istanbul-2025"

    browser.evaluate(
        "(() => { const i = document.getElementById('as-of'); i.value = '2025-05-17';"
        " i.dispatchEvent(new Event('change')); })()"
    )
    wait_for(
        browser,
        f"{SHOWN} && document.getElementById('echo-as-of').textContent.startsWith('2025-05-17')",
    )
    assert browser.evaluate("location.search") == "?negotiation=istanbul-2025&as_of=2025-05-17"
    assert len(rows(browser, "rounds")) == 1

    browser.evaluate(
        "(() => { const i = document.getElementById('known-at'); i.value = '2025-01-01T00:00';"
        " i.dispatchEvent(new Event('change')); })()"
    )
    wait_for(
        browser,
        f"{SHOWN} && document.getElementById('echo-known-at').textContent"
        " === '2025-01-01T00:00:00Z'",
    )
    assert browser.evaluate("location.search") == (
        "?negotiation=istanbul-2025&as_of=2025-05-17&known_at=2025-01-01T00:00Z"
    )

    browser.evaluate("history.back()")  # the previous view, from the URL
    wait_for(
        browser,
        f"{SHOWN} && location.search.indexOf('known_at') < 0 && "
        "document.getElementById('echo-known-at').textContent !== "
        "'2025-01-01T00:00:00Z'",
    )
    assert browser.evaluate("document.getElementById('known-at').value") == ""
    assert len(rows(browser, "rounds")) == 1


def test_an_event_appended_while_the_page_loads_is_shown_though_it_misses_the_live_stream(
    web_server: Server, browser: Page
) -> None:
    """The page follows the stream from the log's head (``/health``); an event recorded
    after the state was read but before that head was would be in neither. Under load
    the gap is wide; here it is forced: the event is appended while ``/health`` is held."""
    opening = {**GENEVA_OPENING, "slug": "geneva-while-loading"}
    opened = httpx.post(
        f"{web_server.url}/negotiations", json=opening, headers=web_server.auth, timeout=HANG_GUARD
    )
    assert opened.status_code == 201, opened.text
    appended: list[dict[str, Any]] = []

    def append_meanwhile(route: Any) -> None:
        if not appended:
            created = httpx.post(
                f"{web_server.url}/negotiations/geneva-while-loading/events",
                json={
                    "type": "RoundScheduled",
                    "occurred_at": "2025-05-02",
                    "data": {
                        "round": 1,
                        "starts_at": "2025-05-10",
                        "place": {"city": "Geneva", "country": "CHE"},
                    },
                    "sources": [{"outlet": "Parley test desk"}],
                },
                headers=web_server.auth,
                timeout=HANG_GUARD,
            )
            assert created.status_code == 201, created.text
            appended.append(created.json()["events"][0])
        route.continue_()

    browser.route("**/health", append_meanwhile)
    show(browser, f"{web_server.url}/?negotiation=geneva-while-loading", "")
    wait_for(browser, "document.getElementById('live-status').textContent === 'live'")
    [event] = appended
    wait_for(browser, f"!!document.getElementById({json.dumps('ev-' + event['id'])})")
    assert len(rows(browser, "rounds")) == 1


def test_an_event_appended_while_the_page_is_open_shows_live_and_refreshes_the_state(
    web_server: Server, browser: Page
) -> None:
    show(browser, f"{web_server.url}/?negotiation=istanbul-2025", "")
    wait_for(browser, "document.getElementById('live-status').textContent === 'live'")
    assert len(rows(browser, "rounds")) == 2

    round_3 = {
        "type": "RoundScheduled",
        "occurred_at": "2025-05-29",
        "data": {
            "round": 3,
            "starts_at": "2025-06-20",
            "place": {"city": "Geneva", "country": "CHE"},
        },
        "sources": [{"outlet": "Parley test desk"}],
    }
    created = httpx.post(
        f"{web_server.url}/negotiations/istanbul-2025/events",
        json=round_3,
        headers=web_server.auth,
        timeout=HANG_GUARD,
    )
    assert created.status_code == 201, created.text

    live = wait_for(
        browser, "(document.querySelector('#live-list li') || {textContent: ''}).textContent"
    )
    assert "Round scheduled" in live and "Geneva" in live
    assert "by admin" in live  # who recorded it: the bootstrap token's name
    wait_for(browser, "document.querySelectorAll('#rounds tbody tr').length === 3")
    entry = f"#ev-{created.json()['events'][0]['id']}"
    wait_for(browser, f"!!document.querySelector({json.dumps(entry)})")
    assert "by admin" in text(browser, f"{entry} .entry-meta")
    round_3_row = rows(browser, "rounds")[2]
    assert round_3_row[:3] == ["Round 3", "proposed", "2025-06-20"]
    assert "Geneva" in round_3_row[3]


@pytest.mark.slow  # starts a server of its own
def test_with_a_read_token_the_page_asks_for_it_and_turns_the_live_panel_off(
    browser: Page, tmp_path: Path
) -> None:
    env = {"PARLEY_EXAMPLE": str(EXAMPLE), "PARLEY_READ_TOKEN": "reader-secret"}
    server = start_server(env, tmp_path)
    try:
        browser.goto("about:blank")
        browser.goto(f"{server.url}/?negotiation=istanbul-2025&as_of=2025-05-28")
        wait_for(browser, "!document.getElementById('token-box').hidden")
        assert "needs a read token" in text(browser, "#error")
        assert "EventSource" in text(browser, "#token-box")
        assert text(browser, "#live-status") == "off: needs a token"

        browser.evaluate(
            "document.getElementById('token').value = 'reader-secret';"
            "document.getElementById('token-use').click()"
        )
        wait_for(
            browser,
            f"{SHOWN} && document.getElementById('echo-as-of').textContent"
            ".startsWith('2025-05-28')",
        )
        assert [row[0] for row in rows(browser, "rounds")] == ["Round 1", "Round 2"]
        assert text(browser, "#live-status") == "off: needs a token"
        curl = text(browser, "#curl-state")
        assert "Authorization: Bearer $PARLEY_READ_TOKEN" in curl
        assert "reader-secret" not in curl
    finally:
        stop_server(server)


# --- the charts ---------------------------------------------------------------------------

ZONE_ID = "a12b1f35-8c76-4860-9765-cc2a92a6d916"
ROUND_1_HELD = "ba80f62c-edd4-4231-a54e-eaced7f113fa"
DAY_MS = 86_400_000


def instant_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def timeline_x(page: Page, moment: str) -> float:
    """The page x of an instant on the timeline chart, from the scale it was drawn with."""
    box = page.locator("#timeline-chart").bounding_box()
    assert box is not None
    scale = page.evaluate(
        "(() => { const d = document.getElementById('timeline-chart').dataset;"
        " return [+d.validStart, +d.validEnd, +d.left, +d.right]; })()"
    )
    d0, d1, left, right = scale
    return float(box["x"] + left + (instant_ms(moment) - d0) / (d1 - d0) * (right - left))


def classes(page: Page, selector: str) -> list[str]:
    found = page.evaluate(
        f"(document.querySelector({json.dumps(selector)}) || {{classList: []}}).classList"
    )
    return sorted(found.values()) if isinstance(found, dict) else list(found)


def test_dragging_as_of_to_17_may_shows_round_one_only_and_known_at_down_shows_nothing(
    web_server: Server, browser: Page, artifacts: Path
) -> None:
    show(browser, f"{web_server.url}/?negotiation=istanbul-2025&as_of=2025-05-28", "2025-05-28")
    wait_for(browser, CHARTED)
    assert len(rows(browser, "rounds")) == 2
    assert "after" not in classes(browser, f'#timeline-chart [data-id="{ZONE_ID}"]')

    handle = browser.locator("#timeline-as-of .as-of-handle").bounding_box()
    assert handle is not None
    browser.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    browser.mouse.down()
    target = timeline_x(browser, "2025-05-17T12:00:00Z")
    browser.mouse.move(target, handle["y"] + 40, steps=12)
    browser.mouse.up()

    wait_for(
        browser,
        f"{SHOWN} && document.getElementById('echo-as-of').textContent.startsWith('2025-05-17')",
    )
    assert [row[:2] for row in rows(browser, "rounds")] == [["Round 1", "held"]]
    assert browser.evaluate("location.search") == "?negotiation=istanbul-2025&as_of=2025-05-17"
    assert browser.evaluate("document.getElementById('as-of').value") == "2025-05-17"
    assert browser.locator("#timeline-as-of text").text_content() == "as of 2025-05-17"
    # The zone was declared after 17 May: dimmed on the timeline, off the quadrant.
    assert "after" in classes(browser, f'#timeline-chart [data-id="{ZONE_ID}"]')
    assert "after" not in classes(browser, f'#timeline-chart [data-id="{ROUND_1_HELD}"]')
    assert "outside" in classes(browser, f'#knowledge-chart [data-id="{ZONE_ID}"]')
    assert "outside" not in classes(browser, f'#knowledge-chart [data-id="{ROUND_1_HELD}"]')
    screenshot(browser.locator("#charts"), artifacts / "charts-dragged-to-17-may.png")

    # The line is a slider for the keyboard too: two days on, round 1 still the only one.
    browser.focus("#timeline-as-of")
    browser.keyboard.press("ArrowRight")
    browser.keyboard.press("ArrowRight")
    wait_for(
        browser,
        f"{SHOWN} && document.getElementById('echo-as-of').textContent.startsWith('2025-05-19')",
    )
    assert browser.evaluate("location.search").endswith("as_of=2025-05-19")

    # The known_at line of the knowledge chart, dragged below every recorded event: as
    # the log knew it then, nothing had happened.
    wait_for(browser, CHARTED)
    line = browser.locator("#knowledge-known-at .as-of-hit").bounding_box()
    plot = browser.locator("#knowledge-chart .plot").bounding_box()
    assert line is not None and plot is not None
    browser.mouse.move(plot["x"] + plot["width"] / 2, line["y"] + line["height"] / 2)
    browser.mouse.down()
    browser.mouse.move(plot["x"] + plot["width"] / 2, plot["y"] + plot["height"] - 2, steps=8)
    browser.mouse.up()
    wait_for(browser, f"{SHOWN} && location.search.indexOf('known_at=') >= 0")
    wait_for(browser, "document.getElementById('state-body').innerText.includes('Folded from 0')")
    assert rows(browser, "rounds") == []
    known_at = browser.evaluate("new URLSearchParams(location.search).get('known_at')")
    assert known_at == text(browser, "#echo-known-at")
    assert "outside" in classes(browser, f'#knowledge-chart [data-id="{ROUND_1_HELD}"]')


@pytest.mark.slow  # starts a server of its own
def test_switching_known_at_to_before_a_back_dated_report_takes_it_off_the_state_and_charts(
    browser: Page, artifacts: Path, tmp_path: Path
) -> None:
    server = start_server({"PARLEY_EXAMPLE": str(EXAMPLE)}, tmp_path)
    try:
        negotiation = f"{server.url}/negotiations/istanbul-2025"
        loaded = httpx.get(negotiation, timeout=HANG_GUARD).json()["last_recorded_at"]
        late_report = back_dated_proposal()
        correction = {
            "type": "EventCorrected",
            "occurred_at": "2025-05-29",
            "data": {"event_id": ZONE_ID, "data": {"depth_km": 10}, "reason": "a later report"},
            "sources": [{"outlet": "Parley test desk"}],
        }
        created = httpx.post(
            f"{negotiation}/events", json=late_report, headers=server.auth, timeout=HANG_GUARD
        )
        assert created.status_code == 201, created.text
        late = created.json()["events"][0]
        assert httpx.post(
            f"{negotiation}/events", json=correction, headers=server.auth, timeout=HANG_GUARD
        ).is_success
        # A known_at after the example was loaded and before the late report arrived, to
        # the millisecond (what a datetime-local input holds).
        moment = datetime.fromisoformat(loaded.replace("Z", "+00:00"))
        between = (moment + timedelta(microseconds=999)).replace(
            microsecond=(moment.microsecond + 999) // 1000 * 1000 % 1_000_000
        )
        between_text = between.strftime("%Y-%m-%dT%H:%M:%S.") + f"{between.microsecond // 1000:03d}"
        assert between_text + "Z" < late["recorded_at"]

        show(browser, f"{server.url}/?negotiation=istanbul-2025&as_of=2025-05-28", "2025-05-28")
        wait_for(browser, CHARTED)
        late_mark = f'#timeline-chart [data-id="{late["id"]}"]'
        late_dot = f'#knowledge-chart [data-id="{late["id"]}"]'
        assert len(rows(browser, "proposals")) == 4
        assert browser.locator(late_mark).count() == 1
        assert "back-dated" in classes(browser, late_dot)
        assert "outside" not in classes(browser, late_dot)
        assert browser.locator("#knowledge-chart .reach").count() == 1
        screenshot(browser.locator("#charts"), artifacts / "charts-known-now.png")

        browser.evaluate(
            "(() => { const i = document.getElementById('known-at');"
            f" i.value = {json.dumps(between_text)}; i.dispatchEvent(new Event('change')); }})()"
        )
        wait_for(
            browser,
            f"{CHARTED} && document.getElementById('echo-known-at').textContent"
            f".startsWith({json.dumps(between_text)})"
            f" && !document.querySelector({json.dumps(late_mark)})",
        )
        # Known before it arrived, the late report is in neither the state nor the timeline;
        # the knowledge chart still draws it, above the known_at line, outside the quadrant.
        assert len(rows(browser, "proposals")) == 3
        assert "late-prisoner-exchange" not in text(browser, "#state-body")
        assert "outside" in classes(browser, late_dot)
        assert "back-dated" in classes(browser, late_dot)
        screenshot(
            browser.locator("#charts"), artifacts / "charts-known-before-the-late-report.png"
        )

        # Back to 24 May, by the keyboard, for a picture with the quadrant in the middle.
        browser.focus("#timeline-as-of")
        for _ in range(4):
            browser.keyboard.press("ArrowLeft")
        wait_for(
            browser,
            f"{CHARTED} && document.getElementById('echo-as-of').textContent"
            ".startsWith('2025-05-24')",
        )
        browser.evaluate("document.activeElement.blur()")
        docs = os.environ.get("PARLEY_DOCS_SCREENSHOTS")
        for where in (artifacts, Path(docs) if docs else None):
            if where is None:
                continue
            where.mkdir(parents=True, exist_ok=True)
            screenshot(browser.locator("#timeline-figure"), where / "timeline-chart.png")
            screenshot(browser.locator("#knowledge-figure"), where / "knowledge-chart.png")
    finally:
        stop_server(server)


def test_an_accord_shows_its_signatories_provisions_and_steps_and_its_ceasefires_allegations(
    web_server: Server, browser: Page, artifacts: Path
) -> None:
    opening = {**GENEVA_OPENING, "slug": "geneva-accord-talks"}
    opened = httpx.post(
        f"{web_server.url}/negotiations", json=opening, headers=web_server.auth, timeout=HANG_GUARD
    )
    assert opened.status_code == 201, opened.text
    appended = httpx.post(
        f"{web_server.url}/negotiations/geneva-accord-talks/events",
        json=accord_bodies(),
        headers=web_server.auth,
        timeout=HANG_GUARD,
    )
    assert appended.status_code == 201, appended.text

    show(
        browser, f"{web_server.url}/?negotiation=geneva-accord-talks&as_of=2025-06-30", "2025-06-30"
    )
    ((title, status, parties, provisions),) = rows(browser, "agreements")
    assert "Geneva accord" in title and "Geneva" in title.split("\n", 1)[1]
    assert status.startswith("signed") and "in force" in status
    assert "Rustem Umerov (UKR) for" in parties and "Vladimir Medinsky (RUS) for" in parties
    assert "witnesses" in parties and "guarantors" in parties
    assert "Exchange all prisoners of war" in provisions
    assert "implemented" in provisions and "1,200 prisoners exchanged" in provisions
    assert "(not implemented)" in provisions  # the monitoring commission
    ((*_, in_force, alleged),) = rows(browser, "ceasefires")
    assert in_force == "in force"
    assert "accuses" in alleged and "UA-63" in alleged and "disputed" in alleged
    ((_, who, of_what, _, disputed),) = rows(browser, "allegations")
    assert "accuses" in who and "ceasefire" in of_what
    assert "No Russian unit fired on Kharkiv" in disputed
    ((when, _, what, _),) = rows(browser, "hostilities")
    assert when == "2025-06-14" and "ground fighting" in what and "UA-59" in what
    timeline = text(browser, "#timeline-body")
    assert "Geneva accord signed by" in timeline
    assert "implement provision" in timeline
    screenshot(browser.locator("#state-body"), artifacts / "parley-accord-state.png")

    # Before the signing, the accord is only reached; before it began, no ceasefire holds.
    show(
        browser, f"{web_server.url}/?negotiation=geneva-accord-talks&as_of=2025-06-04", "2025-06-04"
    )
    assert rows(browser, "agreements")[0][1] == "reached"
    show(
        browser, f"{web_server.url}/?negotiation=geneva-accord-talks&as_of=2025-06-01", "2025-06-01"
    )
    assert rows(browser, "ceasefires")[0][5] == "not in force: not yet started"
    screenshot(browser, artifacts / "parley-accord.png")


def test_reported_at_keeps_what_the_world_had_not_been_told_and_the_chart_draws_reported_time(
    web_server: Server, browser: Page, artifacts: Path
) -> None:
    """The founding report is of 28 May, but round 1 was reported on 16 May: as reported
    by 17 May the state has round 1 and nothing of round 2. The knowledge chart switches
    its vertical axis to reported time, where its line is the reported_at bound."""
    show(browser, f"{web_server.url}/?negotiation=istanbul-2025&as_of=2025-05-28", "2025-05-28")
    rounds_now = rows(browser, "rounds")
    assert len(rounds_now) == 2  # round 1 held, round 2 proposed

    browser.evaluate(
        "(() => { const i = document.getElementById('reported-at'); i.value = '2025-05-17T00:00';"
        " i.dispatchEvent(new Event('change')); })()"
    )
    wait_for(
        browser,
        f"{SHOWN} && document.getElementById('echo-reported-at').textContent"
        " === '2025-05-17T00:00:00Z'",
    )
    assert "reported_at=2025-05-17T00:00Z" in browser.evaluate("location.search")
    assert [r[0] for r in rows(browser, "rounds")] == [rounds_now[0][0]]
    assert "as reported by 2025-05-17T00:00Z" in text(browser, "#state-title")

    wait_for(browser, CHARTED)
    browser.select_option("#chart-axis", "reported")
    wait_for(
        browser,
        "(document.querySelector('#knowledge-chart title') || {textContent: ''})"
        ".textContent.includes('reported time')",
    )
    label = wait_for(
        browser,
        "(document.querySelector('#knowledge-known-at text') || {textContent: ''}).textContent",
    )
    assert str(label).startswith("reported at")
    screenshot(browser, artifacts / "reported-axis.png")
