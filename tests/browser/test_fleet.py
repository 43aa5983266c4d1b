"""#/fleet: the summary equals api/v1/fleet, the series list searches, filters and pages
through an imported fleet, a series id opens its page, a canary in flight shows its progress."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Site, new_home, start_seeded
from tests.browser.dashboard import WAIT_MS, Dashboard, shown_int
from tests.browser.seed import AMBIENT, FLEET_PREFIX, TRAINED, import_fleet

pytestmark = pytest.mark.browser
PAGE_SIZE = 50  # the dashboard's page of series


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, mlflow_schema: Path) -> Iterator[Site]:
    """The NAB series, an imported fleet of 130 more, and a canary of ambient-temp's v2 at
    10 % that stays there (an hour per step, no traffic)."""
    home = new_home(tmp_path_factory, mlflow_schema, "fleet")
    fleet = import_fleet(home)
    started = start_seeded(home, fleet=fleet)
    with started.http() as http:
        answer = http.post(
            f"/api/v1/models/{AMBIENT.series_id}/versions/v2/promote",
            json={
                "strategy": "canary",
                "canary_config": {"initial_percentage": 10, "increment_interval_hours": 1},
            },
        )
        assert answer.status_code == 202, answer.text
    yield started
    started.server.kill()


def canary_promotion(site: Site) -> dict[str, object]:
    with site.http() as http:
        items = http.get("/api/v1/promotions", params={"active": "true"}).json()["items"]
    (canary,) = [p for p in items if p["series_id"] == AMBIENT.series_id]
    return dict(canary)


def test_the_summary_shows_the_fleet_api_figures(dashboard: Dashboard, site: Site) -> None:
    dashboard.open("fleet")
    with site.http() as http:
        fleet = http.get("/api/v1/fleet", params={"window": "24h"}).json()
    series = fleet["series"]
    # what the seed made: 130 imported + 4 trained; ambient-temp's v2 is in canary
    assert (series["total"], series["production"], series["canary"]) == (134, 133, 1)
    assert series["staging"] == 3 and series["without_production"] == 1
    for stage in ("total", "production", "staging", "canary", "shadow"):
        assert shown_int(dashboard.tid(f"stage-count-{stage}")) == series[stage], stage
    jobs = fleet["jobs"]
    assert jobs["completed"] == 6
    for status, count in jobs.items():
        assert shown_int(dashboard.tid(f"jobs-count-{status}")) == count, status
    depth = fleet["queue"]["ready_messages"]
    if depth is not None:
        assert shown_int(dashboard.tid("queue-depth")) == depth
    rate = fleet["anomaly_rate"]["rate"]
    assert rate is not None and rate > 0  # the served NAB points include flagged ones
    shown = dashboard.tid("fleet-anomaly-rate").inner_text()
    percent = float(shown.strip().rstrip("%").replace(",", ""))
    assert math.isclose(percent, rate * 100, rel_tol=0.05), (shown, rate)
    dashboard.shot("summary")


def test_search_narrows_the_list_to_ids_containing_the_text(dashboard: Dashboard) -> None:
    dashboard.open("fleet")
    rows = dashboard.tid("series-row")
    dashboard.tid("series-search").fill("ump-01")  # a substring, not a prefix
    expected = [f"{FLEET_PREFIX}{n:03d}" for n in range(10, 20)]
    expect(rows).to_have_count(len(expected), timeout=WAIT_MS)
    assert sorted(dashboard.ids("series-row", "data-series-id")) == expected
    expect(dashboard.tid("series-total")).to_contain_text("10")
    assert "q=ump-01" in dashboard.page.url
    dashboard.shot("searched")

    dashboard.tid("series-search").fill("temp")
    expect(rows).to_have_count(2, timeout=WAIT_MS)
    assert sorted(dashboard.ids("series-row", "data-series-id")) == [
        "ambient-temp",
        "machine-temp",
    ]


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("staging", {"machine-temp", "ambient-temp", "rds-cpu"}),
        ("canary", {"ambient-temp"}),
        ("none", {"rds-cpu"}),
    ],
    ids=["staging", "canary", "none"],
)
def test_the_stage_filter_lists_what_the_api_lists(
    dashboard: Dashboard, site: Site, stage: str, expected: set[str]
) -> None:
    with site.http() as http:
        listed = http.get("/api/v1/models", params={"stage": stage}).json()["items"]
    assert {s["series_id"] for s in listed} == expected
    dashboard.open("fleet")
    dashboard.tid("series-stage-filter").select_option(stage)
    expect(dashboard.tid("series-row")).to_have_count(len(expected), timeout=WAIT_MS)
    dashboard.wait_ready()
    assert set(dashboard.ids("series-row", "data-series-id")) == expected
    assert f"stage={stage}" in dashboard.page.url
    dashboard.shot(stage)


def test_paging_moves_through_the_series_in_the_api_order(dashboard: Dashboard, site: Site) -> None:
    total = len(TRAINED) + 130
    pages = math.ceil(total / PAGE_SIZE)
    with site.http() as http:
        listing = http.get("/api/v1/models", params={"limit": 1000}).json()
    order = [s["series_id"] for s in listing["items"]]
    assert listing["total"] == total == len(order)

    dashboard.open("fleet")
    info = dashboard.tid("page-info")
    expect(info).to_have_text(f"page 1 of {pages}", timeout=WAIT_MS)
    first = dashboard.ids("series-row", "data-series-id")
    assert first == order[:PAGE_SIZE]
    dashboard.shot("page-1")

    dashboard.tid("page-next").click()
    expect(info).to_have_text(f"page 2 of {pages}", timeout=WAIT_MS)
    expect(dashboard.row("series-row", series_id=order[PAGE_SIZE])).to_be_visible()
    second = dashboard.ids("series-row", "data-series-id")
    assert second == order[PAGE_SIZE : 2 * PAGE_SIZE]
    assert "page=2" in dashboard.page.url
    dashboard.shot("page-2")

    dashboard.tid("page-next").click()
    expect(info).to_have_text(f"page 3 of {pages}", timeout=WAIT_MS)
    expect(dashboard.tid("series-row")).to_have_count(total - 2 * PAGE_SIZE, timeout=WAIT_MS)
    assert dashboard.ids("series-row", "data-series-id") == order[2 * PAGE_SIZE :]
    expect(dashboard.tid("page-next")).to_be_disabled()

    dashboard.tid("page-prev").click()
    expect(info).to_have_text(f"page 2 of {pages}", timeout=WAIT_MS)
    expect(dashboard.row("series-row", series_id=order[PAGE_SIZE])).to_be_visible()
    assert dashboard.ids("series-row", "data-series-id") == second


def test_a_series_id_opens_its_page(dashboard: Dashboard) -> None:
    dashboard.open("fleet?q=machine")
    row = dashboard.row("series-row", series_id="machine-temp")
    row.get_by_role("link", name="machine-temp").click()
    expect(dashboard.page).to_have_url(f"{dashboard.url}/#/series/machine-temp")
    expect(dashboard.tid("series-title")).to_contain_text("machine-temp", timeout=WAIT_MS)
    dashboard.wait_ready()
    expect(dashboard.row("version-row", version="v2")).to_be_visible()
    dashboard.shot("series-page")


def test_a_canary_in_flight_shows_with_its_progress(dashboard: Dashboard, site: Site) -> None:
    canary = canary_promotion(site)
    assert (canary["state"], canary["current_percentage"]) == ("canary", 10)
    assert canary["progress"] == pytest.approx(0.1)
    dashboard.open("fleet")
    rollouts = dashboard.tid("fleet-rollouts")
    row = rollouts.locator(f'[data-testid="rollout-row"][data-series-id="{AMBIENT.series_id}"]')
    expect(row).to_have_count(1, timeout=WAIT_MS)
    assert row.get_attribute("data-promotion-id") == canary["promotion_id"]
    expect(row.get_by_test_id("rollout-state")).to_have_text("canary")
    bar = row.get_by_test_id("rollout-progress")
    assert float(bar.get_attribute("data-value") or "nan") == pytest.approx(0.1)
    expect(bar).to_contain_text("10%")
    dashboard.shot("rollouts")
