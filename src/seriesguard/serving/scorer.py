"""What answers a prediction: a detector plus the facts the response reports about it."""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from seriesguard.core.detectors import Detector
from seriesguard.core.monitoring import FALLBACK_VERSION, ReferenceSummary
from seriesguard.core.routing import bucket
from seriesguard.core.series import version_label

FloatArray = npt.NDArray[np.float64]
Edges: TypeAlias = "array[float]"  # array("d"): ascending interior cut points

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
    """A detector with the facts the response reports about it.

    ``key`` is (series, version) of the per-series statistics its answers are counted under
    (version 0: the fallback), ``edges`` the cut points of the version's reference histogram
    that inputs are binned on (None: the version has no reference). Built once per model, so
    the hot path allocates nothing for them."""

    detector: Detector
    info: ModelInfo
    key: tuple[str, int] = ("", FALLBACK_VERSION)
    edges: Edges | None = None
    # The series' canary and shadow, on the production scorer only; None for nearly every
    # series, and then the hot path pays this one attribute test.
    routing: Routing | None = None

    def pick(self, timestamp: float) -> Scorer:
        """The scorer that answers the request at ``timestamp``: the canary for its share of
        the buckets (core.routing), else this one."""
        routing = self.routing
        if routing is None or routing.canary is None:
            return self
        if bucket(routing.series_key, timestamp) < routing.canary_cut:
            return routing.canary
        return self

    def score_one(self, value: float, timestamp: float) -> tuple[bool, float]:
        score = self.detector.score_one(value, timestamp)
        return score > self.detector.threshold, score

    def score_many(self, values: FloatArray, timestamps: FloatArray) -> tuple[FloatArray, float]:
        return self.detector.score_stream(values, timestamps), self.detector.threshold


@dataclass(frozen=True, slots=True)
class Routing:
    """A series' challengers: ``canary`` answers the requests whose bucket is below
    ``canary_cut``; ``shadow`` scores every request and never answers."""

    series_key: int
    canary: Scorer | None = None
    canary_cut: int = 0
    shadow: Scorer | None = None


def challenger_scorer(
    detector: Detector,
    *,
    series_id: str,
    version: int,
    stage: str,
    loaded_from: str,
    edges: Edges | None = None,
) -> Scorer:
    """The scorer of a canary or shadow version (stage ``canary``/``shadow``), counted under
    its own (series, version): that is the evidence its promotion is judged on."""
    info = ModelInfo(
        version=version_label(version),
        stage=stage,
        type="mlflow_trained",
        loaded_from=loaded_from,
        confidence="high",
    )
    return Scorer(detector=detector, info=info, key=(series_id, version), edges=edges)


def production_scorer(
    detector: Detector,
    *,
    series_id: str,
    version: int,
    origin: str,
    loaded_from: str,
    edges: Edges | None = None,
    routing: Routing | None = None,
) -> Scorer:
    """The scorer of a production model loaded from ``origin`` (catalog, mlflow or cache)."""
    kind, confidence = _KIND[origin]
    info = ModelInfo(
        version=version_label(version),
        stage="production",
        type=kind,
        loaded_from=loaded_from,
        confidence=confidence,
    )
    return Scorer(
        detector=detector, info=info, key=(series_id, version), edges=edges, routing=routing
    )


def reference_edges(reference: ReferenceSummary | None) -> Edges | None:
    """The cut points as a compact array: 285,000 of them stay resident."""
    return None if reference is None else array("d", reference.edges)
