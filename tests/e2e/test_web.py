"""The web page at ``/``, in real headless Chromium against a real ``parley serve``.

The browser is the Debian ``chromium`` binary, driven over its DevTools pipe
(``--remote-debugging-pipe``) with the standard library alone: no Playwright, no
Selenium, nothing downloaded. ``--dump-dom`` with ``--virtual-time-budget`` cannot be
used here: the page's live panel keeps an ``EventSource`` open, and an open request
pauses Chromium's virtual time, so the dump never comes. Over the pipe the test waits,
in real time, for what the page shows.

Without Chromium the browser tests skip, unless ``PARLEY_REQUIRE_BROWSER=1`` (CI), where
they fail. Install it with ``apt-get install -y chromium``.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import EXAMPLE, Server, start_server, stop_server

REQUIRE_BROWSER = os.environ.get("PARLEY_REQUIRE_BROWSER") == "1"
WIDTH, HEIGHT = 1440, 900  # a laptop


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    pass


class Chromium:
    """Headless Chromium with one page, spoken to over the DevTools pipe.

    Chromium reads commands from fd 3 and writes answers to fd 4, each a JSON message
    ended by a NUL byte.
    """

    def __init__(self, binary: str, profile: Path) -> None:
        to_chromium_r, self._out = os.pipe()
        self._in, from_chromium_w = os.pipe()
        args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--lang=en-US",
            f"--window-size={WIDTH},{HEIGHT}",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        # bash puts the pipe ends on fds 3 and 4, where Chromium looks for them (dash
        # cannot name an fd above 9). Neither end is fd 3 or 4 itself unless it is free.
        script = f'exec "$0" "$@" 3<&{to_chromium_r} 4>&{from_chromium_w}'
        self.process = subprocess.Popen(
            ["bash", "-c", script, binary, *args],
            pass_fds=(to_chromium_r, from_chromium_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chromium_r)
        os.close(from_chromium_w)
        self._buffer = b""
        self._next_id = 0
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        self.session = attached["sessionId"]
        self.page(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
        )

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 15
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._in], [], [], remaining)[0]:
                raise BrowserError("Chromium did not answer within 15 s")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise BrowserError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def page(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.send(method, params, self.session)

    def open(self, url: str) -> None:
        self.page("Page.navigate", {"url": url})

    def evaluate(self, expression: str) -> Any:
        result = self.page(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 10) -> Any:
        """Poll until the expression is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except BrowserError:  # e.g. the page has not loaded yet
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                page = self.evaluate("document.body ? document.body.innerText : ''")
                raise AssertionError(f"timed out waiting for {expression}; the page says:\n{page}")
            time.sleep(0.05)

    def screenshot(self, path: Path) -> None:
        """The viewport, as a PNG."""
        data = self.page("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except BrowserError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._in)
        os.close(self._out)


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server with the example for the whole module (the live test adds a round 3
    on 29 May, after every date the other tests look at)."""
    running = start_server({"PARLEY_EXAMPLE": str(EXAMPLE)}, tmp_path_factory.mktemp("web"))
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    binary = chromium_binary()
    if binary is None:
        reason = "no chromium binary on PATH; install it with: apt-get install -y chromium"
        if REQUIRE_BROWSER:
            pytest.fail(f"PARLEY_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    with tempfile.TemporaryDirectory(prefix="parley-chromium-") as profile:
        chromium = Chromium(binary, Path(profile))
        yield chromium
        chromium.close()


# --- page helpers -------------------------------------------------------------------------

# The state and timeline answers are on screen and nothing is loading.
SHOWN = (
    "document.getElementById('main').getAttribute('aria-busy') === 'false' && "
    "!!document.getElementById('echo-as-of')"
)


def show(browser: Chromium, url: str, as_of: str) -> None:
    """Open the page and wait for the state whose echoed as_of starts with ``as_of``."""
    browser.open("about:blank")
    browser.open(url)
    browser.wait_for(
        f"{SHOWN} && document.getElementById('echo-as-of').textContent"
        f".startsWith({json.dumps(as_of)})"
    )


def rows(browser: Chromium, block: str) -> list[list[str]]:
    """The cells' text of one state table (``rounds``, ``zones``, …), row by row."""
    value = browser.evaluate(
        f"[...document.querySelectorAll('#{block} tbody tr')]"
        ".map(r => [...r.cells].map(c => c.innerText.trim()))"
    )
    assert isinstance(value, list)
    return value


def text(browser: Chromium, selector: str) -> str:
    value = browser.evaluate(
        f"(document.querySelector({json.dumps(selector)}) || {{innerText: ''}}).innerText"
    )
    return str(value)


# --- tests --------------------------------------------------------------------------------


def test_the_page_its_script_and_its_stylesheet_are_served_and_kept_out_of_the_api_schema(
    web_server: Server,
) -> None:
    page = httpx.get(f"{web_server.url}/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/parley.js"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = httpx.get(f"{web_server.url}/static/parley.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "EventSource" in script.text
    again = httpx.get(
        f"{web_server.url}/static/parley.js", headers={"If-None-Match": script.headers["etag"]}
    )
    assert again.status_code == 304
    style = httpx.get(f"{web_server.url}/static/parley.css")
    assert style.headers["content-type"].startswith("text/css")
    for missing in ("/static/nothing.js", "/static/..%2Fmain.py", "/static/"):
        assert httpx.get(f"{web_server.url}{missing}").status_code == 404, missing
    paths = httpx.get(f"{web_server.url}/openapi.json").json()["paths"]
    assert "/" not in paths
    assert not [path for path in paths if path.startswith("/static")]


def test_as_of_28_may_the_page_shows_round_two_proposed_in_istanbul_hosted_by_turkiye(
    web_server: Server, browser: Chromium, tmp_path: Path
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
    curl = text(browser, "#curl-state")
    assert curl.startswith("curl -s '")
    url = curl.split("'")[1]
    assert url == (
        f"{web_server.url}/negotiations/istanbul-2025/state"
        f"?as_of=2025-05-28T23:59:59.999999Z&known_at={known_at}"
    )
    repeated = httpx.get(url).json()
    assert (repeated["as_of"], repeated["known_at"], repeated["position"]) == (
        "2025-05-28T23:59:59.999999Z",
        known_at,
        16,
    )
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

    shot = tmp_path / "parley-28-may.png"
    browser.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000


def test_as_of_17_may_the_page_shows_round_one_held_and_no_round_two(
    web_server: Server, browser: Chromium
) -> None:
    show(browser, f"{web_server.url}/?negotiation=istanbul-2025&as_of=2025-05-17", "2025-05-17")

    assert [row[:2] for row in rows(browser, "rounds")] == [["Round 1", "held"]]
    assert "Round 2" not in text(browser, "#state-body")
    assert rows(browser, "zones") == []
    assert "None as of 2025-05-17." in text(browser, "#zones")
    assert browser.evaluate("document.getElementById('as-of').value") == "2025-05-17"


def test_known_at_before_anything_was_recorded_shows_an_empty_state_sent_in_utc(
    web_server: Server, browser: Chromium
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
    web_server: Server, browser: Chromium
) -> None:
    show(browser, f"{web_server.url}/", "")
    # A bare / picks the first negotiation and says so in the URL.
    assert browser.evaluate("location.search") == "?negotiation=istanbul-2025"

    browser.evaluate(
        "(() => { const i = document.getElementById('as-of'); i.value = '2025-05-17';"
        " i.dispatchEvent(new Event('change')); })()"
    )
    browser.wait_for(
        f"{SHOWN} && document.getElementById('echo-as-of').textContent.startsWith('2025-05-17')"
    )
    assert browser.evaluate("location.search") == "?negotiation=istanbul-2025&as_of=2025-05-17"
    assert len(rows(browser, "rounds")) == 1

    browser.evaluate(
        "(() => { const i = document.getElementById('known-at'); i.value = '2025-01-01T00:00';"
        " i.dispatchEvent(new Event('change')); })()"
    )
    browser.wait_for(
        f"{SHOWN} && document.getElementById('echo-known-at').textContent"
        " === '2025-01-01T00:00:00Z'"
    )
    assert browser.evaluate("location.search") == (
        "?negotiation=istanbul-2025&as_of=2025-05-17&known_at=2025-01-01T00:00Z"
    )

    browser.evaluate("history.back()")  # the previous view, from the URL
    browser.wait_for(
        f"{SHOWN} && location.search.indexOf('known_at') < 0 && "
        "document.getElementById('echo-known-at').textContent !== "
        "'2025-01-01T00:00:00Z'"
    )
    assert browser.evaluate("document.getElementById('known-at').value") == ""
    assert len(rows(browser, "rounds")) == 1


def test_an_event_appended_while_the_page_is_open_shows_live_and_refreshes_the_state(
    web_server: Server, browser: Chromium
) -> None:
    show(browser, f"{web_server.url}/?negotiation=istanbul-2025", "")
    browser.wait_for("document.getElementById('live-status').textContent === 'live'")
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
        f"{web_server.url}/negotiations/istanbul-2025/events", json=round_3, headers=web_server.auth
    )
    assert created.status_code == 201, created.text

    live = browser.wait_for(
        "(document.querySelector('#live-list li') || {textContent: ''}).textContent"
    )
    assert "Round scheduled" in live and "Geneva" in live
    assert "by admin" in live  # who recorded it: the bootstrap token's name
    browser.wait_for("document.querySelectorAll('#rounds tbody tr').length === 3")
    entry = f"#ev-{created.json()['events'][0]['id']}"
    browser.wait_for(f"!!document.querySelector({json.dumps(entry)})")
    assert "by admin" in text(browser, f"{entry} .entry-meta")
    round_3_row = rows(browser, "rounds")[2]
    assert round_3_row[:3] == ["Round 3", "proposed", "2025-06-20"]
    assert "Geneva" in round_3_row[3]


def test_with_a_read_token_the_page_asks_for_it_and_turns_the_live_panel_off(
    browser: Chromium, tmp_path: Path
) -> None:
    env = {"PARLEY_EXAMPLE": str(EXAMPLE), "PARLEY_READ_TOKEN": "reader-secret"}
    server = start_server(env, tmp_path)
    try:
        browser.open("about:blank")
        browser.open(f"{server.url}/?negotiation=istanbul-2025&as_of=2025-05-28")
        browser.wait_for("!document.getElementById('token-box').hidden")
        assert "needs a read token" in text(browser, "#error")
        assert "EventSource" in text(browser, "#token-box")
        assert text(browser, "#live-status") == "off: needs a token"

        browser.evaluate(
            "document.getElementById('token').value = 'reader-secret';"
            "document.getElementById('token-use').click()"
        )
        browser.wait_for(
            f"{SHOWN} && document.getElementById('echo-as-of').textContent.startsWith('2025-05-28')"
        )
        assert [row[0] for row in rows(browser, "rounds")] == ["Round 1", "Round 2"]
        assert text(browser, "#live-status") == "off: needs a token"
        curl = text(browser, "#curl-state")
        assert "Authorization: Bearer $PARLEY_READ_TOKEN" in curl
        assert "reader-secret" not in curl
    finally:
        stop_server(server)
