"""The page's search box, in real headless Chromium against a real ``parley serve``
with the founding example (the driver and fixtures of ``test_web``)."""

from __future__ import annotations

import json
from pathlib import Path

from e2e.test_web import SHOWN, Chromium, show, text
from e2e.test_web import browser as browser  # noqa: F401 - the fixture
from e2e.test_web import web_server as web_server  # noqa: F401 - the fixture
from support import Server

FOUND = "document.querySelector('#search-body [role=status]')"


def search(browser: Chromium, by: str, words: str) -> None:
    """Type ``words`` in the search box, searching by ``by``, and press Search."""
    browser.evaluate(
        "(() => { document.getElementById('search-body').replaceChildren();"
        f" document.getElementById('search-by').value = {json.dumps(by)};"
        f" document.getElementById('search-text').value = {json.dumps(words)};"
        " document.getElementById('search-go').click(); })()"
    )


def test_the_search_box_finds_the_negotiations_events_in_the_page_slice(
    web_server: Server, browser: Chromium, tmp_path: Path
) -> None:
    show(browser, f"{web_server.url}/?negotiation=istanbul-2025&as_of=2025-05-28", "2025-05-28")

    search(browser, "q", "ceasefires")
    browser.wait_for(f"!!{FOUND}")
    assert text(browser, "#search-body [role=status]") == "4 events found."
    found = browser.evaluate(
        "[...document.querySelectorAll('#search-body .entry .type')].map(e => e.textContent)"
    )
    assert found == ["Contact held", "Proposal made", "Statement issued", "Proposal made"]
    browser.evaluate("document.getElementById('search').scrollIntoView()")
    browser.screenshot(tmp_path / "search.png")

    # Moving as_of back re-runs the search on the new slice of the log.
    browser.evaluate(
        "(() => { const i = document.getElementById('as-of'); i.value = '2025-05-19';"
        " i.dispatchEvent(new Event('change')); })()"
    )
    browser.wait_for(f"{SHOWN} && !!{FOUND} && {FOUND}.textContent === '2 events found.'")

    search(browser, "actor", "Lavrov")  # nothing of Lavrov's by 19 May
    browser.wait_for(f"!!{FOUND} && {FOUND}.textContent === 'No event found.'")


def test_a_bad_search_says_which_field_is_wrong(web_server: Server, browser: Chromium) -> None:
    show(browser, f"{web_server.url}/?negotiation=istanbul-2025", "")
    search(browser, "region", "07")
    browser.wait_for("!document.getElementById('search-error').hidden")
    assert text(browser, "#search-error").startswith("region: '07' is not an ISO 3166-2")
    search(browser, "q", '"')
    browser.wait_for("document.getElementById('search-error').textContent.startsWith('q: ')")
