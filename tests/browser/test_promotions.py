"""#/promotions: the history of canary promotions with their states and reasons, the
"active only" filter, and a row expanded into its transitions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Site, new_home, start_seeded
from tests.browser.dashboard import WAIT_MS, Dashboard
from tests.browser.seed import AMBIENT, MACHINE

pytestmark = pytest.mark.browser
ROLLBACK_REASON = "alarms from the canary during the plant test"
PAUSE_REASON = "waiting for the maintenance window"


def start_canary(http: httpx.Client, series_id: str, percentage: int) -> str:
    answer = http.post(
        f"/api/v1/models/{series_id}/versions/v2/promote",
        json={
            "strategy": "canary",
            "canary_config": {"initial_percentage": percentage, "increment_interval_hours": 1},
        },
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["promotion_id"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, mlflow_schema: Path) -> Iterator[Site]:
    """Two canaries: ambient-temp's rolled back by an operator, machine-temp's paused."""
    started = start_seeded(new_home(tmp_path_factory, mlflow_schema, "promotions"))
    with started.http() as http:
        rolled = start_canary(http, AMBIENT.series_id, 10)
        answer = http.post(
            f"/api/v1/promotions/{rolled}/rollback", json={"reason": ROLLBACK_REASON}
        )
        assert answer.status_code == 200, answer.text
        paused = start_canary(http, MACHINE.series_id, 20)
        answer = http.post(f"/api/v1/promotions/{paused}/pause", json={"reason": PAUSE_REASON})
        assert answer.status_code == 200, answer.text
    yield started
    started.server.kill()


def promotions(site: Site, **params: str) -> list[dict[str, Any]]:
    with site.http() as http:
        items: list[dict[str, Any]] = http.get("/api/v1/promotions", params=params).json()["items"]
    return items


def test_the_history_lists_each_promotion_with_its_state_and_reason(
    dashboard: Dashboard, site: Site
) -> None:
    made = promotions(site)
    assert [(p["series_id"], p["state"]) for p in made] == [
        (MACHINE.series_id, "paused"),
        (AMBIENT.series_id, "rolled_back"),
    ]
    assert ROLLBACK_REASON in (made[1]["reason"] or "")
    dashboard.open("promotions")
    rows = dashboard.tid("promotion-row")
    expect(rows).to_have_count(2)
    assert dashboard.ids("promotion-row", "data-promotion-id") == [p["promotion_id"] for p in made]
    for promotion in made:
        row = dashboard.row("promotion-row", promotion_id=promotion["promotion_id"])
        expect(row.get_by_test_id("promotion-state")).to_have_text(promotion["state"])
        expect(row.get_by_test_id("promotion-reason")).to_have_text(promotion["reason"] or "—")
        shown = row.get_by_test_id("promotion-progress").get_attribute("data-value")
        assert float(shown or "nan") == pytest.approx(promotion["progress"])
    dashboard.shot("all")

    dashboard.tid("promotions-active-filter").check()
    expect(rows).to_have_count(1, timeout=WAIT_MS)
    dashboard.wait_ready()
    active = promotions(site, active="true")
    assert dashboard.ids("promotion-row", "data-promotion-id") == [
        p["promotion_id"] for p in active
    ]
    assert active[0]["state"] == "paused"
    dashboard.shot("active")

    dashboard.tid("promotions-active-filter").uncheck()
    expect(rows).to_have_count(2, timeout=WAIT_MS)


def test_a_row_expands_into_its_transitions_and_their_reasons(
    dashboard: Dashboard, site: Site
) -> None:
    (rolled,) = [p for p in promotions(site) if p["state"] == "rolled_back"]
    with site.http() as http:
        events = http.get(f"/api/v1/promotions/{rolled['promotion_id']}").json()["events"]
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "rolled_back", kinds

    dashboard.open("promotions")
    row = dashboard.row("promotion-row", promotion_id=rolled["promotion_id"])
    expect(dashboard.tid("promotion-events")).to_have_count(0)
    row.get_by_test_id("promotion-state").click()
    table = dashboard.tid("promotion-events")
    expect(table).to_be_visible(timeout=WAIT_MS)
    expect(table.locator("tbody tr")).to_have_count(len(events))
    for kind in kinds:
        expect(table).to_contain_text(kind)
    expect(table).to_contain_text(ROLLBACK_REASON)
    dashboard.shot("expanded")

    row.get_by_test_id("promotion-state").click()
    expect(dashboard.tid("promotion-events")).to_have_count(0, timeout=WAIT_MS)
