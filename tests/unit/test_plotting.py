"""The training plot: valid PNG/SVG bytes, every flagged point drawn, long series reduced."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Self

import matplotlib.dates as mdates
import numpy as np
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.figure import Figure

from seriesguard.core.detectors import RobustDetector, SeasonalDetector, ZScoreDetector
from seriesguard.core.detectors.base import Detector, FloatArray
from seriesguard.plotting import (
    BUCKETS,
    FLAGGED_GID,
    build_training_figure,
    detector_band,
    min_max_indices,
    render_training_plot,
    step_points,
)

START = datetime(2024, 3, 1, tzinfo=UTC).timestamp()


class AbsoluteDetector(Detector):
    """A detector without mean/std: the plot must still draw, just without a band."""

    algorithm = "absolute"

    @classmethod
    def fit(
        cls, values: FloatArray, timestamps: FloatArray, hyperparameters: Mapping[str, Any]
    ) -> Self:
        return cls()

    def score(self, values: FloatArray, timestamps: FloatArray) -> FloatArray:
        return np.abs(values)

    def score_one(self, value: float, timestamp: float) -> float:
        return abs(value)

    @property
    def threshold(self) -> float:
        return 4.0

    def params(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Self:
        return cls()


def series(count: int, *, spikes: Mapping[int, float]) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(7)
    timestamps: FloatArray = START + 300.0 * np.arange(count, dtype=np.float64)
    values: FloatArray = np.sin(np.arange(count) / 200.0) + rng.normal(0.0, 0.1, count)
    for index, height in spikes.items():
        values[index] = height
    return timestamps, values


def flagged_markers(figure: Figure) -> PathCollection:
    (axes,) = figure.axes
    (markers,) = [c for c in axes.collections if c.get_gid() == FLAGGED_GID]
    assert isinstance(markers, PathCollection)
    return markers


def legend_labels(figure: Figure) -> list[str]:
    (legend,) = figure.legends
    return [text.get_text() for text in legend.get_texts()]


def test_png_is_a_1200_by_500_image() -> None:
    timestamps, values = series(2_000, spikes={500: 9.0})
    detector = ZScoreDetector.fit(values, timestamps, {})
    image = render_training_plot(
        series_id="pump-7:x",
        version_label="3",
        timestamps=timestamps,
        values=values,
        detector=detector,
        fmt="png",
    )
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", image[16:24])
    assert (width, height) == (1200, 500)


def test_svg_has_an_svg_root_element() -> None:
    timestamps, values = series(2_000, spikes={500: 9.0})
    detector = ZScoreDetector.fit(values, timestamps, {})
    image = render_training_plot(
        series_id="pump-7:x",
        version_label="3",
        timestamps=timestamps,
        values=values,
        detector=detector,
        fmt="svg",
    )
    root = ET.fromstring(image)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert b"pump-7:x" in image


def test_every_flagged_point_is_drawn_although_the_line_is_reduced() -> None:
    spikes = {i: 12.0 for i in range(1_000, 100_000, 997)}  # 100 isolated spikes
    timestamps, values = series(100_000, spikes=spikes)
    detector = ZScoreDetector.fit(values, timestamps, {"threshold_sigma": 3.0})
    expected = int(detector.predict(values, timestamps).sum())
    assert expected >= len(spikes)

    figure = build_training_figure(
        series_id="s", version_label="1", timestamps=timestamps, values=values, detector=detector
    )

    assert len(np.asarray(flagged_markers(figure).get_offsets())) == expected
    (line,) = figure.axes[0].get_lines()[:1]
    assert len(np.asarray(line.get_xdata())) <= 2 * BUCKETS + 2
    assert f"{expected:,} of 100,000 training points flagged" in figure.axes[0].get_title("left")


def test_100k_points_render_to_both_formats() -> None:
    timestamps, values = series(100_000, spikes={50_000: 20.0})
    detector = ZScoreDetector.fit(values, timestamps, {})
    for fmt in ("png", "svg"):
        image = render_training_plot(
            series_id="big",
            version_label="12",
            timestamps=timestamps,
            values=values,
            detector=detector,
            fmt=fmt,
        )
        assert len(image) > 10_000


def test_zscore_detector_gets_a_band_and_others_do_not() -> None:
    timestamps, values = series(1_000, spikes={10: 9.0})
    zscore = ZScoreDetector(mean=0.5, std=2.0, threshold_sigma=2.5)
    band = detector_band(zscore, timestamps)
    assert band is not None and np.all(band.half_width == 5.0) and np.all(band.centre == 0.5)

    with_band = build_training_figure(
        series_id="s", version_label="1", timestamps=timestamps, values=values, detector=zscore
    )
    assert any(label.startswith("mean \u00b1 2.5") for label in legend_labels(with_band))

    other = AbsoluteDetector()
    assert detector_band(other, timestamps) is None
    without_band = build_training_figure(
        series_id="s", version_label="1", timestamps=timestamps, values=values, detector=other
    )
    labels = legend_labels(without_band)
    assert "mean" in labels and not any("\u00b1" in label for label in labels)
    assert len(np.asarray(flagged_markers(without_band).get_offsets())) == 1


def band_polygon(figure: Figure) -> FloatArray:
    """Vertices of the filled band (the only PolyCollection of the plot)."""
    (axes,) = figure.axes
    (fill,) = [c for c in axes.collections if isinstance(c, PolyCollection)]
    (path,) = fill.get_paths()
    return np.asarray(path.vertices)


def test_robust_detector_gets_a_median_band() -> None:
    timestamps, values = series(2_000, spikes={300: 9.0})
    detector = RobustDetector.fit(values, timestamps, {})
    figure = build_training_figure(
        series_id="s", version_label="1", timestamps=timestamps, values=values, detector=detector
    )
    assert "median \u00b1 3.5\u03c3" in legend_labels(figure)
    ys = band_polygon(figure)[:, 1]
    half_width = detector.threshold * detector.scale
    assert ys.min() == pytest.approx(detector.median - half_width)
    assert ys.max() == pytest.approx(detector.median + half_width)


def test_seasonal_band_follows_the_daily_profile() -> None:
    day = 86_400.0
    timestamps = START + np.arange(0.0, 14 * day, 600.0)
    rng = np.random.default_rng(5)
    values = 10.0 * np.sin(2 * np.pi * timestamps / day) + rng.normal(0.0, 0.3, timestamps.size)
    detector = SeasonalDetector.fit(values, timestamps, {})
    assert len(detector.centres) == 24
    figure = build_training_figure(
        series_id="s", version_label="1", timestamps=timestamps, values=values, detector=detector
    )
    assert "profile \u00b1 3.5\u03c3" in legend_labels(figure)
    ys = band_polygon(figure)[:, 1]
    assert ys.max() - ys.min() > 18.0  # the band swings with the cycle, not one wide strip
    # drawn as steps at each hour, not one vertex per point
    assert len(ys) < timestamps.size
    centre_line = [line for line in figure.axes[0].get_lines() if line.get_label() == "profile"]
    assert len(centre_line) == 1


def test_step_points_keep_every_change_and_both_ends() -> None:
    centre = np.array([1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 1.0])
    half = np.array([0.5, 0.5, 0.5, 0.7, 0.7, 0.7, 0.7])
    assert step_points(centre, half).tolist() == [0, 2, 3, 5, 6]
    assert step_points(np.full(5, 3.0)).tolist() == [0, 4]
    assert step_points(np.array([1.0])).tolist() == [0]


def test_x_axis_is_utc_dates_from_epoch_seconds() -> None:
    timestamps, values = series(100, spikes={})
    detector = ZScoreDetector.fit(values, timestamps, {})
    figure = build_training_figure(
        series_id="s", version_label="1", timestamps=timestamps, values=values, detector=detector
    )
    first_x = np.asarray(figure.axes[0].get_lines()[0].get_xdata())[0]
    assert mdates.get_epoch() == "1970-01-01T00:00:00"  # type: ignore[no-untyped-call]
    assert first_x == pytest.approx(START / 86_400.0)  # days since the epoch, in UTC


def test_min_max_reduction_keeps_extremes_in_order() -> None:
    values = np.zeros(50_000)
    values[12_345] = 100.0
    values[40_001] = -100.0
    kept = min_max_indices(values, buckets=500)
    assert 12_345 in kept and 40_001 in kept
    assert kept[0] == 0 and kept[-1] == 49_999
    assert np.all(np.diff(kept) > 0)
    assert len(kept) <= 2 * 500 + 2


def test_short_series_are_not_reduced() -> None:
    assert np.array_equal(min_max_indices(np.arange(10.0), buckets=500), np.arange(10))


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="equal"):
        build_training_figure(
            series_id="s",
            version_label="1",
            timestamps=np.arange(3.0),
            values=np.arange(4.0),
            detector=ZScoreDetector(mean=0.0, std=1.0),
        )


def test_concurrent_renders_do_not_interfere() -> None:
    """The API renders from a thread pool; figures must share no global state."""
    timestamps, values = series(3_000, spikes={100: 9.0, 2_000: -9.0})
    detector = ZScoreDetector.fit(values, timestamps, {})

    def render(_: int) -> bytes:
        return render_training_plot(
            series_id="s",
            version_label="1",
            timestamps=timestamps,
            values=values,
            detector=detector,
            fmt="png",  # SVG embeds random clip-path ids; Agg pixels are deterministic
        )

    expected = render(0)
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(image == expected for image in pool.map(render, range(8)))
