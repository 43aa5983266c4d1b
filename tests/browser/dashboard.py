"""Driving the dashboard by its data-testid contract (docs/dashboard.md): open a view and
wait for its first data, read figures, answer the in-page confirmation."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from playwright.sync_api import Locator, Page, expect

# Generous for a loaded 2-core machine; a passing test never waits for it.
WAIT_MS = 20_000
# Headless Chromium on a machine with no way out: without the background-networking flags it
# keeps trying Google's hosts. The benchmark (benchmarks/dashboard_probe.py) launches it alike.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}


class Dashboard:
    def __init__(self, page: Page, url: str, shot: Callable[[str], Path]) -> None:
        self.page = page
        self.url = url
        self.shot = shot

    def tid(self, name: str) -> Locator:
        return self.page.get_by_test_id(name)

    def open(self, route: str) -> None:
        """Load the page afresh at ``#/route`` and wait for the view's first data. A full
        load each time: a hash change alone could be answered by the previous view's
        ``data-ready``."""
        self.page.goto("about:blank")
        self.page.goto(f"{self.url}/#/{route}")
        self.wait_ready()

    def open_series(self, series_id: str) -> None:
        self.open(f"series/{quote(series_id, safe='')}")
        expect(self.tid("series-title")).to_contain_text(series_id, timeout=WAIT_MS)

    def wait_ready(self) -> None:
        expect(self.tid("view")).to_have_attribute("data-ready", "true", timeout=WAIT_MS)

    def confirm(self) -> None:
        dialog = self.tid("confirm-dialog")
        expect(dialog).to_be_visible(timeout=WAIT_MS)
        dialog.get_by_test_id("confirm-ok").click()
        expect(dialog).to_have_count(0, timeout=WAIT_MS)

    def click_maybe_confirming(self, button: Locator, then: Locator) -> None:
        """Click ``button``; answer the confirmation dialog if the page asks for one, then
        wait for ``then`` to show."""
        button.click()
        dialog = self.tid("confirm-dialog")
        expect(dialog.or_(then).first).to_be_visible(timeout=WAIT_MS)
        if dialog.count():
            self.confirm()
        expect(then).to_be_visible(timeout=WAIT_MS)

    def row(self, testid: str, **data: str) -> Locator:
        """The row ``testid`` whose data attributes match, e.g. ``row("version-row",
        version="v2")`` for ``data-version="v2"``."""
        selector = f'[data-testid="{testid}"]' + "".join(
            f'[data-{_kebab(key)}="{value}"]' for key, value in data.items()
        )
        return self.page.locator(selector)

    def ids(self, testid: str, attribute: str) -> list[str]:
        """``attribute`` of every ``testid`` element, in page order."""
        found: list[Any] = self.page.locator(f'[data-testid="{testid}"]').evaluate_all(
            f"(nodes) => nodes.map((n) => n.getAttribute('{attribute}'))"
        )
        return [str(value) for value in found]


def _kebab(name: str) -> str:
    return re.sub(r"_", "-", name)


def shown_int(locator: Locator) -> int:
    """The one integer a summary figure shows ("1,234" -> 1234)."""
    text = locator.inner_text().strip()
    numbers = re.findall(r"\d+", text.replace(",", ""))
    assert len(numbers) == 1, f"expected one integer, got {text!r}"
    return int(numbers[0])
