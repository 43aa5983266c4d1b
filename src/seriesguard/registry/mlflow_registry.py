"""The registry of record: MLflow's Model Registry behind :class:`ModelRegistry`.

Layout (DESIGN.md §2): registered model ``anomaly-detector-{series_id}`` per series; each
version has the tags ``stage`` (the truth: staging/production/archived/none), ``job_id``,
``run_id``, ``series_id``, ``algorithm``, ``params`` and ``metrics`` (JSON), so one call reads
all the platform needs; the aliases ``staging``/``production`` follow the tags so that
``models:/anomaly-detector-X@production`` works for any MLflow user. A version comes from one
run (params, metrics, tags, training data under ``data/``) whose ``model/`` artifact is a plain
pyfunc model (see ``pyfunc_model``). ``mlflow.pyfunc.log_model`` is not used: requirements
inference and logged models cost ~4 s per version (DESIGN.md §7).

Vendor exceptions never leave this module: "does not exist" becomes None / [] / NotFound, any
other failure of MLflow, its database or artifact store becomes ``RegistryUnavailable``.
"""

from __future__ import annotations

import importlib
import json
import math
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import sqlalchemy.exc
from mlflow.artifacts import download_artifacts
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from seriesguard.core.breaker import BreakerPolicy, CircuitBreaker, CircuitOpen, guarded
from seriesguard.core.errors import NotFound
from seriesguard.core.redact import redact_url
from seriesguard.core.series import model_name
from seriesguard.core.stages import Stage
from seriesguard.registry.base import (
    STAGE_ALIASES,
    ModelRegistry,
    RegisteredVersion,
    RegistryUnavailable,
    TrainingRecord,
    check_alias,
)
from seriesguard.registry.mlflow_defaults import set_client_defaults, tune_sqlite_engines
from seriesguard.registry.mlflow_store import probe_database
from seriesguard.registry.mlflow_tags import json_dict, reference_tag
from seriesguard.registry.mlflow_writes import (
    PARAMS_IN_MODEL,
    log_run,
    version_tags,
    write_model_without_run,
)
from seriesguard.registry.pyfunc_model import DETECTOR_FILE, PyfuncTemplate, inline_detector

T = TypeVar("T")

_NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
_FILTER_SAFE = re.compile(r"^[A-Za-z0-9_.:@/+~-]{1,250}$")  # needs no quoting in a filter
_PAGE = 1000
_SERIES_LOCKS = 64


def _backend_errors() -> tuple[type[BaseException], ...]:
    """Exceptions meaning "backend down or broken" (requests' errors are OSErrors)."""
    errors = [MlflowException, sqlalchemy.exc.SQLAlchemyError, OSError]
    with suppress(ImportError):  # S3 artifact stores fail with botocore's own exceptions
        boto = importlib.import_module("botocore.exceptions")
        errors += [boto.BotoCoreError, boto.ClientError]
    return tuple(errors)


@contextmanager
def _unless(code: str) -> Iterator[None]:
    """Swallow the MlflowException with error code ``code``; re-raise any other."""
    try:
        yield
    except MlflowException as exc:
        if _code(exc) != code:
            raise


def _code(exc: BaseException) -> str | None:
    return exc.error_code if isinstance(exc, MlflowException) else None


def _is_database(uri: str) -> bool:
    """True for the URIs MLflow serves from its SQLAlchemy stores."""
    return urlsplit(uri).scheme.split("+", 1)[0] in {"sqlite", "postgresql", "mysql", "mssql"}


class MlflowRegistry(ModelRegistry):
    """MLflow-backed registry; constructing it never touches the backend."""

    def __init__(
        self,
        *,
        tracking_uri: str,
        artifact_root: str,
        experiment_name: str,
        http_timeout_seconds: float = 5,
        http_max_retries: int = 0,
        breaker: CircuitBreaker | None = None,
        log_runs: bool = True,
    ) -> None:
        self._uri = tracking_uri
        self._artifact_root = artifact_root or None  # "" = the tracking server's default
        self._experiment_name = experiment_name
        self._where = redact_url(tracking_uri)
        self._errors = _backend_errors()
        self._breaker = breaker or BreakerPolicy().make("mlflow", clock=time.monotonic)
        self._init_lock = threading.Lock()
        self._mlflow: MlflowClient | None = None
        self._experiment: str | None = None
        self._experiment_location = ""
        self._log_runs = log_runs
        self._pyfunc = PyfuncTemplate()
        # SQLite has one writer: concurrent write transactions dead-lock into "database is
        # locked". Other backends only need per-series order (version numbers, aliases, job ids).
        self._sqlite = tracking_uri.startswith("sqlite:")
        self._write_lock = threading.Lock()
        self._series_locks = [threading.Lock() for _ in range(_SERIES_LOCKS)]
        self._connect_timeout = max(1, math.ceil(http_timeout_seconds))
        set_client_defaults(
            tracking_uri=tracking_uri,
            artifact_root=self._artifact_root,
            timeout_seconds=http_timeout_seconds,
            max_retries=http_max_retries,
        )

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Call through the breaker; translate vendor failures into ``RegistryUnavailable``
        with a readable message."""
        try:
            with guarded(self._breaker, is_outage=self._is_outage):
                yield
        except CircuitOpen as exc:
            raise RegistryUnavailable(
                f"MLflow registry at {self._where} not asked to {action}: {exc}"
            ) from exc
        except self._errors as exc:
            detail = " ".join(str(exc).split())[:400]
            raise RegistryUnavailable(
                f"MLflow registry at {self._where} failed to {action}: "
                f"{type(exc).__name__}: {detail}"
            ) from exc

    def _is_outage(self, exc: BaseException) -> bool:
        """A failure of the backend, not an answer: MLflow's 4xx errors are answers."""
        if isinstance(exc, MlflowException):
            status: int = exc.get_http_status_code()  # type: ignore[no-untyped-call]
            return status >= 500
        return isinstance(exc, self._errors)

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    def _client(self) -> MlflowClient:
        """The client, made on first use: for SQLite that opens (and migrates) the database."""
        with self._init_lock:
            if self._mlflow is None:
                if _is_database(self._uri):
                    probe_database(self._uri, connect_timeout=self._connect_timeout)
                client = MlflowClient(tracking_uri=self._uri, registry_uri=self._uri)
                tune_sqlite_engines(client)  # WAL + synchronous=NORMAL; touches only SQLite
                self._mlflow = client
            return self._mlflow

    def _registry(self) -> Any:
        """MLflow's registry client: ``MlflowClient`` reads the whole registered model before
        each alias or tag write to refuse prompts (~8 ms, more with more versions)."""
        return self._client()._get_registry_client()  # type: ignore[no-untyped-call]

    def _experiment_id(self) -> str:
        client = self._client()
        with self._init_lock:
            if self._experiment is None:
                found = client.get_experiment_by_name(self._experiment_name)
                if found is None:
                    with _unless(_ALREADY_EXISTS):  # another process may be first
                        client.create_experiment(
                            self._experiment_name, artifact_location=self._artifact_root
                        )
                    found = client.get_experiment_by_name(self._experiment_name)
                if found is None or found.lifecycle_stage != "active":
                    raise RegistryUnavailable(
                        f"MLflow experiment {self._experiment_name!r} at {self._where} is "
                        "deleted; restore it or configure another experiment name"
                    )
                self._experiment = str(found.experiment_id)
                self._experiment_location = str(found.artifact_location)
            return self._experiment

    def _experiment_root(self) -> str:
        self._experiment_id()
        return self._experiment_location

    def _maybe(self, call: Callable[[], T]) -> T | None:
        """``call()`` with MLflow's "does not exist" turned into None."""
        with _unless(_NOT_FOUND):
            return call()
        return None

    def _lock_for(self, series_id: str) -> AbstractContextManager[Any]:
        if self._sqlite:
            return self._write_lock
        return self._series_locks[hash(series_id) % _SERIES_LOCKS]

    def _to_version(
        self, series_id: str, mv: Any, params: dict[str, Any] | None = None
    ) -> RegisteredVersion:
        """``mv``; params too long for a tag are read from its model unless given."""
        tags: dict[str, str] = dict(mv.tags or {})
        if params is None:
            in_model = tags.get("params") == PARAMS_IN_MODEL
            params = self._model_params(mv) if in_model else json_dict(tags.get("params"))
        return RegisteredVersion(
            series_id=series_id,
            version=int(mv.version),
            stage=self._stage_of(mv, tags),
            algorithm=tags.get("algorithm", "unknown"),
            params=params,
            metrics={k: float(v) for k, v in json_dict(tags.get("metrics")).items()},
            job_id=tags.get("job_id"),
            run_id=tags.get("run_id") or mv.run_id or None,
            created_at=(mv.creation_timestamp or 0) / 1000.0,
            reference=reference_tag(tags.get("reference")),
        )

    def _model_params(self, mv: Any) -> dict[str, Any]:
        source = self._registry().get_model_version_download_uri(mv.name, str(mv.version))
        with tempfile.TemporaryDirectory(prefix="seriesguard-params-") as folder:
            blob = self._download_detector(str(source).rstrip("/"), Path(folder))
        try:  # a damaged file reads as no params, as a damaged tag does
            return dict(json.loads(blob)["params"])
        except (ValueError, KeyError, TypeError):
            return {}

    @staticmethod
    def _stage_of(mv: Any, tags: dict[str, str]) -> Stage:
        """The ``stage`` tag; for versions made outside seriesguard, aliases or old stages."""
        aliases = set(getattr(mv, "aliases", None) or ())
        alias = next((a for a in ("production", "staging") if a in aliases), None)
        return Stage.from_tag(tags.get("stage") or alias or getattr(mv, "current_stage", None))

    def get_version(self, *, series_id: str, version: int) -> RegisteredVersion | None:
        name = model_name(series_id)
        with self._guard(f"read {name} v{version}"):  # _to_version may download params
            mv = self._maybe(lambda: self._client().get_model_version(name, str(version)))
            return None if mv is None else self._to_version(series_id, mv)

    def get_by_alias(self, *, series_id: str, alias: str) -> RegisteredVersion | None:
        name = model_name(series_id)
        with self._guard(f"read {name}@{alias}"):
            mv = self._alias(name, alias)
            return None if mv is None else self._to_version(series_id, mv)

    def _alias(self, name: str, alias: str) -> Any:
        """The version behind an alias, or None. MLflow answers a missing alias (or a name it
        refuses as alias) with INVALID_PARAMETER_VALUE, a missing model with NOT_FOUND."""
        with _unless("INVALID_PARAMETER_VALUE"):
            return self._maybe(lambda: self._client().get_model_version_by_alias(name, alias))
        return None

    def list_versions(self, *, series_id: str) -> list[RegisteredVersion]:
        with self._guard(f"list the versions of {model_name(series_id)}"):
            return self._search(series_id, None)

    def find_by_job(self, *, series_id: str, job_id: str) -> RegisteredVersion | None:
        with self._guard(f"find the version of job {job_id!r}"):
            return self._find(series_id, job_id)

    def _find(self, series_id: str, job_id: str) -> RegisteredVersion | None:
        if _FILTER_SAFE.match(job_id):
            found = self._search(series_id, f"tags.job_id = '{job_id}'")
        else:  # a job id the filter grammar cannot quote: compare in Python instead
            found = [v for v in self._search(series_id, None) if v.job_id == job_id]
        return found[0] if found else None

    def _search(self, series_id: str, condition: str | None) -> list[RegisteredVersion]:
        """Versions of a series matching ``condition``, oldest first."""
        name = model_name(series_id)
        if not _FILTER_SAFE.match(name):
            return []  # MLflow cannot hold such a name either
        query = f"name = '{name}'" + (f" and {condition}" if condition else "")
        client, token, found = self._client(), None, []
        while True:
            page = client.search_model_versions(
                query, max_results=_PAGE, order_by=["version_number ASC"], page_token=token
            )
            found += [self._to_version(series_id, mv) for mv in page]
            token = page.token
            if not token:
                return found

    def load_model_bytes(self, *, series_id: str, version: int) -> bytes:
        name = model_name(series_id)
        with self._guard(f"download the model of {name} v{version}"):
            source = self._maybe(
                lambda: self._registry().get_model_version_download_uri(name, str(version))
            )
            if source is None:
                raise NotFound(f"series {series_id!r} has no version {version}")
            with tempfile.TemporaryDirectory(prefix="seriesguard-model-") as folder:
                return self._download_detector(str(source).rstrip("/"), Path(folder))

    def _download_detector(self, source: str, folder: Path) -> bytes:
        """The data file; bulk-imported models keep the detector in the MLmodel instead."""
        mlmodel = download_artifacts(
            artifact_uri=f"{source}/MLmodel", dst_path=str(folder), tracking_uri=self._uri
        )
        inline = inline_detector(Path(mlmodel))
        if inline is not None:
            return inline
        local = download_artifacts(
            artifact_uri=f"{source}/{DETECTOR_FILE}", dst_path=str(folder), tracking_uri=self._uri
        )
        return Path(local).read_bytes()

    def register(self, record: TrainingRecord) -> RegisteredVersion:
        name = model_name(record.series_id)
        with self._lock_for(record.series_id), self._guard(f"register a version of {name}"):
            existing = None if record.first_attempt else self._find(record.series_id, record.job_id)
            if existing is not None:
                self._repair_staging_alias(name, existing)
                return existing
            client = self._client()
            if self._log_runs:
                run_id, source = log_run(
                    client,
                    experiment_id=self._experiment_id(),
                    record=record,
                    pyfunc=self._pyfunc,
                    errors=self._errors,
                )
            else:
                run_id, source = (
                    None,
                    write_model_without_run(
                        experiment_root=self._experiment_root(), record=record, pyfunc=self._pyfunc
                    ),
                )
            tags = version_tags(record, run_id=run_id, stage=Stage.STAGING)
            mv = self._create_version(client, name, source, run_id, tags, record.new_series)
            self._registry().set_registered_model_alias(name, "staging", str(mv.version))
            return self._to_version(record.series_id, mv, record.detector.params())

    @staticmethod
    def _create_version(
        client: MlflowClient,
        name: str,
        source: str,
        run_id: str | None,
        tags: dict[str, str],
        new_series: bool,
    ) -> Any:
        """Create the version, and the registered model with the first one: two calls for a
        new series when the caller says so, else one (three if it was wrong)."""
        if not new_series:
            with _unless(_NOT_FOUND):
                return client.create_model_version(name, source, run_id, tags, await_creation_for=0)
        with _unless(_ALREADY_EXISTS):  # another process may be first
            client.create_registered_model(name, tags={"seriesguard": "anomaly-detector"})
        return client.create_model_version(name, source, run_id, tags, await_creation_for=0)

    def _repair_staging_alias(self, name: str, version: RegisteredVersion) -> None:
        """Finish a register that died between creating the version and setting its alias."""
        if version.stage is not Stage.STAGING:
            return
        if self._alias(name, "staging") is None:
            self._registry().set_registered_model_alias(name, "staging", str(version.version))

    def set_stage(self, *, series_id: str, version: int, stage: Stage) -> None:
        name = model_name(series_id)
        with self._lock_for(series_id), self._guard(f"move {name} v{version} to {stage}"):
            mv = self._maybe(lambda: self._client().get_model_version(name, str(version)))
            if mv is None:
                raise NotFound(f"series {series_id!r} has no version {version}")
            registry = self._registry()
            registry.set_model_version_tag(name, str(version), "stage", stage.tag)
            for alias in STAGE_ALIASES:
                if alias == stage.tag:
                    registry.set_registered_model_alias(name, alias, str(version))
                elif alias in (mv.aliases or ()):
                    registry.delete_registered_model_alias(name, alias)

    def set_alias(self, *, series_id: str, alias: str, version: int | None) -> None:
        check_alias(alias)
        name = model_name(series_id)
        with self._lock_for(series_id), self._guard(f"point {name}@{alias} at v{version}"):
            registry = self._registry()
            if version is None:  # no model, or no such alias: already deleted
                with _unless("INVALID_PARAMETER_VALUE"):
                    self._maybe(lambda: registry.delete_registered_model_alias(name, alias))
                return
            if self._maybe(lambda: self._client().get_model_version(name, str(version))) is None:
                raise NotFound(
                    f"series {series_id!r} has no version {version}",
                    rule="version_not_found",
                    loc=("version",),
                )
            registry.set_registered_model_alias(name, alias, str(version))

    def delete_version(self, *, series_id: str, version: int) -> None:
        name = model_name(series_id)
        with self._lock_for(series_id), self._guard(f"delete {name} v{version}"):
            # MLflow drops the version's aliases with it; deleting twice is not an error.
            self._maybe(lambda: self._registry().delete_model_version(name, str(version)))

    def prepare(self) -> None:
        """Open the store and the experiment now rather than inside the first job."""
        with self._guard("open the store"):
            self._experiment_id()

    def close(self) -> None:
        with self._init_lock:
            self._mlflow = None
            self._experiment = None
