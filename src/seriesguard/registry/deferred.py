"""A registry made on first use: a predictor serves from memory and the catalog, and asks the
registry only on a miss, so it should not pay for importing MLflow (~2 s of start-up and
~100 MiB of memory per process) until one happens."""

from __future__ import annotations

import threading
from collections.abc import Callable

from seriesguard.core.breaker import CircuitBreaker
from seriesguard.core.stages import Stage
from seriesguard.registry.base import ModelRegistry, RegisteredVersion, TrainingRecord


class DeferredRegistry(ModelRegistry):
    def __init__(self, make: Callable[[], ModelRegistry], *, breaker: CircuitBreaker) -> None:
        self._make = make
        self._breaker = breaker  # shared with the real registry: /health shows it from start
        self._target: ModelRegistry | None = None
        self._lock = threading.Lock()

    def _registry(self) -> ModelRegistry:
        with self._lock:
            if self._target is None:
                self._target = self._make()
            return self._target

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    def register(self, record: TrainingRecord) -> RegisteredVersion:
        return self._registry().register(record)

    def find_by_job(self, *, series_id: str, job_id: str) -> RegisteredVersion | None:
        return self._registry().find_by_job(series_id=series_id, job_id=job_id)

    def get_version(self, *, series_id: str, version: int) -> RegisteredVersion | None:
        return self._registry().get_version(series_id=series_id, version=version)

    def list_versions(self, *, series_id: str) -> list[RegisteredVersion]:
        return self._registry().list_versions(series_id=series_id)

    def get_by_alias(self, *, series_id: str, alias: str) -> RegisteredVersion | None:
        return self._registry().get_by_alias(series_id=series_id, alias=alias)

    def set_stage(self, *, series_id: str, version: int, stage: Stage) -> None:
        self._registry().set_stage(series_id=series_id, version=version, stage=stage)

    def set_alias(self, *, series_id: str, alias: str, version: int | None) -> None:
        self._registry().set_alias(series_id=series_id, alias=alias, version=version)

    def load_model_bytes(self, *, series_id: str, version: int) -> bytes:
        return self._registry().load_model_bytes(series_id=series_id, version=version)

    def delete_version(self, *, series_id: str, version: int) -> None:
        self._registry().delete_version(series_id=series_id, version=version)

    def prepare(self) -> None:
        self._registry().prepare()

    def close(self) -> None:
        with self._lock:
            target, self._target = self._target, None
        if target is not None:
            target.close()
