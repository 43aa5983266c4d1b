"""The plot as data: training reduced with spikes and flagged points kept, the band as steps,
recent points scored without touching live state, everything JSON-safe."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import orjson
import pytest

from seriesguard.core.detectors import ResidualDetector, ZScoreDetector
from seriesguard.core.detectors.base import FloatArray
from seriesguard.plot_data import (
    BUCKETS,
    MAX_BAND_CHANGES,
    MAX_FLAGGED_SHOWN,
    Band,
    band_part,
    detector_band,
    evenly,
    json_floats,
    plot_data,
    recent_part,
    training_part,
)

START = 1_700_000_000.0


def series(count: int, *, step: float = 60.0, seed: int = 3) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(seed)
    timestamps: FloatArray = START + step * np.arange(count, dtype=np.float64)
    values: FloatArray = 10.0 + rng.normal(0.0, 1.0, count)
    return timestamps, values


def test_neither_the_module_nor_the_app_loads_matplotlib() -> None:
    code = (
        "import sys, seriesguard.plot_data, seriesguard.api.app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))"
    )
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "[]"


def test_long_training_is_reduced_and_keeps_spikes_and_flagged_points() -> None:
    ts, vs = series(50_000)
    vs[12_345] = 99.0  # a spike the buckets must keep
    detector = ZScoreDetector.fit(vs, ts, {"threshold_sigma": 3.0})
    document = plot_data(
        series_id="s1",
        version_label="v1",
        detector=detector,
        training=(ts, vs),
        recent=(np.zeros(0), np.zeros(0)),
    )
    training = document["training"]
    assert training["points"] == 50_000
    flagged = np.flatnonzero(detector.training_scores(vs, ts) > detector.threshold)
    assert 0 < flagged.size < MAX_FLAGGED_SHOWN
    assert training["shown"] == len(training["values"]) <= 2 * BUCKETS + 2 + flagged.size
    shown = np.array(training["values"])
    # every flagged point is there, and "flagged" points at exactly those
    assert np.array_equal(shown[training["flagged"]], vs[flagged])
    assert 99.0 in shown
    assert training["timestamps"] == sorted(training["timestamps"])


def test_flagged_points_beyond_the_cap_are_spread_and_said() -> None:
    ts, vs = series(10_000)
    flagged = np.arange(0, 10_000, 2, dtype=np.intp)  # 5,000 flagged
    notes: list[str] = []
    part = training_part(ts, vs, flagged, notes)
    assert len(part["flagged"]) == MAX_FLAGGED_SHOWN
    assert notes == [f"5,000 training points flagged; {MAX_FLAGGED_SHOWN:,} shown"]
    values = np.array(part["values"])
    assert set(values[part["flagged"]].tolist()) <= set(vs[flagged].tolist())


def test_a_constant_band_is_three_points_from_first_to_last() -> None:
    ts, vs = series(1_000)
    detector = ZScoreDetector.fit(vs, ts, {"threshold_sigma": 3.0})
    band = detector_band(detector, ts)
    assert band is not None
    part = band_part(band, ts, [])
    assert part["timestamps"] == [ts[0], ts[-1], ts[-1]]
    low = detector.mean - 3.0 * detector.std
    assert part["lower"] == pytest.approx([low] * 3)
    assert part["center"] == pytest.approx([detector.mean] * 3)


def test_a_stepped_band_repeats_each_change_so_straight_lines_draw_steps() -> None:
    ts = START + 600.0 * np.arange(12, dtype=np.float64)
    centre = np.repeat([1.0, 5.0, 2.0], 4)  # changes at index 4 and 8
    band = Band(centre, np.full(12, 0.5), centre_label="profile", label="band")
    part = band_part(band, ts, [])
    assert part["timestamps"] == [ts[0], ts[4], ts[4], ts[8], ts[8], ts[11], ts[11]]
    assert part["center"] == [1.0, 1.0, 5.0, 5.0, 2.0, 2.0, 2.0]
    assert part["lower"] == [0.5, 0.5, 4.5, 4.5, 1.5, 1.5, 1.5]
    assert part["upper"] == [1.5, 1.5, 5.5, 5.5, 2.5, 2.5, 2.5]


def test_a_band_changing_at_every_point_is_thinned_and_said() -> None:
    count = 3 * MAX_BAND_CHANGES
    ts = START + 3600.0 * np.arange(count, dtype=np.float64)
    band = Band(np.arange(count, dtype=np.float64), np.ones(count), "c", "band")
    notes: list[str] = []
    part = band_part(band, ts, notes)
    assert len(part["timestamps"]) == 2 * MAX_BAND_CHANGES - 1
    assert part["timestamps"][0] == ts[0] and part["timestamps"][-1] == ts[-1]
    assert len(notes) == 1 and "band" in notes[0]


def test_recent_points_are_scored_by_the_pure_score_and_leave_live_state_alone() -> None:
    ts, vs = series(2_000)
    detector = ResidualDetector.fit(vs, ts, {})
    seen, level = detector.live.seen, detector.live.level
    recent_ts = ts[-1] + 60.0 * np.arange(1, 51)
    recent_vs = np.full(50, 10.0)
    recent_vs[25] = 500.0
    part = recent_part(detector, recent_ts, recent_vs)
    assert (detector.live.seen, detector.live.level) == (seen, level)  # not advanced
    scores = detector.score(recent_vs, recent_ts)
    assert part["anomaly"] == (scores > detector.threshold).tolist()
    assert part["anomaly"][25] is True and sum(part["anomaly"]) >= 1
    assert part["lower"] is not None and len(part["lower"]) == 50


def test_without_training_the_band_is_drawn_over_the_recent_points() -> None:
    ts, vs = series(500)
    detector = ZScoreDetector.fit(vs, ts, {})
    document = plot_data(
        series_id="s1",
        version_label="v2",
        detector=detector,
        training=None,
        recent=(ts[-10:], vs[-10:]),
        notes=["the training data of s1 v2 is not kept here"],
    )
    assert document["training"] is None
    assert document["band"]["timestamps"][0] == ts[-10]
    assert document["notes"] == ["the training data of s1 v2 is not kept here"]
    empty = plot_data(
        series_id="s1",
        version_label="v2",
        detector=detector,
        training=None,
        recent=(np.zeros(0), np.zeros(0)),
    )
    assert empty["band"] is None and empty["recent"]["timestamps"] == []
    assert empty["recent"]["lower"] is None
    assert any("history" in note for note in empty["notes"])


def test_non_finite_numbers_leave_as_null() -> None:
    assert json_floats(np.array([1.0, math.nan, math.inf, -math.inf])) == [1.0, None, None, None]
    document = {"scores": json_floats(np.array([math.inf, 2.0]))}
    assert orjson.loads(orjson.dumps(document)) == {"scores": [None, 2.0]}


def test_evenly_keeps_both_ends() -> None:
    picked = evenly(np.arange(100, dtype=np.intp), 10)
    assert picked.size == 10 and picked[0] == 0 and picked[-1] == 99
    assert evenly(np.arange(5, dtype=np.intp), 10).tolist() == [0, 1, 2, 3, 4]
