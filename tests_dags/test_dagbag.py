"""The DAG folder parses the way Airflow 3's dag processor parses it."""

from __future__ import annotations

from typing import Any

import pytest

EXPECTED = {
    "weekly_model_retraining": "0 2 * * 0",
    "drift_detection": "0 */6 * * *",
    "shadow_deployment_pipeline": None,
}


def test_every_file_imports_without_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == set(EXPECTED)


@pytest.mark.parametrize(("dag_id", "schedule"), EXPECTED.items())
def test_schedules_are_the_seeds(dagbag: Any, dag_id: str, schedule: str | None) -> None:
    dag = dagbag.get_dag(dag_id)
    assert dag.schedule == schedule
    assert dag.catchup is False
    assert "seriesguard" in dag.tags


def test_retraining_fans_out_one_task_per_batch(dagbag: Any) -> None:
    dag = dagbag.get_dag("weekly_model_retraining")
    submit = dag.get_task("submit_batch")
    assert submit.upstream_task_ids == {"chunk_series"}
    assert dag.get_task("summarize").upstream_task_ids == {"submit_batch"}
    assert dag.params["window_hours"] == 168
    assert dag.params["priority"] == 3


def test_shadow_pipeline_waits_in_reschedule_mode(dagbag: Any) -> None:
    dag = dagbag.get_dag("shadow_deployment_pipeline")
    sensor = dag.get_task("wait_for_verdict")
    assert sensor.mode == "reschedule"  # no worker slot held for the 48 hours
    assert sensor.timeout > 48 * 3600
    assert dag.get_task("analyze_verdict").upstream_task_ids == {"wait_for_verdict"}
    assert dag.params["duration_hours"] == 48


def test_shared_helpers_cap_the_number_of_mapped_tasks() -> None:
    import seriesguard_common as common

    batches = common.chunk([f"s{i}" for i in range(285_000)], size=100)
    assert len(batches) <= common.MAX_MAPPED_BATCHES
    assert sum(len(b) for b in batches) == 285_000
    assert common.chunk([], size=10) == []
