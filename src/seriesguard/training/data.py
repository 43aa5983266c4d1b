"""Training data kept by reference: one compressed file per job, the job row holds its path."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from seriesguard.core.validation import TrainingData


class TrainingDataStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def save(self, *, job_id: str, data: TrainingData) -> str:
        """Write atomically (temp file + rename) so a crash never leaves half a file."""
        self._root.mkdir(parents=True, exist_ok=True)
        final = self._root / f"{job_id}.npz"
        partial = self._root / f".{job_id}.npz.partial"
        with partial.open("wb") as handle:
            np.savez(handle, timestamps=data.timestamps, values=data.values)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(final)
        return str(final.resolve())

    def load(self, path: str) -> TrainingData:
        with np.load(path) as archive:
            return TrainingData(timestamps=archive["timestamps"], values=archive["values"])

    def delete(self, path: str) -> None:
        Path(path).unlink(missing_ok=True)
