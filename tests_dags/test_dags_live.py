"""Each DAG run end to end (``dag.test()``) against a live seriesguard API.

Outcomes are asserted on the server (the jobs it queued, the promotion's state), not only
on the Airflow run's state.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from seriesguard.client import SeriesguardClient
from tests_dags.live_api import LiveApi, jobs_of, send_recent_history, train_version, wave
from tests_dags.webhook import WebhookReceiver

pytestmark = pytest.mark.timeout(300)


def prepared(dagbag: Any, dag_id: str) -> Any:
    """The DAG with no retries (dag.test() would sleep through their delays on a failure)
    and a short poke interval (5 minutes in production)."""
    dag = dagbag.get_dag(dag_id)
    for task in dag.tasks:
        task.retries = 0
        if task.task_id == "wait_for_verdict":
            task.poke_interval = 0.5
    return dag


def new_jobs(client: SeriesguardClient, series_id: str, before: set[str]) -> list[dict[str, Any]]:
    return [job for job in jobs_of(client, series_id) if job["job_id"] not in before]


def job_ids(client: SeriesguardClient, series_id: str) -> set[str]:
    return {job["job_id"] for job in jobs_of(client, series_id)}


@pytest.fixture()
def slack() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    os.environ["AIRFLOW_VAR_SERIESGUARD_SLACK_WEBHOOK"] = receiver.url
    try:
        yield receiver
    finally:
        os.environ.pop("AIRFLOW_VAR_SERIESGUARD_SLACK_WEBHOOK", None)
        receiver.stop()


class Traffic:
    """Predictions for one series in a background thread, so a shadow has requests to score."""

    def __init__(self, client: SeriesguardClient, series_id: str) -> None:
        self._client, self._series_id = client, series_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.sent = 0

    def _run(self) -> None:
        values = wave(10_000, phase=0.5)
        start = int(time.time()) - 20_000
        while not self._stop.is_set() and self.sent < len(values):
            self._client.predict(
                self._series_id, timestamp=start + self.sent, value=values[self.sent]
            )
            self.sent += 1
            time.sleep(0.01)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def test_weekly_retraining_queues_a_job_per_series_with_history(
    dagbag: Any, live_api: LiveApi, fleet: dict[str, str]
) -> None:
    with_history, without = ["plant1_pump_radial", "plant1_pump_axial"], "plant2_fan"
    with live_api.client() as client:
        for series_id in with_history:
            send_recent_history(client, series_id, points=300)
        before = {s: job_ids(client, s) for s in fleet}

        run = prepared(dagbag, "weekly_model_retraining").test()

        assert run.state == "success"
        for series_id in with_history:
            (job,) = new_jobs(client, series_id, before[series_id])
            assert job["priority"] == 3
            assert job["algorithm"] == "residual"  # the Production version's (the default)
            done = client.wait_for_job(job["job_id"], timeout=120, poll_interval=0.2)
            assert done["status"] == "completed", done
            assert done["training_points"] >= 300
        # No history: the API refuses with insufficient_history, counted, not a failure.
        assert new_jobs(client, without, before[without]) == []
    summary = run.get_task_instance("summarize").xcom_pull(task_ids="summarize")
    assert summary["submitted"] == 2
    assert summary["skipped"] == {"insufficient_history": 1}


def test_drift_check_retrains_and_alerts_a_drifted_series(
    dagbag: Any, live_api: LiveApi, fleet: dict[str, str], slack: WebhookReceiver
) -> None:
    drifted, calm = "plant1_pump_axial", "plant1_pump_radial"
    with live_api.client() as client:
        send_recent_history(client, drifted, points=300)
        now = int(time.time())
        for i in range(60):  # far outside the training range: a shifted input distribution
            client.predict(drifted, timestamp=now + i, value=25.0 + (i % 5))
        wait_for(lambda: drift_of(client, drifted).get("data_drift_detected") is True)
        before = {s: job_ids(client, s) for s in (drifted, calm)}

        run = prepared(dagbag, "drift_detection").test()

        assert run.state == "success"
        (job,) = new_jobs(client, drifted, before[drifted])
        assert job["priority"] == 9
        assert new_jobs(client, calm, before[calm]) == []
    texts = [message["text"] for message in slack.received]
    assert any(drifted in text and "data drift" in text for text in texts), texts
    assert not any(calm in text for text in texts)


def test_shadow_pipeline_reaches_a_verdict_and_moves_on_to_canary(
    dagbag: Any, live_api: LiveApi, fleet: dict[str, str]
) -> None:
    series_id = "plant1_pump_radial"
    dag = prepared(dagbag, "shadow_deployment_pipeline")
    with live_api.client() as client:
        challenger = train_version(client, series_id, phase=0.0)
        with Traffic(client, series_id) as traffic:
            run = dag.test(
                run_conf={
                    "series_id": series_id,
                    "version": challenger,
                    "duration_hours": 0.001,
                    "verdict_grace_hours": 0.05,  # a broken verdict fails in 3 min, not 24 h
                    "canary_config": {"initial_percentage": 10},
                }
            )
        assert run.state == "success"
        assert traffic.sent > 0
        (promotion,) = client.promotions(series_id=series_id, limit=1)["items"]
        assert str(promotion["version"]).lstrip("v") == challenger.lstrip("v")
        assert promotion["state"] in {"canary", "completing", "completed"}
        client.rollback_promotion(promotion["promotion_id"], reason="test over")


def test_shadow_pipeline_fails_and_alerts_when_the_challenger_is_rejected(
    dagbag: Any, live_api: LiveApi, fleet: dict[str, str], slack: WebhookReceiver
) -> None:
    series_id = "plant2_fan"
    dag = prepared(dagbag, "shadow_deployment_pipeline")
    with live_api.client() as client:
        # A detector that calls nearly everything an anomaly disagrees with the champion.
        challenger = train_version(
            client,
            series_id,
            phase=2.0,
            algorithm="statistical",
            hyperparameters={"threshold_sigma": 0.05},
        )
        with Traffic(client, series_id):
            run = dag.test(
                run_conf={
                    "series_id": series_id,
                    "version": challenger,
                    "duration_hours": 0.001,
                    "verdict_grace_hours": 0.05,
                }
            )
        assert run.state == "failed"
        assert run.get_task_instance("analyze_verdict").state == "failed"
        (promotion,) = client.promotions(series_id=series_id, limit=1)["items"]
        assert promotion["state"] in {"rejecting", "rejected"}
        production = client.model(series_id)["production_version"]
        assert production == fleet[series_id]  # the champion keeps serving
    assert any(series_id in m["text"] and "[error]" in m["text"] for m in slack.received)


def drift_of(client: SeriesguardClient, series_id: str) -> dict[str, Any]:
    return dict(client.series_metrics(series_id, window="24h").get("drift_detection") or {})


def wait_for(predicate: Any, *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.3)
