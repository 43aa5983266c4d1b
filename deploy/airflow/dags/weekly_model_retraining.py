"""Weekly retraining of every series with a Production model (seed: Sunday 02:00).

get_active_series -> chunk_series -> submit_batch (mapped, one task per batch) -> summarize.
Each job trains on the series' last ``window_hours`` of history kept by the platform, with
the algorithm of its Production version. The platform itself only queues the jobs: Airflow's
part is the schedule, the fan-out, retries and the run history.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from seriesguard_common import (
    BatchTally,
    active_series,
    api_client,
    chunk,
    merge_tallies,
    production_algorithm,
    skip_reason,
    xcom_list,
)

from seriesguard.client import SeriesguardClient, SeriesguardError

log = logging.getLogger(__name__)


def _submitted_since(client: SeriesguardClient, series_id: str, since: datetime) -> bool:
    """True when a job for the series was created at or after ``since`` (an earlier try)."""
    jobs = client.jobs(series_id=series_id, limit=1).get("items") or []
    if not jobs:
        return False
    created = datetime.fromisoformat(str(jobs[0]["created_at"]).replace("Z", "+00:00"))
    if created.tzinfo is None:
        created = created.replace(tzinfo=pendulum.UTC)
    return created >= since


def submit_series(
    client: SeriesguardClient,
    batch: list[str],
    *,
    window_hours: int,
    priority: int,
    resume_after: datetime | None,
) -> BatchTally:
    """Submit one training job per series; refusals are counted, other errors collected."""
    tally = BatchTally()
    for series_id in batch:
        try:
            # A retried task must not queue a second job for the series its first try did.
            if resume_after is not None and _submitted_since(client, series_id, resume_after):
                tally.skip(series_id, "already_submitted")
                continue
            algorithm = production_algorithm(client, series_id)  # None: the server's default
            job = client.train(
                series_id, window_hours=window_hours, priority=priority, algorithm=algorithm
            )
            tally.submitted.append(str(job.get("job_id", "")))
        except SeriesguardError as exc:
            reason = skip_reason(exc)
            if reason is None:
                tally.failed[series_id] = str(exc)
            else:
                tally.skip(series_id, reason)
    return tally


@dag(
    dag_id="weekly_model_retraining",
    schedule="0 2 * * 0",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["seriesguard", "training"],
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
    },
    params={
        "window_hours": Param(168, type="integer", minimum=1, description="Hours of history."),
        "priority": Param(3, type="integer", minimum=1, maximum=10),
        "batch_size": Param(1000, type="integer", minimum=1, description="Series per task."),
    },
    doc_md=__doc__,
)
def weekly_model_retraining() -> None:
    @task
    def get_active_series() -> list[str]:
        with api_client() as client:
            found = active_series(client)
        log.info("%d series have a Production version", len(found))
        return found

    @task
    def chunk_series(series: list[str], params: dict[str, Any] | None = None) -> list[list[str]]:
        return chunk(series, size=int((params or {}).get("batch_size", 1000)))

    @task(max_active_tis_per_dag=8)
    def submit_batch(batch: list[str]) -> dict[str, Any]:
        context = get_current_context()
        params = context["params"]
        ti, dag_run = context["ti"], context["dag_run"]
        resume_after = dag_run.start_date if ti.try_number > 1 else None
        with api_client() as client:
            tally = submit_series(
                client,
                batch,
                window_hours=int(params["window_hours"]),
                priority=int(params["priority"]),
                resume_after=resume_after,
            )
        log.info("submitted %d, skipped %s", len(tally.submitted), tally.skipped)
        if tally.failed:
            # Fail after the whole batch so one bad series does not stop the others; the
            # retry skips what this try already queued.
            raise RuntimeError(f"{len(tally.failed)} series failed: {tally.failed}")
        return tally.to_json()

    @task
    def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
        summary = merge_tallies(xcom_list(results))
        log.info("weekly retraining: %s", summary)
        return summary

    # TaskFlow calls take XComArgs where the functions declare their values: Airflow's typing.
    batches = chunk_series(get_active_series())  # type: ignore[arg-type]
    summarize(submit_batch.expand(batch=batches))  # type: ignore[arg-type]


weekly_model_retraining()
