"""Headless Chromium (Debian's, through Playwright) against real ``seriesguard serve``
processes: one browser per session, a fresh context per test, a test failing on any page
error or console error, and full-page screenshots of its key moments (and of a failure)
under ``$SERIESGUARD_ARTIFACTS/screenshots`` (default ``test-artifacts/`` at the repo root).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.dashboard import CHROMIUM_ARGS, VIEWPORT, Dashboard
from tests.browser.seed import SERVER_ENV, Seeded, seed
from tests.conftest import REPO
from tests.e2e.harness import Server

INSTALL_HINT = (
    "install Debian's chromium (`make chromium`, or `apt-get install chromium`) or point "
    "SERIESGUARD_CHROMIUM at a Chromium binary; `playwright install` is not used"
)


def artifacts_dir() -> Path:
    return Path(os.environ.get("SERIESGUARD_ARTIFACTS") or REPO / "test-artifacts")


def chromium_executable() -> str | None:
    named = os.environ.get("SERIESGUARD_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def _no_browser(reason: str) -> None:
    """Fail under ``make test`` (SERIESGUARD_BROWSER=required), skip elsewhere."""
    if os.environ.get("SERIESGUARD_BROWSER") == "required":
        pytest.fail(f"{reason}; {INSTALL_HINT}", pytrace=False)
    pytest.skip(f"{reason}; {INSTALL_HINT}")


# Per module, not per session: Playwright's sync API keeps its event loop running in this
# thread until stopped, and every later test that calls asyncio.run() would find it there.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_executable()
    if executable is None:
        _no_browser("no Chromium found")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("playwright (the dev extra) is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class PageErrors:
    """Uncaught exceptions and console errors of a page; ``allow`` names console errors a
    test provokes on purpose (a 401 the page is expected to handle)."""

    seen: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.seen if not any(p.search(e) for p in self.allowed)]


def _screenshot_name(node: pytest.Item, step: str) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{node.name}-{step}")
    return artifacts_dir() / "screenshots" / f"{name}.png"


@pytest.fixture()
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT)
    opened = context.new_page()
    errors = PageErrors()
    opened.on("pageerror", lambda exc: errors.seen.append(f"pageerror: {exc}"))

    def on_console(message: Any) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            errors.seen.append(f"console error: {message.text} ({where})")

    opened.on("console", on_console)
    request.node.page_errors = errors
    yield opened
    context.close()


@pytest.fixture()
def page_errors(page: Any, request: pytest.FixtureRequest) -> PageErrors:
    errors: PageErrors = request.node.page_errors
    return errors


@pytest.fixture()
def shot(page: Any, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """``shot("promoted")`` saves a full-page PNG named after the test and the step."""

    def take(step: str) -> Path:
        path = _screenshot_name(request.node, step)
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test whose page threw or logged an error fails, even if its assertions passed."""
    result = yield
    errors: PageErrors | None = getattr(item, "page_errors", None)
    if errors is not None and errors.unexpected():
        raise AssertionError("errors on the page:\n" + "\n".join(errors.unexpected()))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    opened = getattr(item, "funcargs", {}).get("page")
    if report.when == "call" and report.failed and opened is not None:
        path = _screenshot_name(item, "failure")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            opened.screenshot(path=str(path), full_page=True)
        except Exception as exc:  # a crashed page must not hide the test's own failure
            report.sections.append(("screenshot", f"none taken: {exc}"))
        else:
            report.sections.append(("screenshot", str(path)))
    return report


@pytest.fixture(scope="session")
def mlflow_schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow database with its schema, made once: MLflow runs its whole migration
    chain for a new SQLite store (seconds), and every module's server needs one. It holds no
    experiment, so no path of this folder ends up in a copy."""
    from seriesguard.registry.mlflow_store import create_sqlite_store

    path = tmp_path_factory.mktemp("mlflow-schema") / "mlflow.db"
    create_sqlite_store(path)
    return path


def new_home(factory: pytest.TempPathFactory, schema: Path, name: str) -> Path:
    home = factory.mktemp(name)
    shutil.copyfile(schema, home / "mlflow.db")
    return home


@dataclass
class Site:
    """A seeded server and what was put into it."""

    server: Server
    seeded: Seeded

    @property
    def url(self) -> str:
        return self.server.url

    def http(self) -> httpx.Client:
        return self.server.client()


def start_seeded(home: Path, *, fleet: list[str] | None = None, **env: str) -> Site:
    server = Server(home=home, env={**SERVER_ENV, **env}).start()
    try:
        with server.client() as http:
            seeded = seed(http, fleet or [])
    except BaseException:
        server.kill()
        raise
    return Site(server, seeded)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, mlflow_schema: Path) -> Iterator[Site]:
    """A server of this module's own, seeded with the NAB series (no imported fleet)."""
    started = start_seeded(new_home(tmp_path_factory, mlflow_schema, "site"))
    yield started
    started.server.kill()


@pytest.fixture()
def dashboard(page: Any, site: Site, shot: Callable[[str], Path]) -> Dashboard:
    return Dashboard(page, site.url, shot)
