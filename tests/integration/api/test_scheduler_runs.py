"""GET/POST /api/v1/scheduler/runs and /tasks in process: queue a run, 409 while it is busy,
422 naming the tasks, reads and pages, roles; and the leader's runner taking a queued run to
its end (a drift check of an empty fleet)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.integration.api.auth_fixtures import Keys, bearer

from seriesguard.api.app import create_app
from seriesguard.runtime import Runtime, build_runtime
from seriesguard.scheduler.jobs import cron_runner
from seriesguard.settings import Settings


@pytest.fixture()
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    settings = Settings(
        home=tmp_path, mlflow_tracking_uri="memory://", retrain_schedule="30 4 * * 1"
    )
    with TestClient(create_app(build_runtime(settings))) as client:
        yield client


def runtime_of(client: TestClient) -> Runtime:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def test_trigger_queues_a_run_once_and_the_leader_runs_it(app: TestClient) -> None:
    answer = app.post("/api/v1/scheduler/runs", json={"task": "drift_check"})
    assert answer.status_code == 202, answer.text
    run = answer.json()
    assert answer.headers["location"] == f"/api/v1/scheduler/runs/{run['id']}"
    assert (run["task"], run["status"], run["triggered_by"]) == ("drift_check", "queued", "local")
    assert run["scheduled_for"] is None and run["finished_at"] is None

    again = app.post("/api/v1/scheduler/runs", json={"task": "drift_check"})
    assert again.status_code == 409
    assert again.json()["error"]["details"][0]["type"] == "run_in_progress"

    # This app runs no scheduler: the run waits, queued, for a leader's next tick.
    assert app.get(f"/api/v1/scheduler/runs/{run['id']}").json()["status"] == "queued"
    cron_runner(runtime_of(app)).tick()
    done = app.get(f"/api/v1/scheduler/runs/{run['id']}").json()
    assert done["status"] == "succeeded", done
    assert done["progress"]["checked"] == 0 and done["progress"]["drifted"] == 0
    drift_run = app.get(f"/api/v1/drift/runs/{done['progress']['drift_run_id']}")
    assert drift_run.status_code == 200  # the fleet check's own record
    assert drift_run.json()["run"]["triggered_by"] == f"scheduler run {run['id']}"
    assert app.post("/api/v1/scheduler/runs", json={"task": "drift_check"}).status_code == 202


def test_a_weekly_retraining_of_an_empty_fleet_succeeds(app: TestClient) -> None:
    run = app.post("/api/v1/scheduler/runs", json={"task": "weekly_retraining"}).json()
    cron_runner(runtime_of(app)).tick()
    done = app.get(f"/api/v1/scheduler/runs/{run['id']}").json()
    assert done["status"] == "succeeded"
    assert done["progress"]["total"] == 0 and done["progress"]["submitted"] == 0


@pytest.mark.parametrize(
    ("body", "rule", "words"),
    [
        ({"task": "reindex"}, "unknown_task", "weekly_retraining, drift_check"),
        ({}, "missing", "Field required"),
        ({"task": "drift_check", "extra": 1}, "extra_forbidden", "Extra inputs"),
    ],
)
def test_bad_trigger_bodies_are_422(app: TestClient, body: object, rule: str, words: str) -> None:
    answer = app.post("/api/v1/scheduler/runs", json=body)
    assert answer.status_code == 422
    detail = answer.json()["error"]["details"][0]
    assert detail["type"] == rule and words in detail["msg"]


def test_list_filters_and_pages(app: TestClient) -> None:
    app.post("/api/v1/scheduler/runs", json={"task": "drift_check"})
    app.post("/api/v1/scheduler/runs", json={"task": "weekly_retraining"})
    page = app.get("/api/v1/scheduler/runs", params={"limit": 1}).json()
    assert page["total"] == 2 and len(page["runs"]) == 1
    assert page["runs"][0]["task"] == "weekly_retraining"  # newest first
    drift = app.get("/api/v1/scheduler/runs", params={"task": "drift_check"}).json()
    assert [r["task"] for r in drift["runs"]] == ["drift_check"]
    none = app.get("/api/v1/scheduler/runs", params={"status": "failed"}).json()
    assert none == {"runs": [], "total": 0, "limit": 50, "offset": 0}
    assert app.get("/api/v1/scheduler/runs", params={"status": "lost"}).status_code == 422
    assert app.get("/api/v1/scheduler/runs", params={"limit": 0}).status_code == 422
    missing = app.get("/api/v1/scheduler/runs/no-such-run")
    assert missing.status_code == 404
    assert missing.json()["error"]["details"][0]["type"] == "run_not_found"
    assert app.get("/api/v1/scheduler/runs/a%00b").status_code == 404  # never sent to the DB
    assert app.get("/api/v1/scheduler/runs", params={"task": "a\x00b"}).status_code == 422


def test_tasks_show_schedule_next_fire_and_last_run(app: TestClient) -> None:
    tasks = {t["name"]: t for t in app.get("/api/v1/scheduler/tasks").json()["tasks"]}
    assert set(tasks) == {"weekly_retraining", "drift_check"}
    weekly = tasks["weekly_retraining"]
    assert weekly["schedule"] == "30 4 * * 1" and weekly["last_run"] is None
    assert weekly["next_fire"].endswith("04:30:00+00:00")
    assert tasks["drift_check"]["schedule"] == "0 */6 * * *"
    app.post("/api/v1/scheduler/runs", json={"task": "drift_check"})
    tasks = {t["name"]: t for t in app.get("/api/v1/scheduler/tasks").json()["tasks"]}
    assert tasks["drift_check"]["last_run"]["status"] == "queued"


def test_readers_read_and_only_admins_trigger(secured: TestClient, keys: Keys) -> None:
    viewer = bearer(keys.token("vera", "viewer"))
    engineer = bearer(keys.token("eng", "ml_engineer"))
    admin = bearer(keys.token("ada", "admin"))
    assert secured.get("/api/v1/scheduler/runs", headers=viewer).status_code == 200
    body = {"task": "weekly_retraining"}
    refused = secured.post("/api/v1/scheduler/runs", json=body, headers=engineer)
    assert refused.status_code == 403
    accepted = secured.post("/api/v1/scheduler/runs", json=body, headers=admin)
    assert accepted.status_code == 202 and accepted.json()["triggered_by"] == "ada"
