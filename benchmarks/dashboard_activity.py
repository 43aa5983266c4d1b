"""The fleet's activity for the dashboard benchmark: training jobs in every status, rollouts
in progress and finished, and the latest drift run, written beside the catalog that
``dashboard_catalog.py`` fills. A few thousand rows: jobs by one multi-row insert, the
promotions and the drift run through the store's repositories, so their rows are exactly
the ones the store writes.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, insert

if TYPE_CHECKING:
    from benchmarks.dashboard_catalog import FleetPlan


def write_jobs(engine: Engine, plan: FleetPlan, *, now: float) -> dict[str, int]:
    """Jobs of every status, most of them finished, in proportion to the fleet."""
    from seriesguard.store.tables import JobRow

    n = len(plan.ids)
    wanted = {
        "completed": max(n // 50, 1),
        "failed": max(n // 1000, 1),
        "cancelled": max(n // 3000, 1),
        "queued": max(n // 500, 1),
        "processing": min(16, max(n // 1000, 1)),
    }
    rows: list[dict[str, Any]] = []
    for status, count in wanted.items():
        for k in range(count):
            created = now - 3600.0 - 7.0 * len(rows)
            finished = status in ("completed", "failed", "cancelled")
            rows.append(
                {
                    "id": str(uuid.uuid4()),
                    "series_id": plan.ids[(len(rows) * 7919) % n],
                    "status": status,
                    "priority": 5,
                    "algorithm": "statistical",
                    "hyperparameters": {},
                    "n_points": 10_000,
                    "data_path": f"bench/jobs/{k}.arrow",
                    "created_at": created,
                    "updated_at": now if status == "processing" else created + 60.0,
                    "started_at": created + 5.0 if status != "queued" else None,
                    "finished_at": created + 60.0 if finished else None,
                    "attempts": 0 if status == "queued" else 1,
                    "error": "bench: data file gone" if status == "failed" else None,
                }
            )
    with engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            connection.execute(insert(JobRow), rows[start : start + 5000])
    return wanted


def write_promotions(engine: Engine, plan: FleetPlan, *, now: float) -> int:
    """The canaries and shadows of the catalog as unfinished promotions (started an hour
    ago, next step far ahead: a server's scheduler leaves them be), and finished rollbacks;
    written by the store's repository. Returns how many finished."""
    from seriesguard.core.rollout import (
        CanaryConfig,
        ShadowConfig,
        finish,
        rollback,
        start_canary,
        start_shadow,
    )
    from seriesguard.store.db import session_factory
    from seriesguard.store.promotions import PromotionRepository

    repository = PromotionRepository(session_factory(engine))
    canary = CanaryConfig(10.0, 30.0, 86_400.0)
    shadow = ShadowConfig(duration_seconds=7 * 86_400.0, canary=canary)
    for k, index in enumerate(sorted(plan.canaries)):
        repository.create(
            start_canary(
                promotion_id=str(uuid.uuid4()),
                series_id=plan.ids[index],
                version=len(plan.stages(index)),
                champion_version=plan.production(index),
                config=canary,
                now=now - 3600.0 - k,
                created_by="bench",
            )
        )
    for k, index in enumerate(sorted(plan.shadows)):
        repository.create(
            start_shadow(
                promotion_id=str(uuid.uuid4()),
                series_id=plan.ids[index],
                version=len(plan.stages(index)),
                champion_version=plan.production(index),
                config=shadow,
                now=now - 7200.0 - k,
                created_by="bench",
            )
        )
    for k, index in enumerate(sorted(plan.rolled_back)):
        started = start_canary(
            promotion_id=str(uuid.uuid4()),
            series_id=plan.ids[index],
            version=len(plan.stages(index)),
            champion_version=plan.production(index),
            config=canary,
            now=now - 86_400.0 - 60.0 * k,
            created_by="bench",
        )
        repository.create(started)
        ending = rollback(started.promotion, now=now - 80_000.0 - 60.0 * k, by="bench", reason=None)
        repository.save(ending, expected_step=0)
        repository.save(finish(ending.promotion, now=now - 79_990.0 - 60.0 * k), expected_step=1)
    return len(plan.rolled_back)


def write_drift_run(engine: Engine, plan: FleetPlan, *, now: float, sample_size: int) -> int:
    """The last fleet drift check: one series in a hundred drifted in data."""
    from seriesguard.core.monitoring import DriftFinding, DriftRun
    from seriesguard.store.db import session_factory
    from seriesguard.store.drift import DriftRepository

    runs = DriftRepository(session_factory(engine))
    run_id = str(uuid.uuid4())
    started = now - 1800.0
    drifted = plan.served[::100]
    runs.start(DriftRun(run_id, started, None, 86_400, 0, 0, 0, 0, "running", "bench"))
    findings = [
        DriftFinding(
            series_id=plan.ids[i],
            version=plan.production(i),
            kind="data",
            statistic=0.25 + (i % 50) / 100.0,
            threshold=0.2,
            sample_size=sample_size,
            details={"reference_size": 10_000, "bins": 10},
        )
        for i in drifted
    ]
    runs.add_findings(run_id=run_id, findings=findings)
    runs.finish(
        run_id=run_id,
        finished_at=started + 40.0,
        series_checked=len(plan.served),
        data_drifted=len(findings),
        concept_drifted=0,
        insufficient=0,
        status="succeeded",
    )
    return len(findings)
