"""Detector catalogue: algorithm name -> implementation, plus (de)serialisation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from seriesguard.core.detectors.base import (
    FORMAT_VERSION,
    Detector,
    normalized_score,
    normalized_scores,
)
from seriesguard.core.detectors.isolation_forest import IsolationForestDetector
from seriesguard.core.detectors.residual import ResidualDetector
from seriesguard.core.detectors.robust import RobustDetector
from seriesguard.core.detectors.seasonal import SeasonalDetector
from seriesguard.core.detectors.zscore import ZScoreDetector
from seriesguard.core.errors import InvalidInput

# What a training request that names no algorithm gets: the best detector on the NAB corpus
# (docs/detection-quality.md). The seed's z-score stays available as "statistical".
DEFAULT_ALGORITHM = "residual"

ALGORITHMS: dict[str, type[Detector]] = {
    "statistical": ZScoreDetector,
    "zscore": ZScoreDetector,
    "robust": RobustDetector,
    "seasonal": SeasonalDetector,
    "residual": ResidualDetector,
    "isolation_forest": IsolationForestDetector,
}


def detector_class(algorithm: str) -> type[Detector]:
    try:
        return ALGORITHMS[algorithm]
    except KeyError:
        raise InvalidInput(
            f"unknown algorithm {algorithm!r}; available: {sorted(ALGORITHMS)}",
            rule="unknown_algorithm",
            loc=("body", "config", "algorithm"),
        ) from None


def detector_from_params(algorithm: str, params: Mapping[str, Any]) -> Detector:
    return detector_class(algorithm).from_params(params)


def detector_from_bytes(blob: bytes) -> Detector:
    document = json.loads(blob)
    if document.get("format") != FORMAT_VERSION:
        raise ValueError(f"unsupported model format {document.get('format')!r}")
    return detector_from_params(document["algorithm"], document["params"])


__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "Detector",
    "IsolationForestDetector",
    "ResidualDetector",
    "RobustDetector",
    "SeasonalDetector",
    "ZScoreDetector",
    "detector_class",
    "detector_from_bytes",
    "detector_from_params",
    "normalized_score",
    "normalized_scores",
]
