"""Import fitted models into the registry of record and the serving catalog.

Series new to both go through the bulk path when the registry offers one (thousands of
versions per transaction); every other series goes through the same calls as a training job
plus a direct promotion, so an import never breaks the rules of the registry: the registry
is written first, the catalog second, the previous Production version is archived, and
importing the same model again changes nothing (the version is found by its import id).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Protocol

from seriesguard.core.catalog import ModelVersion, SeriesStats
from seriesguard.core.detectors import ZScoreDetector
from seriesguard.core.model_import import ImportedModel
from seriesguard.core.stages import Stage
from seriesguard.promotion.service import ModelService
from seriesguard.registry.base import ModelRegistry, TrainingRecord
from seriesguard.store.catalog import CatalogRepository

DEFAULT_CHUNK = 5000


class BulkWriter(Protocol):
    """What the importer needs of a bulk registry writer (``registry.mlflow_bulk``)."""

    def registered(self, series_ids: Iterable[str]) -> set[str]: ...

    def write_files(self, models: Sequence[ImportedModel]) -> None: ...

    def insert(self, models: Sequence[ImportedModel], *, stage: Stage) -> None: ...


@dataclass
class ImportReport:
    imported: int = 0  # new versions made
    unchanged: int = 0  # the same model was already there in the same stage
    bulk: int = 0  # of ``imported``, how many went through the bulk path
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return (self.imported + self.unchanged) / self.seconds if self.seconds else 0.0


@dataclass
class _Chunk:
    records: list[ImportedModel]
    fresh: list[ImportedModel]
    files: Future[None]


class ModelImporter:
    def __init__(
        self,
        *,
        registry: ModelRegistry,
        catalog: CatalogRepository,
        models: ModelService,
        bulk: BulkWriter | None,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        self._registry = registry
        self._catalog = catalog
        self._models = models
        self._bulk = bulk
        self._chunk = chunk_size

    def run(
        self,
        records: Iterable[ImportedModel],
        *,
        stage: Stage,
        progress: Callable[[int], None] = lambda _done: None,
    ) -> ImportReport:
        """Chunk by chunk; the model files of the next chunk are written while the rows of
        the current one go in (files before rows, per chunk)."""
        report, started = ImportReport(), time.perf_counter()
        pending: _Chunk | None = None
        with ThreadPoolExecutor(1, thread_name_prefix="import-files") as files:
            for records_chunk in _chunks(records, self._chunk):
                fresh = self._fresh(records_chunk)
                written = files.submit(self._write_files, fresh)
                if pending is not None:
                    self._finish(pending, stage=stage, report=report)
                    progress(len(pending.records))
                pending = _Chunk(records_chunk, fresh, written)
            if pending is not None:
                self._finish(pending, stage=stage, report=report)
                progress(len(pending.records))
        report.seconds = time.perf_counter() - started
        return report

    def _fresh(self, chunk: list[ImportedModel]) -> list[ImportedModel]:
        """The series new to both the catalog and the registry: the bulk path's share."""
        if self._bulk is None:
            return []
        ids = [r.series_id for r in chunk]
        known = self._catalog.present(ids) | self._bulk.registered(ids)
        return [r for r in chunk if r.series_id not in known]

    def _write_files(self, fresh: list[ImportedModel]) -> None:
        if fresh and self._bulk is not None:
            self._bulk.write_files(fresh)

    def _finish(self, chunk: _Chunk, *, stage: Stage, report: ImportReport) -> None:
        chunk.files.result()  # re-raises a failed file write before any row points at it
        if chunk.fresh:
            assert self._bulk is not None
            self._bulk.insert(chunk.fresh, stage=stage)
            now = time.time()
            self._catalog.add_new_series(
                [_catalog_version(r, stage=stage, version=1, created_at=now) for r in chunk.fresh],
                stats=[_stats(r) for r in chunk.fresh],
            )
            report.imported += len(chunk.fresh)
            report.bulk += len(chunk.fresh)
        fresh_ids = {r.series_id for r in chunk.fresh}
        for record in chunk.records:
            if record.series_id not in fresh_ids:
                made = self._import_one(record, stage=stage)
                report.imported += made
                report.unchanged += 1 - made

    def _import_one(self, record: ImportedModel, *, stage: Stage) -> int:
        """The regular path for one series; returns 1 if a version was made or moved."""
        version = self._registry.register(
            TrainingRecord(
                series_id=record.series_id,
                job_id=record.job_id,
                detector=record.detector,
                metrics=record.metrics,
                params={"source": "import"},
                tags={"source": "import"},
                reference=record.reference,
            )
        )
        mirrored = self._catalog.get_version(series_id=record.series_id, version=version.version)
        if mirrored is None:
            self._catalog.record_version(version, stats=_stats(record))
            mirrored = version
        if stage is Stage.PRODUCTION and version.stage is Stage.STAGING:
            self._models.promote(
                series_id=record.series_id,
                version=version.version,
                strategy="direct",
                archive_existing=True,
            )
            return 1
        return 1 if mirrored is version else 0


def _chunks(records: Iterable[ImportedModel], size: int) -> Iterator[list[ImportedModel]]:
    iterator = iter(records)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _catalog_version(
    record: ImportedModel, *, stage: Stage, version: int, created_at: float
) -> ModelVersion:
    return ModelVersion(
        series_id=record.series_id,
        version=version,
        stage=stage,
        algorithm=record.detector.algorithm,
        params=record.detector.params(),
        metrics=record.metrics,
        job_id=record.job_id,
        created_at=created_at,
        reference=record.reference,
    )


def _stats(record: ImportedModel) -> SeriesStats | None:
    """The z-score fallback's statistics, where the model itself carries them."""
    detector = record.detector
    if isinstance(detector, ZScoreDetector):
        return SeriesStats(mean=detector.mean, std=detector.std, n_points=0)
    return None
