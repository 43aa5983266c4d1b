"""Many new registered models at once, written straight into MLflow's registry tables.

MLflow has no bulk registration API: through ``MlflowClient`` one version with its alias costs
15-25 ms (DESIGN.md 7), 285,000 series about two hours. When the registry is a database that
seriesguard reaches directly (the embedded SQLite default, or a PostgreSQL URI), this writer
inserts the rows MLflow itself would insert for ``create_registered_model`` +
``create_model_version`` + tags + alias, thousands per transaction, and writes each version's
pyfunc model files beside them. Only series that have no registered model yet go this way;
the rest take the regular API path.

Before writing, the writer checks the registry's schema: every column it does not fill must be
nullable or have a default, so a newer MLflow with a changed schema is refused with a clear
message instead of being written wrongly. The contract test reads the result back through
``MlflowClient`` and ``mlflow.pyfunc.load_model``.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from seriesguard.core.detectors import Detector
from seriesguard.core.model_import import ImportedModel
from seriesguard.core.series import model_name
from seriesguard.core.stages import Stage
from seriesguard.registry.mlflow_writes import local_path
from seriesguard.registry.pyfunc_model import DETECTOR_FILE, INLINE_KEY, PyfuncTemplate

_TABLES = (
    "registered_models",
    "registered_model_tags",
    "model_versions",
    "model_version_tags",
    "registered_model_aliases",
)
# Columns this writer fills, per table; any other column must be optional.
_FILLED = {
    "registered_models": {"name", "creation_time", "last_updated_time", "description"},
    "registered_model_tags": {"key", "value", "name"},
    "model_versions": {
        "name",
        "version",
        "creation_time",
        "last_updated_time",
        "description",
        "user_id",
        "current_stage",
        "source",
        "run_id",
        "status",
        "status_message",
        "run_link",
        "storage_location",
    },
    "model_version_tags": {"key", "value", "name", "version"},
    "registered_model_aliases": {"alias", "version", "name"},
}
_UUID_MARK = "f" * 32
_TIME_MARK = "1999-12-31 23:59:59.999999"
_SIZE_MARK = 987654321
_DETECTOR_MARK = "SERIESGUARD-DETECTOR-MARK"
_IMPORTS = "models/imported"
_LINKS_PER_TEMPLATE = 60_000
_SHARDS = 256


class BulkWriteUnsupported(Exception):
    """The registry cannot be written in bulk (remote server, unknown schema, remote files)."""


class MlflowBulkWriter:
    def __init__(self, *, tracking_uri: str, experiment_root: str, threads: int = 4) -> None:
        root = local_path(experiment_root)
        if root is None:
            raise BulkWriteUnsupported(
                f"model files go to {experiment_root}, not a local folder; bulk import writes "
                "local artifact roots only"
            )
        scheme = tracking_uri.split(":", 1)[0].split("+", 1)[0]
        if scheme not in {"sqlite", "postgresql"}:
            raise BulkWriteUnsupported(
                f"the registry at {scheme}://… is not a database this process can write"
            )
        self._root = root
        self._uri = root.as_uri()
        connect_args = {"timeout": 30} if scheme == "sqlite" else {}
        self._engine = sa.create_engine(_driver_url(tracking_uri), connect_args=connect_args)
        self._tables = _reflect(self._engine)
        self._threads = threads
        # Creating inodes is what an import spends its time on (~0.1 ms each on a virtual
        # disk): no per-series level, and 256 shard folders, because creating entries in one
        # folder is serialised on that folder's lock while separate folders go in parallel.
        self._models = self._root / _IMPORTS
        for shard in range(_SHARDS):
            (self._models / f"{shard:02x}").mkdir(parents=True, exist_ok=True)
        self._files = _ModelFiles(self._models / ".templates")

    def close(self) -> None:
        self._engine.dispose()

    def registered(self, series_ids: Iterable[str]) -> set[str]:
        """The series among ``series_ids`` that already have a registered model."""
        names = {model_name(s): s for s in series_ids}
        table = self._tables["registered_models"]
        found: set[str] = set()
        with self._engine.connect() as connection:
            chunk = list(names)
            for start in range(0, len(chunk), 500):
                query = sa.select(table.c.name).where(table.c.name.in_(chunk[start : start + 500]))
                found.update(names[n] for n in connection.scalars(query))
        return found

    def write_files(self, models: Sequence[ImportedModel]) -> None:
        """The model directories of ``models``; call before :meth:`insert` (a version row
        must never point at missing files). Safe to run beside ``insert`` of other models."""
        if not models:
            return
        self._files.prepare(models[0].detector)
        with ThreadPoolExecutor(self._threads) as pool:  # file writes release the GIL
            list(pool.map(lambda m: self._files.write(self._folder(m), m.detector), models))

    def insert(self, models: Sequence[ImportedModel], *, stage: Stage) -> None:
        """Version 1 of a new registered model per series, in ``stage``: every row in one
        transaction."""
        if not models:
            return
        sources = {m.series_id: self._source(m) for m in models}
        rows = _rows(models, sources, stage=stage, now=int(time.time() * 1000))
        with self._engine.begin() as connection:
            for table in _TABLES:
                if rows[table]:
                    connection.execute(sa.insert(self._tables[table]), rows[table])

    def _relative(self, model: ImportedModel) -> str:
        shard = zlib.crc32(model.series_id.encode()) % _SHARDS
        return f"{shard:02x}/{model.series_id}.{model.job_id}"

    def _folder(self, model: ImportedModel) -> Path:
        return self._models / self._relative(model)

    def _source(self, model: ImportedModel) -> str:
        return f"{self._uri}/{_IMPORTS}/{self._relative(model)}"


def _driver_url(uri: str) -> str:
    if uri.startswith("postgresql://"):  # SQLAlchemy 2.1 defaults to psycopg 3 (DESIGN.md 7)
        return "postgresql+psycopg://" + uri[len("postgresql://") :]
    return uri


def _reflect(engine: sa.Engine) -> dict[str, sa.Table]:
    metadata = sa.MetaData()
    try:
        metadata.reflect(engine, only=list(_TABLES))
    except sa.exc.InvalidRequestError as exc:
        raise BulkWriteUnsupported(f"the registry database lacks MLflow's tables: {exc}") from exc
    except sa.exc.SQLAlchemyError as exc:
        raise BulkWriteUnsupported(f"the registry database cannot be read: {exc}") from exc
    tables = {name: metadata.tables[name] for name in _TABLES}
    for name, table in tables.items():
        missing = _FILLED[name] - set(table.c.keys())
        if missing:
            raise BulkWriteUnsupported(f"MLflow's {name} has no column {sorted(missing)[0]}")
        for column in table.c:
            optional = column.nullable or column.server_default is not None
            if column.name not in _FILLED[name] and not optional:
                raise BulkWriteUnsupported(
                    f"MLflow's {name}.{column.name} is required and unknown to seriesguard; "
                    "this MLflow version is newer than the bulk writer"
                )
    return tables


def _rows(
    models: Sequence[ImportedModel], sources: dict[str, str], *, stage: Stage, now: int
) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {table: [] for table in _TABLES}
    for v in models:
        name, source = model_name(v.series_id), sources[v.series_id]
        rows["registered_models"].append(
            {"name": name, "creation_time": now, "last_updated_time": now, "description": None}
        )
        rows["registered_model_tags"].append(
            {"key": "seriesguard", "value": "anomaly-detector", "name": name}
        )
        rows["model_versions"].append(
            {
                "name": name,
                "version": 1,
                "creation_time": now,
                "last_updated_time": now,
                "description": None,
                "user_id": None,
                "current_stage": "None",
                "source": source,
                "run_id": None,
                "status": "READY",
                "status_message": None,
                "run_link": None,
                "storage_location": source,
            }
        )
        tags = {
            "stage": stage.tag,
            "job_id": v.job_id,
            "series_id": v.series_id,
            "algorithm": v.detector.algorithm,
            "params": json.dumps(v.detector.params(), sort_keys=True),
            "metrics": json.dumps(v.metrics),
        }
        if v.reference is not None:
            tags["reference"] = json.dumps(v.reference.to_json())
        rows["model_version_tags"] += [
            {"key": k, "value": value, "name": name, "version": 1} for k, value in tags.items()
        ]
        rows["registered_model_aliases"].append({"alias": stage.tag, "version": 1, "name": name})
    return rows


class _ModelFiles:
    """Writes model directories fast. Creating inodes is the cost (~0.1 ms each on a virtual
    disk), so a bulk-imported model is one folder and one file: the MLmodel, rendered once and
    filled in by text substitution, carries the detector in its metadata (``_load_pyfunc``
    and the registry read it from there); the environment files are hard links to one copy.
    """

    def __init__(self, template_dir: Path) -> None:
        self._dir = template_dir
        self._pyfunc = PyfuncTemplate()
        self._ready = False
        self._mlmodel = ""
        self._env: list[str] = []
        self._env_content: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._links = 0
        self._generation = int(time.time() * 1000)  # a fresh template per writer

    def prepare(self, detector: Detector) -> None:
        """Render the template once, before the writer threads start."""
        if self._ready:
            return
        import yaml  # type: ignore[import-untyped]
        from mlflow.models import Model

        files = self._pyfunc.files(detector, run_id=None)
        document = yaml.safe_load(files.pop("MLmodel"))
        document["flavors"]["python_function"].pop("data", None)  # no data file: inline
        document["metadata"] = {**(document.get("metadata") or {}), INLINE_KEY: _DETECTOR_MARK}
        document.update(
            model_uuid=_UUID_MARK, utc_time_created=_TIME_MARK, model_size_bytes=_SIZE_MARK
        )
        rendered = Model.from_dict(document).to_yaml()
        for mark in (_UUID_MARK, _TIME_MARK, str(_SIZE_MARK), _DETECTOR_MARK):
            if rendered.count(mark) != 1:
                raise BulkWriteUnsupported(f"MLflow's MLmodel does not render {mark} once")
        self._mlmodel = rendered
        files.pop(DETECTOR_FILE)
        self._env_content = files
        self._env = sorted(files)
        self._copy_env(self._current())
        blob = detector.to_bytes()
        check = yaml.safe_load(self._fill("a" * 32, blob))
        if check["model_uuid"] != "a" * 32 or check["metadata"][INLINE_KEY] != blob.decode():
            raise BulkWriteUnsupported("MLmodel template did not round-trip; use the API path")
        self._ready = True

    def _fill(self, model_uuid: str, blob: bytes) -> str:
        created = str(datetime.now(UTC).replace(tzinfo=None))
        # A JSON string is a valid YAML double-quoted scalar: no escaping rules of our own.
        return (
            self._mlmodel.replace(f"'{_DETECTOR_MARK}'", json.dumps(blob.decode()), 1)
            .replace(_DETECTOR_MARK, json.dumps(blob.decode()), 1)
            .replace(_UUID_MARK, model_uuid, 1)
            .replace(_TIME_MARK, created, 1)
            .replace(str(_SIZE_MARK), str(len(blob)), 1)
        )

    def write(self, folder: Path, detector: Detector) -> None:
        """``folder`` must be new; its parent must exist."""
        blob = detector.to_bytes()
        model_uuid = uuid.uuid4().hex
        while model_uuid.isdigit():  # YAML would read an all-digit id as a number
            model_uuid = uuid.uuid4().hex
        os.mkdir(folder)
        (folder / "MLmodel").write_text(self._fill(model_uuid, blob))
        template = self._template()
        for name in self._env:
            target = folder / name
            try:
                os.link(template / name, target)
            except OSError:  # link limit, another file system, links not allowed: copy
                shutil.copyfile(template / name, target)

    def _template(self) -> Path:
        """The copy of the environment files to link to; a new copy before ext4's limit of
        65,000 links per file is reached."""
        with self._lock:
            self._links += 1
            if self._links >= _LINKS_PER_TEMPLATE:
                self._links = 0
                self._generation += 1
                self._copy_env(self._current())
            return self._current()

    def _current(self) -> Path:
        return self._dir / str(self._generation)

    def _copy_env(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in self._env_content.items():
            (folder / name).write_bytes(content)


def open_bulk_writer(
    *, tracking_uri: str, experiment_name: str, threads: int = 4
) -> MlflowBulkWriter:
    """A writer for the experiment's artifact root; raises ``BulkWriteUnsupported`` when the
    registry cannot be written in bulk from here. The experiment must exist (the registry's
    ``prepare`` makes it)."""
    from mlflow.tracking import MlflowClient

    scheme = tracking_uri.split(":", 1)[0].split("+", 1)[0]
    if scheme not in {"sqlite", "postgresql"}:
        raise BulkWriteUnsupported(f"the registry at {scheme}://… is reached over the network")
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        raise BulkWriteUnsupported(f"MLflow experiment {experiment_name!r} does not exist")
    return MlflowBulkWriter(
        tracking_uri=tracking_uri,
        experiment_root=str(experiment.artifact_location),
        threads=threads,
    )
