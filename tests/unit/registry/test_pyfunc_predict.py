"""The MLflow pyfunc's answer: the raw score, its verdict and the normalised score, per row."""

from __future__ import annotations

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest

from seriesguard.core.detectors import RobustDetector, SeasonalDetector, ZScoreDetector
from seriesguard.core.detectors.base import Detector
from seriesguard.registry.pyfunc_model import DetectorPyfunc

HOUR = 3600.0


def _window() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    ts = 1_767_225_600.0 + 600.0 * np.arange(4_000)
    values = 50.0 + 8.0 * np.sin(2 * np.pi * ts / (24 * HOUR)) + rng.normal(0.0, 1.0, ts.size)
    return values, ts


@pytest.mark.parametrize("kind", [ZScoreDetector, RobustDetector, SeasonalDetector])
def test_normalized_score_column_is_raw_over_raw_plus_threshold(kind: type[Detector]) -> None:
    values, ts = _window()
    detector = kind.fit(values, ts, {})
    band = detector.band(ts[202:203])
    assert band is not None
    probe = np.concatenate([values[:200], [500.0, -400.0, band[0][0]]])  # last: as expected
    frame = pd.DataFrame({"timestamp": ts[: probe.size], "value": probe})
    answer = DetectorPyfunc(detector).predict(frame)
    assert list(answer.columns) == ["anomaly", "anomaly_score", "normalized_score"]
    assert answer["normalized_score"].dtype == np.float64
    raw = answer["anomaly_score"].to_numpy()
    normalized = answer["normalized_score"].to_numpy()
    np.testing.assert_array_equal(normalized, raw / (raw + detector.threshold))
    assert ((normalized >= 0.0) & (normalized <= 1.0)).all()
    far = np.abs(raw - detector.threshold) > 0.05 * detector.threshold
    np.testing.assert_array_equal((normalized > 0.5)[far], answer["anomaly"].to_numpy()[far])
    assert answer["anomaly"].iloc[-3:].tolist() == [True, True, False]
    assert normalized[-3] > 0.9 and normalized[-2] > 0.9 and normalized[-1] == 0.0
