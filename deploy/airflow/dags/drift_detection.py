"""Drift check of every series with a Production model (seed: every 6 hours).

get_active_series -> chunk_series -> check_batch (mapped) -> report. For each series the
platform's own verdicts are read (``GET /models/{id}/metrics?window=24h``): data drift
queues an urgent retraining on the last ``window_hours`` and alerts; concept drift alerts
only, since retraining on the drifted window would teach the model the new behaviour.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from seriesguard_common import (
    active_series,
    api_client,
    chunk,
    production_algorithm,
    send_alert,
    skip_reason,
    xcom_list,
)

from seriesguard.client import SeriesguardClient, SeriesguardError

log = logging.getLogger(__name__)
# Per-series alerts one run sends at most; beyond, one summary alert lists the count.
MAX_SERIES_ALERTS = 50


def check_series(
    client: SeriesguardClient, series_id: str, *, window: str, window_hours: int, priority: int
) -> dict[str, Any]:
    """One series' drift verdicts, and the retraining a data drift triggers."""
    drift = client.series_metrics(series_id, window=window).get("drift_detection") or {}
    finding: dict[str, Any] = {
        "series_id": series_id,
        "data_drift": bool(drift.get("data_drift_detected")),
        "concept_drift": bool(drift.get("concept_drift_detected")),
    }
    if finding["data_drift"]:
        try:
            algorithm = production_algorithm(client, series_id)  # None: the server's default
            job = client.train(
                series_id, window_hours=window_hours, priority=priority, algorithm=algorithm
            )
            finding["job_id"] = job.get("job_id")
        except SeriesguardError as exc:
            reason = skip_reason(exc)
            if reason is None:
                raise
            finding["retrain_skipped"] = reason
    return finding


@dag(
    dag_id="drift_detection",
    schedule="0 */6 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["seriesguard", "monitoring"],
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
    },
    params={
        "window": Param("24h", type="string", description="Metrics window read (24h, 7d...)."),
        "window_hours": Param(168, type="integer", minimum=1, description="Retraining window."),
        "priority": Param(9, type="integer", minimum=1, maximum=10),
        "batch_size": Param(1000, type="integer", minimum=1),
    },
    doc_md=__doc__,
)
def drift_detection() -> None:
    @task
    def get_active_series() -> list[str]:
        with api_client() as client:
            return active_series(client)

    @task
    def chunk_series(series: list[str], params: dict[str, Any] | None = None) -> list[list[str]]:
        return chunk(series, size=int((params or {}).get("batch_size", 1000)))

    @task(max_active_tis_per_dag=8)
    def check_batch(batch: list[str]) -> dict[str, Any]:
        params = get_current_context()["params"]
        findings: list[dict[str, Any]] = []
        with api_client() as client:
            for series_id in batch:
                try:
                    finding = check_series(
                        client,
                        series_id,
                        window=str(params["window"]),
                        window_hours=int(params["window_hours"]),
                        priority=int(params["priority"]),
                    )
                except SeriesguardError as exc:
                    if skip_reason(exc) != "not_found":  # deleted since the listing
                        raise
                    continue
                findings.append(finding)
        # Only what the report needs travels through XCom: the drifted series.
        drifted = [f for f in findings if f["data_drift"] or f["concept_drift"]]
        return {"checked": len(findings), "drifted": drifted}

    @task
    def report(mapped: list[dict[str, Any]]) -> dict[str, Any]:
        results = xcom_list(mapped)
        drifted = [f for batch in results for f in batch["drifted"]]
        checked = sum(int(batch["checked"]) for batch in results)
        for finding in drifted[:MAX_SERIES_ALERTS]:
            kinds = [k.replace("_", " ") for k in ("data_drift", "concept_drift") if finding[k]]
            action = f", retraining job {finding['job_id']}" if finding.get("job_id") else ""
            send_alert(f"{' and '.join(kinds)} detected for {finding['series_id']}{action}")
        if len(drifted) > MAX_SERIES_ALERTS:
            send_alert(f"{len(drifted) - MAX_SERIES_ALERTS} more drifted series not listed")
        summary = {
            "checked": checked,
            "data_drift": sum(1 for f in drifted if f["data_drift"]),
            "concept_drift": sum(1 for f in drifted if f["concept_drift"]),
            "retrained": sum(1 for f in drifted if f.get("job_id")),
        }
        log.info("drift check: %s", summary)
        return summary

    # TaskFlow calls take XComArgs where the functions declare their values: Airflow's typing.
    batches = chunk_series(get_active_series())  # type: ignore[arg-type]
    report(check_batch.expand(batch=batches))  # type: ignore[arg-type]


drift_detection()
