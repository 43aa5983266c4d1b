"""Seed flows 1, 2 and 4 over HTTP against the all-in-one server, real MLflow (SQLite), real
data: NAB's machine_temperature_system_failure. Then the same version read through MLflow."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from tests.conftest import fluent_mlflow_at, nab_series, nab_windows
from tests.e2e.harness import wait_job

pytestmark = pytest.mark.e2e
NAB_FILE = "realKnownCause/machine_temperature_system_failure"
SERIES = "machine_temperature"


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_train_promote_predict_and_read_back_through_mlflow(make_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    timestamps, values = nab_series(NAB_FILE)
    server = make_server()
    with server.client() as http:
        answer = http.post(
            f"/api/v1/training/{SERIES}",
            json={
                "timestamps": timestamps[:10_000],
                "values": values[:10_000].tolist(),
                "config": {"algorithm": "statistical", "hyperparameters": {"threshold_sigma": 3.0}},
            },
        )
        assert answer.status_code == 202, answer.text
        job = answer.json()
        assert job["status"] == "queued"
        assert answer.headers["location"] == f"/api/v1/training/jobs/{job['job_id']}"

        done = wait_job(http, job["job_id"])
        assert done["status"] == "completed", done
        assert done["model_version"] == "v1" and done["mlflow_run_id"]

        model = http.get(f"/api/v1/models/{SERIES}").json()
        assert [(v["version"], v["stage"]) for v in model["versions"]] == [("v1", "Staging")]
        assert model["versions"][0]["metrics"]["training_points"] == 10_000

        promoted = http.post(
            f"/api/v1/models/{SERIES}/versions/v1/promote",
            json={"strategy": "direct", "archive_existing": True},
        )
        assert promoted.status_code == 200, promoted.text
        assert promoted.json() == {
            "version": "v1",
            "stage": "Production",
            "previous_version": None,
            "archived": False,
        }

        rest_ts, rest_values = timestamps[10_000:], values[10_000:]
        batch = http.post(
            "/api/v1/predict/batch",
            json={
                "series": [
                    {"series_id": SERIES, "timestamps": rest_ts, "values": rest_values.tolist()}
                ]
            },
        )
        assert batch.status_code == 200, batch.text
        result = batch.json()["results"][0]
        assert result["model_info"]["version"] == "v1" and result["confidence"] == "high"
        flagged = np.asarray(result["anomalies"])
        assert flagged.size == len(rest_ts)

        instants = np.asarray([epoch(t) for t in rest_ts])
        windows = [(epoch(a), epoch(b)) for a, b in nab_windows(NAB_FILE)]
        inside = [w for w in windows if w[0] >= instants[0]]
        assert inside, "the labelled windows after the training range must exist"
        hits = [int(flagged[(instants >= a) & (instants <= b)].sum()) for a, b in inside]
        assert sum(hits) > 0, f"no flagged point in any labelled failure window: {hits}"

        single = http.post(
            f"/api/v1/predict/{SERIES}",
            json={"timestamp": rest_ts[0], "value": float(rest_values[0])},
        )
        assert single.status_code == 200
        body = single.json()
        assert body["model_info"] == {
            "version": "v1",
            "stage": "production",
            "type": "mlflow_trained",
            "loaded_from": "memory",
        }
        assert body["anomaly_score"] == pytest.approx(result["anomaly_scores"][0])

        plot = http.get("/api/v1/plot", params={"series_id": SERIES, "format": "png"})
        assert plot.status_code == 200 and plot.content[:8] == b"\x89PNG\r\n\x1a\n"
        config = http.get(f"/api/v1/models/{SERIES}/deployment-config").json()
        assert config["production"]["version"] == "v1"
        assert config["serving"]["model_uri"] == f"models:/anomaly-detector-{SERIES}@production"

    server.stop()
    _read_back_through_mlflow(server.home, rest_ts, rest_values, result["anomaly_scores"])


def _read_back_through_mlflow(home, rest_ts, rest_values, served_scores) -> None:  # type: ignore[no-untyped-def]
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient

    uri = f"sqlite:///{home.resolve() / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias(f"anomaly-detector-{SERIES}", "production")
    assert int(version.version) == 1
    assert version.tags["stage"] == "production"
    with fluent_mlflow_at(uri):
        model = mlflow.pyfunc.load_model(f"models:/anomaly-detector-{SERIES}@production")
    frame = pd.DataFrame({"timestamp": [epoch(t) for t in rest_ts], "value": rest_values})
    scored = model.predict(frame)
    np.testing.assert_allclose(
        scored["anomaly_score"].to_numpy(), np.asarray(served_scores), rtol=1e-12
    )
