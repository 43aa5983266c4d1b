"""The scheduler's jobs against the real all-in-one server (``seriesguard serve``, which runs
the scheduler too): the weekly retraining of 100 production series from the history store,
and the drift reaction retraining a drifted series and alerting a webhook.

Both tasks are triggered through the API (their cron schedules are off here): the same run,
the same code path, as a fire at Sunday 02:00.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from seriesguard.cli import app
from seriesguard.client import SeriesguardClient
from tests.e2e.harness import wait_job
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e
SERIES = [f"fleet-{i:03d}" for i in range(100)]
POINTS = 240  # one a minute over the last 4 hours
WEEK = 168 * 3600


def send_history(http: httpx.Client, series: str, *, seed: int, now: float) -> None:
    timestamps = (now - 60.0 * np.arange(POINTS, 0, -1)).tolist()
    values = np.random.default_rng(seed).normal(10.0, 1.0, POINTS).tolist()
    answer = http.post(
        f"/api/v1/series/{series}/data", json={"timestamps": timestamps, "values": values}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == POINTS


def train_from_history(http: httpx.Client, series: str) -> str:
    answer = http.post(
        f"/api/v1/training/{series}",
        json={"config": {"window_hours": 168, "algorithm": "statistical"}},
    )
    assert answer.status_code == 202, answer.text
    job_id: str = answer.json()["job_id"]
    return job_id


def wait_run(http: httpx.Client, run_id: str, *, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = http.get(f"/api/v1/scheduler/runs/{run_id}").json()
        if run["status"] in ("succeeded", "failed", "skipped"):
            return run
        time.sleep(0.2)
    raise TimeoutError(f"scheduler run {run_id} not finished after {timeout} s")


def jobs_of(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    page = http.get("/api/v1/training/jobs", params={"limit": 1000, **params}).json()
    items: list[dict[str, Any]] = page["items"]
    return items


def wait_all_finished(http: httpx.Client, *, expected: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        completed = len(jobs_of(http, status="completed"))
        if completed >= expected:
            return
        assert not jobs_of(http, status="failed"), jobs_of(http, status="failed")[0]
        time.sleep(0.5)
    raise TimeoutError(f"fewer than {expected} jobs completed after {timeout} s")


def test_weekly_retraining_from_history_and_the_drift_reaction(make_server) -> None:  # type: ignore[no-untyped-def]
    with WebhookReceiver() as receiver:
        server = make_server(
            SERIESGUARD_MIN_TRAINING_POINTS="100",
            SERIESGUARD_RETRAIN_SCHEDULE="",
            SERIESGUARD_DRIFT_SCHEDULE="",
            SERIESGUARD_RETRAIN_RATE_PER_SECOND="500",
            SERIESGUARD_STATS_FLUSH_SECONDS="0.5",
            SERIESGUARD_HISTORY_FLUSH_SECONDS="0.5",
            SERIESGUARD_DRIFT_MIN_SAMPLES="20",
            SERIESGUARD_DRIFT_WINDOW_HOURS="1",
            SERIESGUARD_ALERT_WEBHOOK_URL=receiver.url,
            SERIESGUARD_ALERT_RETRIES="0",
        )
        with server.client() as http:
            now = time.time()
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda i: send_history(http, SERIES[i], seed=i, now=now), range(100)))
                first = list(pool.map(lambda s: train_from_history(http, s), SERIES))
            wait_all_finished(http, expected=100)
            with ThreadPoolExecutor(4) as pool:
                promoted = list(
                    pool.map(
                        lambda s: http.post(f"/api/v1/models/{s}/versions/v1/promote", json={}),
                        SERIES,
                    )
                )
            assert all(p.status_code == 200 for p in promoted), promoted[0].text

            weekly = http.post("/api/v1/scheduler/runs", json={"task": "weekly_retraining"})
            assert weekly.status_code == 202, weekly.text
            run = wait_run(http, weekly.json()["id"])
            assert run["status"] == "succeeded", run
            progress = run["progress"]
            assert (progress["total"], progress["submitted"], progress["remaining"]) == (
                100,
                100,
                0,
            )
            assert progress["failed"] == progress["skipped_no_history"] == 0
            wait_all_finished(http, expected=200)

            scheduled = [j for j in jobs_of(http) if j["job_id"] not in set(first)]
            assert len(scheduled) == 100
            assert {j["series_id"] for j in scheduled} == set(SERIES)
            assert {(j["priority"], j["submitted_by"]) for j in scheduled} == {(3, "scheduler")}
            for series in SERIES:  # a new version each, in Staging, trained on the history
                versions = {
                    v["version"]: v for v in http.get(f"/api/v1/models/{series}").json()["versions"]
                }
                assert {k: v["stage"] for k, v in versions.items()} == {
                    "v1": "Production",
                    "v2": "Staging",
                }
                metrics = versions["v2"]["metrics"]
                assert now - WEEK <= metrics["window_start"] < metrics["window_end"] <= time.time()
                assert metrics["training_points"] >= POINTS

            # Drift: SERIES[0] now sees values far from what v1 was trained on.
            drifted = SERIES[0]
            for k in range(40):
                answer = http.post(
                    f"/api/v1/predict/{drifted}", json={"timestamp": now + k, "value": 60.0}
                )
                assert answer.status_code == 200 and answer.json()["anomaly"] is True
            time.sleep(1.5)  # the predictor's counts reach the DB (flushed every 0.5 s)
            with SeriesguardClient(server.url) as client:  # the client's way, this time
                queued = client.trigger_scheduler_run("drift_check")
                assert queued["status"] == "queued" and queued["triggered_by"] == "local"
                run = client.wait_for_scheduler_run(queued["id"], timeout=60, poll=0.2)
            assert run["status"] == "succeeded", run
            assert run["progress"]["drifted"] == 1 and run["progress"]["retrained"] == 1, run
            assert run["progress"]["alerts"] == 1

            alert = receiver.wait_for(
                lambda body: body["seriesguard"]["kind"] == "drift_detected", timeout=15
            )["seriesguard"]
            assert alert["series_id"] == drifted and alert["dedup_key"] == f"drift:{drifted}"
            assert alert["severity"] == "warning"
            urgent = [j for j in jobs_of(http, series_id=drifted) if j["priority"] == 9]
            assert len(urgent) == 1
            assert wait_job(http, urgent[0]["job_id"])["status"] == "completed"
            versions = http.get(f"/api/v1/models/{drifted}").json()["versions"]
            assert {v["version"] for v in versions} == {"v1", "v2", "v3"}

            listed = CliRunner().invoke(app, ["runs", "list", "--json", "--url", server.url])
            assert listed.exit_code == 0, listed.output
            page = json.loads(listed.output)
            assert page["total"] == 2
            assert [r["task"] for r in page["runs"]] == ["drift_check", "weekly_retraining"]
            shown = CliRunner().invoke(app, ["runs", "show", run["id"], "--url", server.url])
            assert shown.exit_code == 0 and "drift_check" in shown.output
