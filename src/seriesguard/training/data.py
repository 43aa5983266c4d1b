"""Training data kept by reference: one ``.npz`` object per job, the job row holds its reference.

The reference is opaque to callers: a store hands it out from ``save`` and takes it back in
``load``/``delete``. Two implementations share this contract (and one contract test):
:class:`LocalDataStore` (a folder: embedded mode, one machine) and
``seriesguard.training.s3_data.S3DataStore`` (S3/MinIO: API and workers on different machines).
``seriesguard.training.data_factory.create_data_store`` picks one by URL.

Errors a store raises on purpose, the same for every store:

- :class:`TrainingDataNotFound` (a ``NotFound``, 404): the reference names nothing (deleted,
  never written, or a reference of another kind of store).
- :class:`DataStoreUnavailable` (an ``Unavailable``, 503): the store could not be reached or
  refused to work (I/O error, timeout, 5xx, missing bucket, bad credentials). Worth a retry.

Both are domain errors on purpose, not ``FileNotFoundError``/``OSError``: callers (and the MLflow
adapter, which treats every ``OSError`` as "backend down") must not confuse "gone" with "down".
"""

from __future__ import annotations

import io
import os
import re
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from seriesguard.core.breaker import CircuitBreaker
from seriesguard.core.errors import NotFound, Unavailable
from seriesguard.core.validation import TrainingData

__all__ = [
    "DataStoreUnavailable",
    "LocalDataStore",
    "TrainingDataNotFound",
    "TrainingDataStore",
    "check_job_id",
    "decode_training_data",
    "encode_training_data",
]


_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")


def check_job_id(job_id: str) -> None:
    """Refuse ids that could climb out of the folder or prefix (``..``, ``/``): the id is
    spliced into a path or an object key."""
    if not _JOB_ID.match(job_id):
        raise ValueError(f"job id {job_id!r} cannot name a training data file")


class TrainingDataNotFound(NotFound):
    """No training data behind this reference."""

    rule = "training_data_not_found"


class DataStoreUnavailable(Unavailable):
    """The training data store is down or refuses to work; the same call may succeed later."""

    rule = "data_store_unavailable"


def encode_training_data(data: TrainingData) -> bytes:
    """The ``.npz`` bytes of ``data``: raw float64 arrays, so a round trip is bit-exact."""
    buffer = io.BytesIO()
    np.savez(buffer, timestamps=data.timestamps, values=data.values)
    return buffer.getvalue()


def decode_training_data(blob: bytes) -> TrainingData:
    """Inverse of :func:`encode_training_data`; never unpickles (``allow_pickle=False``)."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        return TrainingData(timestamps=archive["timestamps"], values=archive["values"])


class TrainingDataStore(ABC):
    """Where a job's training points wait between submit (API) and training (worker)."""

    @abstractmethod
    def save(self, *, job_id: str, data: TrainingData) -> str:
        """Store ``data`` whole or not at all; returns the reference to keep in the job row."""

    @abstractmethod
    def load(self, ref: str) -> TrainingData:
        """The data behind ``ref``; ``TrainingDataNotFound`` if there is none."""

    @abstractmethod
    def delete(self, ref: str) -> None:
        """Remove the data behind ``ref``; deleting what is not there is not an error."""

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Make the store usable before the first job (an S3 bucket); nothing by default."""

    @property
    def breaker(self) -> CircuitBreaker | None:
        """The circuit breaker around a remote backend; None for in-process ones."""
        return None


class LocalDataStore(TrainingDataStore):
    """One file per job in a folder; the reference is the file's absolute path."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def save(self, *, job_id: str, data: TrainingData) -> str:
        """Write atomically (temp file + fsync + rename) so a crash never leaves half a file."""
        check_job_id(job_id)
        final = self._root / f"{job_id}.npz"
        partial = self._root / f".{job_id}.npz.partial"
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as handle:
                handle.write(encode_training_data(data))
                handle.flush()
                os.fsync(handle.fileno())
            partial.replace(final)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise DataStoreUnavailable(
                f"cannot write training data under {self._root}: {exc}"
            ) from exc
        return str(final.resolve())

    def load(self, ref: str) -> TrainingData:
        try:
            blob = Path(ref).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise TrainingDataNotFound(f"no training data at {ref}") from exc
        except OSError as exc:
            raise DataStoreUnavailable(f"cannot read training data at {ref}: {exc}") from exc
        return decode_training_data(blob)

    def delete(self, ref: str) -> None:
        try:
            Path(ref).unlink(missing_ok=True)
        except OSError as exc:
            raise DataStoreUnavailable(f"cannot delete training data at {ref}: {exc}") from exc
