"""The DAGs' per-series logic against an in-memory stand-in of the client (no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from seriesguard.client import SeriesguardError


class FakeClient:
    """Answers like the API; ``refuse`` maps a series to the error its training raises."""

    def __init__(self, refuse: dict[str, SeriesguardError] | None = None) -> None:
        self.refuse = refuse or {}
        self.trained: list[tuple[str, dict[str, Any]]] = []
        self.job_created: dict[str, datetime] = {}
        self.active: list[dict[str, Any]] = []

    def model(self, series_id: str) -> dict[str, Any]:
        return {
            "production_version": "v2",
            "versions": [
                {"version": "v1", "algorithm": "statistical"},
                {"version": "v2", "algorithm": "robust"},
            ],
        }

    def jobs(self, *, series_id: str, limit: int) -> dict[str, Any]:
        created = self.job_created.get(series_id)
        items = [] if created is None else [{"created_at": created.isoformat()}]
        return {"items": items}

    def train(self, series_id: str, **config: Any) -> dict[str, Any]:
        if series_id in self.refuse:
            raise self.refuse[series_id]
        self.trained.append((series_id, config))
        return {"job_id": f"job-{series_id}"}

    def promote(self, series_id: str, version: str, **body: Any) -> dict[str, Any]:
        raise SeriesguardError(409, "promotion_in_progress", ("path", "series_id"), "busy")

    def promotions(self, **filters: Any) -> dict[str, Any]:
        return {"items": self.active}


def test_a_batch_submits_with_the_production_algorithm_and_counts_refusals() -> None:
    from weekly_model_retraining import submit_series

    client = FakeClient(
        refuse={
            "busy": SeriesguardError(429, "rate_limited", (), "later", retry_after=120),
            "new": SeriesguardError(422, "insufficient_history", ("path",), "12 points"),
            "broken": SeriesguardError(503, "registry_unavailable", (), "down"),
        }
    )
    tally = submit_series(
        client,  # type: ignore[arg-type]
        ["a", "busy", "new", "broken", "b"],
        window_hours=168,
        priority=3,
        resume_after=None,
    )
    assert tally.submitted == ["job-a", "job-b"]
    assert client.trained[0] == (
        "a",
        {"window_hours": 168, "priority": 3, "algorithm": "robust"},
    )
    assert tally.skipped == {"rate_limited": ["busy"], "insufficient_history": ["new"]}
    assert list(tally.failed) == ["broken"]  # a real failure: the task fails and retries


def test_a_retry_skips_series_its_first_try_queued() -> None:
    from weekly_model_retraining import submit_series

    run_start = datetime(2026, 1, 4, 2, 0, tzinfo=UTC)
    client = FakeClient()
    client.job_created = {
        "done": run_start + timedelta(minutes=3),  # queued by the failed first try
        "old": run_start - timedelta(days=7),  # last week's run
    }
    tally = submit_series(
        client,  # type: ignore[arg-type]
        ["done", "old", "fresh"],
        window_hours=168,
        priority=3,
        resume_after=run_start,
    )
    assert [series for series, _ in client.trained] == ["old", "fresh"]
    assert tally.skipped == {"already_submitted": ["done"]}


def test_drift_retrains_on_data_drift_only() -> None:
    from drift_detection import check_series

    class Metrics(FakeClient):
        def series_metrics(self, series_id: str, *, window: str) -> dict[str, Any]:
            drift = {"data_drift_detected": series_id == "data", "concept_drift_detected": True}
            return {"drift_detection": drift}

    client = Metrics()
    data = check_series(client, "data", window="24h", window_hours=168, priority=9)  # type: ignore[arg-type]
    concept = check_series(client, "concept", window="24h", window_hours=168, priority=9)  # type: ignore[arg-type]
    assert data == {
        "series_id": "data",
        "data_drift": True,
        "concept_drift": True,
        "job_id": "job-data",
    }
    assert concept == {"series_id": "concept", "data_drift": False, "concept_drift": True}
    assert [series for series, _ in client.trained] == ["data"]
    assert client.trained[0][1]["priority"] == 9


def test_a_retried_deploy_adopts_the_shadow_its_first_try_started() -> None:
    from shadow_deployment_pipeline import start_shadow

    client = FakeClient()
    client.active = [{"promotion_id": "p1", "strategy": "shadow", "version": "v7"}]
    adopted = start_shadow(
        client,  # type: ignore[arg-type]
        series_id="s",
        version="7",
        duration_hours=48,
        canary_config=None,
    )
    assert adopted["promotion_id"] == "p1"
    client.active = [{"promotion_id": "p2", "strategy": "canary", "version": "v7"}]
    with pytest.raises(SeriesguardError, match="busy"):  # someone else's rollout
        start_shadow(
            client,  # type: ignore[arg-type]
            series_id="s",
            version="7",
            duration_hours=48,
            canary_config=None,
        )


@pytest.mark.parametrize(
    ("state", "reached"),
    [
        ("shadow", False),
        ("paused", False),
        ("canary", True),
        ("completed", True),
        ("rejecting", True),
        ("rejected", True),
        ("rolled_back", True),
    ],
)
def test_when_the_verdict_is_reached(state: str, reached: bool) -> None:
    from shadow_deployment_pipeline import verdict_reached

    assert verdict_reached({"state": state, "last_gate": {"outcome": "wait"}}) is reached
