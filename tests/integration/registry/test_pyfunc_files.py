"""The MLmodel seriesguard writes is the text MLflow's own ``Model.to_yaml`` would write."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.models import Model

from seriesguard.core.detectors import (
    ALGORITHMS,
    ZScoreDetector,
    detector_class,
    detector_from_bytes,
)
from seriesguard.registry.pyfunc_model import DETECTOR_FILE, PyfuncTemplate


@pytest.fixture(scope="module")
def template() -> PyfuncTemplate:
    return PyfuncTemplate()


def detector() -> ZScoreDetector:
    return ZScoreDetector.fit(np.random.default_rng(3).normal(5, 2, 300), np.arange(300.0), {})


@pytest.mark.parametrize("run_id", [None, "4f1c2a", "12345678901234567890123456789012"])
def test_mlmodel_text_is_mlflows_own(template: PyfuncTemplate, run_id: str | None) -> None:
    text = template.files(detector(), run_id=run_id)["MLmodel"].decode()
    loaded = yaml.safe_load(text)
    assert Model.from_dict(loaded).to_yaml() == text
    assert loaded.get("run_id") == run_id  # a run id of digits stays text
    assert loaded["flavors"]["python_function"]["data"] == DETECTOR_FILE


def test_written_directory_holds_every_file(template: PyfuncTemplate, tmp_path: Path) -> None:
    fitted = detector()
    template.write(tmp_path / "model", fitted, run_id="r1")
    written = {
        p.relative_to(tmp_path / "model").as_posix() for p in tmp_path.rglob("*") if p.is_file()
    }
    assert set(template.files(fitted, run_id="r1")) == written
    blob = (tmp_path / "model" / DETECTOR_FILE).read_bytes()
    assert detector_from_bytes(blob).params() == fitted.params()
    assert Model.load(str(tmp_path / "model")).run_id == "r1"


def _cycle(n: int, seed: int, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A noisy daily cycle every 10 minutes from 2026-01-01 (point ``start`` on)."""
    ts = 1_767_225_600.0 + 600.0 * np.arange(start, start + n, dtype=np.float64)
    noise = np.random.default_rng(seed).normal(0.0, 1.0, n)
    return 50.0 + 8.0 * np.sin(2 * np.pi * ts / 86_400.0) + noise, ts


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_every_algorithm_loads_as_a_pyfunc_that_scores_as_the_detector(
    template: PyfuncTemplate, tmp_path: Path, algorithm: str
) -> None:
    values, ts = _cycle(2_000, seed=1)
    fitted = detector_class(algorithm).fit(values, ts, {})
    template.write(tmp_path / "model", fitted, run_id=None)  # as the registry writes it
    model = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    probe, probe_ts = _cycle(300, seed=2, start=2_000)
    probe[[40, 200]] += [30.0, -40.0]
    answer = model.predict(pd.DataFrame({"timestamp": probe_ts, "value": probe}))
    np.testing.assert_array_equal(answer["anomaly_score"], fitted.score(probe, probe_ts))
    np.testing.assert_array_equal(answer["anomaly"], fitted.predict(probe, probe_ts))
    assert answer["anomaly"].iloc[40] and answer["anomaly"].iloc[200]
