"""Bulk import of already-fitted models (a fleet migrating from another system): the rules.

One record per series: ``{"series_id", "algorithm", "params", "metrics"?}``, where ``params``
are the detector's own parameters (for the seed's z-score: ``mean``, ``std``,
``threshold_sigma``). Every record is checked before anything is written, so a bad line
stops an import before it touched the registry; errors name the line and the field.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from seriesguard.core.detectors import Detector, detector_class
from seriesguard.core.errors import InvalidInput
from seriesguard.core.monitoring import ReferenceSummary
from seriesguard.core.series import check_series_id
from seriesguard.core.stages import Stage

IMPORTABLE_STAGES = (Stage.PRODUCTION, Stage.STAGING)
_FIELDS = frozenset({"series_id", "algorithm", "params", "metrics", "reference"})


@dataclass(frozen=True)
class ImportedModel:
    """One validated record: the fitted detector of one series, and the stage it goes to."""

    series_id: str
    detector: Detector
    metrics: dict[str, float] = field(default_factory=dict)
    line: int = 0
    reference: ReferenceSummary | None = None  # training histogram, if the source kept one

    @cached_property  # asked per file, row and catalog entry: hash once
    def job_id(self) -> str:
        """Stands in for the training job: the same model imported twice is one version."""
        document = json.dumps([self.detector.algorithm, self.detector.params()], sort_keys=True)
        return "import-" + hashlib.sha256(document.encode()).hexdigest()[:29]


def parse_record(document: object, *, line: int, default_algorithm: str) -> ImportedModel:
    """Validate one decoded record; ``line`` (1-based) is where errors point."""
    where: tuple[str | int, ...] = ("line", line)
    if not isinstance(document, Mapping):
        raise InvalidInput(
            f"line {line}: a record must be a JSON object", rule="record_type", loc=where
        )
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        raise InvalidInput(
            f"line {line}: unknown field {unknown[0]!r}; known: {sorted(_FIELDS)}",
            rule="unknown_field",
            loc=(*where, unknown[0]),
        )
    series_id = document.get("series_id")
    if not isinstance(series_id, str):
        raise InvalidInput(
            f"line {line}: series_id must be a string",
            rule="missing_field",
            loc=(*where, "series_id"),
        )
    check_series_id(series_id, loc=(*where, "series_id"))
    return ImportedModel(
        series_id=series_id,
        detector=_detector(document, where=where, default_algorithm=default_algorithm),
        metrics=_metrics(document.get("metrics"), where=where),
        line=line,
        reference=_reference(document.get("reference"), where=where),
    )


def _reference(raw: object, *, where: tuple[str | int, ...]) -> ReferenceSummary | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidInput(
            "reference must be an object {edges, counts, n_points, anomaly_rate}",
            rule="field_type",
            loc=(*where, "reference"),
        )
    try:
        return ReferenceSummary.from_json(raw)
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInput(
            f"reference is not a training histogram: {exc}",
            rule="reference_format",
            loc=(*where, "reference"),
        ) from None


def _detector(
    document: Mapping[str, Any], *, where: tuple[str | int, ...], default_algorithm: str
) -> Detector:
    algorithm = document.get("algorithm", default_algorithm)
    params = document.get("params")
    if not isinstance(algorithm, str):
        raise InvalidInput(
            "algorithm must be a string", rule="field_type", loc=(*where, "algorithm")
        )
    if not isinstance(params, Mapping):
        raise InvalidInput(
            "params must be an object with the detector's parameters",
            rule="missing_field",
            loc=(*where, "params"),
        )
    try:
        cls = detector_class(algorithm)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, rule=exc.rule, loc=(*where, "algorithm")) from None
    try:
        detector = cls.from_params(params)
        detector.check()
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(
            f"params do not describe a {algorithm!r} model: {type(exc).__name__}: {exc}",
            rule="model_params",
            loc=(*where, "params"),
        ) from None
    bad = sorted(k for k, v in detector.params().items() if not _finite(v))
    if bad:
        raise InvalidInput(
            f"params.{bad[0]} must be a finite number",
            rule="model_params",
            loc=(*where, "params", bad[0]),
        )
    return detector


def _metrics(raw: object, *, where: tuple[str | int, ...]) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidInput("metrics must be an object", rule="field_type", loc=(*where, "metrics"))
    metrics: dict[str, float] = {}
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
            raise InvalidInput(
                f"metrics.{name} must be a finite number",
                rule="field_type",
                loc=(*where, "metrics", str(name)),
            )
        metrics[str(name)] = float(value)
    return metrics


def _finite(value: object) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return math.isfinite(value)
    return True  # non-numeric parameters are the detector's business


def parse_stage(text: str) -> Stage:
    stage = Stage.from_tag(text.lower())
    if stage not in IMPORTABLE_STAGES:
        raise InvalidInput(
            f"imported models go to Production or Staging, not {text!r}",
            rule="import_stage",
            loc=("stage",),
        )
    return stage
