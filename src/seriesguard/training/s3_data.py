"""Training data on S3 (MinIO in production, moto's server in tests): one object per job.

Why S3: in distributed mode the API that accepts a job and the worker that trains it run on
different machines, so the points cannot wait in a local folder.

- ``save`` is one ``PutObject`` of ``<prefix>/<job_id>.npz``. S3 makes an object visible only
  once it is whole, so a crash mid-upload leaves nothing behind (no temp key, no rename).
- The reference is ``s3://<bucket>/<key>``: self-describing, so ``load``/``delete`` work on it
  even after the store's prefix is reconfigured.
- The client fails fast: short connect/read timeouts and a bounded number of attempts (boto's
  defaults, 60 s timeouts with retries, would hold an HTTP request or a worker for minutes).
- botocore's exceptions never leave this module. A missing object is
  :class:`~seriesguard.training.data.TrainingDataNotFound`; everything else that goes wrong on
  the wire (connection refused, timeout, 5xx, throttling, missing bucket, bad credentials) is
  :class:`~seriesguard.training.data.DataStoreUnavailable`, which says what failed and where.
- The bucket is created only by :meth:`S3DataStore.ensure_bucket` (at start-up or by an
  operator), never implicitly: a typo in the URL must fail loudly, not fill a new bucket.

Credentials and region come from boto3's usual chain (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``, profiles, instance roles): the same variables
MLflow's S3 artifact store reads, so one set serves both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from seriesguard.core.breaker import BreakerPolicy, CircuitBreaker, CircuitOpen, guarded
from seriesguard.core.validation import TrainingData
from seriesguard.training.data import (
    DataStoreUnavailable,
    TrainingDataNotFound,
    TrainingDataStore,
    check_job_id,
    decode_training_data,
    encode_training_data,
)

__all__ = ["DataStoreUnavailable", "S3DataStore", "TrainingDataNotFound", "parse_s3_url"]

# Only S3's own answer means "no such object": a bare 404 (a web server or proxy at the wrong
# endpoint URL) is a misconfigured store, not missing data.
_MISSING_OBJECT = {"NoSuchKey"}
_MISSING_BUCKET = {"NoSuchBucket"}
_BUCKET_IS_OURS = {"BucketAlreadyOwnedByYou"}


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (``bucket``, ``some/prefix``); the prefix may be empty."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an S3 URL (s3://bucket/prefix): {url!r}")
    return parts.netloc, parts.path.strip("/")


class S3DataStore(TrainingDataStore):
    """Training data under ``s3://bucket/prefix``; constructing it never touches the network."""

    def __init__(
        self,
        url: str,
        *,
        endpoint_url: str | None = None,
        connect_timeout_seconds: float = 2.0,
        read_timeout_seconds: float = 5.0,
        max_attempts: int = 3,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._bucket, self._prefix = parse_s3_url(url)
        self._endpoint_url = endpoint_url or None
        self._where = f"{endpoint_url or 'S3'} (bucket {self._bucket})"
        # S3-compatible servers (MinIO) are addressed by path: a virtual host name
        # (bucket.minio:9000) would need a DNS entry per bucket.
        self._config = Config(
            connect_timeout=connect_timeout_seconds,
            read_timeout=read_timeout_seconds,
            retries={"total_max_attempts": max(1, max_attempts), "mode": "standard"},
            s3={"addressing_style": "path"} if self._endpoint_url else None,
        )
        self._lock = threading.Lock()
        self._s3: Any = None
        self._breaker = breaker or BreakerPolicy().make("s3-training-data", clock=time.monotonic)

    @property
    def url(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}".rstrip("/")

    def _client(self) -> Any:
        """The boto3 client, made on first use (clients are thread-safe, making one is not)."""
        with self._lock:
            if self._s3 is None:
                with self._translate("create an S3 client", None):  # no network: no breaker
                    self._s3 = boto3.session.Session().client(
                        "s3", endpoint_url=self._endpoint_url, config=self._config
                    )
            return self._s3

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    @staticmethod
    def _is_outage(exc: BaseException) -> bool:
        """Anything but "no such object", which is S3 answering."""
        if isinstance(exc, ClientError):
            return str(exc.response.get("Error", {}).get("Code", "")) not in _MISSING_OBJECT
        return isinstance(exc, BotoCoreError | OSError)

    @contextmanager
    def _guard(self, action: str, ref: str | None) -> Iterator[None]:
        """A call to S3: through the breaker, with botocore's failures translated."""
        try:
            with self._translate(action, ref), guarded(self._breaker, is_outage=self._is_outage):
                yield
        except CircuitOpen as exc:
            raise DataStoreUnavailable(f"S3 at {self._where} not asked to {action}: {exc}") from exc

    @contextmanager
    def _translate(self, action: str, ref: str | None) -> Iterator[None]:
        """Translate botocore failures into the store's two domain errors."""
        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if ref is not None and code in _MISSING_OBJECT:
                raise TrainingDataNotFound(f"no training data at {ref}") from exc
            if code in _MISSING_BUCKET:
                hint = "create it, or call ensure_bucket() at start-up"
                raise DataStoreUnavailable(
                    f"S3 at {self._where} failed to {action}: the bucket does not exist; {hint}"
                ) from exc
            message = " ".join(str(error.get("Message", "")).split())[:200]
            raise DataStoreUnavailable(
                f"S3 at {self._where} failed to {action}: {code or 'error'} "
                f"(HTTP {status}) {message}".rstrip()
            ) from exc
        except (BotoCoreError, OSError) as exc:  # unreachable, timeouts, no credentials, ...
            detail = " ".join(str(exc).split())[:300]
            raise DataStoreUnavailable(
                f"S3 at {self._where} failed to {action}: {type(exc).__name__}: {detail}"
            ) from exc

    def _key(self, job_id: str) -> str:
        check_job_id(job_id)
        return f"{self._prefix}/{job_id}.npz" if self._prefix else f"{job_id}.npz"

    @staticmethod
    def _split(ref: str) -> tuple[str, str]:
        """Bucket and key of a reference this kind of store handed out."""
        try:
            bucket, key = parse_s3_url(ref)
        except ValueError as exc:
            raise TrainingDataNotFound(f"{ref!r} is not an S3 training data reference") from exc
        if not key:
            raise TrainingDataNotFound(f"{ref!r} names a bucket, not an object")
        return bucket, key

    def save(self, *, job_id: str, data: TrainingData) -> str:
        key = self._key(job_id)
        blob = encode_training_data(data)
        ref = f"s3://{self._bucket}/{key}"
        with self._guard(f"write {key}", None):
            self._client().put_object(
                Bucket=self._bucket, Key=key, Body=blob, ContentType="application/octet-stream"
            )
        return ref

    def load(self, ref: str) -> TrainingData:
        bucket, key = self._split(ref)
        with self._guard(f"read {key}", ref):
            response = self._client().get_object(Bucket=bucket, Key=key)
            with response["Body"] as body:  # a reset connection mid-body is a BotoCoreError
                blob = body.read()
        return decode_training_data(blob)

    def delete(self, ref: str) -> None:
        """Idempotent: S3 answers a delete of a missing key with success."""
        bucket, key = self._split(ref)
        with self._guard(f"delete {key}", None):
            self._client().delete_object(Bucket=bucket, Key=key)

    def prepare(self) -> None:
        self.ensure_bucket()

    def ensure_bucket(self) -> bool:
        """Create the bucket if it is missing; True when this call created it. Meant for
        start-up or an admin command, not for every request (one extra round trip)."""
        client = self._client()
        with self._guard("look up the bucket", None):
            try:
                client.head_bucket(Bucket=self._bucket)
                return False
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) not in {"404", "NoSuchBucket"}:
                    raise
            region = client.meta.region_name
            extra: dict[str, Any] = {}
            if region and region != "us-east-1":  # us-east-1 refuses an explicit constraint
                extra["CreateBucketConfiguration"] = {"LocationConstraint": region}
            try:
                client.create_bucket(Bucket=self._bucket, **extra)
            except ClientError as exc:  # another process was first
                if str(exc.response.get("Error", {}).get("Code")) not in _BUCKET_IS_OURS:
                    raise
                return False
            return True
