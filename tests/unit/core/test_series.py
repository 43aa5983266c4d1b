from __future__ import annotations

import pytest

from seriesguard.core.errors import InvalidInput
from seriesguard.core.series import check_series_id, model_name, parse_version


@pytest.mark.parametrize("good", ["sensor_001_radial", "a", "A.b:c-d_9", "x" * 128])
def test_valid_series_ids(good: str) -> None:
    assert check_series_id(good) == good


@pytest.mark.parametrize("bad", ["", "_x", "a/b", "a b", "x" * 129, "../etc", "é"])
def test_invalid_series_ids(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_series_id(bad)
    assert caught.value.rule == "series_id_pattern"


@pytest.mark.parametrize(("label", "number"), [("5", 5), ("v5", 5), ("V12", 12), (3, 3)])
def test_version_labels(label: str | int, number: int) -> None:
    assert parse_version(label) == number


@pytest.mark.parametrize("bad", ["0", "v", "five", "-1", "v05x", 0])
def test_bad_version_labels(bad: str | int) -> None:
    with pytest.raises(InvalidInput):
        parse_version(bad)


def test_model_name() -> None:
    assert model_name("s1") == "anomaly-detector-s1"


def test_model_name_of_an_id_with_a_colon_is_one_mlflow_accepts_and_unique() -> None:
    # MLflow refuses '/' and ':' in registered model names
    assert model_name("sensor-0042:x") == "anomaly-detector-sensor-0042~x"
    assert model_name("a:b") != model_name("a_b") != model_name("a-b")
