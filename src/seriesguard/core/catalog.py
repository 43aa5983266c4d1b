"""The serving catalog: what each series serves now, as a materialised index of the registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seriesguard.core.errors import NotFound
from seriesguard.core.monitoring import ReferenceSummary
from seriesguard.core.stages import Stage


class VersionNotInCatalog(NotFound, KeyError):
    """The catalog has no such version of the series. A KeyError too: older callers of
    ``CatalogRepository.set_stage`` catch that."""

    rule = "version_not_found"

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


@dataclass(frozen=True)
class Challenger:
    """A version that answers part of a series' requests (canary) or scores them unseen
    (shadow, ``percentage`` None) beside the production version."""

    version: int
    algorithm: str
    params: dict[str, Any]
    reference: ReferenceSummary | None = None
    percentage: float | None = None  # canary only: share of the requests it answers, 0-100


@dataclass(frozen=True)
class ServingEntry:
    """What the predictor needs to serve a series without asking the registry."""

    series_id: str
    version: int
    algorithm: str
    params: dict[str, Any]
    revision: int
    reference: ReferenceSummary | None = None  # inputs are binned against it (drift)
    canary: Challenger | None = None
    shadow: Challenger | None = None


@dataclass(frozen=True)
class SeriesStats:
    """Summary of the latest training window: the z-score fallback's historical statistics."""

    mean: float
    std: float
    n_points: int


@dataclass(frozen=True)
class SeriesSummary:
    series_id: str
    production_version: int | None
    staging_version: int | None
    latest_version: int | None
    revision: int
    updated_at: float
    stats: SeriesStats | None = None
    canary_version: int | None = None
    canary_percentage: float | None = None
    shadow_version: int | None = None


@dataclass(frozen=True)
class ModelVersion:
    """One model version as the rest of seriesguard sees it (no vendor objects)."""

    series_id: str
    version: int
    stage: Stage
    algorithm: str
    params: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    job_id: str | None = None
    run_id: str | None = None
    created_at: float = 0.0
    reference: ReferenceSummary | None = None  # the training window, summarised (drift)
