"""What answers a prediction: a detector plus the facts the response reports about it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from seriesguard.core.detectors import Detector
from seriesguard.core.series import version_label

FloatArray = npt.NDArray[np.float64]

# origin of a model -> (model_info.type, confidence)
_KIND = {
    "catalog": ("mlflow_trained", "high"),
    "mlflow": ("mlflow_trained", "high"),
    "cache": ("cached_mlflow", "medium"),
}


@dataclass(frozen=True, slots=True)
class ModelInfo:
    version: str
    stage: str
    type: str
    loaded_from: str
    confidence: str

    def as_model_info(self) -> dict[str, str]:
        """The ``model_info`` object of an answer (single and batch predicts alike)."""
        return {
            "version": self.version,
            "stage": self.stage,
            "type": self.type,
            "loaded_from": self.loaded_from,
        }


@dataclass(frozen=True, slots=True)
class Scorer:
    """A detector with the facts the response reports about it."""

    detector: Detector
    info: ModelInfo

    def score_one(self, value: float, timestamp: float) -> tuple[bool, float]:
        score = self.detector.score_one(value, timestamp)
        return score > self.detector.threshold, score

    def score_many(self, values: FloatArray, timestamps: FloatArray) -> tuple[FloatArray, float]:
        return self.detector.score(values, timestamps), self.detector.threshold


def production_scorer(detector: Detector, *, version: int, origin: str, loaded_from: str) -> Scorer:
    """The scorer of a production model loaded from ``origin`` (catalog, mlflow or cache)."""
    kind, confidence = _KIND[origin]
    info = ModelInfo(
        version=version_label(version),
        stage="production",
        type=kind,
        loaded_from=loaded_from,
        confidence=confidence,
    )
    return Scorer(detector=detector, info=info)
