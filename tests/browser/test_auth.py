"""Auth on: the page asks for a token, refuses a wrong one, shows who is logged in, offers
the promote button only to a role that may promote, and logs out. Tokens are minted by
``seriesguard token`` with keys from ``seriesguard keygen``, as an operator does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PageErrors, Site, new_home
from tests.browser.dashboard import WAIT_MS, Dashboard
from tests.browser.seed import MACHINE, SERVER_ENV, seed
from tests.e2e.harness import Server, wait_until_up
from tests.e2e.security_helpers import bearer, clean_env, keygen, launch, mint_tokens

pytestmark = pytest.mark.browser
SUBJECTS = {"viewer": "victor", "ml_engineer": "eve", "admin": "ada"}
# The page checks a token against api/v1/me; Chromium logs the refusal of a wrong one as a
# console error: expected there, and only there.
REFUSED_TOKEN = r"status of 401 .*api/v1/me"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The settings ``seriesguard keygen`` prints: the key pair the server verifies with."""
    return keygen(tmp_path_factory.mktemp("auth") / "keys", clean_env())


@pytest.fixture(scope="module")
def tokens(keys: dict[str, str]) -> dict[str, str]:
    wanted = {role: (role, subject) for role, subject in SUBJECTS.items()}
    return mint_tokens(clean_env(**keys), wanted)


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
    mlflow_schema: Path,
    keys: dict[str, str],
    tokens: dict[str, str],
) -> Iterator[Site]:
    """Started with only the settings given here (an engineer's shell may export auth
    settings of its own), seeded with an admin token."""
    server = Server(
        home=new_home(tmp_path_factory, mlflow_schema, "auth"),
        env={**SERVER_ENV, "SERIESGUARD_TRAINING_MIN_INTERVAL_SECONDS": "0", **keys},
    )
    launch(server)
    try:
        wait_until_up(
            f"{server.url}/api/v1/readiness", server.process, describe=server.log_tail, timeout=90
        )
        with httpx.Client(base_url=server.url, timeout=60, headers=bearer(tokens["admin"])) as http:
            seeded = seed(http, [])
    except BaseException:
        server.kill()
        raise
    yield Site(server, seeded)
    server.kill()


def log_in(dashboard: Dashboard, token: str) -> None:
    dashboard.open("login")
    dashboard.tid("login-token").fill(token)
    dashboard.tid("login-submit").click()
    expect(dashboard.page).to_have_url(f"{dashboard.url}/#/fleet", timeout=WAIT_MS)
    dashboard.wait_ready()


def held_token(dashboard: Dashboard) -> str | None:
    held: str | None = dashboard.page.evaluate("sessionStorage.getItem('seriesguard.token')")
    return held


def test_without_a_token_the_page_asks_for_one_and_refuses_a_wrong_one(
    dashboard: Dashboard, page_errors: PageErrors
) -> None:
    page_errors.allow(REFUSED_TOKEN)
    dashboard.open("fleet")
    expect(dashboard.tid("login-form")).to_be_visible()
    assert "#/login" in dashboard.page.url
    expect(dashboard.tid("whoami")).to_contain_text("not logged in")
    expect(dashboard.tid("logout")).to_be_hidden()
    dashboard.shot("login")

    dashboard.tid("login-token").fill("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.Zm9yZ2Vk")
    dashboard.tid("login-submit").click()
    error = dashboard.tid("login-error")
    expect(error).to_be_visible(timeout=WAIT_MS)
    expect(error).not_to_be_empty()
    expect(dashboard.tid("login-form")).to_be_visible()
    assert held_token(dashboard) is None
    dashboard.shot("refused")


def test_a_viewer_reads_the_series_but_is_offered_no_promotion(
    dashboard: Dashboard, tokens: dict[str, str]
) -> None:
    log_in(dashboard, tokens["viewer"])
    whoami = dashboard.tid("whoami")
    expect(whoami).to_contain_text(SUBJECTS["viewer"])
    expect(whoami).to_contain_text("viewer")
    expect(dashboard.tid("logout")).to_be_visible()
    expect(dashboard.tid("series-row")).to_have_count(4)
    dashboard.shot("fleet")

    dashboard.open_series(MACHINE.series_id)
    expect(dashboard.row("version-row", version="v2").get_by_test_id("version-stage")).to_have_text(
        "Staging"
    )
    expect(dashboard.tid("promote-btn")).to_have_count(0)
    expect(dashboard.tid("canary-btn")).to_have_count(0)
    expect(dashboard.tid("rollback-btn")).to_have_count(0)
    # no read_data: the training data is not drawn (and not asked for: a 403 would fail here)
    expect(dashboard.tid("series-plot")).to_have_count(0)
    dashboard.shot("series")


def test_an_ml_engineer_is_offered_promotion_and_logs_out(
    dashboard: Dashboard, tokens: dict[str, str]
) -> None:
    log_in(dashboard, tokens["ml_engineer"])
    whoami = dashboard.tid("whoami")
    expect(whoami).to_contain_text(SUBJECTS["ml_engineer"])
    expect(whoami).to_contain_text("ml_engineer")

    dashboard.open_series(MACHINE.series_id)
    staging = dashboard.row("version-row", version="v2")
    expect(staging.get_by_test_id("promote-btn")).to_be_enabled()
    dashboard.shot("series")

    # A plain link would reach /api/v1/plot without the token: the page fetches it with it.
    with dashboard.page.expect_download(timeout=WAIT_MS) as download:
        dashboard.tid("plot-image-link").click()
    saved = Path(download.value.path())
    assert download.value.suggested_filename == f"{MACHINE.series_id}.svg"
    assert b"<svg" in saved.read_bytes()

    dashboard.tid("logout").click()
    expect(dashboard.tid("login-form")).to_be_visible(timeout=WAIT_MS)
    assert held_token(dashboard) is None
    expect(whoami).to_contain_text("not logged in")
    dashboard.shot("logged-out")
