"""Benchmark the console in Chromium against a production server (scripts/run) holding
many sandboxes.

    .venv/bin/python tests/bench/bench_console.py [--sandboxes 1000] [--repeats 5]
        [--output /tmp/mbox-bench-console]
    .venv/bin/python tests/bench/bench_console.py --smoke   # tiny: the test suite's run

Measured, p50 and max over the repeats:
- /projects first load to interactive, in a fresh tab (target <= 1.5 s);
- Sandboxes navigation (the rail link, from /projects) to its first page of rows visible
  (target <= 1 s), and a full load of /sandboxes for comparison;
- an API stop / start of one sandbox to its row showing the new status without a reload
  (target <= 500 ms), next to the API call's own time (the baseline: what any view of the
  change must pay); a start is seen when the row says Running (the runtime's start
  included: pending lasts only until the reconciler's next pass).
All of it with the probe's sandbox page open in another tab, its live resource charts
shown (sampled every 2 s, read with the page's tick), and that page's own status change
timed too (target <= 500 ms).
Screenshots of the list at 1280x720, light and dark, go to --output. Targets are printed,
not judged; a step that fails (an HTTP error, a row that never shows) exits non-zero.
Chromium: --chromium, else $MBOX_TEST_CHROMIUM, else /usr/bin/chromium, else Playwright's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench.harness import parse_args
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.e2e.harness import running_server

TOKEN = "bench-token-3c7e"
VIEWPORT = {"width": 1280, "height": 720}
PAGE_ROWS = 50
# Records in the page the moment the row of `name` shows `word` (polled every frame).
WATCH_ROW = """([name, word]) => {
  window.__seen = null;
  const check = () => {
    const row = [...document.querySelectorAll("tbody tr")]
      .find((r) => r.querySelector("th")?.textContent.includes(name));
    if (row && row.textContent.includes(word)) window.__seen = Date.now();
    else requestAnimationFrame(check);
  };
  check();
}"""
# The same for the sandbox page's status.
WATCH_STATUS = """(word) => {
  window.__seen = null;
  const check = () => {
    const status = document.querySelector('[aria-label="Sandbox status"]');
    if (status && status.textContent.includes(word)) window.__seen = Date.now();
    else requestAnimationFrame(check);
  };
  check();
}"""


def summary(label: str, samples: list[float], target: str = "") -> str:
    line = f"{label:<44} p50 {statistics.median(samples):7.0f} ms   max {max(samples):7.0f} ms"
    return f"{line}   (n={len(samples)}){'   target ' + target if target else ''}"


def seed(api: httpx.Client, count: int) -> dict:
    """`count` stopped sandboxes of the Shell template in one project, then a running probe
    (the newest, so on the first page). Stopped at once: the machine runs only the probe."""
    project = api.post("/v1/projects", json={"name": "Bench", "defaultNamespace": "bench"})
    project.raise_for_status()
    templates = api.get("/v1/templates").json()["items"]
    shell = next(t for t in templates if t["slug"] == "shell")
    base = {"projectId": project.json()["id"], "templateId": shell["id"]}
    started = time.perf_counter()
    for n in range(count):
        created = api.post("/v1/sandboxes", json={**base, "name": f"bench-{n:04}"})
        created.raise_for_status()
        api.post(f"/v1/sandboxes/{created.json()['id']}/stop").raise_for_status()
    print(f"seeded {count} stopped sandboxes in {time.perf_counter() - started:.1f} s")
    probe = api.post("/v1/sandboxes", json={**base, "name": "probe"})
    probe.raise_for_status()
    return probe.json()


def signed_in_state(browser, base_url: str) -> dict:
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Projects", level=1).wait_for()
    state = context.storage_state()
    context.close()
    return state


def timed(action: Callable[[], object], until: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    until()
    return (time.perf_counter() - started) * 1000


def interactive(page: Page) -> None:
    """The page rendered and its state synced (forms are enabled only once hydrated)."""
    page.get_by_role("link", name="Sandboxes").wait_for()
    page.wait_for_function("document.querySelector('fieldset[disabled]') === null")


def rows_visible(page: Page, rows: int) -> None:
    page.locator(f"tbody tr:nth-child({rows})").wait_for()


def pushed_ms(page: Page, api: httpx.Client, path: str, name: str, word: str) -> tuple:
    """POST `path`, then wait for the row of `name` to show `word` (a sandbox page's
    status, when `name` is ""): (the API call's time, the time from the call to the row)."""
    if name:
        page.evaluate(WATCH_ROW, [name, word])
    else:
        page.evaluate(WATCH_STATUS, word)
    sent = time.time() * 1000
    api.post(path).raise_for_status()
    answered = time.time() * 1000
    page.wait_for_function("window.__seen !== null", timeout=60_000)
    return answered - sent, page.evaluate("window.__seen") - sent


def seen_at(page: Page, name: str, word: str) -> float:
    page.evaluate(WATCH_ROW, [name, word])
    page.wait_for_function("window.__seen !== null", timeout=60_000)
    return page.evaluate("window.__seen")


def open_charts(page: Page, sandbox_id: str) -> None:
    """The sandbox page with its details open, once its resource charts show samples."""
    page.goto(f"/sandboxes/{sandbox_id}")
    page.get_by_role("button", name="Show details").click()
    resources = page.get_by_role("region", name="Resources")
    resources.get_by_text("Sampled every").wait_for(timeout=60_000)


def default_chromium() -> str | None:
    """As the e2e tests pick it (None: Playwright's own)."""
    system = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    return os.environ.get("MBOX_TEST_CHROMIUM") or system


def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="mbox-bench-console-"))
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    settings = {"MBOX_API_TOKEN": TOKEN, "MBOX_METRICS_INTERVAL_SECONDS": "2"}
    with (
        running_server(work / "data", work / "server.log", settings) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as api,
        sync_playwright() as playwright,
    ):
        probe = seed(api, args.sandboxes)
        rows = min(PAGE_ROWS, args.sandboxes + 1)  # the first page: the seeded and the probe
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        state = signed_in_state(browser, server.url)
        charts = browser.new_context(base_url=server.url, viewport=VIEWPORT, storage_state=state)
        charts_page = charts.new_page()
        open_charts(charts_page, probe["id"])  # open (and reading) through every measure

        first_loads = []
        for _ in range(args.repeats):
            context = browser.new_context(
                base_url=server.url, viewport=VIEWPORT, storage_state=state
            )
            fresh = context.new_page()
            first_loads.append(timed(partial(fresh.goto, "/projects"), partial(interactive, fresh)))
            context.close()

        context = browser.new_context(base_url=server.url, viewport=VIEWPORT, storage_state=state)
        page = context.new_page()
        navigations, loads = [], []
        for _ in range(args.repeats):
            page.goto("/projects")
            interactive(page)
            link = page.get_by_role("link", name="Sandboxes")
            navigations.append(timed(link.click, lambda: rows_visible(page, rows)))
            loads.append(timed(lambda: page.goto("/sandboxes"), lambda: rows_visible(page, rows)))

        path = f"/v1/sandboxes/{probe['id']}"
        seen_at(page, "probe", "Running")
        api_calls, stops, starts = [], [], []
        for _ in range(args.repeats):
            call, shown = pushed_ms(page, api, f"{path}/stop", "probe", "Stopped")
            api_calls.append(call)
            stops.append(shown)
            # Pending lasts only until the reconciler's next pass: wait for Running.
            call, shown = pushed_ms(page, api, f"{path}/start", "probe", "Running")
            api_calls.append(call)
            starts.append(shown)
        page_stops = []
        for _ in range(args.repeats):
            page_stops.append(pushed_ms(charts_page, api, f"{path}/stop", "", "Stopped")[1])
            pushed_ms(charts_page, api, f"{path}/start", "", "Running")

        page.screenshot(path=output / f"sandboxes-{args.sandboxes}-light.png")
        page.emulate_media(color_scheme="dark")
        page.screenshot(path=output / f"sandboxes-{args.sandboxes}-dark.png")
        browser.close()

    print(f"\n{args.sandboxes} sandboxes, {args.repeats} repeats, viewport 1280x720")
    print("the probe's sandbox page open throughout, its resource charts shown")
    print(summary("/projects first load to interactive", first_loads, "<= 1500 ms"))
    print(summary(f"Sandboxes link to first {rows} rows visible", navigations, "<= 1000 ms"))
    print(summary("/sandboxes full load to rows visible", loads))
    print(summary("API stop/start call itself (baseline)", api_calls))
    print(summary("API stop to row Stopped", stops, "<= 500 ms"))
    print(summary("API start to row Running (runtime included)", starts, "<= 500 ms"))
    print(summary("API stop to its page Stopped (charts open)", page_stops, "<= 500 ms"))
    print(f"screenshots: {output}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandboxes", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default="/tmp/mbox-bench-console")
    parser.add_argument("--chromium", default=default_chromium())
    main(parse_args(parser, {"sandboxes": 2, "repeats": 1}))
