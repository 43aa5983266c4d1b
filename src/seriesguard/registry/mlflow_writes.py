"""What a registration writes before it creates the version: a run, or only the model files.

With a run (the default), the version points at ``<run artifacts>/model`` and the run holds the
job's params, metrics and tags: what MLflow users expect to browse and compare. Without one,
the model files go to ``<experiment artifact root>/models/<series>/<job>/model`` and the
version is made from there; params and metrics stay on the version's tags, where seriesguard
reads them anyway. That saves three calls to the tracking server per training (create run,
log batch, finish run) for bulk training of a fleet.

Both write straight into a local artifact folder (embedded mode) and through MLflow's artifact
repository for remote roots (S3/MinIO), without reading the run back from the server first.
On S3 each file is one ``put_object`` through the client MLflow made for the repository:
MLflow's own ``log_artifacts`` goes through boto3's ``upload_file``, which starts a transfer
manager and its threads for each file, twice the CPU of a plain PUT for these tiny files
(measured against moto: ~21 against ~11 ms per version of five files).
"""

from __future__ import annotations

import json
import mimetypes
import posixpath
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from mlflow.entities import Metric, Param
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.tracking import MlflowClient

from seriesguard.core.detectors import Detector
from seriesguard.core.stages import Stage
from seriesguard.registry.base import TrainingRecord
from seriesguard.registry.pyfunc_model import ARTIFACT_PATH, DETECTOR_FILE, PyfuncTemplate

# The longest ``params`` tag written: MLflow 3.17 refuses model version tag values over 100,000
# characters (MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH) and a MySQL tracking database keeps them in
# a TEXT column of 65,535 bytes. Longer params (an isolation forest with many or large trees)
# stay in the model's data file only, and the tag says so: the registry reads them from there.
PARAMS_TAG_LIMIT = 60_000
PARAMS_IN_MODEL = f"in-model:{DETECTOR_FILE}"  # not JSON: older readers see no params at all


def local_path(uri: str) -> Path | None:
    """The folder behind a local artifact URI, or None for remote stores (S3, HTTP, ...)."""
    parts = urlsplit(uri)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        return Path(url2pathname(parts.path))
    return Path(uri) if parts.scheme == "" else None


def log_run(
    client: MlflowClient,
    *,
    experiment_id: str,
    record: TrainingRecord,
    pyfunc: PyfuncTemplate,
    errors: tuple[type[BaseException], ...],
) -> tuple[str, str]:
    """Create a finished run holding the job's params, metrics and model; returns
    ``(run_id, model source URI)``. A run that fails half-way is marked FAILED."""
    run = client.create_run(
        experiment_id,
        tags={**record.tags, "job_id": record.job_id, "series_id": record.series_id},
        run_name=f"{record.series_id}-{record.job_id}"[:250],
    )
    run_id = run.info.run_id
    try:
        _fill_run(client, run, record, pyfunc)
        client.set_terminated(run_id)
    except BaseException:
        with suppress(*errors):  # best effort: the failure raised matters more
            client.set_terminated(run_id, status="FAILED")
        raise
    return run_id, f"{run.info.artifact_uri.rstrip('/')}/{ARTIFACT_PATH}"


def _fill_run(
    client: MlflowClient, run: Any, record: TrainingRecord, pyfunc: PyfuncTemplate
) -> None:
    run_id = run.info.run_id
    if record.metrics or record.params:
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in record.metrics.items()],
            params=[Param(k, str(v)) for k, v in record.params.items()],
        )
    write_model(run.info.artifact_uri, ARTIFACT_PATH, record=record, pyfunc=pyfunc, run_id=run_id)
    if record.data_path is not None:
        client.log_artifact(run_id, record.data_path, "data")


def version_tags(record: TrainingRecord, *, run_id: str | None, stage: Stage) -> dict[str, str]:
    """The tags of the version: all seriesguard reads back (``stage`` is the truth)."""
    tags = {
        "stage": stage.tag,
        "job_id": record.job_id,
        "series_id": record.series_id,
        "algorithm": record.detector.algorithm,
        "params": params_tag(record.detector),
        "metrics": json.dumps({k: float(v) for k, v in record.metrics.items()}),
    }
    if run_id is not None:
        tags["run_id"] = run_id
    if record.reference is not None:
        tags["reference"] = json.dumps(record.reference.to_json())
    return tags


def params_tag(detector: Detector) -> str:
    """The ``params`` tag: the params as JSON, or ``PARAMS_IN_MODEL`` when too long for a tag."""
    text = json.dumps(detector.params(), sort_keys=True)  # ASCII: characters are bytes
    return text if len(text) <= PARAMS_TAG_LIMIT else PARAMS_IN_MODEL


def write_model_without_run(
    *, experiment_root: str, record: TrainingRecord, pyfunc: PyfuncTemplate
) -> str:
    """Write the model files under the experiment's root; returns the model source URI."""
    relative = f"models/{record.series_id}/{record.job_id}/{ARTIFACT_PATH}"
    write_model(experiment_root, relative, record=record, pyfunc=pyfunc, run_id=None)
    return f"{experiment_root.rstrip('/')}/{relative}"


def write_model(
    root: str, relative: str, *, record: TrainingRecord, pyfunc: PyfuncTemplate, run_id: str | None
) -> None:
    local = local_path(root)
    if local is not None:  # embedded mode: write in place instead of copying a temp tree
        pyfunc.write(local / relative, record.detector, run_id=run_id)
        return
    repository = get_artifact_repository(root)
    if put_objects(repository, relative, pyfunc.files(record.detector, run_id=run_id)):
        return
    with tempfile.TemporaryDirectory(prefix="seriesguard-register-") as folder:
        pyfunc.write(Path(folder), record.detector, run_id=run_id)
        repository.log_artifacts(folder, relative)  # type: ignore[no-untyped-call]


def put_objects(repository: Any, relative: str, files: dict[str, bytes]) -> bool:
    """Upload ``files`` (relative path -> content) under ``relative`` with one ``put_object``
    each, as MLflow's S3 repository would upload them: its client (endpoint, credentials,
    TLS), the content type it guesses, its expected bucket owner and extra upload arguments.
    False, with nothing uploaded, for any other repository or an MLflow without these parts
    (the caller then uses ``log_artifacts``)."""
    if type(repository).__name__ != "S3ArtifactRepository":
        return False
    client_of = getattr(repository, "_get_s3_client", None)  # private in MLflow 3.x: checked
    owner = getattr(repository, "_bucket_owner_params", None)
    extra_of = getattr(repository, "get_s3_file_upload_extra_args", None)
    parse = getattr(repository, "parse_s3_compliant_uri", None)
    if not (callable(client_of) and callable(extra_of) and callable(parse)):
        return False
    if not isinstance(owner, dict):
        return False
    bucket, prefix = parse(repository.artifact_uri)
    client, extra = client_of(), {**owner, **(extra_of() or {})}
    for name, content in files.items():
        kind, encoding = mimetypes.guess_type(name)
        typed = {k: v for k, v in (("ContentType", kind), ("ContentEncoding", encoding)) if v}
        key = posixpath.join(prefix, relative, name)
        client.put_object(Bucket=bucket, Key=key, Body=content, **{**typed, **extra})
    return True
