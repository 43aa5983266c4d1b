"""Bodies of the history store's routes (POST /api/v1/series/{series_id}/data)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from seriesguard.api.schemas import Strict, Timestamp


class SeriesDataRequest(Strict):
    timestamps: list[Timestamp] = Field(
        description="Epoch seconds or ISO-8601, strictly increasing, none older than the "
        "history's retention; at most 100,000 per request."
    )
    values: list[float] = Field(description="One finite value per timestamp.")


class SeriesDataOut(BaseModel):
    series_id: str
    accepted: int = Field(description="Points stored by this request.")
    duplicates: int = Field(
        description="Points already stored (same series and timestamp): left as they were, so "
        "re-sending a request changes nothing."
    )
    first: str | None = Field(description="Timestamp of the first point sent (ISO-8601, UTC).")
    last: str | None = Field(description="Timestamp of the last point sent.")
    retained_until: str | None = Field(
        description="When the first point sent will be deleted by the retention."
    )
