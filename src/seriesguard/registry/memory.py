"""In-memory registry: the stub beside the MLflow adapter, for unit tests (``memory://``)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from seriesguard.core.errors import NotFound
from seriesguard.core.stages import Stage
from seriesguard.registry.base import (
    ModelRegistry,
    RegisteredVersion,
    RegistryUnavailable,
    TrainingRecord,
    check_alias,
)


class MemoryRegistry(ModelRegistry):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: dict[str, list[RegisteredVersion]] = {}
        self._blobs: dict[tuple[str, int], bytes] = {}
        self._aliases: dict[tuple[str, str], int] = {}
        self.available = True  # tests flip this to simulate an outage

    def _check(self) -> None:
        if not self.available:
            raise RegistryUnavailable("memory registry switched off")

    def _index(self, series_id: str, version: int) -> int:
        versions = self._versions.get(series_id, [])
        for index, candidate in enumerate(versions):
            if candidate.version == version:
                return index
        raise NotFound(
            f"{series_id} has no version {version}", rule="version_not_found", loc=("version",)
        )

    def register(self, record: TrainingRecord) -> RegisteredVersion:
        self._check()
        with self._lock:
            existing = self._find(record.series_id, record.job_id)
            if existing is not None:
                return existing
            versions = self._versions.setdefault(record.series_id, [])
            version = RegisteredVersion(
                series_id=record.series_id,
                version=len(versions) + 1,
                stage=Stage.STAGING,
                algorithm=record.detector.algorithm,
                params=record.detector.params(),
                metrics=dict(record.metrics),
                job_id=record.job_id,
                run_id=f"run-{record.job_id}",
                created_at=time.time(),
                reference=record.reference,
            )
            versions.append(version)
            self._blobs[(record.series_id, version.version)] = record.detector.to_bytes()
            self._aliases[(record.series_id, "staging")] = version.version
            return version

    def _find(self, series_id: str, job_id: str) -> RegisteredVersion | None:
        return next((v for v in self._versions.get(series_id, []) if v.job_id == job_id), None)

    def find_by_job(self, *, series_id: str, job_id: str) -> RegisteredVersion | None:
        self._check()
        return self._find(series_id, job_id)

    def get_version(self, *, series_id: str, version: int) -> RegisteredVersion | None:
        self._check()
        return next((v for v in self._versions.get(series_id, []) if v.version == version), None)

    def list_versions(self, *, series_id: str) -> list[RegisteredVersion]:
        self._check()
        return list(self._versions.get(series_id, []))

    def get_by_alias(self, *, series_id: str, alias: str) -> RegisteredVersion | None:
        self._check()
        number = self._aliases.get((series_id, alias))
        return None if number is None else self.get_version(series_id=series_id, version=number)

    def set_stage(self, *, series_id: str, version: int, stage: Stage) -> None:
        self._check()
        with self._lock:
            index = self._index(series_id, version)
            versions = self._versions[series_id]
            versions[index] = replace(versions[index], stage=stage)
            for alias in ("staging", "production"):
                if self._aliases.get((series_id, alias)) == version and alias != stage.tag:
                    del self._aliases[(series_id, alias)]
            if stage in (Stage.STAGING, Stage.PRODUCTION):
                self._aliases[(series_id, stage.tag)] = version

    def set_alias(self, *, series_id: str, alias: str, version: int | None) -> None:
        check_alias(alias)
        self._check()
        with self._lock:
            if version is None:
                self._aliases.pop((series_id, alias), None)
                return
            self._index(series_id, version)
            self._aliases[(series_id, alias)] = version

    def load_model_bytes(self, *, series_id: str, version: int) -> bytes:
        self._check()
        self._index(series_id, version)
        return self._blobs[(series_id, version)]

    def delete_version(self, *, series_id: str, version: int) -> None:
        self._check()
        with self._lock:
            self._versions[series_id] = [
                v for v in self._versions.get(series_id, []) if v.version != version
            ]
            self._blobs.pop((series_id, version), None)
            for key, number in list(self._aliases.items()):
                if key[0] == series_id and number == version:
                    del self._aliases[key]
