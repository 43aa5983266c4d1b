"""Timing the fleet page in headless Chromium, from inside the page.

A probe injected before any page script watches the DOM (a MutationObserver) and notes, with
``performance.now()`` (milliseconds since the navigation started), the first moment the
wanted state holds: the view marked ready, exactly the expected ``series-row``s, the summary
card showing the fleet's total. It then waits one animation frame, so a time is the frame
that shows the state, not the script that built it. An interaction is timed from its event
(the ``timeStamp`` of the click or input) or, for a page reached through the hash, from the
moment the hash was set. Playwright's own polling never enters a figure.

The baseline is a dashboard that pages on the client: one script in the same browser that
fetches the whole fleet from ``/api/v1/models`` at the largest page the API allows, counts
the stages itself and renders its first 50 rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.browser.dashboard import CHROMIUM_ARGS, VIEWPORT

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 120_000

PROBE_JS = r"""
(() => {
  const probe = { waits: {}, pending: [] };
  window.__sgProbe = probe;
  const q = (testid) => document.querySelector(`[data-testid="${testid}"]`);
  const digits = (node) => (node ? node.textContent.replace(/[^0-9]/g, '') : '');
  function holds(want) {
    const view = q('view');
    if (want.ready !== false && (!view || view.dataset.ready !== 'true')) return false;
    const rows = document.querySelectorAll('[data-testid="series-row"]');
    if (rows.length !== want.count) return false;
    if (want.count && rows[0].dataset.seriesId !== want.first) return false;
    if (want.count && rows[rows.length - 1].dataset.seriesId !== want.last) return false;
    if (want.total === undefined) return true;
    // the summary too: the fleet's total, and an anomaly rate (a figure, not a dash)
    const rate = q('fleet-anomaly-rate');
    return digits(q('stage-count-total')) === String(want.total)
      && rate !== null && /[0-9]/.test(rate.textContent);
  }
  function check() {
    for (const wait of probe.pending.slice()) {
      if (!holds(wait.want)) continue;
      wait.met = performance.now();
      probe.pending.splice(probe.pending.indexOf(wait), 1);
      requestAnimationFrame(() => { wait.painted = performance.now(); wait.resolve(); });
    }
  }
  probe.expect = (name, want) => {
    const wait = { want };
    wait.done = new Promise((resolve) => { wait.resolve = resolve; });
    probe.waits[name] = wait;
    probe.pending.push(wait);
    check();
  };
  probe.describe = () => {
    const rows = document.querySelectorAll('[data-testid="series-row"]');
    const view = q('view');
    return `ready=${view && view.dataset.ready} rows=${rows.length} `
      + `first=${rows.length ? rows[0].dataset.seriesId : '-'} `
      + `total=${(q('stage-count-total') || {}).textContent} hash=${location.hash}`;
  };
  probe.result = async (name, ms) => {
    const wait = probe.waits[name];
    const late = new Promise((resolve, reject) => setTimeout(
      () => reject(new Error(`${name} not reached in ${ms} ms: ${probe.describe()}`)), ms));
    await Promise.race([wait.done, late]);
    return { met: wait.met, painted: wait.painted, input: probe.input, click: probe.click };
  };
  probe.lastRequest = (part) => {
    const found = performance.getEntriesByType('resource').filter((e) => e.name.includes(part));
    return found.length ? found[found.length - 1].startTime : null;
  };
  new MutationObserver(check).observe(document, {
    subtree: true, childList: true, attributes: true, characterData: true,
  });
  document.addEventListener('input', (event) => { probe.input = event.timeStamp; }, true);
  document.addEventListener('click', (event) => { probe.click = event.timeStamp; }, true);
})();
"""

BASELINE_JS = r"""
async ({ limit }) => {
  const started = performance.now();
  const items = [];
  let requests = 0;
  for (let offset = 0; ; offset += limit) {
    const response = await fetch(`/api/v1/models?limit=${limit}&offset=${offset}`,
      { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error(`HTTP ${response.status} at offset ${offset}`);
    const page = await response.json();
    requests += 1;
    items.push(...page.items);
    if (!page.items.length || offset + limit >= page.total) break;
  }
  const fetched = performance.now();
  const counts = { total: items.length, production: 0, staging: 0, canary: 0, shadow: 0 };
  for (const s of items) {
    if (s.production_version) counts.production += 1;
    if (s.staging_version) counts.staging += 1;
    if (s.canary_version) counts.canary += 1;
    if (s.shadow_version) counts.shadow += 1;
  }
  document.body.replaceChildren();
  const cards = document.createElement('div');
  for (const [key, value] of Object.entries(counts)) {
    const card = document.createElement('div');
    card.dataset.testid = `stage-count-${key}`;
    card.textContent = `${key} ${value.toLocaleString()}`;
    cards.append(card);
  }
  const table = document.createElement('table');
  for (const s of items.slice(0, 50)) {
    const row = table.insertRow();
    row.dataset.testid = 'series-row';
    for (const value of [s.series_id, s.production_version, s.staging_version,
      s.canary_version, s.shadow_version, s.latest_version, s.updated_at]) {
      row.insertCell().textContent = value ?? '—';
    }
  }
  document.body.append(cards, table);
  await new Promise((resolve) => requestAnimationFrame(() => resolve()));
  return { ms: performance.now() - started, fetched_ms: fetched - started,
           items: items.length, requests };
}
"""


@dataclass(frozen=True)
class Rows:
    """The series rows a state must show: how many, the first and the last id."""

    count: int
    first: str | None
    last: str | None

    @classmethod
    def of(cls, ids: list[str]) -> Rows:
        return cls(len(ids), ids[0] if ids else None, ids[-1] if ids else None)

    def want(self, **more: Any) -> dict[str, Any]:
        return {"count": self.count, "first": self.first, "last": self.last, **more}


@dataclass(frozen=True)
class PageTimes:
    """Milliseconds of one visit: first paint (and of its rows alone), next page, search (from
    the input event and from the request it made), deep page."""

    first_paint: float
    first_rows: float  # the 50 rows alone, the summary perhaps still loading
    next_page: float
    search: float
    search_from_request: float
    deep_page: float


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def visit(
    browser: Any,
    url: str,
    *,
    total: int,
    first: Rows,
    second: Rows,
    search: tuple[str, Rows],
    deep: tuple[int, Rows],
) -> PageTimes:
    """One visit in a fresh context (cold cache): open ``#/fleet``, go to the next page,
    search, then jump to page ``deep[0]`` through the hash."""
    context = browser.new_context(viewport=VIEWPORT)
    # armed before any page script runs: the first rows alone, and the whole first view
    arm = (
        f"window.__sgProbe.expect('rows', {json.dumps(first.want(ready=False))});\n"
        f"window.__sgProbe.expect('fleet', {json.dumps(first.want(total=total))});\n"
    )
    context.add_init_script(script=PROBE_JS + "\n" + arm)
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{url}/#/fleet", wait_until="commit")
        painted = _result(page, "fleet")["painted"]
        rows_painted = _result(page, "rows")["painted"]

        page.evaluate("w => __sgProbe.expect('next', w)", second.want())
        page.click('[data-testid="page-next"]')
        moved = _result(page, "next")

        text, found = search
        page.evaluate("w => __sgProbe.expect('search', w)", found.want())
        page.fill('[data-testid="series-search"]', text)
        searched = _result(page, "search")
        asked = page.evaluate("p => __sgProbe.lastRequest(p)", f"contains={text}")

        number, rows = deep
        page.evaluate("w => __sgProbe.expect('deep', w)", rows.want())
        jumped = page.evaluate(
            "n => { const t = performance.now(); location.hash = `#/fleet?page=${n}`; return t; }",
            number,
        )
        reached = _result(page, "deep")
        return PageTimes(
            first_paint=painted,
            first_rows=rows_painted,
            next_page=moved["painted"] - moved["click"],
            search=searched["painted"] - searched["input"],
            search_from_request=searched["painted"] - asked if asked else float("nan"),
            deep_page=reached["painted"] - jumped,
        )
    finally:
        context.close()


def _result(page: Any, name: str) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(
        "([name, ms]) => __sgProbe.result(name, ms)", [name, TIMEOUT_MS]
    )
    return result


def client_side_paging(browser: Any, url: str, *, limit: int) -> dict[str, Any]:
    """The baseline's first paint, in a fresh context on the server's origin."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{url}/api/v1/readiness")
        result: dict[str, Any] = page.evaluate(BASELINE_JS, {"limit": limit})
        return result
    finally:
        context.close()
