"""Pick the registry implementation from the tracking URI, the way MLflow picks its stores.

The MLflow adapter is imported only when asked for: importing mlflow costs ~2 s and a
``memory://`` process (unit tests, demos) should never pay it.
"""

from __future__ import annotations

import time

from seriesguard.core.breaker import BreakerPolicy
from seriesguard.registry.base import ModelRegistry

MEMORY_URI = "memory://"


def create_registry(
    *,
    tracking_uri: str,
    artifact_root: str,
    experiment_name: str,
    breaker_policy: BreakerPolicy | None = None,
    log_runs: bool = True,
    deferred: bool = False,
) -> ModelRegistry:
    """``memory://`` -> in-process stub; anything else (sqlite, postgresql, http...) -> MLflow.
    ``deferred``: MLflow is imported and opened on the first call (predictor processes)."""
    if tracking_uri.startswith(MEMORY_URI):
        from seriesguard.registry.memory import MemoryRegistry

        return MemoryRegistry()
    breaker = (breaker_policy or BreakerPolicy()).make("mlflow", clock=time.monotonic)

    def make() -> ModelRegistry:
        from seriesguard.registry.mlflow_registry import MlflowRegistry

        return MlflowRegistry(
            tracking_uri=tracking_uri,
            artifact_root=artifact_root,
            experiment_name=experiment_name,
            breaker=breaker,
            log_runs=log_runs,
        )

    if deferred:
        from seriesguard.registry.deferred import DeferredRegistry

        return DeferredRegistry(make, breaker=breaker)
    return make()
