"""#/series/<id>: versions with their stages, the plot (band, anomalies, tooltip), quality
against NAB's labels, a promotion by click, and a canary started from the form that advances
while the page polls, then pauses and resumes."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Site
from tests.browser.dashboard import WAIT_MS, Dashboard
from tests.browser.seed import AMBIENT, MACHINE

pytestmark = pytest.mark.browser


def detail(site: Site, series_id: str) -> dict[str, Any]:
    with site.http() as http:
        answer = http.get(f"/api/v1/models/{series_id}")
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def stages(site: Site, series_id: str) -> dict[str, str]:
    return {v["version"]: v["stage"] for v in detail(site, series_id)["versions"]}


def shown_ratio(text: str) -> float:
    """ "12.5%" -> 0.125."""
    match = re.fullmatch(r"\s*([\d.,]+)\s*%\s*", text)
    assert match, f"not a percentage: {text!r}"
    return float(match.group(1).replace(",", "")) / 100


def test_versions_show_the_stages_the_api_gives(dashboard: Dashboard, site: Site) -> None:
    assert stages(site, MACHINE.series_id) == {"v1": "Production", "v2": "Staging"}
    dashboard.open_series(MACHINE.series_id)
    for version, stage in stages(site, MACHINE.series_id).items():
        row = dashboard.row("version-row", version=version)
        expect(row.get_by_test_id("version-stage")).to_have_text(stage)
    expect(dashboard.tid("version-row")).to_have_count(2)
    staging = dashboard.row("version-row", version="v2")
    expect(staging.get_by_test_id("promote-btn")).to_be_enabled()
    production = dashboard.row("version-row", version="v1")
    expect(production.get_by_test_id("promote-btn")).to_have_count(0)
    expect(dashboard.tid("rollback-btn")).to_be_visible()
    expect(dashboard.tid("rollout-panel")).to_have_count(0)
    dashboard.shot("versions")


def test_the_plot_draws_the_band_and_the_anomalies_and_a_tooltip_on_hover(
    dashboard: Dashboard, site: Site
) -> None:
    with site.http() as http:
        data = http.get(f"/api/v1/models/{MACHINE.series_id}/plot-data").json()
    flagged_recent = sum(data["recent"]["anomaly"])
    assert flagged_recent > 0, "the served NAB points hold a failure the model flags"
    assert data["band"] is not None and data["training"] is not None

    dashboard.open_series(MACHINE.series_id)
    plot = dashboard.tid("series-plot")
    svg = plot.locator("svg")
    expect(svg.locator("path.band").first).to_be_attached()
    assert svg.locator("path.band").first.get_attribute("d")
    anomalies = svg.locator("circle.anomaly")
    assert anomalies.count() >= flagged_recent
    expect(dashboard.tid("plot-tooltip")).to_be_hidden()
    dashboard.shot("plot")

    box = svg.bounding_box()
    assert box is not None
    dashboard.page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)
    tooltip = dashboard.tid("plot-tooltip")
    expect(tooltip).to_be_visible(timeout=WAIT_MS)
    expect(tooltip).to_contain_text("UTC")  # the point's time
    expect(tooltip).to_contain_text(re.compile(r"value\D*\d"))
    expect(tooltip).to_contain_text("score")
    dashboard.shot("tooltip")

    expect(dashboard.tid("plot-image-link")).to_have_attribute(
        "href", f"api/v1/plot?series_id={MACHINE.series_id}&format=svg"
    )


def test_quality_shows_the_precision_and_recall_of_the_ground_truth(
    dashboard: Dashboard, site: Site
) -> None:
    with site.http() as http:
        quality = http.get(f"/api/v1/models/{MACHINE.series_id}/metrics").json()["quality"]
    assert quality["labelled"] > 0 and quality["tp"] > 0
    dashboard.open_series(MACHINE.series_id)
    expect(dashboard.tid("metrics-panel")).to_be_visible()
    expect(dashboard.tid("drift-panel")).to_be_visible()
    precision = dashboard.tid("quality-precision").inner_text()
    recall = dashboard.tid("quality-recall").inner_text()
    assert shown_ratio(precision) == pytest.approx(quality["precision"], abs=0.001), precision
    assert shown_ratio(recall) == pytest.approx(quality["recall"], abs=0.001), recall
    dashboard.shot("quality")


def test_promoting_the_staging_version_by_click(dashboard: Dashboard, site: Site) -> None:
    dashboard.open_series(MACHINE.series_id)
    staging = dashboard.row("version-row", version="v2")
    staging.get_by_test_id("promote-btn").click()
    expect(dashboard.tid("confirm-dialog")).to_be_visible()
    dashboard.shot("confirm")
    dashboard.confirm()

    expect(staging.get_by_test_id("version-stage")).to_have_text("Production", timeout=WAIT_MS)
    after = stages(site, MACHINE.series_id)
    assert after["v2"] == "Production"
    old = dashboard.row("version-row", version="v1").get_by_test_id("version-stage")
    expect(old).to_have_text(after["v1"])
    assert after["v1"] in ("Archived", "None")
    expect(dashboard.tid("toast")).not_to_have_class(re.compile(r"\berror\b"))
    dashboard.shot("promoted")


def quiet_traffic(site: Site, series_id: str, count: int) -> None:
    """``count`` single predicts of values at the training mean (no version flags them), each
    at its own timestamp (the canary split hashes series and timestamp)."""
    mean = float(detail(site, series_id)["versions"][0]["params"]["mean"])
    start = time.time() - count
    with httpx.Client(base_url=site.url, timeout=30) as http:
        for index in range(count):
            answer = http.post(
                f"/api/v1/predict/{series_id}",
                json={"timestamp": start + index, "value": mean},
            )
            assert answer.status_code == 200, answer.text


def test_a_canary_started_from_the_form_advances_and_pauses(
    dashboard: Dashboard, site: Site
) -> None:
    dashboard.open_series(AMBIENT.series_id)
    dashboard.row("version-row", version="v2").get_by_test_id("canary-btn").click()
    form = dashboard.tid("canary-form")
    expect(form).to_be_visible()
    expect(form.get_by_test_id("canary-initial")).to_have_value("10")
    expect(form.get_by_test_id("canary-increment")).to_have_value("30")
    expect(form.get_by_test_id("canary-interval-hours")).to_have_value("1")
    form.get_by_test_id("canary-interval-hours").fill("0.001")  # 3.6 s per step
    dashboard.shot("form")
    dashboard.click_maybe_confirming(
        form.get_by_test_id("canary-start"), dashboard.tid("rollout-panel")
    )

    panel = dashboard.tid("rollout-panel")
    expect(panel.get_by_test_id("rollout-percentage")).to_have_text("10%", timeout=WAIT_MS)
    expect(panel.get_by_test_id("rollout-state")).to_have_text("canary")
    promotion_id = panel.get_attribute("data-promotion-id")
    active = detail(site, AMBIENT.series_id)
    assert active["active_promotion_id"] == promotion_id and active["canary_version"] == "v2"
    dashboard.shot("started")

    # About 30 requests reach the canary at 10 %: enough for the gate (20), and the step's
    # 3.6 s pass; the page, polling, shows the next step's share.
    quiet_traffic(site, AMBIENT.series_id, 300)
    percentage = panel.get_by_test_id("rollout-percentage")
    expect(percentage).not_to_have_text("10%", timeout=WAIT_MS)
    with site.http() as http:
        now = http.get(f"/api/v1/promotions/{promotion_id}").json()
    assert now["state"] == "canary" and now["current_percentage"] > 10, now
    expect(percentage).to_have_text(f"{now['current_percentage']:g}%", timeout=WAIT_MS)
    dashboard.shot("advanced")

    dashboard.click_maybe_confirming(
        panel.get_by_test_id("rollout-pause"), panel.get_by_test_id("rollout-resume")
    )
    expect(panel.get_by_test_id("rollout-state")).to_have_text("paused", timeout=WAIT_MS)
    with site.http() as http:
        assert http.get(f"/api/v1/promotions/{promotion_id}").json()["state"] == "paused"
    dashboard.shot("paused")

    dashboard.click_maybe_confirming(
        panel.get_by_test_id("rollout-resume"), panel.get_by_test_id("rollout-pause")
    )
    expect(panel.get_by_test_id("rollout-state")).to_have_text("canary", timeout=WAIT_MS)
    with site.http() as http:
        assert http.get(f"/api/v1/promotions/{promotion_id}").json()["state"] == "canary"
