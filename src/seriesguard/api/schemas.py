"""Request and response bodies, in the seed's shapes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from seriesguard.core.detectors import DEFAULT_ALGORITHM
from seriesguard.core.jobs import DEFAULT_PRIORITY

Timestamp = float | str


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrainingConfigBody(Strict):
    algorithm: str = Field(
        default=DEFAULT_ALGORITHM,
        description="residual (the default), statistical (alias zscore: the seed's z-score), "
        "robust, seasonal or isolation_forest (docs/detectors.md).",
    )
    hyperparameters: dict[str, Any] = Field(
        default_factory=dict,
        description="threshold_sigma and target_false_alarm_rate (0 < r < 0.5: calibrates "
        "the threshold instead) for every algorithm; period (auto, daily, weekly) for seasonal.",
    )
    priority: int = Field(default=DEFAULT_PRIORITY, description="1 (lowest) to 10 (highest).")
    window_hours: int | None = Field(
        default=None,
        ge=1,
        description="Train on the series' stored history of the last N hours instead of "
        "points sent with the request (then send no timestamps/values); at most the "
        "history's retention. The seed's weekly retraining sends 168.",
    )


class TrainingRequest(Strict):
    timestamps: list[Timestamp] | None = Field(
        default=None,
        description="Epoch seconds or ISO-8601, increasing. Omit with config.window_hours.",
    )
    values: list[float] | None = Field(
        default=None, description="One finite value per timestamp. Omit with config.window_hours."
    )
    config: TrainingConfigBody = Field(default_factory=TrainingConfigBody)


class JobOut(BaseModel):
    job_id: str
    series_id: str
    status: str
    priority: int
    algorithm: str
    hyperparameters: dict[str, Any]
    training_points: int
    created_at: str
    updated_at: str
    started_at: str | None = None
    finished_at: str | None = None
    attempts: int
    model_version: str | None = None
    mlflow_run_id: str | None = None
    error: str | None = None
    submitted_by: str | None = Field(
        default=None, description="Subject of the token that submitted it (None without auth)."
    )
    links: dict[str, str]


class JobPage(BaseModel):
    items: list[JobOut]
    total: int
    limit: int
    offset: int


class VersionOut(BaseModel):
    version: str
    stage: str
    algorithm: str
    params: dict[str, Any]
    metrics: dict[str, float]
    created_at: str
    job_id: str | None = None
    mlflow_run_id: str | None = None


class SeriesOut(BaseModel):
    series_id: str
    registered_model: str
    production_version: str | None
    staging_version: str | None
    latest_version: str | None
    updated_at: str
    canary_version: str | None = Field(default=None, description="Version in canary, if any.")
    shadow_version: str | None = Field(default=None, description="Version in shadow, if any.")


class SeriesDetail(SeriesOut):
    versions: list[VersionOut]
    canary_percentage: float | None = Field(
        default=None, description="Share of requests the canary answers, 0-100."
    )
    active_promotion_id: str | None = Field(
        default=None, description="The unfinished canary/shadow promotion (GET /promotions/{id})."
    )


class SeriesPage(BaseModel):
    items: list[SeriesOut]
    total: int
    limit: int
    offset: int


class PromoteRequest(Strict):
    strategy: Literal["direct", "canary", "shadow"] = "direct"
    archive_existing: bool = True
    canary_config: dict[str, Any] | None = Field(
        default=None,
        description="strategy canary: initial_percentage, increment_percentage, "
        "increment_interval_hours (defaults: the server's canary_* settings).",
    )
    shadow_config: dict[str, Any] | None = Field(
        default=None,
        description="strategy shadow: duration_hours, then (canary | production), "
        "canary_config (defaults: the server's shadow_* and canary_* settings).",
    )


class RollbackRequest(Strict):
    to_version: str | int | None = Field(
        default=None,
        description="Version to serve again (v3 or 3); default: the newest Archived version "
        "older than the current production one.",
    )


class PromoteResponse(BaseModel):
    version: str
    stage: Literal["Production"] = "Production"
    previous_version: str | None
    archived: bool


class PredictRequest(Strict):
    timestamp: Timestamp
    value: float


class ModelInfoOut(BaseModel):
    version: str
    stage: str
    type: str
    loaded_from: str


class PredictResponse(BaseModel):
    series_id: str
    timestamp: float
    anomaly: bool
    anomaly_score: float
    normalized_score: float = Field(
        ge=0.0,
        le=1.0,
        description="anomaly_score / (anomaly_score + threshold): 0.5 at the model's "
        "threshold, towards 1 further out, whatever the algorithm or the series' scale, so one "
        "cut means the same on every series. anomaly is still anomaly_score > threshold.",
    )
    threshold: float
    model_info: ModelInfoOut
    confidence: str


class BatchSeries(Strict):
    series_id: str
    timestamps: list[Timestamp]
    values: list[float]


class BatchRequest(Strict):
    series: list[BatchSeries] = Field(
        description="Columnar points per series: any number of series, any number of points."
    )


class BatchCanaryOut(BaseModel):
    """The series' canary version, which answered ``points`` (positions in the result)."""

    threshold: float
    model_info: ModelInfoOut
    confidence: str
    points: list[int]


class BatchResult(BaseModel):
    series_id: str
    anomalies: list[bool]
    anomaly_scores: list[float]
    normalized_scores: list[float] = Field(
        description="Each anomaly_score on the [0, 1] scale of the single predict's "
        "normalized_score (0.5 at the threshold of the version that answered the point)."
    )
    threshold: float
    model_info: ModelInfoOut
    confidence: str
    canary: BatchCanaryOut | None = Field(
        default=None,
        description="Present when the series' canary answered some of these points; the "
        "rest were answered by the version in model_info.",
    )


class BatchResponse(BaseModel):
    results: list[BatchResult]
    points: int


class DeploymentConfig(BaseModel):
    series_id: str
    registered_model: str
    strategy: str
    production: VersionOut | None
    staging: VersionOut | None
    serving: dict[str, Any]


class AuditEventOut(BaseModel):
    id: int
    at: str = Field(description="When, ISO-8601 UTC.")
    subject: str = Field(description="Who: the token's subject (`local` without auth).")
    roles: list[str]
    action: str = Field(description="promote, rollback, cancel or reload.")
    series_id: str | None
    version: str | None
    job_id: str | None
    client: str | None = Field(description="The caller's address as this server saw it.")
    outcome: str
    details: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_before_id: int | None = Field(description="Pass as before_id for the next page.")
