"""#/jobs: filters by status and series, and a queued training job cancelled from the page.

The job that stays queued is a real one: after the seed, the server is started again on the
same home with no worker thread (SERIESGUARD_WORKER_CONCURRENCY=0), so what it is given to
train waits in its queue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Site, new_home, start_seeded
from tests.browser.dashboard import WAIT_MS, Dashboard
from tests.browser.seed import CPU, MACHINE, SERVER_ENV
from tests.e2e.harness import Server

pytestmark = pytest.mark.browser
SEEDED_JOBS = 6  # every one completed


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, mlflow_schema: Path) -> Iterator[Site]:
    seeded = start_seeded(new_home(tmp_path_factory, mlflow_schema, "jobs"))
    seeded.server.stop()
    idle = Server(
        home=seeded.server.home,
        env={**SERVER_ENV, "SERIESGUARD_WORKER_CONCURRENCY": "0"},
        name="no-worker",
    ).start()
    yield Site(idle, seeded.seeded)
    idle.kill()


@pytest.fixture(scope="module")
def queued_job(site: Site) -> str:
    points = site.seeded.points[CPU.series_id]
    with site.http() as http:
        answer = http.post(
            f"/api/v1/training/{CPU.series_id}",
            json={
                "timestamps": points.timestamps[: CPU.trained].tolist(),
                "values": points.values[: CPU.trained].tolist(),
            },
        )
        assert answer.status_code == 202, answer.text
        job_id = str(answer.json()["job_id"])
        assert http.get(f"/api/v1/training/jobs/{job_id}").json()["status"] == "queued"
    return job_id


def listed(site: Site, **params: str) -> list[str]:
    with site.http() as http:
        page = http.get("/api/v1/training/jobs", params={"limit": 100, **params}).json()
    return [job["job_id"] for job in page["items"]]


def test_the_filters_list_only_the_jobs_of_a_status_or_a_series(
    dashboard: Dashboard, site: Site, queued_job: str
) -> None:
    dashboard.open("jobs")
    rows = dashboard.tid("job-row")
    expect(rows).to_have_count(SEEDED_JOBS + 1)
    assert dashboard.ids("job-row", "data-job-id") == listed(site)
    queued = dashboard.row("job-row", job_id=queued_job)
    expect(queued.get_by_test_id("job-status")).to_have_text("queued")
    expect(queued.get_by_test_id("job-cancel")).to_be_visible()
    dashboard.shot("all")

    dashboard.tid("jobs-status-filter").select_option("completed")
    expect(rows).to_have_count(SEEDED_JOBS, timeout=WAIT_MS)
    dashboard.wait_ready()
    assert set(dashboard.ids("job-row", "data-status")) == {"completed"}
    assert dashboard.ids("job-row", "data-job-id") == listed(site, status="completed")
    expect(dashboard.tid("job-cancel")).to_have_count(0)
    assert "status=completed" in dashboard.page.url
    dashboard.shot("completed")

    dashboard.tid("jobs-status-filter").select_option("queued")
    expect(rows).to_have_count(1, timeout=WAIT_MS)
    assert dashboard.ids("job-row", "data-job-id") == [queued_job]

    dashboard.tid("jobs-status-filter").select_option("")
    dashboard.tid("jobs-series-filter").fill(MACHINE.series_id)
    expect(rows).to_have_count(2, timeout=WAIT_MS)  # v1 and v2
    assert dashboard.ids("job-row", "data-job-id") == listed(site, series_id=MACHINE.series_id)
    dashboard.shot("series")


def test_cancelling_the_queued_job(dashboard: Dashboard, site: Site, queued_job: str) -> None:
    dashboard.open("jobs")
    row = dashboard.row("job-row", job_id=queued_job)
    expect(row.get_by_test_id("job-status")).to_have_text("queued")
    row.get_by_test_id("job-cancel").click()
    expect(dashboard.tid("confirm-dialog")).to_be_visible()
    dashboard.shot("confirm")
    dashboard.confirm()

    expect(row.get_by_test_id("job-status")).to_have_text("cancelled", timeout=WAIT_MS)
    expect(row).to_have_attribute("data-status", "cancelled")
    expect(row.get_by_test_id("job-cancel")).to_have_count(0)
    with site.http() as http:
        assert http.get(f"/api/v1/training/jobs/{queued_job}").json()["status"] == "cancelled"
    dashboard.shot("cancelled")
