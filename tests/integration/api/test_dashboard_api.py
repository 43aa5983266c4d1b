"""The dashboard's JSON reads in process: who am I, the fleet overview, the filtered series
list, and a version's plot data with recent history points."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.integration.api.auth_fixtures import Keys, bearer

from seriesguard.api.app import create_app
from seriesguard.core.monitoring import REFERENCE_BINS, DriftFinding, DriftRun, StatsRow, hour_of
from seriesguard.runtime import Runtime, build_runtime
from seriesguard.settings import Settings

pytestmark = pytest.mark.integration

MINUTE = 60.0


def settings_for(home: Path, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> Settings:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    return Settings(
        home=home,
        mlflow_tracking_uri="memory://",
        min_training_points=100,
        training_min_interval_seconds=0,
        **overrides,
    )


@pytest.fixture()
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    with TestClient(create_app(build_runtime(settings_for(tmp_path, monkeypatch)))) as client:
        yield client


def runtime_of(api: TestClient) -> Runtime:
    runtime: Runtime = api.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def train(api: TestClient, series: str, *, timestamps: list[float] | None = None) -> str:
    """Train ``series`` on 200 points around 10 (one spike); the version once completed."""
    values = np.random.default_rng(5).normal(10, 1, 200)
    values[150] = 60.0
    body = {"timestamps": timestamps or list(range(200)), "values": values.tolist()}
    job = api.post(f"/api/v1/training/{series}", json=body)
    assert job.status_code == 202, job.text
    for _ in range(400):
        state = api.get(job.headers["location"]).json()
        if state["status"] in {"completed", "failed"}:
            assert state["status"] == "completed", state
            return str(state["model_version"])
        time.sleep(0.01)
    raise AssertionError(f"{series} did not train")


def promote(api: TestClient, series: str, version: str, body: dict[str, Any]) -> Any:
    answer = api.post(f"/api/v1/models/{series}/versions/{version}/promote", json=body)
    assert answer.status_code in {200, 202}, answer.text
    return answer.json()


# -- /me ---------------------------------------------------------------------------------


def test_me_without_auth_is_the_local_operator(api: TestClient) -> None:
    me = api.get("/api/v1/me").json()
    assert me["subject"] == "local" and me["roles"] == ["admin"]
    assert (me["authenticated"], me["auth_enabled"]) == (False, False)
    assert me["permissions"] == sorted(me["permissions"])
    assert {"read", "read_data", "promote", "rollback", "admin"} <= set(me["permissions"])
    assert "public" not in me["permissions"]


def test_me_with_auth_on(secured: TestClient, keys: Keys) -> None:
    anonymous = secured.get("/api/v1/me")
    assert anonymous.status_code == 200
    assert anonymous.json() == {
        "subject": None,
        "roles": [],
        "permissions": [],
        "authenticated": False,
        "auth_enabled": True,
    }
    viewer = secured.get("/api/v1/me", headers=bearer(keys.token("vic", "viewer"))).json()
    assert viewer == {
        "subject": "vic",
        "roles": ["viewer"],
        "permissions": ["predict", "read"],
        "authenticated": True,
        "auth_enabled": True,
    }
    bad = secured.get("/api/v1/me", headers=bearer("not-a-token"))
    assert bad.status_code == 401
    # what the viewer may open of the rest
    fleet = secured.get("/api/v1/fleet", headers=bearer(keys.token("vic", "viewer")))
    assert fleet.status_code == 200
    assert secured.get("/api/v1/fleet").status_code == 401
    plot = secured.get("/api/v1/models/s1/plot-data", headers=bearer(keys.token("vic", "viewer")))
    assert plot.status_code == 403


# -- /fleet and the series list ----------------------------------------------------------


def fleet_setup(api: TestClient) -> dict[str, str]:
    """pump-1: Production v1 + canary v2 (running); pump-2: Production v1, v2 rolled back
    (Archived); fan-1: Staging v1 only. Returns the promotion ids."""
    for series in ("pump-1", "pump-2"):
        promote(api, series, train(api, series), {})
    train(api, "fan-1")
    canary = promote(
        api,
        "pump-1",
        train(api, "pump-1"),
        {"strategy": "canary", "canary_config": {"initial_percentage": 10}},
    )
    ended = promote(api, "pump-2", train(api, "pump-2"), {"strategy": "shadow"})
    rolled = api.post(f"/api/v1/promotions/{ended['promotion_id']}/rollback", json={})
    assert rolled.json()["state"] == "rolled_back", rolled.text
    return {"canary": canary["promotion_id"], "rolled_back": ended["promotion_id"]}


def add_predictions_and_a_drift_run(runtime: Runtime) -> None:
    hour = hour_of(time.time())
    bins = (0,) * REFERENCE_BINS
    runtime.monitoring_parts.retention.stats.upsert(
        [
            StatsRow("pump-1", 1, hour, "pod-a", 100, 0, 4, {}, bins),
            StatsRow("pump-2", 1, hour - 1, "pod-a", 60, 10, 1, {}, bins),
            StatsRow("pump-2", 1, hour - 48, "pod-a", 500, 0, 500, {}, bins),  # out of 24h
        ]
    )
    runs = runtime.drift_runs
    runs.start(DriftRun("run-1", time.time() - 60, None, 86_400, 0, 0, 0, 0, "running", "test"))
    runs.add_findings(
        run_id="run-1",
        findings=[DriftFinding("pump-2", 1, "data", 0.5, 0.2, 600, {"psi": 0.5})],
    )
    runs.finish(
        run_id="run-1",
        finished_at=time.time(),
        series_checked=2,
        data_drifted=1,
        concept_drifted=0,
        insufficient=0,
        status="succeeded",
    )


def test_the_fleet_in_one_document(api: TestClient) -> None:
    ids = fleet_setup(api)
    add_predictions_and_a_drift_run(runtime_of(api))
    fleet = api.get("/api/v1/fleet?window=24h")
    assert fleet.status_code == 200, fleet.text
    body = fleet.json()
    assert body["series"] == {
        "total": 3,
        "production": 2,
        "staging": 2,  # fan-1, and pump-1 whose canary v2 is still Staging
        "canary": 1,
        "shadow": 0,
        "without_production": 1,
    }
    assert body["versions_by_stage"] == {
        "Production": 2,
        "Staging": 2,
        "Archived": 1,  # pump-2's rolled back v2
        "None": 0,
    }
    assert body["jobs"] == {
        "queued": 0,
        "processing": 0,
        "completed": 5,
        "failed": 0,
        "cancelled": 0,
    }
    assert body["queue"]["ready_messages"] == 0 and body["queue"]["broker_error"] is None
    assert body["anomaly_rate"] == {
        "window": "24h",
        "predictions": 150,
        "anomalies": 5,
        "rate": pytest.approx(5 / 150),
    }
    assert body["rollouts_total"] == 1
    (rollout,) = body["rollouts"]
    assert (rollout["promotion_id"], rollout["state"]) == (ids["canary"], "canary")
    assert rollout["progress"] == pytest.approx(0.1)
    (rollback,) = body["rollbacks"]
    assert (rollback["promotion_id"], rollback["state"]) == (ids["rolled_back"], "rolled_back")
    assert rollback["progress"] == 0.0
    drift = body["drift"]
    assert drift["last_run"]["id"] == "run-1" and drift["alerts_total"] == 1
    (alert,) = drift["alerts"]
    assert {k: alert[k] for k in ("series_id", "version", "kind", "run_id")} == {
        "series_id": "pump-2",
        "version": "v1",
        "kind": "data",
        "run_id": "run-1",
    }
    assert alert["checked_at"].endswith("+00:00")
    assert api.get("/api/v1/fleet?window=2x").json()["error"]["details"][0]["loc"] == [
        "query",
        "window",
    ]


def test_the_whole_table_figures_come_from_a_snapshot_and_the_rest_is_live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a max age of an hour, counts stay as first taken (and say when), while the
    rollouts in progress are read on every request."""
    settings = settings_for(tmp_path, monkeypatch, fleet_overview_max_age_seconds=3600)
    with TestClient(create_app(build_runtime(settings))) as api:
        promote(api, "pump-1", train(api, "pump-1"), {})
        first = api.get("/api/v1/fleet").json()
        promote(
            api,
            "pump-1",
            train(api, "pump-1"),
            {"strategy": "canary", "canary_config": {"initial_percentage": 10}},
        )
        train(api, "fan-1")
        second = api.get("/api/v1/fleet").json()
    assert first["series"]["total"] == second["series"]["total"] == 1
    assert second["aggregates_as_of"] == first["aggregates_as_of"]
    assert second["generated_at"] >= first["generated_at"]
    assert (first["rollouts_total"], second["rollouts_total"]) == (0, 1)


def test_series_list_filters_by_stage_and_substring(api: TestClient) -> None:
    fleet_setup(api)

    def listed(query: str) -> tuple[list[str], int]:
        answer = api.get(f"/api/v1/models?{query}")
        assert answer.status_code == 200, answer.text
        return [s["series_id"] for s in answer.json()["items"]], answer.json()["total"]

    assert listed("stage=production") == (["pump-1", "pump-2"], 2)
    assert listed("stage=canary") == (["pump-1"], 1)
    assert listed("stage=none") == (["fan-1"], 1)
    assert listed("contains=mp-") == (["pump-1", "pump-2"], 2)
    assert listed("contains=2&stage=production") == (["pump-2"], 1)
    assert listed("contains=%25") == ([], 0)  # a literal %, which no id holds
    item = api.get("/api/v1/models?stage=canary").json()["items"][0]
    assert (item["canary_version"], item["shadow_version"]) == ("v2", None)
    detail = api.get("/api/v1/models/pump-1").json()
    assert (detail["canary_version"], detail["canary_percentage"]) == ("v2", 10.0)
    bad = api.get("/api/v1/models?stage=gold")
    assert bad.status_code == 422
    (error,) = bad.json()["error"]["details"]
    assert error["loc"] == ["query", "stage"] and error["type"]


# -- plot data ---------------------------------------------------------------------------


def test_plot_data_of_a_trained_version_with_recent_points(api: TestClient) -> None:
    end = time.time() - 3600.0
    timestamps = [end - MINUTE * (199 - i) for i in range(200)]
    version = train(api, "s1", timestamps=timestamps)
    recent = [end + MINUTE * (i + 1) for i in range(30)]
    values = [10.0] * 30
    values[20] = 1000.0
    sent = api.post(
        "/api/v1/series/s1/data",
        json={"timestamps": [end - 30.5, *recent], "values": [5.0, *values]},
    )
    assert sent.status_code == 200, sent.text

    answer = api.get(f"/api/v1/models/s1/plot-data?version={version}&recent=25")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["series_id"], body["version"], body["algorithm"]) == ("s1", "v1", "residual")
    assert body["threshold"] > 0
    training = body["training"]
    assert training["points"] == training["shown"] == 200
    assert training["timestamps"] == pytest.approx(timestamps)
    assert 150 in training["flagged"]  # the spike
    band = body["band"]
    assert band["timestamps"][0] == pytest.approx(timestamps[0])
    assert all(lo < hi for lo, hi in zip(band["lower"], band["upper"], strict=True))
    points = body["recent"]
    # the newest 25 after the training window; the point inside the window is not there
    assert points["timestamps"] == pytest.approx(recent[-25:])
    assert points["values"] == values[-25:]
    assert points["anomaly"][15] is True  # values[20] = 1000
    assert len(points["scores"]) == len(points["lower"]) == len(points["upper"]) == 25
    assert body["notes"] == []

    default = api.get("/api/v1/models/s1/plot-data").json()  # no Production: the newest
    assert default["version"] == "v1" and len(default["recent"]["values"]) == 30


def test_plot_data_answers_what_is_missing(api: TestClient) -> None:
    version = train(api, "s2")
    runtime = runtime_of(api)
    (model,) = runtime.catalog.list_versions("s2")
    job = runtime.jobs.get(model.job_id or "")
    assert job is not None
    runtime.training.data.delete(job.data_path)  # the training data is gone
    body = api.get(f"/api/v1/models/s2/plot-data?version={version}").json()
    assert body["training"] is None
    assert body["recent"]["timestamps"] == [] and body["recent"]["anomaly"] == []
    assert any("not kept" in note for note in body["notes"])
    assert any("history" in note for note in body["notes"])


@pytest.mark.parametrize(
    ("url", "status", "rule", "loc"),
    [
        ("/api/v1/models/nobody/plot-data", 404, "series_not_found", ["path", "series_id"]),
        ("/api/v1/models/s3/plot-data?version=v9", 404, "version_not_found", ["query", "version"]),
        ("/api/v1/models/s3/plot-data?recent=5001", 422, None, ["query", "recent"]),
        ("/api/v1/models/bad$id/plot-data", 422, None, ["path", "series_id"]),
    ],
)
def test_plot_data_refusals_name_the_rule_and_place(
    api: TestClient, url: str, status: int, rule: str | None, loc: list[str]
) -> None:
    train(api, "s3")
    answer = api.get(url)
    assert answer.status_code == status, answer.text
    (error,) = answer.json()["error"]["details"]
    assert error["loc"] == loc
    if rule is not None:
        assert error["type"] == rule
