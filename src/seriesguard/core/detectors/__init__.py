"""Detector catalogue: algorithm name -> implementation, plus (de)serialisation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from seriesguard.core.detectors.base import FORMAT_VERSION, Detector
from seriesguard.core.detectors.robust import RobustDetector
from seriesguard.core.detectors.seasonal import SeasonalDetector
from seriesguard.core.detectors.zscore import ZScoreDetector
from seriesguard.core.errors import InvalidInput

ALGORITHMS: dict[str, type[Detector]] = {
    "statistical": ZScoreDetector,
    "zscore": ZScoreDetector,
    "robust": RobustDetector,
    "seasonal": SeasonalDetector,
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
    "Detector",
    "RobustDetector",
    "SeasonalDetector",
    "ZScoreDetector",
    "detector_class",
    "detector_from_bytes",
    "detector_from_params",
]
