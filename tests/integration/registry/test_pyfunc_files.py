"""The MLmodel seriesguard writes is the text MLflow's own ``Model.to_yaml`` would write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from mlflow.models import Model

from seriesguard.core.detectors import ZScoreDetector, detector_from_bytes
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
