"""Detector variants of ``seriesguard evaluate``: ``name[:key=value...]``."""

from __future__ import annotations

import pytest

from seriesguard.core.detectors import ALGORITHMS
from seriesguard.core.errors import InvalidInput
from seriesguard.evaluation.variants import (
    EXTRA_VARIANTS,
    Variant,
    default_variants,
    parse_variant,
    parse_variants,
)


def test_a_plain_name_and_a_variant_with_typed_values() -> None:
    assert parse_variant("robust") == Variant("robust", {})
    variant = parse_variant(" residual:rearm_points=0:period=daily:threshold_margin=2.5")
    assert variant.hyperparameters == {
        "rearm_points": 0,
        "period": "daily",
        "threshold_margin": 2.5,
    }
    assert variant.label == 'residual:rearm_points=0:period="daily":threshold_margin=2.5'
    assert parse_variant(variant.label) == variant  # a label reads back as the same variant


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        ("robust:threshold_sigma", "variant_syntax"),
        ("robust:=3", "variant_syntax"),
        ("nope", "unknown_algorithm"),
        ("robust:window=3", "unknown_hyperparameter"),
        ("residual:rearm_points=-1", "hyperparameter_range"),
    ],
)
def test_bad_specs_are_refused_before_any_work(spec: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_variant(spec)
    assert caught.value.rule == rule


def test_the_default_run_has_every_algorithm_once_and_the_extra_variants() -> None:
    labels = [v.label for v in default_variants()]
    plain = [label for label in labels if ":" not in label]
    assert len(plain) == len(set(ALGORITHMS.values()))  # statistical and zscore run once
    assert "zscore" not in plain and "statistical" in plain
    assert labels[len(plain) :] == [parse_variant(s).label for s in EXTRA_VARIANTS]


def test_blank_entries_are_skipped() -> None:
    assert [v.label for v in parse_variants(["robust", " ", ""])] == ["robust"]
