"""The page's search box, in real headless Chromium against a real ``parley serve``
with the founding example (the Playwright page and fixtures of ``test_web``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from e2e.test_web import SHOWN, screenshot, show, text, wait_for
from e2e.test_web import artifacts as artifacts  # noqa: F401 - the fixture
from e2e.test_web import browser as browser  # noqa: F401 - the fixture
from e2e.test_web import chromium as chromium  # noqa: F401 - the fixture
from e2e.test_web import web_server as web_server  # noqa: F401 - the fixture
from support import Server

if TYPE_CHECKING:
    from playwright.sync_api import Page

FOUND = "document.querySelector('#search-body [role=status]')"


def search(browser: Page, by: str, words: str) -> None:
    """Type ``words`` in the search box, searching by ``by``, and press Search."""
    browser.evaluate(
        "(() => { document.getElementById('search-body').replaceChildren();"
        f" document.getElementById('search-by').value = {json.dumps(by)};"
        f" document.getElementById('search-text').value = {json.dumps(words)};"
        " document.getElementById('search-go').click(); })()"
    )


def test_the_search_box_finds_the_negotiations_events_in_the_page_slice(
    web_server: Server, browser: Page, artifacts: Path
) -> None:
    show(browser, f"{web_server.url}/?negotiation=istanbul-2025&as_of=2025-05-28", "2025-05-28")

    search(browser, "q", "ceasefires")
    wait_for(browser, f"!!{FOUND}")
    assert text(browser, "#search-body [role=status]") == "4 events found."
    found = browser.evaluate(
        "[...document.querySelectorAll('#search-body .entry .type')].map(e => e.textContent)"
    )
    assert found == ["Contact held", "Proposal made", "Statement issued", "Proposal made"]
    browser.evaluate("document.getElementById('search').scrollIntoView()")
    screenshot(browser, artifacts / "search.png")

    # Moving as_of back re-runs the search on the new slice of the log.
    browser.evaluate(
        "(() => { const i = document.getElementById('as-of'); i.value = '2025-05-19';"
        " i.dispatchEvent(new Event('change')); })()"
    )
    wait_for(browser, f"{SHOWN} && !!{FOUND} && {FOUND}.textContent === '2 events found.'")

    search(browser, "actor", "Lavrov")  # nothing of Lavrov's by 19 May
    wait_for(browser, f"!!{FOUND} && {FOUND}.textContent === 'No event found.'")


def test_a_bad_search_says_which_field_is_wrong(web_server: Server, browser: Page) -> None:
    show(browser, f"{web_server.url}/?negotiation=istanbul-2025", "")
    search(browser, "region", "07")
    wait_for(browser, "!document.getElementById('search-error').hidden")
    assert text(browser, "#search-error").startswith("region: '07' is not an ISO 3166-2")
    search(browser, "q", '"')
    wait_for(browser, "document.getElementById('search-error').textContent.startsWith('q: ')")
