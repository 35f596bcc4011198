"""How long the page takes to draw both charts of a 100,000-event negotiation in Chromium.

The events (``bench.events.Mix``: three years of talks, 5% back-dated, with disputes,
corrections and retractions) are appended through the store in-process, in 1,000-event
batches, which is far quicker than over HTTP; ``--store DIR`` reuses a store this script
left (``PARLEY_BENCH_KEEP=1``) or that ``bench/report.py`` filled (slug ``bench``).
Then ``parley serve`` serves the page (projections inline and caught up first: the page
lists the negotiations from one), and Debian's ``chromium``, driven by Playwright,
opens it. Measured:

- **GET /chart**: the chart endpoint alone, whole negotiation, over HTTP;
- **page, cold and warm**: from navigation to both charts drawn, and to the state and
  the timeline list shown (the charts are asked for as soon as the state arrives, and
  do not wait for the list);
- **drawing**: the time ``charts.js`` spends building the two SVGs (the page's own
  ``performance.now()``), counted per bucket for the whole negotiation, event by
  event for a zoomed window;
- **zoom**: from asking for a one-week window to both charts drawn;
- **as_of drag**: from pressing the line to it following the pointer, and to the
  state and list shown for where it was let go.

Run: ``.venv/bin/python -m bench.render`` (``--events N``, ``--quick`` for 20,000).
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench import support
from bench.events import Mix
from domain.events import parse_event
from store.config import StoreConfig
from store.log import ConflictLog

WIDTH, HEIGHT = 1440, 900
ROUNDS = 3


def fill(data_dir: Path, total: int) -> float:
    """Append ``total`` events to negotiation ``bench`` through the store; the rate."""
    mix = Mix(total, seed=1)
    started = time.perf_counter()
    with ConflictLog(StoreConfig(data_dir=data_dir)) as log:
        log.open(support.SLUG, parse_event(mix.first()))  # type: ignore[arg-type]
        left = total - 1
        while left:
            count = min(1000, left)
            log.append(support.SLUG, [parse_event(e) for e in mix.take(count)])
            left -= count
    return total / (time.perf_counter() - started)


def wait_for(page: Any, expression: str, timeout: float = 300) -> Any:
    """Poll the page (``page.evaluate``: the page's CSP refuses string predicates)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.evaluate(expression)
        if value:
            return value
        time.sleep(0.01)
    raise TimeoutError(expression)


SHOWN = (
    "document.getElementById('main').getAttribute('aria-busy') === 'false'"
    " && !!document.getElementById('echo-as-of')"
)
DRAWN = (
    "!!document.querySelector('#charts[data-drawn]')"
    " && document.getElementById('charts').getAttribute('aria-busy') === 'false'"
)


def load(page: Any, url: str, timeout: float = 900) -> dict[str, Any]:
    """Open the page; seconds to both charts drawn and to the state and timeline list shown
    (whichever comes first: the charts do not wait for the list)."""
    page.goto("about:blank")
    started = time.perf_counter()
    page.goto(url)
    seen: dict[str, float] = {}
    while len(seen) < 2:
        for name, expression in (("drawn", DRAWN), ("shown", SHOWN)):
            if name not in seen and page.evaluate(expression):
                seen[name] = time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{url}: only {sorted(seen)} after {timeout} s")
        time.sleep(0.01)
    return {
        **seen,
        "draw_ms": float(page.evaluate("document.getElementById('charts').dataset.drawMs")),
        "modes": page.evaluate(
            "[document.getElementById('timeline-chart').dataset.mode,"
            " document.getElementById('knowledge-chart').dataset.mode]"
        ),
    }


def main() -> None:
    parser = support.parser(__doc__, events=100_000)
    parser.add_argument(
        "--screenshot", type=Path, help="save a PNG of both charts of the whole negotiation here"
    )
    args = parser.parse_args()
    total = support.events(args, 100_000, 20_000)
    if args.store:
        data_dir = Path(args.store)
        print(f"# using the store in {data_dir}", flush=True)
    else:
        data_dir = support.temp_dir("render")
        print(f"# appending {total:,} events through the store into {data_dir} ...", flush=True)
        print(f"# {fill(data_dir, total):,.0f} events/s", flush=True)

    from playwright.sync_api import sync_playwright

    binary = shutil.which("chromium")
    if binary is None:
        raise SystemExit("no chromium on PATH: apt-get install -y chromium")
    with support.Server(data_dir, "inline") as server, sync_playwright() as playwright:
        server.caught_up()  # the page lists negotiations from a projection
        position = server.position()
        url = f"{server.url}/?negotiation={support.SLUG}"
        started = time.perf_counter()
        chart = httpx.get(f"{server.url}/negotiations/{support.SLUG}/chart", timeout=600)
        chart_cold = time.perf_counter() - started
        answer = chart.json()
        chart_warm = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            httpx.get(f"{server.url}/negotiations/{support.SLUG}/chart", timeout=600)
            chart_warm.append(time.perf_counter() - started)

        browser = playwright.chromium.launch(executable_path=binary, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}).new_page()
        cold = load(page, url)
        warm = [load(page, url) for _ in range(2)]
        if args.screenshot:
            page.locator("#charts").screenshot(path=str(args.screenshot))

        # Zoom into one week and out again: only the charts ask the server again.
        first = datetime.fromisoformat(answer["from"].replace("Z", "+00:00")) + timedelta(days=365)
        week = first + timedelta(days=7)
        zooms, zoom_draw, zoom_modes = [], [], []
        for _ in range(ROUNDS):
            for window in ([first.isoformat(), week.isoformat()], None):
                page.evaluate("document.getElementById('charts').removeAttribute('data-drawn')")
                started = time.perf_counter()
                page.evaluate(
                    "document.dispatchEvent(new CustomEvent('parley:zoom', "
                    f"{{detail: {json.dumps(window)}}}))"
                )
                wait_for(page, DRAWN)
                if window:
                    zooms.append(time.perf_counter() - started)
                    zoom_draw.append(
                        float(page.evaluate("document.getElementById('charts').dataset.drawMs"))
                    )
                    zoom_modes = page.evaluate(
                        "[document.getElementById('timeline-chart').dataset.mode,"
                        " document.getElementById('knowledge-chart').dataset.mode]"
                    )

        # Drag the as_of line to a third of the way: the line moves at once, the state
        # and the list follow.
        chart_box = page.locator("#timeline-chart").bounding_box()
        handle = page.locator("#timeline-as-of .as-of-handle").bounding_box()
        before = page.evaluate("document.getElementById('echo-as-of').textContent")
        page.mouse.move(handle["x"] + 6, handle["y"] + 6)
        page.mouse.down()
        started = time.perf_counter()
        page.mouse.move(chart_box["x"] + chart_box["width"] / 3, handle["y"] + 40, steps=5)
        page.mouse.up()
        line_moved = time.perf_counter() - started
        wait_for(
            page,
            f"{SHOWN} && document.getElementById('echo-as-of').textContent !== '{before}'",
        )
        drag = time.perf_counter() - started
        browser.close()

    median = statistics.median
    print(f"\n## Charts of a {position:,}-event negotiation in Chromium\n")
    print("| what | time |")
    print("|---|---|")
    print(f"| GET /chart, whole negotiation, first | {chart_cold * 1000:,.0f} ms |")
    print(
        f"| GET /chart, whole negotiation, again (median) | {median(chart_warm) * 1000:,.0f} ms |"
    )
    print(
        "| page, cold: both charts drawn / state and timeline list shown | "
        f"{cold['drawn']:.1f} s / {cold['shown']:.1f} s |"
    )
    print(
        "| page, warm (median of 2): both charts drawn / state and list shown | "
        f"{median(w['drawn'] for w in warm):.1f} s / {median(w['shown'] for w in warm):.1f} s |"
    )
    print(
        f"| drawing both SVGs in the browser, whole negotiation ({'/'.join(cold['modes'])}) | "
        f"{median(w['draw_ms'] for w in warm):.0f} ms |"
    )
    print(
        f"| zoom to a week ({'/'.join(zoom_modes)}): asked to drawn / drawing (median) | "
        f"{median(zooms) * 1000:,.0f} ms / {median(zoom_draw):.0f} ms |"
    )
    print(
        "| drag as_of: the line follows / state and list shown | "
        f"{line_moved * 1000:,.0f} ms / {drag:.1f} s |"
    )


if __name__ == "__main__":
    main()
