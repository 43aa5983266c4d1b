"""Picture of a trained model over its training window, for operators deciding on promotion.

Only matplotlib's object API is used (``Figure`` + the Agg canvas, never ``pyplot``):
pyplot keeps a global figure registry, so it is not safe in a server that renders plots from
several threads at once. Long series are reduced to the min and max of each pixel column
before drawing, which keeps 100k points under a second and looks identical at this size, but
every flagged point is drawn: those are what the operator is looking for.
"""

from __future__ import annotations

import io
import threading
from typing import Literal

import matplotlib.dates as mdates
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from seriesguard.core.detectors.base import Detector, FloatArray
from seriesguard.plot_data import (
    BUCKETS,
    Band,
    detector_band,
    flagged_training,
    min_max_indices,
    step_points,
)

# the pure helpers live in plot_data (no matplotlib there); importable from here as before
__all__ = [
    "BUCKETS",
    "FLAGGED_GID",
    "Band",
    "build_training_figure",
    "detector_band",
    "min_max_indices",
    "render_training_plot",
    "step_points",
]

WIDTH_PX, HEIGHT_PX, DPI = 1200, 500, 100
DOWNSAMPLE_ABOVE = 5_000
FLAGGED_GID = "flagged-points"
LINE_COLOR, MEAN_COLOR, BAND_COLOR, FLAG_COLOR = "#1f77b4", "#2ca02c", "#ff7f0e", "#d62728"

_RENDER_LOCK = threading.Lock()


def render_training_plot(
    *,
    series_id: str,
    version_label: str,
    timestamps: FloatArray,
    values: FloatArray,
    detector: Detector,
    fmt: Literal["png", "svg"],
) -> bytes:
    """The training window, its normal band and the flagged points, as PNG or SVG bytes."""
    # matplotlib keeps shared text and font caches even in its object API; concurrent renders
    # from the API's thread pool produced different pixels, so one figure is drawn at a time.
    with _RENDER_LOCK:
        figure = build_training_figure(
            series_id=series_id,
            version_label=version_label,
            timestamps=timestamps,
            values=values,
            detector=detector,
        )
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=DPI, metadata=_metadata(fmt, series_id))
    return buffer.getvalue()


def build_training_figure(
    *,
    series_id: str,
    version_label: str,
    timestamps: FloatArray,
    values: FloatArray,
    detector: Detector,
) -> Figure:
    """The figure behind :func:`render_training_plot`, kept separate so it can be inspected."""
    ts = np.asarray(timestamps, dtype=np.float64)
    vs = np.asarray(values, dtype=np.float64)
    if ts.shape != vs.shape or ts.ndim != 1:
        raise ValueError(f"timestamps {ts.shape} and values {vs.shape} must be equal 1-D arrays")
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    flagged = flagged_training(detector, ts, vs)
    days = _to_date_numbers(ts)
    _draw_series(axes, days, vs)
    _draw_reference(axes, detector_band(detector, ts), days, vs)
    _draw_flagged(axes, days[flagged], vs[flagged])
    _decorate(
        axes,
        title=_title(
            series_id=series_id,
            version_label=version_label,
            detector=detector,
            flagged=flagged.size,
            total=vs.size,
        ),
    )
    return figure


def _to_date_numbers(timestamps: FloatArray) -> FloatArray:
    """Epoch seconds -> matplotlib date numbers, respecting whatever date epoch is set."""
    as_datetime = (timestamps * 1000.0).astype("datetime64[ms]")
    days = mdates.date2num(as_datetime)  # type: ignore[no-untyped-call]  # no stubs upstream
    return np.asarray(days, dtype=np.float64)


def _draw_series(axes: Axes, days: FloatArray, values: FloatArray) -> None:
    if values.size > DOWNSAMPLE_ABOVE:
        keep = min_max_indices(values)
        label = f"training data ({values.size:,} points, min/max per pixel)"
        days, values = days[keep], values[keep]
    else:
        label = f"training data ({values.size:,} points)"
    axes.plot(days, values, color=LINE_COLOR, linewidth=0.8, label=label, zorder=2)


def _draw_reference(axes: Axes, band: Band | None, days: FloatArray, values: FloatArray) -> None:
    if band is not None:
        _draw_band(axes, band, days)
    elif values.size:
        axes.axhline(
            float(np.mean(values)), color=MEAN_COLOR, linewidth=1.2, label="mean", zorder=3
        )


def _draw_band(axes: Axes, band: Band, days: FloatArray) -> None:
    """The band as steps over time (constant for global detectors), centre line on top."""
    order = np.argsort(days, kind="stable")  # a band drawn out of time order would zig-zag
    days, centre, half_width = days[order], band.centre[order], band.half_width[order]
    keep = step_points(centre, half_width)
    days, centre, half_width = days[keep], centre[keep], half_width[keep]
    low, high = centre - half_width, centre + half_width
    axes.fill_between(
        days,
        low,
        high,
        step="post",
        color=BAND_COLOR,
        alpha=0.12,
        linewidth=0,
        zorder=1,
        label=band.label,
    )
    for edge in (low, high):
        axes.plot(
            days,
            edge,
            drawstyle="steps-post",
            color=BAND_COLOR,
            linewidth=0.8,
            linestyle="--",
            zorder=1,
        )
    axes.plot(
        days,
        centre,
        drawstyle="steps-post",
        color=MEAN_COLOR,
        linewidth=1.2,
        label=band.centre_label,
        zorder=3,
    )


def _draw_flagged(axes: Axes, days: FloatArray, values: FloatArray) -> None:
    axes.scatter(
        days,
        values,
        s=14,
        color=FLAG_COLOR,
        edgecolors="white",
        linewidths=0.4,
        zorder=4,
        label=f"flagged ({values.size:,})",
        gid=FLAGGED_GID,
    )


def _decorate(axes: Axes, *, title: str) -> None:
    # matplotlib.dates ships without type hints, hence the two ignores.
    locator = mdates.AutoDateLocator(tz=mdates.UTC)  # type: ignore[no-untyped-call]
    formatter = mdates.ConciseDateFormatter(locator, tz=mdates.UTC)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(formatter)
    axes.set_title(title, fontsize=12, loc="left")
    axes.set_xlabel("time (UTC)")
    axes.set_ylabel("value")
    axes.grid(True, color="#dddddd", linewidth=0.6)
    axes.margins(x=0.01)
    # Below the axes, never over the data (a legend inside hides spikes near a corner).
    axes.figure.legend(loc="outside lower center", ncols=4, fontsize=9, frameon=False)


def _title(
    *, series_id: str, version_label: str, detector: Detector, flagged: int, total: int
) -> str:
    share = f" ({flagged / total:.2%})" if total else ""
    return (
        f"{series_id} · version {version_label} · {detector.algorithm} · "
        f"{flagged:,} of {total:,} training points flagged{share}"
    )


def _metadata(fmt: str, series_id: str) -> dict[str, str | None]:
    """The series id as the file's title; no creation date, which SVG would otherwise embed."""
    if fmt == "svg":
        return {"Title": series_id, "Date": None}
    return {"Title": series_id}
