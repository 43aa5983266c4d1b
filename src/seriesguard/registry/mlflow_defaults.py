"""Fail-fast defaults for the clients MLflow makes: its HTTP client and its S3 client.

Both are process-wide (MLflow reads them from the environment or boto3's default session),
the first registry built in a process sets them, and both give way to the user's own settings.

HTTP: MLflow's defaults (120 s timeout, 7 retries with back-off) would hold a request for
minutes when the tracking server is down.

SQLite (embedded mode): MLflow opens its SQLite database in the default rollback-journal mode
with ``synchronous=FULL``: every commit syncs the journal and the file to disk, and one
registration commits ~10 times (~16 ms of its ~37 ms, measured). :func:`tune_sqlite_engines`
gives MLflow's engines what the metadata DB already has: WAL and ``synchronous=NORMAL``.

S3: MLflow builds its S3/MinIO client with botocore's defaults (60 s connect and read timeouts,
3 attempts) and has no setting for them: an S3 that accepts connections but never answers held
one ``register`` for 184 s (measured, MLflow 3.17.2, botocore 1.44). MLflow makes its clients
from boto3's default session, and botocore merges the session's default client config under
the config a caller passes (the caller's explicit options win; MLflow only sets the signature
version and addressing style), so timeouts set there reach MLflow's client untouched.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, event


def set_client_defaults(
    *, tracking_uri: str, artifact_root: str | None, timeout_seconds: float, max_retries: int
) -> None:
    """Bound every call MLflow makes for a registry: HTTP always, S3 where it may be used."""
    _set_http_defaults(timeout_seconds=timeout_seconds, max_retries=max_retries)
    settle_absent_modules(_PROBED_EVERY_REQUEST)
    if may_use_s3(tracking_uri=tracking_uri, artifact_root=artifact_root):
        # at least one retry: S3 answers throttling with 503 "Slow Down"
        bound_s3_client(timeout_seconds=timeout_seconds, max_attempts=max(2, max_retries + 1))


# Optional modules MLflow tries to import on every REST call to learn whether it runs inside
# Databricks or Spark. Python does not remember a failed import: each try walks sys.path again,
# ~20 ms of CPU per registration (measured, MLflow 3.17.2).
_PROBED_EVERY_REQUEST = ("dbruntime", "pyspark")


def settle_absent_modules(names: tuple[str, ...]) -> list[str]:
    """Mark the modules of ``names`` that are not installed as absent in ``sys.modules``, so
    that importing them fails at once; installed ones are left alone. Returns those marked."""
    marked = []
    for name in names:
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            sys.modules[name] = None  # type: ignore[assignment]  # Python's "known absent"
            marked.append(name)
    return marked


def _set_http_defaults(*, timeout_seconds: float, max_retries: int) -> None:
    """Unless the user configured MLflow. MLflow parses the timeout as an int, and prints a
    "View run" line to stdout per run unless told not to."""
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(1, math.ceil(timeout_seconds))))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(max(0, max_retries)))


def may_use_s3(*, tracking_uri: str, artifact_root: str | None) -> bool:
    """True when artifacts can be on S3: an ``s3://`` root, or a tracking server that picks
    the root itself (it may hand out ``s3://`` artifact URIs)."""
    root_scheme, tracking_scheme = (
        urlsplit(artifact_root or "").scheme,
        urlsplit(tracking_uri).scheme,
    )
    return root_scheme == "s3" or (not artifact_root and tracking_scheme in ("http", "https"))


def bound_s3_client(*, timeout_seconds: float, max_attempts: int) -> bool:
    """Give boto3's default session a fail-fast default client config. False when nothing
    was set: boto3 is not installed, or a default client config is already there (someone
    chose one). ``AWS_MAX_ATTEMPTS``, when set, keeps its say over retries."""
    try:
        import boto3  # type: ignore[import-untyped]
        import botocore.session  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]
    except ImportError:
        return False
    seconds = max(1, math.ceil(timeout_seconds))
    options: dict[str, Any] = {"connect_timeout": seconds, "read_timeout": seconds}
    if "AWS_MAX_ATTEMPTS" not in os.environ:
        options["retries"] = {"total_max_attempts": max(1, max_attempts), "mode": "standard"}
    if boto3.DEFAULT_SESSION is None:
        core = botocore.session.get_session()
        core.set_default_client_config(Config(**options))
        boto3.setup_default_session(botocore_session=core)
        return True
    core = getattr(boto3.DEFAULT_SESSION, "_session", None)  # boto3 exposes no accessor
    with suppress(AttributeError):
        if core is not None and core.get_default_client_config() is None:
            core.set_default_client_config(Config(**options))
            return True
    return False


def tune_sqlite_engines(client: Any) -> int:
    """WAL and ``synchronous=NORMAL`` on every connection of the SQLite engines behind an
    ``MlflowClient``'s tracking and registry stores (opening them, as its first call would);
    returns how many engines were tuned now. A commit then survives a crash of the process,
    as the metadata DB's do; only an OS crash or power loss may take back the last ones.
    Connections already pooled are dropped so that none goes on without the settings."""
    stores = (client._tracking_client.store, client._get_registry_client().store)
    tuned = 0
    for engine in {id(e): e for e in (getattr(s, "engine", None) for s in stores) if e}.values():
        if not isinstance(engine, Engine) or engine.dialect.name != "sqlite":
            continue
        if not event.contains(engine, "connect", _sqlite_pragmas):
            event.listen(engine, "connect", _sqlite_pragmas)
            engine.dispose()
            tuned += 1
    return tuned


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")  # kept in the file; cheap to repeat
        cursor.execute("PRAGMA synchronous=NORMAL")  # per connection
    finally:
        cursor.close()
