"""How long the page takes to draw both charts of a 100,000-event negotiation in Chromium.

The events (``bench.events.Mix``: three years of talks, 5% back-dated, with disputes,
corrections and retractions) are appended through the store in-process, in 1,000-event
batches, which is far quicker than over HTTP; ``--store`` reuses a store that
``bench/report.py`` filled. Then ``parley serve`` serves the page (projections inline
and caught up first: the page lists the negotiations from one),
and Debian's ``chromium``, driven by Playwright, opens it:

- **page, cold**: the first load after the server started, from navigation to both
  charts drawn (the server builds its as-of engine and reads the index on the way);
- **page, warm**: the same page loaded again;
- **draw**: the time ``charts.js`` itself spends building the two SVGs (the page's own
  ``performance.now()``), bucketed for the whole negotiation and one by one for a
  zoomed window;
- **zoom**: from asking for a one-month window to both charts drawn, event by event;
- **as_of drag**: from moving the as_of line to the state tables updated;
- **GET /chart**: the chart endpoint alone, whole negotiation, over HTTP.

Run: ``.venv/bin/python -m bench.render`` (``--events N``, ``--quick`` for 20,000).
"""

from __future__ import annotations

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
ROUNDS = 5


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


def wait_for(page: Any, expression: str, timeout: float = 600) -> Any:
    """Poll the page (``page.evaluate``: the page's CSP refuses string predicates)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.evaluate(expression)
        if value:
            return value
        time.sleep(0.01)
    raise TimeoutError(expression)


DRAWN = (
    "document.getElementById('main').getAttribute('aria-busy') === 'false'"
    " && !!document.querySelector('#charts[data-drawn]')"
    " && document.getElementById('charts').getAttribute('aria-busy') === 'false'"
)


def load(page: Any, url: str) -> dict[str, float]:
    """Open the page; seconds to the state shown and to both charts drawn."""
    page.goto("about:blank")
    started = time.perf_counter()
    page.goto(url)
    wait_for(
        page,
        "document.getElementById('main').getAttribute('aria-busy') === 'false'"
        " && !!document.getElementById('echo-as-of')",
    )
    shown = time.perf_counter() - started
    wait_for(page, DRAWN)
    drawn = time.perf_counter() - started
    draw_ms = float(page.evaluate("document.getElementById('charts').dataset.drawMs"))
    modes = page.evaluate(
        "[document.getElementById('timeline-chart').dataset.mode,"
        " document.getElementById('knowledge-chart').dataset.mode]"
    )
    return {"shown": shown, "drawn": drawn, "draw_ms": draw_ms, "modes": modes}


def main() -> None:
    parser = support.parser(__doc__, events=100_000)
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
        warm = [load(page, url) for _ in range(ROUNDS)]

        # Zoom into one month: both charts event by event.
        first = datetime.fromisoformat(answer["from"].replace("Z", "+00:00")) + timedelta(days=365)
        month = first + timedelta(days=30)
        zooms, zoom_draw = [], []
        for _ in range(ROUNDS):
            load(page, url)
            page.evaluate("document.getElementById('charts').removeAttribute('data-drawn')")
            started = time.perf_counter()
            page.evaluate(
                "document.dispatchEvent(new CustomEvent('parley:zoom', {detail: "
                f"['{first.isoformat()}', '{month.isoformat()}']}}))"
            )
            wait_for(page, DRAWN)
            zooms.append(time.perf_counter() - started)
            zoom_draw.append(
                float(page.evaluate("document.getElementById('charts').dataset.drawMs"))
            )
        zoom_modes = page.evaluate(
            "[document.getElementById('timeline-chart').dataset.mode,"
            " document.getElementById('knowledge-chart').dataset.mode]"
        )

        # Drag the as_of line back a year: the state follows.
        load(page, url)
        drags = []
        box = page.locator("#timeline-as-of .as-of-handle").bounding_box()
        chart_box = page.locator("#timeline-chart").bounding_box()
        for k in range(ROUNDS):
            target = chart_box["x"] + chart_box["width"] * (0.3 + 0.1 * k)
            before = page.evaluate("document.getElementById('echo-as-of').textContent")
            handle = page.locator("#timeline-as-of .as-of-handle").bounding_box()
            page.mouse.move(handle["x"] + 6, handle["y"] + 6)
            page.mouse.down()
            started = time.perf_counter()
            page.mouse.move(target, box["y"] + 40, steps=5)
            page.mouse.up()
            wait_for(
                page,
                "document.getElementById('main').getAttribute('aria-busy') === 'false'"
                f" && document.getElementById('echo-as-of').textContent !== '{before}'",
            )
            drags.append(time.perf_counter() - started)
        browser.close()

    median = statistics.median
    print(f"\n## Charts of a {position:,}-event negotiation in Chromium (2 cores)\n")
    print("| what | time |")
    print("|---|---|")
    print(f"| GET /chart, whole negotiation, first | {chart_cold * 1000:,.0f} ms |")
    print(
        f"| GET /chart, whole negotiation, again (median) | {median(chart_warm) * 1000:,.0f} ms |"
    )
    print(
        "| page, cold: state shown / both charts drawn | "
        f"{cold['shown']:.2f} s / {cold['drawn']:.2f} s |"
    )
    print(
        f"| page, warm (median of {ROUNDS}): state shown / both charts drawn | "
        f"{median(w['shown'] for w in warm):.2f} s / {median(w['drawn'] for w in warm):.2f} s |"
    )
    print(
        f"| drawing both SVGs, whole negotiation ({'/'.join(cold['modes'])}) | "
        f"{median(w['draw_ms'] for w in warm):.0f} ms |"
    )
    print(
        f"| zoom to a month ({'/'.join(zoom_modes)}): asked to drawn / drawing | "
        f"{median(zooms) * 1000:,.0f} ms / {median(zoom_draw):.0f} ms |"
    )
    print(f"| drag as_of, let go to state shown (median) | {median(drags) * 1000:,.0f} ms |")


if __name__ == "__main__":
    main()
