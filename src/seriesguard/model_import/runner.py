"""Wiring of an import run: settings -> backends -> importer, with progress for the CLI."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from seriesguard.core.model_import import parse_stage
from seriesguard.model_import.service import BulkWriter, ImportReport, ModelImporter
from seriesguard.model_import.source import count_models, read_models
from seriesguard.runtime import build_runtime
from seriesguard.settings import Settings
from seriesguard.store.db import upgrade

log = logging.getLogger(__name__)


class Progress(Protocol):
    def phase(self, description: str, total: int | None) -> None: ...

    def advance(self, done: int) -> None: ...


def run_import(
    *,
    settings: Settings,
    path: Path,
    stage_name: str,
    default_algorithm: str,
    chunk_size: int,
    progress: Progress,
    use_bulk: bool = True,
) -> ImportReport:
    stage = parse_stage(stage_name)
    progress.phase("checking the file", None)
    total = count_models(path, default_algorithm=default_algorithm)
    runtime = build_runtime(settings, roles=frozenset())
    bulk = None
    try:
        upgrade(runtime.engine)
        runtime.registry.prepare()
        bulk = _bulk_writer(settings) if use_bulk else None
        importer = ModelImporter(
            registry=runtime.registry,
            catalog=runtime.catalog,
            models=runtime.models,
            bulk=bulk,
            chunk_size=chunk_size,
        )
        progress.phase(f"importing into {stage.value}", total)
        return importer.run(
            read_models(path, default_algorithm=default_algorithm),
            stage=stage,
            progress=progress.advance,
        )
    finally:
        if bulk is not None:
            bulk.close()
        runtime.registry.close()
        runtime.engine.dispose()


class _ClosableBulk(BulkWriter, Protocol):
    def close(self) -> None: ...


def _bulk_writer(settings: Settings) -> _ClosableBulk | None:
    """The bulk path when the registry offers one; the API path (slower) otherwise."""
    from seriesguard.registry.mlflow_bulk import BulkWriteUnsupported, open_bulk_writer

    try:
        return open_bulk_writer(
            tracking_uri=settings.resolved_tracking_uri(),
            experiment_name=settings.experiment_name,
        )
    except BulkWriteUnsupported as exc:
        log.warning("importing through the registry API, one model at a time: %s", exc)
        return None
