"""The body of ``GET /api/v1/models/{id}/plot-data`` (written by orjson from
:func:`seriesguard.plot_data.plot_data`; this model documents it)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TrainingOut(BaseModel):
    timestamps: list[float | None] = Field(description="Epoch seconds.")
    values: list[float | None]
    flagged: list[int] = Field(description="Indices into these arrays of the flagged points.")
    points: int = Field(description="Points in the training window.")
    shown: int = Field(description="Points kept: min and max of ~1,000 buckets + flagged.")


class BandOut(BaseModel):
    """Where the band changes; each change comes twice (the value before, then after, at the
    same timestamp), so straight lines through the points draw its steps."""

    timestamps: list[float | None]
    lower: list[float | None]
    upper: list[float | None]
    center: list[float | None]


class RecentOut(BaseModel):
    timestamps: list[float | None]
    values: list[float | None]
    anomaly: list[bool] = Field(description="score > threshold, as predict decides.")
    scores: list[float | None]
    lower: list[float | None] | None = Field(description="None: the detector has no band.")
    upper: list[float | None] | None


class PlotDataOut(BaseModel):
    series_id: str
    version: str
    algorithm: str
    threshold: float | None
    training: TrainingOut | None = Field(description="None: the training data is not kept.")
    band: BandOut | None
    recent: RecentOut = Field(
        description="The newest history points after the training window, scored by this "
        "version (its pure score: live state untouched)."
    )
    notes: list[str] = Field(description="Why something is missing or reduced.")
